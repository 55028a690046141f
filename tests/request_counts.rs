//! Requests are the currency: a no-op plan of each provider's example reads
//! each collection once, and an object alone only where the API has no list.

mod common;

use common::Workspace;

/// (example folder, requests of its no-op plan, what they are).
const NO_OP_PLANS: [(&str, u64, &str); 5] = [
    ("orsay", 1, "the sequence list"),
    ("orqis", 3, "the agent list, the API key list, and the one LLM key named (Orqis lists no keys)"),
    ("gary", 2, "the sequence list and the one sequence's enrollments"),
    ("orchagent", 5, "workspaces, agents, and the secrets, schedules and services of the one workspace"),
    ("topo", 1, "the run list"),
];

fn requests_made(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.starts_with("Requests: "))?;
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
