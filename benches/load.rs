//! Loading manifests is linear in their size, and refusing a hostile one
//! costs no more than reading it once.
//!
//! `cargo bench --bench load` prints, for valid files from 1 KB to the
//! file limit (3 MiB), the load time and the peak memory added, each per
//! megabyte of manifest; then the time and memory each hostile case takes
//! to be refused. Everything runs in this process on the library's loader
//! (the one `validate`, `plan`, `apply` and the controller use), with the
//! peak RSS reset before each case (Linux's clear_refs).

#[allow(dead_code)]
mod measure;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seqops::manifest::limits::Limits;

fn main() {
    let dir = tempfile::tempdir().expect("a folder");
    let kinds = seqops::providers::kinds();
    println!("valid manifests (median of 5; peak RSS added by the load):");
    println!("  {:>9} {:>9} {:>11} {:>11} {:>11} {:>11}", "file", "objects", "load", "per MB", "peak added", "per MB");
    for target in [1 << 10, 16 << 10, 256 << 10, 1 << 20, 3 << 20] {
        let (file, objects) = valid_file(dir.path(), target);
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(1);
        let (time, peak) = measure(&file, &kinds, 5, true);
        let mb = bytes as f64 / (1 << 20) as f64;
        println!(
            "  {:>9} {objects:>9} {:>8.2} ms {:>8.1} ms {:>8.1} MB {:>8.1} MB",
            human_bytes(bytes),
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() * 1e3 / mb,
            peak as f64 / (1 << 20) as f64,
            peak as f64 / (1 << 20) as f64 / mb
        );
    }
    println!("hostile manifests, each refused (median of 3):");
    println!("  {:<44} {:>9} {:>11} {:>11}", "case", "file", "refused in", "peak added");
    for (name, text) in hostile() {
        let file = dir.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&file, &text).expect("written");
        let (time, peak) = measure(&file, &kinds, 3, false);
        println!(
            "  {name:<44} {:>9} {:>8.1} ms {:>8.1} MB",
            human_bytes(text.len() as u64),
            time.as_secs_f64() * 1e3,
            peak as f64 / (1 << 20) as f64
        );
    }
}

/// Loads `file` `runs` times: the median time and the largest peak RSS
/// added; `valid` says whether the load must succeed or be refused.
fn measure(file: &Path, kinds: &[seqops::manifest::KindSpec], runs: usize, valid: bool) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        measure::reset_peak();
        let before = measure::memory("VmHWM:");
        let started = Instant::now();
        let loaded = seqops::manifest::load_within(&[file.to_path_buf()], Path::new("."), kinds, &Limits::default());
        times.push(started.elapsed());
        assert_eq!(loaded.is_ok(), valid, "{}: {:?}", file.display(), loaded.err().map(|e| e.to_string()));
        drop(loaded);
        peak = peak.max(measure::memory("VmHWM:").saturating_sub(before) * 1024);
    }
    times.sort();
    (times[times.len() / 2], peak)
}

/// A file of Orsay sequences (each a few hundred bytes, with a flow of two
/// steps) about `bytes` long, and a Provider: its path and how many objects.
fn valid_file(dir: &Path, bytes: usize) -> (PathBuf, usize) {
    let mut text = String::from(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  credentials: {env: ORSAY_API_KEY}\n",
    );
    let mut objects = 0;
    loop {
        let next = format!(
            "---\napiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s{objects}\nspec:\n  name: Sequence {objects}\n  trigger: INSTAGRAM_COMMENT\n  active: true\n  keywords: [price, link, info]\n  flow:\n    - delay: 0m\n      content: \"Thanks for the comment {objects}! Here is the link.\"\n      followupDelays: [1h]\n    - delay: 2h\n      content: |\n        A second message,\n        on two lines.\n"
        );
        if text.len() + next.len() > bytes {
            break;
        }
        text.push_str(&next);
        objects += 1;
    }
    let file = dir.join(format!("valid-{bytes}.yaml"));
    std::fs::write(&file, text).expect("written");
    (file, objects)
}

/// The hostile cases: each over one limit, or wrong in very many places.
fn hostile() -> Vec<(&'static str, String)> {
    let head = "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: a\nspec:\n  name: A\n  trigger: WHATSAPP_MESSAGE\n";
    let steps: String = (0..400_000).map(|_| "  - delay: 0m\n    content: hi\n").collect();
    let keys: String = (0..50_000).map(|n| format!("    k{n}: v\n")).collect();
    let mut bomb = String::from("  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (name, previous) in
        ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 9].join(",");
        bomb.push_str(&format!("  {name}: &{name} [{refs}]\n"));
    }
    vec![
        ("200,000 nested lists", format!("{head}  flow: {}{}\n", "[".repeat(200_000), "]".repeat(200_000))),
        ("100,000 nested entries", format!("{head}{}x\n", "- ".repeat(100_000))),
        ("a 400,000-step flow (13 MB)", format!("{head}  flow:\n{steps}")),
        ("a 1,001-step flow, within the file limit", format!("{head}  flow:\n{}", &steps[..1_001 * 29])),
        ("a 3 MB string", format!("{head}  description: {}\n", "x".repeat(3 << 20))),
        ("a 70,000-character name", format!("{}x\n", head.replace("name: A", &format!("name: {}", "x".repeat(70_000))))),
        ("50,000 metadata keys", format!("apiVersion: gary.seqops.dev/v1alpha1\nkind: Enrollment\nmetadata:\n  name: a\nspec:\n  sequence: {{id: s}}\n  contactId: c\n  metadata:\n{keys}")),
        ("50,000 unknown fields, every one reported", format!("{head}{}", keys.replace("    k", "  k"))),
        ("20,000 documents", (0..20_000).map(|n| format!("---\nnote{n}: not a manifest\n")).collect()),
        ("an alias bomb (9^9 strings)", format!("{head}{bomb}")),
    ]
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.0} KiB", b as f64 / (1 << 10) as f64),
        b => format!("{b} B"),
    }
}
