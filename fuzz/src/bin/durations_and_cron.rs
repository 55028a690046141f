//! The duration and cron parsers, over any text: they may refuse it, never
//! panic; a duration read back prints as it reads.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        if let Ok(duration) = seqops::manifest::duration::Duration::parse(text) {
            let again = seqops::manifest::duration::Duration::parse(&duration.to_string());
            assert_eq!(again, Ok(duration), "{text:?} printed as {duration}");
        }
        let _ = seqops::providers::orchagent::spec::check_cron(text);
    });
}
