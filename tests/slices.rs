//! Applies longer than a CI job: `--max-duration` and SIGTERM stop at a
//! change boundary, say what is left, and the next run continues without a
//! duplicate.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{assert_contains, Workspace};

fn sequences(work: &Workspace, count: usize) {
    for i in 0..count {
        work.write(
            &format!("s{i}.yaml"),
            &common::sequence(&format!("s{i}"), &format!("name: Slice {i}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
}

#[test]
fn an_apply_past_its_max_duration_starts_nothing_more_and_the_next_run_continues() {
    let (server, work) = common::server_and_workspace(&[]);
    work.unpaced_provider(&server);
    sequences(&work, 3);

    let stopped = work.run(&["apply", "-f", "manifests", "--auto-approve", "--max-duration", "0s"]);

    assert_eq!(stopped.code, 2, "stopped with changes left:\n{}", stopped.all());
    assert_contains(&stopped.stdout, "Stopped at a change boundary (--max-duration 0s reached): 3 changes not started");
    assert_contains(&stopped.stdout, "Apply stopped.");
    assert!(server.sequences_named("Slice 0").is_empty(), "nothing was started");
    let continued = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(continued.code, 0, "{}", continued.all());
    assert_contains(&continued.stdout, "Apply complete! Resources: 3 created");
}

#[test]
fn sigterm_stops_an_apply_at_a_change_boundary_and_loses_nothing() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    let path = work.manifests().join("provider.yaml");
    let text = std::fs::read_to_string(&path).expect("the provider");
    // Two requests a second: twelve creates take about six seconds.
    std::fs::write(&path, text + "  rateLimit:\n    requests: 2\n    per: 1s\n").expect("written");
    sequences(&work, 12);
    let mut apply = work
        .command(&["apply", "-f", "manifests", "--auto-approve", "--parallelism", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("seqops starts");
    let started = Instant::now();
    while server.sequences_named("Slice 1").is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }

    let pid = apply.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    let status = apply.wait().expect("seqops ends");
    let mut stdout = String::new();
    apply.stdout.take().map(|mut s| s.read_to_string(&mut stdout));

    assert_eq!(status.code(), Some(2), "{stdout}");
    assert_contains(&stdout, "Stopped at a change boundary (SIGTERM received)");
    let made = (0..12).filter(|i| !server.sequences_named(&format!("Slice {i}")).is_empty()).count();
    assert!((2..12).contains(&made), "some made, some left: {made}");
    let state = work.state();
    let recorded = state["resources"].as_object().map(|r| r.values().filter(|e| e["id"].is_string()).count());
    assert_eq!(recorded, Some(made), "every change sent was recorded");
    let continued = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(continued.code, 0, "{}", continued.all());
    for i in 0..12 {
        assert_eq!(server.sequences_named(&format!("Slice {i}")).len(), 1, "Slice {i} made once");
    }
}
