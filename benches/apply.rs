//! An apply of many new Orsay sequences, as a user runs it: the seqops
//! process against the served sandbox with its rate limit off. Prints, per
//! size, the wall time, the peak RSS, and the bytes written to state and
//! its journal (linear in the number of creates: one journal record each).
//!
//! `cargo bench --bench apply` (1,000, 4,000 and 10,000 creates);
//! `SEQOPS_BENCH_CREATES=500,2000` for other sizes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const KEY: &str = "sk_bench_seqops";
const SEQOPS: &str = env!("CARGO_BIN_EXE_seqops");

fn main() {
    let sizes: Vec<usize> = std::env::var("SEQOPS_BENCH_CREATES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 4_000, 10_000]);
    println!(
        "{:>8} {:>10} {:>12} {:>14} {:>10} {:>16}",
        "creates", "wall", "per create", "state bytes", "writes", "peak RSS"
    );
    for count in sizes {
        let figures = apply(count);
        println!(
            "{count:>8} {:>9.1}s {:>10.2}ms {:>14} {:>10} {:>13} MiB",
            figures.seconds,
            figures.seconds * 1000.0 / count as f64,
            figures.bytes,
            figures.writes,
            figures.peak_kib / 1024
        );
    }
}

struct Figures {
    seconds: f64,
    bytes: u64,
    writes: u64,
    peak_kib: u64,
}

fn apply(count: usize) -> Figures {
    let mut server = Command::new(SEQOPS)
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--requests-per-hour", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line).expect("its address");
    let origin = line.trim().rsplit(' ').next().expect("an address").to_string();
    let work = tempfile::tempdir().expect("a temporary folder");
    write_manifests(work.path(), &origin, count);

    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "peak_kib=%M", SEQOPS, "apply", "-f", "m", "--auto-approve"])
        .current_dir(work.path())
        .env("ORSAY_API_KEY", KEY)
        .env("SEQOPS_LOG", "seqops=info")
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", work.path().join(".config"))
        .output()
        .expect("seqops runs");
    let seconds = started.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the apply failed:\n{stderr}");
    Figures {
        seconds,
        bytes: field(&stderr, "bytes="),
        writes: field(&stderr, "writes="),
        peak_kib: field(&stderr, "peak_kib="),
    }
}

/// The number after `name` in the last line that has it.
fn field(text: &str, name: &str) -> u64 {
    let line = text.lines().rfind(|l| l.contains(name)).unwrap_or_default();
    let after = line.split(name).nth(1).unwrap_or_default();
    after.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

fn write_manifests(dir: &Path, origin: &str, count: usize) {
    let folder = dir.join("m");
    std::fs::create_dir_all(&folder).expect("a manifests folder");
    let provider = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {origin}/orsay/api/v1\n  credentials:\n    env: ORSAY_API_KEY\n  rateLimit:\n    requests: 0\n"
    );
    std::fs::write(folder.join("provider.yaml"), provider).expect("written");
    for i in 0..count {
        let text = format!(
            "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s{i}\nspec:\n  name: Sequence {i}\n  trigger: WHATSAPP_MESSAGE\n"
        );
        std::fs::write(folder.join(format!("s{i}.yaml")), text).expect("written");
    }
}
