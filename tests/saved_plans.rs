//! Plans for pull requests and CI: saved plans and their refusals, the JSON
//! and Markdown formats, refresh modes measured by the sandbox's own request
//! counter, --target, and export.

mod common;

use common::{assert_contains, sequence, server_and_workspace, Server, Workspace};
use serde_json::{json, Value};

fn two_sequences() -> (Server, Workspace) {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nactive: true"));
    work.write("b.yaml", &sequence("b", "name: B\ntrigger: WHATSAPP_MESSAGE\nactive: true"));
    work.apply();
    (server, work)
}

fn deactivate(work: &Workspace, name: &str) {
    let upper = name.to_uppercase();
    work.write(
        &format!("{name}.yaml"),
        &sequence(name, &format!("name: {upper}\ntrigger: WHATSAPP_MESSAGE\nactive: false")),
    );
}

fn save_plan(work: &Workspace) -> common::Run {
    let run = work.run(&["plan", "-f", "manifests", "--out", "plan.json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    run
}

fn apply_plan(work: &Workspace) -> common::Run {
    work.run(&["apply", "plan.json", "-f", "manifests"])
}

#[test]
fn a_saved_plan_applies_exactly_what_was_reviewed_and_only_once() {
    let (server, work) = two_sequences();
    deactivate(&work, "a");
    save_plan(&work);
    let applied = apply_plan(&work);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_contains(&applied.stdout, "Apply complete! Resources: 0 created, 1 updated");
    assert_eq!(server.sequences_named("A")[0]["active"], false);
    let replay = apply_plan(&work);
    assert_eq!(replay.code, 1);
    assert_contains(&replay.stderr, "this plan was already applied");
}

#[test]
fn a_saved_plan_is_refused_once_state_has_moved_on() {
    let (_server, work) = two_sequences();
    deactivate(&work, "a");
    save_plan(&work);
    work.apply();
    let late = apply_plan(&work);
    assert_eq!(late.code, 1);
    assert_contains(&late.stderr, "state has changed since this plan was made");
}

#[test]
fn a_saved_plan_is_refused_when_the_manifests_changed() {
    let (server, work) = two_sequences();
    deactivate(&work, "a");
    save_plan(&work);
    deactivate(&work, "b");
    let refused = apply_plan(&work);
    assert_eq!(refused.code, 1);
    assert_contains(&refused.stderr, "the manifests have changed since this plan was made");
    assert_eq!(server.sequences_named("A")[0]["active"], true, "nothing was applied");
}

#[test]
fn an_object_changed_remotely_after_the_plan_is_left_untouched_and_reported() {
    let (server, work) = two_sequences();
    deactivate(&work, "a");
    deactivate(&work, "b");
    save_plan(&work);
    let id = server.sequences_named("A")[0]["id"].as_str().expect("an id").to_string();
    server.orsay("PUT", &format!("/sequences/{id}"), Some(json!({"name": "A renamed"})));
    let applied = apply_plan(&work);
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_contains(&applied.stderr, "untouched: Sequence/a: changed remotely since the plan was made (name)");
    assert_eq!(server.sequences_named("A renamed")[0]["active"], true, "the changed object is not touched");
    assert_eq!(server.sequences_named("B")[0]["active"], false, "the others are applied");
}

#[test]
fn a_plan_made_without_state_cannot_be_applied_twice() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    save_plan(&work);
    assert_eq!(apply_plan(&work).code, 0);
    let again = apply_plan(&work);
    assert_eq!(again.code, 1);
    assert_contains(&again.stderr, "already applied");
    // Even if state is deleted and made anew by someone else's apply.
    std::fs::remove_file(work.path().join(".seqops/state.json")).expect("state removed");
    work.run(&["import", "Sequence/a", server.sequences_named("A")[0]["id"].as_str().expect("id"), "-f", "manifests"]);
    let foreign = apply_plan(&work);
    assert_eq!(foreign.code, 1);
    assert_contains(&foreign.stderr, "made with no state, and state now exists");
    assert_eq!(server.sequences_named("A").len(), 1);
}

#[test]
fn the_json_plan_follows_the_checked_in_schema() {
    let (_server, work) = two_sequences();
    deactivate(&work, "a");
    work.remove("b.yaml");
    work.write(
        "c.yaml",
        &sequence("c", "name: C\ntrigger: CONTACT_CREATED\nflow:\n  - content: |\n      one\n      two"),
    );
    let run = work.run(&["plan", "-f", "manifests", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let document: Value = serde_json::from_str(&run.stdout).expect("the plan is JSON");
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(schema_path).expect("the schema file")).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> =
        validator.iter_errors(&document).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(document["format_version"], "3");
    assert_eq!(
        document["summary"],
        json!({"create": 1, "update": 1, "adopt": 0, "moved": 0, "forget": 0, "pause": 0, "resume": 0,
            "replace": 0, "delete": 1, "stop": 0, "cannot_be_undone": 1})
    );
    let update =
        document["changes"].as_array().expect("changes").iter().find(|c| c["action"] == "update").expect("an update");
    assert_eq!(update["fields"], json!([{"path": "active", "before": true, "after": false}]));
    assert_eq!(document["requests"][0]["account"], "orsay/main");
}

#[test]
fn the_checked_in_plan_schema_is_the_one_seqops_generates() {
    let work = Workspace::new();
    let run = work.run(&["schema", "--plan"]);
    let generated: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan.schema.json");
    let checked_in: Value =
        serde_json::from_slice(&std::fs::read(schema_path).expect("the schema file")).expect("JSON");
    assert_eq!(generated, checked_in, "run `seqops schema --plan > docs/plan.schema.json`");
}

#[test]
fn the_markdown_plan_has_a_summary_table_and_a_section_per_object() {
    let (_server, work) = two_sequences();
    deactivate(&work, "a");
    let run = work.run(&["plan", "-f", "manifests", "--format", "markdown"]);
    assert_contains(&run.stdout, "| orsay-main | 0 | 1 | 0 | 0 |".replace("orsay-main", "main"));
    assert_contains(&run.stdout, "<details><summary><code>~ Sequence/a</code>");
    assert_contains(&run.stdout, "- active: true\n+ active: false");
    save_plan(&work);
    let shown = work.run(&["show", "plan.json", "--format", "markdown"]);
    // What is left of the budget moves between the two plans; a saved
    // plan is applied by its file's name.
    let budget_free = |text: &str| -> Vec<String> {
        let kept = |l: &&str| !l.starts_with("Requests") && !l.starts_with("Apply cost") && !l.starts_with("To apply");
        text.lines().filter(kept).map(String::from).collect()
    };
    assert_eq!(budget_free(&shown.stdout), budget_free(&run.stdout));
    assert_contains(&shown.stdout, "| Provider `main` | orsay, key from $ORSAY_API_KEY |");
    assert!(shown.stdout.trim_end().ends_with("To apply exactly this: `seqops apply plan.json`"), "{}", shown.stdout);
}

#[test]
fn target_limits_plan_and_apply_to_the_named_objects() {
    let (server, work) = two_sequences();
    deactivate(&work, "a");
    deactivate(&work, "b");
    let plan = work.run(&["plan", "-f", "manifests", "--target", "Sequence/a"]);
    assert_contains(&plan.stdout, "this plan is partial (--target): it covers only Sequence/a");
    assert_contains(&plan.stdout, "Plan: 0 to create, 1 to update");
    let applied = work.run(&["apply", "-f", "manifests", "--target", "Sequence/a", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(server.sequences_named("A")[0]["active"], false);
    assert_eq!(server.sequences_named("B")[0]["active"], true);
    let unknown = work.run(&["plan", "-f", "manifests", "--target", "Sequence/zzz"]);
    assert_eq!(unknown.code, 1);
    assert_contains(&unknown.stderr, "--target Sequence/zzz: no manifest or state entry has this key");
}

/// The sandbox's own count of Orsay requests made by one seqops run.
fn requests_of(server: &Server, work: &Workspace, args: &[&str]) -> (u64, common::Run) {
    let before = server.orsay_requests();
    let run = work.run(args);
    assert!(run.code == 0 || run.code == 2, "{}", run.all());
    (server.orsay_requests() - before, run)
}

#[test]
fn with_a_thousand_unchanged_sequences_refresh_changed_makes_one_request() {
    let (server, work) = server_and_workspace(&["--requests-per-hour", "0"]);
    work.unpaced_provider(&server);
    server.seed(1000, |i| json!({"name": format!("Seq {i}"), "trigger": "WHATSAPP_MESSAGE", "active": i % 2 == 0}));
    let export = work.run(&["export", "--provider", "main", "-f", "manifests", "--out", "exported"]);
    assert_eq!(export.code, 0, "{}", export.all());
    let plan =
        |mode: &str| requests_of(&server, &work, &["plan", "-f", "exported", "--detailed-exitcode", "--refresh", mode]);
    let (changed, run) = plan("changed");
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(changed, 1);
    let (full, run) = plan("full");
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(full <= 1001, "full refresh made {full} requests");
    let (none, _) = plan("none");
    assert_eq!(none, 0);
}

#[test]
fn export_of_an_account_seeded_outside_seqops_plans_no_changes() {
    let (server, work) = server_and_workspace(&["--requests-per-hour", "0"]);
    work.unpaced_provider(&server);
    let (_, agents) = server.orsay("GET", "/agents", None);
    let (_, profiles) = server.orsay("GET", "/profiles", None);
    let agent = agents[0]["id"].clone();
    let instagram = profiles["instagram"][0]["id"].clone();
    server.seed(60, |i| {
        json!({
            "name": format!("Campaign {}", i % 55),
            "trigger": if i % 3 == 0 { "INSTAGRAM_COMMENT" } else { "WHATSAPP_MESSAGE" },
            "active": i % 2 == 0,
            "agent_id": if i % 4 == 0 { agent.clone() } else { Value::Null },
            "profile_id": if i % 3 == 0 { instagram.clone() } else { Value::Null },
            "inbound_response_delay": i % 7, "inbound_response_delay_unit": "HOURS",
            "keywords": if i % 5 == 0 { json!(["b", "a"]) } else { Value::Null },
            "flow": [{"delay": 90, "delay_unit": "MINUTES", "content": format!("Hello {i}\nSecond line"), "followup_delays": [{"delay": 1, "delay_unit": "HOURS"}]}],
        })
    });
    let export = work.run(&["export", "--provider", "main", "-f", "manifests", "--out", "exported"]);
    assert_eq!(export.code, 0, "{}", export.all());
    assert_contains(&export.stdout, "Exported 60 objects");
    let exported =
        std::fs::read_to_string(work.path().join("exported/campaign-0.yaml")).expect("a manifest per object");
    assert_contains(&exported, "lookup: Sales Agent");
    assert_contains(&exported, "instagram: mybusiness");
    for mode in ["changed", "full"] {
        let plan = work.run(&["plan", "-f", "exported", "--detailed-exitcode", "--refresh", mode]);
        assert_eq!(plan.code, 0, "{mode}: {}", plan.all());
        assert_contains(&plan.stdout, "No changes.");
    }
}
