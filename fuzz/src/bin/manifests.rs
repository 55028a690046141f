//! The manifest loader, over any bytes: it may refuse them, never panic.

fn main() {
    let kinds = seqops::providers::kinds();
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let texts = [(std::path::PathBuf::from("fuzz.yaml"), text.to_string())];
        let _ = seqops::manifest::load_texts(&texts, &kinds);
    });
}
