//! Bad manifests are refused with file:line:column and the field, and
//! nothing reaches any API.

mod common;

use common::{assert_contains, sequence, server_and_workspace};

/// Plans `manifest` beside a valid Provider and returns the run, checking
/// that it failed and sent nothing.
fn refused(manifest: &str) -> common::Run {
    let (server, work) = server_and_workspace(&[]);
    work.write("bad.yaml", manifest);
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(server.orsay_requests(), 0, "a request was sent for invalid manifests");
    let validate = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(validate.code, 1);
    assert_eq!(validate.stderr, run.stderr, "validate and plan report alike");
    run
}

#[test]
fn an_unknown_field_names_its_place_and_suggests_the_nearest_known_one() {
    let run = refused(&sequence("a", "name: A\ntriger: INSTAGRAM_MESSAGE"));
    assert_contains(
        &run.stderr,
        "manifests/bad.yaml:7:3: spec.triger: unknown field `triger`; did you mean `trigger`?",
    );
}

#[test]
fn an_unknown_trigger_lists_the_valid_ones() {
    let run = refused(&sequence("a", "name: A\ntrigger: INSTAGRAM_DM"));
    assert_contains(&run.stderr, "manifests/bad.yaml:7:12: spec.trigger: unknown value `INSTAGRAM_DM`");
    for trigger in ["INSTAGRAM_MESSAGE", "WHATSAPP_MESSAGE", "CONTACT_SUBSCRIBED_TO_SEQUENCE"] {
        assert_contains(&run.stderr, trigger);
    }
}

#[test]
fn negative_and_malformed_durations_are_refused() {
    let run = refused(&sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\ninboundResponseDelay: -5m"));
    assert_contains(&run.stderr, "bad.yaml:8:25: spec.inboundResponseDelay: `-5m` is negative");
    let run = refused(&sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nflow:\n  - delay: 5 minutes"));
    assert_contains(&run.stderr, "spec.flow[0].delay: `5 minutes` is not a duration");
    let run = refused(&sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nflow:\n  - followupDelays: [30]"));
    assert_contains(&run.stderr, "spec.flow[0].followupDelays[0]: `30` has no unit");
}

#[test]
fn a_duplicate_kind_and_name_points_at_both_definitions() {
    let manifest = format!(
        "{}---\n{}",
        sequence("twice", "name: A\ntrigger: WHATSAPP_MESSAGE"),
        sequence("twice", "name: B\ntrigger: WHATSAPP_MESSAGE")
    );
    let run = refused(&manifest);
    assert_contains(
        &run.stderr,
        "bad.yaml:12:3: metadata.name: Sequence/twice is defined twice; it was first defined at manifests/bad.yaml:4:3",
    );
}

#[test]
fn a_sequence_naming_a_missing_provider_is_refused() {
    let run = refused(&sequence("a", "providerRef: {name: mian}\nname: A\ntrigger: WHATSAPP_MESSAGE"));
    assert_contains(
        &run.stderr,
        "spec.providerRef.name: no Provider named `mian` in the manifests; did you mean `main`?",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let manifest = format!(
        "{}---\n{}",
        sequence("a", "name: A\ntrigger: NOPE"),
        sequence("b", "name: B\ntrigger: WHATSAPP_MESSAGE\nactive: maybe")
    );
    let run = refused(&manifest);
    assert!(run.stderr.contains("spec.trigger") && run.stderr.contains("spec.active"), "{}", run.stderr);
    assert_contains(&run.stderr, "2 errors in the manifests; nothing was sent to any API");
}

#[test]
fn a_profile_on_the_wrong_channel_and_an_unknown_kind_are_refused() {
    let run = refused(&sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nprofile: {instagram: mybusiness}"));
    assert_contains(&run.stderr, "spec.profile: trigger WHATSAPP_MESSAGE runs on WHATSAPP");
    let run = refused(&sequence("a", "name: A").replace("kind: Sequence", "kind: Sequense"));
    assert_contains(
        &run.stderr,
        "bad.yaml:2:1: kind: unknown kind `Sequense` in orsay.seqops.dev/v1alpha1; did you mean `Sequence`?",
    );
}

#[test]
fn a_lookup_that_matches_nothing_names_the_candidates() {
    let (_server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: INSTAGRAM_MESSAGE\nagent: {lookup: Support Agent}"));
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(
        &run.stderr,
        "a.yaml:8:11: spec.agent.lookup: no Orsay agent is named \"Support Agent\"; there are \"Sales Agent\"",
    );
}

#[test]
fn a_missing_credential_is_an_error_before_any_request() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let run: common::Run =
        work.command(&["plan", "-f", "manifests"]).env_remove("ORSAY_API_KEY").output().expect("runs").into();
    assert_eq!(run.code, 1);
    assert_contains(&run.stderr, "credentials.env names $ORSAY_API_KEY, which is not set");
    assert_eq!(server.orsay_requests(), 0);
}

#[test]
fn a_refused_key_says_what_to_fix() {
    let (_server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let run: common::Run =
        work.command(&["plan", "-f", "manifests"]).env("ORSAY_API_KEY", "wrong").output().expect("runs").into();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the API key from $ORSAY_API_KEY was refused (401"), "{}", run.stderr);
}

#[test]
fn yaml_that_is_no_manifest_is_passed_over_with_a_note_but_a_broken_manifest_is_not() {
    let work = common::Workspace::new();
    work.write("ci/workflow.yml", "name: ci\non: [push]\njobs: {}\n");
    work.write(
        "provider.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  credentials: {env: K}\n",
    );
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let run = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.is_empty(), "passed over quietly: {}", run.stderr);
    let verbose = work.run(&["validate", "-f", "manifests", "-v"]);
    assert_contains(&verbose.stderr, "manifests/ci/workflow.yml:1:1: not a manifest");
    work.write("ci/broken.yaml", "kind: Sequence\nspec: {}\n");
    let broken = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(broken.code, 1);
    assert_contains(&broken.stderr, "broken.yaml:1:1: apiVersion: every manifest needs `apiVersion`");
}

#[test]
fn version_names_every_provider_api_and_kind_it_speaks() {
    let work = common::Workspace::new();
    let shown = work.run(&["version"]);
    assert_eq!(shown.code, 0, "{}", shown.all());
    assert_contains(&shown.stdout, concat!("seqops ", env!("CARGO_PKG_VERSION")));
    for line in [
        "orsay: https://client.api.prod.orsay.ai/api/v1 (orsay.seqops.dev/v1alpha1 Sequence)",
        "gary: https://agency.gary.club/api/public/v1 (gary.seqops.dev/v1alpha1 Enrollment)",
        "topo: https://api.topo.io (topo.seqops.dev/v1alpha1 SequenceRun)",
    ] {
        assert_contains(&shown.stdout, line);
    }
    let flag = work.run(&["--version"]);
    assert_eq!(flag.stdout, shown.stdout, "--version says the same");
}

#[test]
fn a_null_where_a_string_belongs_is_refused_not_sent_as_the_text_null() {
    let run = refused(&sequence("a", "name: null\ntrigger: WHATSAPP_MESSAGE"));
    assert_contains(
        &run.stderr,
        "manifests/bad.yaml:6:3: spec.name: a value is missing: `null` here would be sent as the text \"null\"",
    );
}

#[test]
fn an_annotation_value_that_is_not_a_string_is_refused() {
    let manifest = "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: a\n  annotations:\n    seqops.dev/prevent-destroy: true\nspec:\n  name: A\n  trigger: WHATSAPP_MESSAGE\n";
    let run = refused(manifest);
    assert_contains(
        &run.stderr,
        "metadata.annotations.seqops.dev/prevent-destroy: annotation values are strings: write \"true\" in quotes",
    );
}

#[test]
fn a_document_that_is_neither_a_manifest_nor_a_list_of_them_is_an_error_not_passed_over() {
    let run = refused("---\njust a sentence\n");
    assert_contains(&run.stderr, "manifests/bad.yaml:2:1: a document must be a manifest");
}

#[test]
fn a_document_that_is_a_list_of_manifests_is_loaded_item_by_item() {
    let (_server, work) = server_and_workspace(&[]);
    work.write(
        "list.yaml",
        "- apiVersion: orsay.seqops.dev/v1alpha1\n  kind: Sequence\n  metadata:\n    name: a\n  spec:\n    name: A\n    trigger: WHATSAPP_MESSAGE\n- apiVersion: orsay.seqops.dev/v1alpha1\n  kind: Sequence\n  metadata:\n    name: b\n  spec:\n    name: B\n    triger: WHATSAPP_MESSAGE\n",
    );
    let run = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(&run.stderr, "manifests/list.yaml:14:5: spec.triger: unknown field `triger`");
}

#[test]
fn a_file_that_is_not_utf8_names_the_line_and_the_byte() {
    let (server, work) = server_and_workspace(&[]);
    // `sequence` ends the spec's line, so the byte opens line 7.
    let mut bytes = sequence("a", "name: Caf").into_bytes();
    bytes.extend_from_slice(b"\xe9\n");
    std::fs::write(work.manifests().join("latin1.yaml"), bytes).expect("written");
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(&run.stderr, "manifests/latin1.yaml:7:1: not UTF-8: byte");
    assert_eq!(server.orsay_requests(), 0);
}

#[test]
fn every_mistake_of_every_document_and_file_is_said_at_once_in_order_and_in_plain_words() {
    let (server, work) = server_and_workspace(&[]);
    // A cross-field check (the profile's channel), a field one level off
    // and a misspelt one; a spec whose fields were not indented; a wrong
    // type and a negative duration; a tab in a second file.
    let misplaced = sequence(
        "misplaced",
        "name: A\ntrigger: WHATSAPP_MESSAGE\nprofile: {instagram: shop}\nflow:\n  - delay: 0m\ncontent: hi\ntriger: X",
    );
    let flat = "apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: flat\nspec:\nname: B\n";
    let wrong = sequence("wrong", "name: C\ntrigger: WHATSAPP_MESSAGE\nactive: maybe\ninboundResponseDelay: -5m");
    work.write("bad.yaml", &format!("{misplaced}---\n{flat}---\n{wrong}"));
    work.write("tabbed.yaml", &sequence("tabbed", "name: D\ntrigger: WHATSAPP_MESSAGE\nflow:\n\t- delay: 0m"));
    let run = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let expected = [
        "error: manifests/bad.yaml:8:3: spec.profile: trigger WHATSAPP_MESSAGE runs on WHATSAPP, but the profile is an INSTAGRAM profile",
        "error: manifests/bad.yaml:11:3: spec.content: `content` belongs under `flow[]`, not directly under `spec`",
        "error: manifests/bad.yaml:12:3: spec.triger: unknown field `triger`; did you mean `trigger`?",
        "error: manifests/bad.yaml:18:1: spec: `spec` has no value: what belongs to it goes on the lines below it, indented under it",
        "error: manifests/bad.yaml:19:1: name: `name` belongs under `spec`, not at the top of the document",
        "error: manifests/bad.yaml:28:3: spec.active: `maybe` is text, but `active` takes true or false",
        "error: manifests/bad.yaml:29:25: spec.inboundResponseDelay: `-5m` is negative: durations must be zero or more",
        "error: manifests/tabbed.yaml:9:3: a tab indents this line: YAML indents with spaces only; replace the tab with spaces",
        "8 errors in the manifests; nothing was sent to any API",
    ];
    let lines: Vec<&str> = run.stderr.lines().map(|l| l.split(" (valid fields").next().unwrap_or(l)).collect();
    assert_eq!(lines, expected, "{}", run.stderr);
    assert_eq!(server.orsay_requests(), 0);
}
