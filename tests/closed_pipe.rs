//! Every command whose reader goes away before reading (`seqops crds |
//! head -0`) ends quietly with status 0: the subcommands come from the
//! CLI's own definition, so a new one is covered the day it is added.

// The CLI's definition, as the binary has it (compiled here to walk it).
#[allow(dead_code, unused_imports)]
#[path = "../src/cli/mod.rs"]
mod cli;
mod common;

use std::process::{Command, Stdio};

use clap::CommandFactory;
use common::Workspace;

/// Every subcommand path (`["state", "list"]`), parents included.
fn subcommands(command: &clap::Command, prefix: &[String], found: &mut Vec<Vec<String>>) {
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        found.push(path.clone());
        subcommands(sub, &path, found);
    }
}

/// Runs seqops in `work` with its standard output closed before it writes
/// a byte: its status and what it said on stderr.
fn with_stdout_closed(work: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    let mut child = work
        .command(args)
        .env("XDG_CONFIG_HOME", work.config_home())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("seqops starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("seqops ends");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn every_command_whose_reader_went_away_ends_quietly_with_status_0() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let applied = work.run(&["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let planned = work.run(&["plan", "-f", "manifests", "--sandbox", "--out", "plan.json"]);
    assert_eq!(planned.code, 0, "{}", planned.all());

    let mut paths = Vec::new();
    subcommands(&cli::Cli::command(), &[], &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    // Each one's help, which every subcommand prints.
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, stderr) = with_stdout_closed(&work, &args);
        assert_eq!(code, Some(0), "seqops {}: {stderr}", args.join(" "));
        assert!(!stderr.contains("panicked"), "seqops {}: {stderr}", args.join(" "));
    }
    // And what prints for real without an account or a cluster.
    let real: &[&[&str]] = &[
        &["crds"],
        &["schema"],
        &["schema", "--plan"],
        &["completions", "bash"],
        &["validate", "-f", "manifests"],
        &["plan", "-f", "manifests", "--sandbox"],
        &["plan", "-f", "manifests", "--sandbox", "--format", "json"],
        &["show", "plan.json"],
        &["graph", "-f", "manifests"],
        &["state", "list"],
        &["state", "show", "Sequence/inbound-dm"],
        &["version"],
        &["drift", "-f", "manifests", "--sandbox"],
    ];
    for args in real {
        let (code, stderr) = with_stdout_closed(&work, args);
        assert_eq!(code, Some(0), "seqops {}: {stderr}", args.join(" "));
        assert!(!stderr.contains("panicked"), "seqops {}: {stderr}", args.join(" "));
    }
    // What it printed before is what a reader that stays sees.
    let crds = Command::new(env!("CARGO_BIN_EXE_seqops")).arg("crds").output().expect("runs");
    assert!(crds.status.success() && !crds.stdout.is_empty());
}
