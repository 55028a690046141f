//! An apply of many new Orsay sequences, as a user runs it: the seqops
//! process against the served sandbox with its rate limit off. Prints, per
//! size, the wall time, the peak RSS, and the bytes written to state and
//! its journal (linear in the number of creates: one journal record each).
//!
//! Then, as a user waits for it, a no-op `seqops plan` of what was applied,
//! in `--refresh changed` and `none`: the median wall time and peak RSS of
//! five runs of the whole process.
//!
//! `cargo bench --bench apply` (1,000, 4,000 and 10,000 creates);
//! `SEQOPS_BENCH_CREATES=500,2000` for other sizes. With
//! `SEQOPS_BENCH_TERRAFORM=N` and a `terraform` on the PATH, Terraform does
//! the same job beside it: N `terraform_data` resources holding the same
//! fields, applied, then `terraform plan -refresh=false` timed alike.

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
    let mut plans = Vec::new();
    for count in sizes {
        let (figures, no_op) = apply(count);
        println!(
            "{count:>8} {:>9.1}s {:>10.2}ms {:>14} {:>10} {:>13} MiB",
            figures.seconds,
            figures.seconds * 1000.0 / count as f64,
            figures.bytes,
            figures.writes,
            figures.peak_kib / 1024
        );
        plans.push((count, no_op));
    }
    println!();
    println!("{:>8} {:>10} {:>12} {:>12}", "objects", "refresh", "no-op plan", "peak RSS");
    for (count, no_op) in plans {
        for (refresh, seconds, peak_kib) in no_op {
            println!("{count:>8} {refresh:>10} {:>11.2}s {:>8} MiB", seconds, peak_kib / 1024);
        }
    }
    if let Some(count) = std::env::var("SEQOPS_BENCH_TERRAFORM").ok().and_then(|v| v.parse().ok()) {
        let (seconds, peak_kib) = terraform_no_op_plan(count);
        println!(
            "{count:>8} {:>10} {seconds:>11.2}s {:>8} MiB  (terraform plan -refresh=false)",
            "terraform",
            peak_kib / 1024
        );
    }
}

/// Terraform's no-op `plan -refresh=false` of `count` `terraform_data`
/// resources holding what a sequence holds: (wall seconds, peak KiB).
fn terraform_no_op_plan(count: usize) -> (f64, u64) {
    let work = tempfile::tempdir().expect("a temporary folder");
    let mut config = String::new();
    for i in 0..count {
        config.push_str(&format!(
            "resource \"terraform_data\" \"s{i}\" {{\n  input = {{\n    name = \"Comment outreach {i}\"\n    trigger = \"INSTAGRAM_COMMENT\"\n    active = false\n    agent = {{ lookup = \"Sales Agent\" }}\n    profile = {{ instagram = \"mybusiness\" }}\n    keywords = [\"GUIDE\", \"PRICE\", \"INFO\"]\n    flow = [\n      {{ delay = \"0m\", content = \"You asked for it: here is the link {i}. Reply if you have questions!\", followupDelays = [\"1h\", \"24h\"] }},\n      {{ delay = \"48h\", content = \"Did the guide help? Happy to walk you through it.\" }},\n    ]\n    requireManualApproval = true\n  }}\n}}\n"
        ));
    }
    std::fs::write(work.path().join("main.tf"), config).expect("written");
    let terraform = |args: &[&str]| {
        let started = Instant::now();
        let output = Command::new("/usr/bin/time")
            .args(["-f", "peak_kib=%M", "terraform"])
            .args(args)
            .current_dir(work.path())
            .env("TF_IN_AUTOMATION", "1")
            .stdout(Stdio::null())
            .output()
            .expect("terraform runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "terraform {args:?} failed:\n{stderr}");
        (started.elapsed().as_secs_f64(), field(&stderr, "peak_kib="))
    };
    terraform(&["init", "-input=false"]);
    terraform(&["apply", "-auto-approve", "-input=false"]);
    terraform(&["plan", "-refresh=false", "-input=false", "-detailed-exitcode"])
}

/// Runs `seqops ARGS` in `dir` under /usr/bin/time: (wall seconds, what
/// it printed).
fn seqops(dir: &Path, args: &[&str]) -> (f64, String) {
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "peak_kib=%M", SEQOPS])
        .args(args)
        .current_dir(dir)
        .env("ORSAY_API_KEY", KEY)
        .env("SEQOPS_LOG", "seqops=info")
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .output()
        .expect("seqops runs");
    let seconds = started.elapsed().as_secs_f64();
    let all = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "seqops {args:?} failed:\n{all}");
    (seconds, all)
}

/// Five no-op plans per refresh mode: the median wall time and the
/// largest peak RSS.
fn no_op_plans(dir: &Path) -> Vec<(&'static str, f64, u64)> {
    ["changed", "none"]
        .into_iter()
        .map(|refresh| {
            let mut runs: Vec<(f64, u64)> = (0..5)
                .map(|_| {
                    let (seconds, printed) = seqops(dir, &["plan", "-f", "m", "--refresh", refresh]);
                    assert!(printed.contains("No changes."), "not a no-op plan:\n{printed}");
                    (seconds, field(&printed, "peak_kib="))
                })
                .collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            (refresh, runs[2].0, runs.iter().map(|r| r.1).max().unwrap_or(0))
        })
        .collect()
}

struct Figures {
    seconds: f64,
    bytes: u64,
    writes: u64,
    peak_kib: u64,
}

fn apply(count: usize) -> (Figures, Vec<(&'static str, f64, u64)>) {
    let mut server = Command::new(SEQOPS)
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--requests-per-hour", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut line = String::new();
    // Kept open while the server runs: it must not write to a closed pipe.
    let mut stdout = BufReader::new(server.stdout.take().expect("piped"));
    stdout.read_line(&mut line).expect("its address");
    let origin = line.trim().rsplit(' ').next().expect("an address").to_string();
    let work = tempfile::tempdir().expect("a temporary folder");
    write_manifests(work.path(), &origin, count);

    let (seconds, stderr) = seqops(work.path(), &["apply", "-f", "m", "--auto-approve"]);
    let figures = Figures {
        seconds,
        bytes: field(&stderr, "bytes="),
        writes: field(&stderr, "writes="),
        peak_kib: field(&stderr, "peak_kib="),
    };
    let no_op = no_op_plans(work.path());
    let _ = server.kill();
    let _ = server.wait();
    drop(stdout);
    (figures, no_op)
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
        // As an exported sequence reads: lookups, keywords, a flow of steps.
        let text = format!(
            "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s{i}\nspec:\n  name: Comment outreach {i}\n  trigger: INSTAGRAM_COMMENT\n  active: false\n  agent:\n    lookup: Sales Agent\n  profile:\n    instagram: mybusiness\n  keywords: [GUIDE, PRICE, INFO]\n  flow:\n    - delay: 0m\n      content: \"You asked for it: here is the link {i}. Reply if you have questions!\"\n      followupDelays: [1h, 24h]\n    - delay: 48h\n      content: Did the guide help? Happy to walk you through it.\n  requireManualApproval: true\n"
        );
        std::fs::write(folder.join(format!("s{i}.yaml")), text).expect("written");
    }
}
