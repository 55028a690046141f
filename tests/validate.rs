//! Bad manifests are refused with file:line:column and the field, and
//! nothing reaches any API.

mod common;

use common::{sequence, Server, Workspace};

/// Plans `manifest` beside a valid Provider and returns the run, checking
/// that it failed and sent nothing.
fn refused(manifest: &str) -> common::Run {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.provider(&server);
    work.write("bad.yaml", manifest);
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        server.orsay_requests(),
        0,
        "a request was sent for invalid manifests"
    );
    let validate = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(validate.code, 1);
    assert_eq!(
        validate.stderr, run.stderr,
        "validate and plan report alike"
    );
    run
}

#[test]
fn an_unknown_field_names_its_place_and_suggests_the_nearest_known_one() {
    let run = refused(&sequence("a", "name: A\ntriger: INSTAGRAM_MESSAGE"));
    assert!(
        run.stderr.contains(
            "manifests/bad.yaml:7:3: spec.triger: unknown field `triger`; did you mean `trigger`?"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_trigger_lists_the_valid_ones() {
    let run = refused(&sequence("a", "name: A\ntrigger: INSTAGRAM_DM"));
    assert!(
        run.stderr
            .contains("manifests/bad.yaml:7:12: spec.trigger: unknown value `INSTAGRAM_DM`"),
        "{}",
        run.stderr
    );
    for trigger in [
        "INSTAGRAM_MESSAGE",
        "WHATSAPP_MESSAGE",
        "CONTACT_SUBSCRIBED_TO_SEQUENCE",
    ] {
        assert!(run.stderr.contains(trigger), "{}", run.stderr);
    }
}

#[test]
fn negative_and_malformed_durations_are_refused() {
    let run = refused(&sequence(
        "a",
        "name: A\ntrigger: WHATSAPP_MESSAGE\ninboundResponseDelay: -5m",
    ));
    assert!(
        run.stderr
            .contains("bad.yaml:8:25: spec.inboundResponseDelay: `-5m` is negative"),
        "{}",
        run.stderr
    );
    let run = refused(&sequence(
        "a",
        "name: A\ntrigger: WHATSAPP_MESSAGE\nflow:\n  - delay: 5 minutes",
    ));
    assert!(
        run.stderr
            .contains("spec.flow[0].delay: `5 minutes` is not a duration"),
        "{}",
        run.stderr
    );
    let run = refused(&sequence(
        "a",
        "name: A\ntrigger: WHATSAPP_MESSAGE\nflow:\n  - followupDelays: [30]",
    ));
    assert!(
        run.stderr
            .contains("spec.flow[0].followupDelays[0]: `30` has no unit"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_duplicate_kind_and_name_points_at_both_definitions() {
    let manifest = format!(
        "{}---\n{}",
        sequence("twice", "name: A\ntrigger: WHATSAPP_MESSAGE"),
        sequence("twice", "name: B\ntrigger: WHATSAPP_MESSAGE")
    );
    let run = refused(&manifest);
    assert!(
        run.stderr.contains("bad.yaml:12:3: metadata.name: Sequence/twice is defined twice; it was first defined at manifests/bad.yaml:4:3"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_sequence_naming_a_missing_provider_is_refused() {
    let run = refused(&sequence(
        "a",
        "providerRef: {name: mian}\nname: A\ntrigger: WHATSAPP_MESSAGE",
    ));
    assert!(run.stderr.contains("spec.providerRef.name: no Provider named `mian` in the manifests; did you mean `main`?"), "{}", run.stderr);
}

#[test]
fn every_problem_is_reported_at_once() {
    let manifest = format!(
        "{}---\n{}",
        sequence("a", "name: A\ntrigger: NOPE"),
        sequence("b", "name: B\ntrigger: WHATSAPP_MESSAGE\nactive: maybe")
    );
    let run = refused(&manifest);
    assert!(
        run.stderr.contains("spec.trigger") && run.stderr.contains("spec.active"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("2 errors in the manifests; nothing was sent to any API"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_profile_on_the_wrong_channel_and_an_unknown_kind_are_refused() {
    let run = refused(&sequence(
        "a",
        "name: A\ntrigger: WHATSAPP_MESSAGE\nprofile: {instagram: mybusiness}",
    ));
    assert!(
        run.stderr
            .contains("spec.profile: trigger WHATSAPP_MESSAGE runs on WHATSAPP"),
        "{}",
        run.stderr
    );
    let run = refused(&sequence("a", "name: A").replace("kind: Sequence", "kind: Sequense"));
    assert!(run.stderr.contains("bad.yaml:2:1: kind: unknown kind `Sequense` in orsay.seqops.dev/v1alpha1; did you mean `Sequence`?"), "{}", run.stderr);
}

#[test]
fn a_lookup_that_matches_nothing_names_the_candidates() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.provider(&server);
    work.write(
        "a.yaml",
        &sequence(
            "a",
            "name: A\ntrigger: INSTAGRAM_MESSAGE\nagent: {lookup: Support Agent}",
        ),
    );
    let run = work.plan();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("a.yaml:8:11: spec.agent.lookup: no Orsay agent is named \"Support Agent\"; there are \"Sales Agent\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_credential_is_an_error_before_any_request() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.provider(&server);
    work.write(
        "a.yaml",
        &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"),
    );
    let run: common::Run = work
        .command(&["plan", "-f", "manifests"])
        .env_remove("ORSAY_API_KEY")
        .output()
        .expect("runs")
        .into();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("credentials.env names $ORSAY_API_KEY, which is not set"),
        "{}",
        run.stderr
    );
    assert_eq!(server.orsay_requests(), 0);
}

#[test]
fn a_refused_key_says_what_to_fix() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.provider(&server);
    work.write(
        "a.yaml",
        &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"),
    );
    let run: common::Run = work
        .command(&["plan", "-f", "manifests"])
        .env("ORSAY_API_KEY", "wrong")
        .output()
        .expect("runs")
        .into();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("the API key from $ORSAY_API_KEY was refused (401"),
        "{}",
        run.stderr
    );
}
