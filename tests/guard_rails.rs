//! Guard rails: a plan that deletes every object of an account, or more
//! than `--max-deletes`, stops before anything is deleted, in `plan`, in
//! `apply`, and in `apply PLANFILE`.

mod common;

use common::{assert_contains, Server, Workspace};

fn sequences(work: &Workspace, count: usize) {
    for i in 0..count {
        work.write(
            &format!("s{i}.yaml"),
            &common::sequence(&format!("s{i}"), &format!("name: S{i}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
}

fn applied_with(count: usize) -> (Server, Workspace) {
    let (server, work) = common::server_and_workspace(&[]);
    work.unpaced_provider(&server);
    sequences(&work, count);
    work.apply();
    (server, work)
}

#[test]
fn a_plan_that_deletes_every_object_of_an_account_stops_unless_allowed() {
    let (server, work) = applied_with(2);
    work.remove("s0.yaml");
    work.remove("s1.yaml");

    let planned = work.plan();
    assert_eq!(planned.code, 1, "{}", planned.all());
    assert_contains(&planned.stdout, "- Sequence/s0");
    assert_contains(&planned.stderr, "deletes every object seqops manages through Provider `main` (2)");
    assert_contains(&planned.stderr, "--allow-delete-all");
    let refused = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_eq!(server.sequences_named("S0").len(), 1, "nothing was deleted");

    let allowed = work.run(&["apply", "-f", "manifests", "--auto-approve", "--allow-delete-all"]);
    assert_eq!(allowed.code, 0, "{}", allowed.all());
    assert!(server.sequences_named("S0").is_empty());
}

#[test]
fn a_plan_that_deletes_more_than_max_deletes_stops_and_a_saved_plan_is_checked_again() {
    let (server, work) = applied_with(12);
    for i in 0..11 {
        work.remove(&format!("s{i}.yaml"));
    }

    let planned = work.plan();
    assert_eq!(planned.code, 1, "{}", planned.all());
    assert_contains(
        &planned.stderr,
        "this plan has 11 changes that cannot be undone (11 to delete), more than --max-deletes 10",
    );
    let saved = work.run(&["plan", "-f", "manifests", "--max-deletes", "11", "--out", "plan.json"]);
    assert_eq!(saved.code, 0, "{}", saved.all());
    let refused = work.run(&["apply", "plan.json", "-f", "manifests"]);
    assert_eq!(refused.code, 1, "the apply job has its own limit:\n{}", refused.all());
    assert_contains(&refused.stderr, "more than --max-deletes 10");
    assert_eq!(server.sequences_named("S0").len(), 1, "nothing was deleted");
    let applied = work.run(&["apply", "plan.json", "-f", "manifests", "--max-deletes", "11"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(server.sequences_named("S0").is_empty());
    assert_eq!(server.sequences_named("S11").len(), 1);
}
