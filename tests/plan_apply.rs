//! Planning and applying Orsay sequences against the sandbox emulator, with
//! the real binary over loopback.

mod common;

use common::{assert_contains, sequence, server_and_workspace, Server, Workspace};
use serde_json::json;

const WELCOME: &str = "name: Welcome DM
trigger: INSTAGRAM_MESSAGE
active: true
agent: {lookup: Sales Agent}
profile: {instagram: mybusiness}
inboundResponseDelay: 2m
flow:
  - delay: 0m
    content: |
      Hi there!
      How can we help?
    followupDelays: [30m, 2h]
keywords: [hello, hi]
";

fn applied_welcome() -> (Server, Workspace) {
    let (server, work) = server_and_workspace(&[]);
    work.write("welcome.yaml", &sequence("welcome", WELCOME));
    work.apply();
    (server, work)
}

#[test]
fn the_examples_apply_in_the_sandbox_and_a_second_plan_shows_no_changes() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let first = work
        .command(&["apply", "-f", "manifests", "--sandbox", "--auto-approve"])
        .env_remove("ORSAY_API_KEY")
        .output()
        .expect("runs");
    let first: common::Run = first.into();
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(first.stdout.contains("Apply complete! Resources: 17 created"), "{}", first.stdout);
    // One line says the sandbox stands in; `-v` says for which keys.
    assert_contains(&first.stderr, "sandbox: 5 providers stand in for the real APIs");
    let second: common::Run = work
        .command(&["plan", "-f", "manifests", "--sandbox", "--detailed-exitcode"])
        .env_remove("ORSAY_API_KEY")
        .output()
        .expect("runs")
        .into();
    assert_eq!(second.code, 0, "{}", second.all());
    assert_contains(&second.stdout, "No changes.");
}

#[test]
fn an_applied_sequence_exists_once_remotely_with_every_field_in_the_vendors_terms() {
    let (server, work) = applied_welcome();
    let found = server.sequences_named("Welcome DM");
    assert_eq!(found.len(), 1);
    let remote = &found[0];
    assert_eq!(remote["channel"], "INSTAGRAM");
    assert_eq!(remote["type"], "INBOUND");
    assert_eq!(remote["inbound_response_delay"], 2);
    assert_eq!(remote["inbound_response_delay_unit"], "MINUTES");
    assert_eq!(
        remote["flow"][0]["followup_delays"],
        json!([{"delay": 30, "delay_unit": "MINUTES"}, {"delay": 2, "delay_unit": "HOURS"}])
    );
    assert_eq!(remote["keywords"], json!(["hello", "hi"]));
    let state = work.state();
    assert_eq!(state["resources"]["Sequence/welcome"]["id"], remote["id"]);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn editing_one_field_plans_exactly_that_field() {
    let (_server, work) = applied_welcome();
    work.write("welcome.yaml", &sequence("welcome", &WELCOME.replace("active: true", "active: false")));
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.");
    let field_lines: Vec<&str> =
        plan.stdout.lines().filter(|l| l.trim_start().starts_with("~ ") && l.contains(':')).collect();
    assert_eq!(field_lines, vec!["      ~ active: true -> false"], "{}", plan.stdout);
}

#[test]
fn multi_line_content_changes_are_shown_as_a_line_diff_and_applied() {
    let (server, work) = applied_welcome();
    work.write("welcome.yaml", &sequence("welcome", &WELCOME.replace("How can we help?", "What brings you here?")));
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "~ flow[0].content:");
    assert!(
        plan.stdout.contains("- How can we help?") && plan.stdout.contains("+ What brings you here?"),
        "{}",
        plan.stdout
    );
    work.apply();
    assert_eq!(server.sequences_named("Welcome DM")[0]["flow"][0]["content"], "Hi there!\nWhat brings you here?\n");
    assert_eq!(work.plan().code, 0);
}

#[test]
fn equal_durations_in_other_units_are_no_change() {
    let (_server, work) = applied_welcome();
    work.write("welcome.yaml", &sequence("welcome", &WELCOME.replace("2h]", "120m]").replace("2m", "120s")));
    let plan = work.plan();
    assert_eq!(plan.code, 0, "{}", plan.all());
}

#[test]
fn removing_a_manifest_plans_exactly_one_delete_and_apply_deletes_it() {
    let (server, work) = applied_welcome();
    work.write("other.yaml", &sequence("other", "name: Other\ntrigger: WHATSAPP_MESSAGE"));
    work.apply();
    work.remove("other.yaml");
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "Plan: 0 to create, 0 to update. 1 to delete, cannot be undone.");
    assert_contains(&plan.stdout, "- Sequence/other");
    work.apply();
    assert!(server.sequences_named("Other").is_empty());
    assert_eq!(server.sequences_named("Welcome DM").len(), 1);
    assert!(work.state()["resources"].get("Sequence/other").is_none());
}

#[test]
fn removing_an_applied_field_resets_it_to_the_documented_default() {
    let (server, work) = applied_welcome();
    work.write(
        "welcome.yaml",
        &sequence("welcome", &WELCOME.replace("inboundResponseDelay: 2m\n", "").replace("active: true\n", "")),
    );
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "~ inboundResponseDelay: \"2m\" -> \"5m\"");
    assert_contains(&plan.stdout, "~ active: true -> false");
    work.apply();
    let remote = &server.sequences_named("Welcome DM")[0];
    assert_eq!(
        (remote["inbound_response_delay"].clone(), remote["inbound_response_delay_unit"].clone()),
        (json!(5), json!("MINUTES"))
    );
    assert_eq!(remote["active"], false);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn a_change_made_through_the_api_shows_as_drift_and_the_next_apply_restores_it() {
    let (server, work) = applied_welcome();
    let id = server.sequences_named("Welcome DM")[0]["id"].as_str().expect("an id").to_string();
    let (status, _) = server.orsay("PUT", &format!("/sequences/{id}"), Some(json!({"active": false})));
    assert_eq!(status, 200);
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "drift: changed outside seqops");
    assert_contains(&plan.stdout, "! active: true -> false");
    assert_contains(&plan.stdout, "~ active: false -> true");
    work.apply();
    assert_eq!(server.sequences_named("Welcome DM")[0]["active"], true);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn drift_in_fields_lists_do_not_show_is_found_by_a_full_refresh() {
    let (server, work) = applied_welcome();
    let id = server.sequences_named("Welcome DM")[0]["id"].as_str().expect("an id").to_string();
    server.orsay("PUT", &format!("/sequences/{id}"), Some(json!({"inbound_response_delay": 9})));
    let cheap = work.run(&["plan", "-f", "manifests", "--detailed-exitcode", "--refresh", "changed"]);
    assert_eq!(cheap.code, 0, "a summary cannot show the delay: {}", cheap.all());
    assert_contains(&cheap.stdout, "made 1 request");
    let full = work.run(&["plan", "-f", "manifests", "--detailed-exitcode", "--refresh", "full"]);
    assert_eq!(full.code, 2, "{}", full.all());
    assert_contains(&full.stdout, "! inboundResponseDelay: \"2m\" -> \"9m\"");
}

#[test]
fn a_sequence_deleted_outside_seqops_is_created_again() {
    let (server, work) = applied_welcome();
    let id = server.sequences_named("Welcome DM")[0]["id"].as_str().expect("an id").to_string();
    server.orsay("DELETE", &format!("/sequences/{id}"), None);
    let plan = work.plan();
    assert_contains(&plan.stdout, "was deleted outside seqops");
    work.apply();
    assert_eq!(server.sequences_named("Welcome DM").len(), 1);
}

#[test]
fn orphan_policy_forgets_instead_of_deleting() {
    let (server, work) = server_and_workspace(&[]);
    let kept = sequence("kept", "name: Kept\ntrigger: WHATSAPP_MESSAGE")
        .replace("  name: kept\n", "  name: kept\n  annotations:\n    seqops.dev/deletion-policy: orphan\n");
    work.write("kept.yaml", &kept);
    work.apply();
    work.remove("kept.yaml");
    let plan = work.plan();
    assert!(plan.stdout.contains("forget Sequence/kept") && plan.stdout.contains("1 to forget"), "{}", plan.stdout);
    work.apply();
    assert_eq!(server.sequences_named("Kept").len(), 1);
    assert!(work.state()["resources"].get("Sequence/kept").is_none());
}

#[test]
fn prevent_destroy_makes_a_planned_delete_an_error() {
    let (server, work) = server_and_workspace(&[]);
    let guarded = sequence("guarded", "name: Guarded\ntrigger: WHATSAPP_MESSAGE")
        .replace("  name: guarded\n", "  name: guarded\n  annotations:\n    seqops.dev/prevent-destroy: \"true\"\n");
    work.write("guarded.yaml", &guarded);
    work.apply();
    work.remove("guarded.yaml");
    let plan = work.plan();
    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(&plan.stderr, "prevent-destroy");
    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert_eq!(server.sequences_named("Guarded").len(), 1);
}

#[test]
fn management_policies_without_update_or_delete_create_but_never_change_or_delete() {
    let (server, work) = server_and_workspace(&[]);
    let policies = "name: Guarded\ntrigger: WHATSAPP_MESSAGE\nactive: false\nmanagementPolicies: [Observe, Create]";
    work.write("guarded.yaml", &sequence("guarded", policies));
    work.apply();
    assert_eq!(server.sequences_named("Guarded").len(), 1, "Create is allowed");
    work.write("guarded.yaml", &sequence("guarded", &policies.replace("active: false", "active: true")));
    let edited = work.plan();
    assert_eq!(edited.code, 0, "{}", edited.all());
    assert_contains(
        &edited.all(),
        "Sequence/guarded has managementPolicies without Update and differs remotely in active; left alone",
    );
    work.remove("guarded.yaml");
    let removed = work.plan();
    assert_contains(&removed.stdout, "forget Sequence/guarded");
    assert_contains(&removed.stdout, "its managementPolicies did not allow Delete");
    work.apply();
    assert_eq!(server.sequences_named("Guarded").len(), 1, "Delete is not allowed");
}

#[test]
fn management_policies_must_observe_and_not_be_given_twice() {
    let (_server, work) = server_and_workspace(&[]);
    let both = "name: A\ntrigger: WHATSAPP_MESSAGE\nmanagementPolicy: ObserveOnly\nmanagementPolicies: [\"*\"]";
    work.write("a.yaml", &sequence("a", both));
    work.write("b.yaml", &sequence("b", "name: B\ntrigger: WHATSAPP_MESSAGE\nmanagementPolicies: [Create]"));
    let checked = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(checked.code, 1, "{}", checked.all());
    assert_contains(&checked.stderr, "a.yaml:");
    assert_contains(&checked.stderr, "give `managementPolicies` or the older `managementPolicy`, not both");
    assert_contains(&checked.stderr, "b.yaml:");
    assert_contains(&checked.stderr, "include `Observe` (or `*`)");
}

#[test]
fn a_path_with_no_manifest_at_all_is_an_error_not_a_plan_that_deletes_everything() {
    let (server, work) = applied_welcome();
    std::fs::create_dir_all(work.path().join("typo")).expect("an empty folder");
    let refused = work.run(&["plan", "-f", "typo"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "no manifest in typo: check the -f path");
    let applied = work.run(&["apply", "-f", "typo", "--auto-approve"]);
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_eq!(server.sequences_named("Welcome DM").len(), 1, "nothing was deleted");
}
