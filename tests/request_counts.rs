//! Requests are the currency: a no-op plan of each provider's example reads
//! each collection once, and an object alone only where the API has no list.

mod common;

use common::{assert_contains, Workspace};

/// (example folder, requests of its no-op plan, what they are).
const NO_OP_PLANS: [(&str, u64, &str); 5] = [
    ("orsay", 1, "the sequence list"),
    ("orqis", 3, "the agent list, the API key list, and the one LLM key named (Orqis lists no keys)"),
    ("gary", 2, "the sequence list and the one sequence's enrollments"),
    ("orchagent", 5, "workspaces, agents, and the secrets, schedules and services of the one workspace"),
    ("topo", 1, "the run list"),
];

/// The requests the last `Requests:` line says were made (a plan prints
/// one; an apply one for its plan, then one for the whole run).
fn requests_made(output: &str) -> Option<u64> {
    let line = output.lines().rfind(|l| l.starts_with("Requests: "))?;
    line.split(" made ").nth(1)?.split(' ').next()?.parse().ok()
}

#[test]
fn a_no_op_plan_of_each_example_reads_each_collection_once() {
    for (folder, expected, what) in NO_OP_PLANS {
        let work = Workspace::new();
        let folder_path = format!("{}/examples/{folder}", env!("CARGO_MANIFEST_DIR"));
        let apply = work.run(&["apply", "-f", &folder_path, "--sandbox", "--auto-approve"]);
        assert_eq!(apply.code, 0, "{folder}: {}", apply.all());

        let plan = work.run(&["plan", "-f", &folder_path, "--sandbox", "--detailed-exitcode"]);

        assert_eq!(plan.code, 0, "{folder}: a no-op plan\n{}", plan.all());
        assert_eq!(requests_made(&plan.all()), Some(expected), "{folder}: {what}\n{}", plan.all());
    }
}

/// The estimate on the plan's `Apply cost` line for the only account.
fn estimated(output: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.starts_with("Apply cost "))?;
    line.split(": ").nth(2)?.split(' ').next()?.parse().ok()
}

#[test]
fn the_plan_says_how_many_requests_the_apply_will_make_for_every_example() {
    for (folder, _, _) in NO_OP_PLANS {
        let work = Workspace::new();
        let folder_path = format!("{}/examples/{folder}", env!("CARGO_MANIFEST_DIR"));
        let plan = work.run(&["plan", "-f", &folder_path, "--sandbox"]);
        assert_eq!(plan.code, 0, "{folder}: {}", plan.all());

        let apply = work.run(&["apply", "-f", &folder_path, "--sandbox", "--auto-approve"]);

        assert_eq!(apply.code, 0, "{folder}: {}", apply.all());
        let (reads, estimate) = (requests_made(&plan.all()), estimated(&plan.all()));
        let writes = requests_made(&apply.all()).zip(reads).map(|(all, reads)| all - reads);
        assert_eq!(estimate, writes, "{folder}: the estimate is what the apply wrote\n{}\n{}", plan.all(), apply.all());
    }
}

#[test]
fn a_plan_past_the_budget_left_says_about_how_long_its_apply_takes() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    for i in 0..300 {
        work.write(
            &format!("s{i}.yaml"),
            &common::sequence(&format!("s{i}"), &format!("name: S{i}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }

    let plan = work.run(&["plan", "-f", "manifests"]);
    let markdown = work.run(&["plan", "-f", "manifests", "--format", "markdown"]);
    let json = work.run(&["plan", "-f", "manifests", "--format", "json"]);

    assert_eq!(plan.code, 0, "{}", plan.all());
    // 199 of the hour's 200 are left after the plan's list; the other 101 go at 200 an hour.
    assert_contains(
        &plan.stdout,
        "Apply cost (an estimate; other clients share each budget): orsay/main: 300 requests, about 31 m at 200/h (199 left now).",
    );
    assert_contains(
        &markdown.stdout,
        "Apply cost (an estimate; other clients share each budget): orsay/main: 300 requests",
    );
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("a JSON plan");
    assert_eq!(document["changes"][0]["requests"], 1);
}
