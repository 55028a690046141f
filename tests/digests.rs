//! Secret digests that nobody who reads a state, a plan or a status can test
//! a guess against, and saved plans that cannot be edited between the plan
//! job and the apply job.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{assert_contains, Run, Server, Workspace, DIGEST_KEY_ENV};
use serde_json::Value;

const LLM_KEY: &str = "apiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value: {fromEnv: GOOGLE_KEY}\n";

fn llm_key_workspace() -> (Server, Workspace) {
    let (server, work) = common::server_and_workspace(&[]);
    work.orqis_provider(&server);
    work.write("llm.yaml", LLM_KEY);
    (server, work)
}

fn run_with(work: &Workspace, args: &[&str], value: &str) -> Run {
    work.command(args).env("GOOGLE_KEY", value).output().expect("seqops runs").into()
}

fn plan(work: &Workspace, value: &str) -> Run {
    run_with(work, &["plan", "-f", "manifests", "--detailed-exitcode"], value)
}

fn apply(work: &Workspace, value: &str) -> Run {
    let run = run_with(work, &["apply", "-f", "manifests", "--auto-approve"], value);
    assert_eq!(run.code, 0, "{}", run.all());
    run
}

fn stored_digest(work: &Workspace) -> String {
    let state = work.state();
    state["resources"]["LlmKey/google"]["lastApplied"]["value"]["$sensitive"].as_str().unwrap_or_default().to_string()
}

fn key_file(work: &Workspace) -> std::path::PathBuf {
    work.config_home().join("seqops/digest-key")
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("the file exists").permissions().mode() & 0o777
}

#[test]
fn a_secret_digest_is_an_hmac_under_a_key_kept_outside_the_project_and_the_state() {
    let (_server, work) = llm_key_workspace();
    let applied = apply(&work, "AIza-canary-value");
    assert_contains(&applied.stderr, "A new digest key was made");
    let digest = stored_digest(&work);
    assert!(digest.starts_with("hmac-sha256:"), "{digest}");
    let key = std::fs::read_to_string(key_file(&work)).expect("the key file");
    assert_eq!(mode(&key_file(&work)), 0o600);
    let state = std::fs::read_to_string(work.path().join(".seqops/state.json")).expect("state");
    assert!(!state.contains(key.trim()), "the key is not in state");
    assert!(!state.contains("\"salt\""), "no salt is stored beside the digests:\n{state}");
    assert!(!state.contains("AIza-canary-value"));
    assert_eq!(mode(&work.path().join(".seqops/state.json")), 0o600);
    assert_eq!(plan(&work, "AIza-canary-value").code, 0, "the same value is no change");
    let rotated = plan(&work, "AIza-rotated");
    assert_eq!(rotated.code, 2, "{}", rotated.all());
    assert_contains(&rotated.stdout, "(sensitive value changed)");
}

#[test]
fn a_plan_without_the_key_shows_secrets_as_not_comparable_and_makes_no_key() {
    let (_server, work) = llm_key_workspace();
    apply(&work, "AIza-canary-value");
    // A pull request from a fork: no key file, no SEQOPS_DIGEST_KEY.
    std::fs::remove_file(key_file(&work)).expect("the key is removed");
    let planned = plan(&work, "AIza-some-other-value");
    assert_eq!(planned.code, 0, "nothing can be compared, so nothing is a change:\n{}", planned.all());
    assert_contains(&planned.all(), "secrets cannot be compared, and show as (sensitive: not comparable)");
    assert!(!key_file(&work).exists(), "a plan that is only shown makes no key");
}

#[test]
fn a_saved_plan_of_a_pull_request_from_a_fork_is_unsigned_and_cannot_be_applied() {
    let (_server, work) = llm_key_workspace();
    apply(&work, "AIza-canary-value");
    std::fs::remove_file(key_file(&work)).expect("the fork's job has no key");
    let planned = run_with(&work, &["plan", "-f", "manifests", "--out", "plan.json", "--detailed-exitcode"], "AIza-x");
    assert_eq!(planned.code, 0, "not comparable is no change:\n{}", planned.all());
    assert_contains(&planned.stderr, "saved unsigned");
    assert!(!key_file(&work).exists(), "no key is made, which would make every secret look changed");
    let refused = run_with(&work, &["apply", "plan.json", "-f", "manifests"], "AIza-x");
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "this plan carries no signature");
}

#[test]
fn a_lost_key_makes_each_secret_look_changed_once_and_the_plan_says_why() {
    let (_server, work) = llm_key_workspace();
    apply(&work, "AIza-canary-value");
    std::fs::remove_file(key_file(&work)).expect("the key is lost");
    let applied = apply(&work, "AIza-canary-value");
    assert_contains(&applied.stdout, "digested under another key");
    assert_contains(&applied.stdout, "sent again once");
    assert_eq!(plan(&work, "AIza-canary-value").code, 0, "once only");
}

#[test]
fn a_digest_an_older_seqops_salted_is_rekeyed_from_the_value_in_hand_without_a_write() {
    use sha2::Digest;
    let (server, work) = llm_key_workspace();
    apply(&work, "AIza-canary-value");
    // State as seqops wrote it before digest keys: SHA-256 of salt:value,
    // the salt beside it.
    let legacy: String = sha2::Sha256::digest(b"abcd:AIza-canary-value").iter().map(|b| format!("{b:02x}")).collect();
    let path = work.path().join(".seqops/state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("JSON");
    state["salt"] = Value::String("abcd".into());
    // It kept what it observed beside what it applied, even when equal.
    let entry = &mut state["resources"]["LlmKey/google"];
    entry["observed"] = entry["lastApplied"].clone();
    for side in ["lastApplied", "observed"] {
        state["resources"]["LlmKey/google"][side]["value"]["$sensitive"] = Value::String(legacy.clone());
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&state).expect("JSON")).expect("written");
    let before = server.orqis_requests();

    let applied = apply(&work, "AIza-canary-value");

    assert_contains(&applied.stdout, "No changes.");
    assert!(stored_digest(&work).starts_with("hmac-sha256:"), "{}", stored_digest(&work));
    assert!(work.state().get("salt").is_none(), "the spent salt is dropped");
    let rekeying = server.orqis_requests() - before;
    let before = server.orqis_requests();
    assert_eq!(plan(&work, "AIza-canary-value").code, 0);
    assert_eq!(rekeying, server.orqis_requests() - before, "re-keying cost what a no-op plan reads, and no write");
}

#[test]
fn a_saved_plan_edited_after_it_was_made_is_refused_and_nothing_is_sent() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    work.write("a.yaml", &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let planned = work.run(&["plan", "-f", "manifests", "--out", "plan.json"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert_eq!(mode(&work.path().join("plan.json")), 0o600);
    let path = work.path().join("plan.json");
    let text = std::fs::read_to_string(&path).expect("the plan");
    std::fs::write(&path, text.replace("\"name\": \"A\"", "\"name\": \"Hijacked\"")).expect("edited");
    let before = server.orsay_requests();

    let refused = work.run(&["apply", "plan.json", "-f", "manifests"]);

    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "this plan was edited after it was made");
    assert_eq!(server.orsay_requests(), before, "nothing was sent");
    assert!(server.sequences_named("Hijacked").is_empty());
}

#[test]
fn a_plan_and_its_apply_in_two_jobs_share_the_key_through_the_environment() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    work.write("a.yaml", &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let secret = "a CI secret of thirty-two bytes.";
    let job = |args: &[&str], key: Option<&str>, config: &str| -> Run {
        let mut command = work.command(args);
        command.env("XDG_CONFIG_HOME", work.path().join(config));
        if let Some(key) = key {
            command.env(DIGEST_KEY_ENV, key);
        }
        command.output().expect("runs").into()
    };
    let planned = job(&["plan", "-f", "manifests", "--out", "plan.json"], Some(secret), "plan-job");
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert!(!work.path().join("plan-job/seqops/digest-key").exists(), "the environment's key is used, none is made");

    let without = job(&["apply", "plan.json", "-f", "manifests"], None, "apply-job");
    assert_eq!(without.code, 1, "{}", without.all());
    assert_contains(&without.stderr, "set SEQOPS_DIGEST_KEY to the same secret");
    let other = job(&["apply", "plan.json", "-f", "manifests"], Some("another secret of 32 bytes......"), "apply-job");
    assert_eq!(other.code, 1, "{}", other.all());
    assert_contains(&other.stderr, "was signed with digest key");

    let applied = job(&["apply", "plan.json", "-f", "manifests"], Some(secret), "apply-job");
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(server.sequences_named("A").len(), 1);
}

#[test]
fn a_digest_key_shorter_than_sixteen_bytes_is_refused() {
    let (_server, work) = llm_key_workspace();
    let refused: Run = work
        .command(&["plan", "-f", "manifests"])
        .env("GOOGLE_KEY", "v")
        .env(DIGEST_KEY_ENV, "short")
        .output()
        .expect("runs")
        .into();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "a digest key needs at least 16");
}
