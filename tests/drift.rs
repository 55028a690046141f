//! `seqops drift`: only what changed remotely since the last apply, read in
//! rolling slices within a request budget, each reading's time kept.

mod common;

use common::{assert_contains, Server, Workspace};

fn applied(count: usize) -> (Server, Workspace, Vec<String>) {
    let (server, work) = common::server_and_workspace(&[]);
    work.unpaced_provider(&server);
    for i in 0..count {
        work.write(
            &format!("s{i}.yaml"),
            &common::sequence(&format!("s{i}"), &format!("name: S{i}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
    work.apply();
    let state = work.state();
    let ids = (0..count)
        .map(|i| state["resources"][format!("Sequence/s{i}")]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    (server, work, ids)
}

#[test]
fn drift_lists_only_what_changed_remotely_not_what_the_manifests_change() {
    let (server, work, ids) = applied(2);
    server.orsay("PUT", &format!("/sequences/{}", ids[0]), Some(serde_json::json!({"name": "Edited by hand"})));
    work.write("s1.yaml", &common::sequence("s1", "name: S1 renamed\ntrigger: WHATSAPP_MESSAGE"));

    let drift = work.run(&["drift", "-f", "manifests", "--detailed-exitcode"]);

    assert_eq!(drift.code, 2, "{}", drift.all());
    assert_contains(&drift.stdout, format!("Sequence/s0 ({}) changed outside seqops:", ids[0]));
    assert_contains(&drift.stdout, "! name: \"S0\" -> \"Edited by hand\"");
    assert!(!drift.stdout.contains("Sequence/s1"), "a manifest edit is no drift:\n{}", drift.stdout);
    let json = work.run(&["drift", "-f", "manifests", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("a JSON report");
    assert_eq!(report["drifted"][0]["key"], "Sequence/s0");
    let markdown = work.run(&["drift", "-f", "manifests", "--format", "markdown"]);
    assert_contains(&markdown.stdout, "| `Sequence/s0` | `name` | \"S0\" | \"Edited by hand\" |");

    let alias = work.run(&["plan", "-f", "manifests", "--drift-only", "--detailed-exitcode"]);
    assert_eq!(alias.code, 2, "plan --drift-only is seqops drift: {}", alias.all());
    assert_contains(&alias.stdout, "! name: \"S0\" -> \"Edited by hand\"");
    assert!(!alias.stdout.contains("Sequence/s1"), "{}", alias.stdout);

    work.write("s1.yaml", &common::sequence("s1", "name: S1\ntrigger: WHATSAPP_MESSAGE"));
    work.apply();
    assert_eq!(work.run(&["drift", "-f", "manifests", "--detailed-exitcode"]).code, 0, "drift set back is gone");
}

#[test]
fn a_budget_reads_the_oldest_readings_first_and_covers_every_object_over_runs() {
    let (server, work, ids) = applied(5);
    server.orsay("PUT", &format!("/sequences/{}", ids[4]), Some(serde_json::json!({"name": "Edited by hand"})));
    let mut found = false;
    let mut read = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let before = server.orsay_requests();
        let run = work.run(&["drift", "-f", "manifests", "--refresh-budget", "2", "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(server.orsay_requests() - before <= 2, "within the budget");
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert_eq!(report["read"].as_array().map(Vec::len), Some(2));
        read.extend(report["read"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)));
        found |= report["drifted"].as_array().is_some_and(|d| d.iter().any(|d| d["key"] == "Sequence/s4"));
        assert_eq!(report["readings"].as_array().map(Vec::len), Some(5), "every object's reading time is shown");
    }
    assert_eq!(read.len(), 5, "three runs of two cover all five: {read:?}");
    assert!(found, "the drifted one was reached");
}
