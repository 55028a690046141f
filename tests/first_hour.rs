//! A newcomer's first hour, through the built binary: the advice seqops
//! prints runs as printed, one-time values stay out of git, names of
//! variables are checked without being shown, and the output is quiet.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_contains, Run, Server, Workspace};
use serde_json::Value;

/// Copies this repository's files (not its build, its git data or its
/// state) into `to`: the repository root as a fresh clone has it.
fn copy_repository(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("a folder");
        for entry in std::fs::read_dir(from).expect("a folder").flatten() {
            let name = entry.file_name();
            if [".git", "target", ".seqops"].iter().any(|skip| name == *skip) {
                continue;
            }
            let target = to.join(&name);
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copied");
            }
        }
    }
    copy(Path::new(env!("CARGO_MANIFEST_DIR")), to);
}

/// `seqops ARGS` in `dir`, with no key in the environment.
fn seqops(dir: &Path, args: &[&str]) -> Run {
    common::newcomer(dir, args).output().expect("seqops runs").into()
}

/// The command inside the first pair of backticks after `after`.
fn quoted_command(text: &str, after: &str) -> Vec<String> {
    let rest = &text[text.find(after).unwrap_or_else(|| panic!("{after:?} not in:\n{text}"))..];
    let command = rest.split('`').nth(1).expect("a command in backticks");
    command.split_whitespace().map(String::from).collect()
}

/// Runs a command seqops printed, as printed (`seqops` is the binary).
fn run_printed(dir: &Path, command: &[String]) -> Run {
    assert_eq!(command.first().map(String::as_str), Some("seqops"), "{command:?}");
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    seqops(dir, &args)
}

#[test]
fn from_the_repository_root_plan_out_then_the_printed_apply_then_import_as_the_manual_shows_all_work() {
    let root = tempfile::tempdir().expect("a folder");
    copy_repository(root.path());
    let planned = seqops(root.path(), &["plan", "--sandbox", "--out", "plan.json"]);
    assert_eq!(planned.code, 0, ".seqopsignore keeps fuzz/seeds/ out:\n{}", planned.all());
    let saved: Value =
        serde_json::from_slice(&std::fs::read(root.path().join("plan.json")).expect("the plan")).expect("JSON");
    assert_eq!(saved["files"], serde_json::json!(["."]), "the plan records the -f set it was made from");
    let apply = quoted_command(&planned.stdout, "Saved the plan to plan.json");
    let applied = run_printed(root.path(), &apply);
    assert_eq!(applied.code, 0, "{apply:?}\n{}", applied.all());
    assert_contains(&applied.stdout, "Apply complete!");

    let shown = seqops(root.path(), &["state", "show", "Sequence/inbound-dm"]);
    let id =
        serde_json::from_str::<Value>(&shown.stdout).expect("the entry")["id"].as_str().expect("an id").to_string();
    assert_eq!(seqops(root.path(), &["state", "rm", "Sequence/inbound-dm"]).code, 0);
    let manual = std::fs::read_to_string(root.path().join("docs/state.md")).expect("the manual's page on state");
    let line =
        manual.lines().find(|l| l.starts_with("seqops import Sequence/inbound-dm")).expect("the manual's import");
    let mut import: Vec<String> =
        line.split('#').next().unwrap_or_default().split_whitespace().map(String::from).collect();
    for word in &mut import {
        if word == "ID" {
            *word = id.clone();
        }
    }
    let imported = run_printed(root.path(), &import);
    assert_eq!(imported.code, 0, "{import:?}\n{}", imported.all());
    let plan = seqops(root.path(), &["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}

#[test]
fn a_saved_plan_applies_with_its_own_files_and_a_different_f_set_is_its_own_error() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let planned = seqops(work.path(), &["plan", "-f", "manifests/orsay", "--sandbox", "--out", "orsay.plan"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    let other = seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "orsay.plan"]);
    assert_eq!(other.code, 1, "{}", other.all());
    assert_contains(&other.stderr, "this plan was made from -f manifests/orsay, and this apply was given -f manifests");
    assert!(!other.stderr.contains("the manifests have changed"), "{}", other.stderr);
    let apply = quoted_command(&planned.stdout, "Saved the plan to orsay.plan");
    assert_eq!(apply, ["seqops", "apply", "--sandbox", "orsay.plan"]);
    let applied = run_printed(work.path(), &apply);
    assert_eq!(applied.code, 0, "{}", applied.all());
}

#[test]
fn the_note_after_an_export_names_a_plan_of_only_what_was_exported() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let applied = seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let managed = work.state()["resources"].as_object().map(|r| r.len()).unwrap_or_default();
    // Topo's runs that the examples do not name are not managed yet.
    let exported = seqops(
        work.path(),
        &["export", "-f", "manifests/topo", "--provider", "topo-sales", "--sandbox", "--out", "exported"],
    );
    assert_eq!(exported.code, 0, "{}", exported.all());
    let check = quoted_command(&exported.stdout, "recorded them in state");
    assert!(check.iter().any(|w| w == "--target"), "only what was exported: {check:?}");
    let planned = run_printed(work.path(), &check);
    assert_eq!(planned.code, 0, "{check:?}\n{}", planned.all());
    assert_contains(&planned.stdout, "No changes.");
    let now = work.state()["resources"].as_object().map(|r| r.len()).unwrap_or_default();
    assert!(now > managed, "what was managed stays managed, and the exported objects are added: {managed} then {now}");
}

#[test]
fn validate_finds_a_missing_from_file_and_plan_names_an_unset_key_variable_at_its_line() {
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orchagent\n  credentials:\n    env: NOT_SET_ANYWHERE\n",
    );
    work.write(
        "secret.yaml",
        "apiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: team\nspec:\n  name: Team\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: WorkspaceSecret\nmetadata:\n  name: llm\nspec:\n  workspaceRef: {name: team}\n  name: LLM_KEY\n  value:\n    fromFile: missing.txt\n",
    );
    let validated = seqops(work.path(), &["validate", "-f", "manifests"]);
    assert_eq!(validated.code, 1, "{}", validated.all());
    assert_contains(&validated.stderr, "manifests/secret.yaml:16:5: spec.value.fromFile: cannot read");
    work.write("missing.txt", "Hello\n");
    assert_eq!(seqops(work.path(), &["validate", "-f", "manifests"]).code, 0);
    let planned = seqops(work.path(), &["plan", "-f", "manifests"]);
    assert_eq!(planned.code, 1, "{}", planned.all());
    assert_contains(
        &planned.stderr,
        "manifests/provider.yaml:8:5: Provider `main`: credentials.env names $NOT_SET_ANYWHERE, which is not set",
    );
}

/// A key pasted where a variable's name belongs is refused at its line,
/// and appears in no output of any command.
#[test]
fn a_key_pasted_as_a_variable_name_is_refused_and_never_shown() {
    const PASTED: &str = "sk_live_51Hpasted0key";
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!("apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  credentials:\n    env: {PASTED}\n"),
    );
    work.write(
        "secret.yaml",
        &format!("apiVersion: orchagent.seqops.dev/v1alpha1\nkind: WorkspaceSecret\nmetadata:\n  name: llm\nspec:\n  workspaceRef: {{name: team}}\n  name: LLM_KEY\n  value:\n    fromEnv: {PASTED}\n"),
    );
    for args in
        [&["validate", "-f", "manifests"][..], &["plan", "-f", "manifests", "--sandbox"], &["graph", "-f", "manifests"]]
    {
        let run = seqops(work.path(), args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(!run.all().contains(PASTED), "{args:?} showed the key:\n{}", run.all());
        assert_contains(
            &run.stderr,
            "manifests/provider.yaml:8:5: spec.credentials.env: must name an environment variable",
        );
    }
    let run = seqops(work.path(), &["validate", "-f", "manifests"]);
    assert_contains(&run.stderr, "manifests/secret.yaml:8:3: spec.value: fromEnv must name an environment variable");
}

/// Only the one `sandbox:` line on stderr: no notes, no warnings, for
/// files that are no manifest (a CI workflow) or keys the sandbox stands in
/// for. `-v` says them.
#[test]
fn a_plain_sandbox_run_says_one_sandbox_line_and_verbose_says_the_rest() {
    let work = Workspace::new();
    common::copy_examples(&work);
    work.write("ci/workflow.yml", "name: ci\non: [push]\njobs: {}\n");
    let applied = seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let lines: Vec<&str> = applied
        .stderr
        .lines()
        .filter(|l| !l.starts_with("A new digest key was made"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines, ["sandbox: 5 providers stand in for the real APIs"], "{}", applied.stderr);
    let verbose = seqops(work.path(), &["plan", "-f", "manifests", "--sandbox", "-v"]);
    assert_contains(&verbose.stderr, "ci/workflow.yml:1:1: not a manifest seqops reads");
    assert_contains(&verbose.stderr, "using the sandbox key");
}

/// The sandbox keeps the vendors' limits unless asked not to: with them
/// off, the emulators answer no 429 and seqops paces nothing.
#[test]
fn sandbox_limits_off_lifts_both_the_emulators_limits_and_the_pacing() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let applied =
        seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "--sandbox-limits", "off", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_contains(&applied.stderr, "sandbox: 5 providers stand in for the real APIs, the vendors' limits lifted");
    let planned = seqops(work.path(), &["plan", "-f", "manifests", "--sandbox", "--sandbox-limits", "off"]);
    assert!(!planned.stdout.contains(" left"), "no budget is paced to: {}", planned.stdout);
    let refused = seqops(work.path(), &["plan", "-f", "manifests", "--sandbox-limits", "off"]);
    assert_eq!(refused.code, 2, "--sandbox-limits needs --sandbox: {}", refused.all());
}

/// A value shown once that would land in a file git commits: warned of
/// with the exact `.gitignore` line; refused in CI before anything is
/// sent.
#[test]
fn a_value_shown_once_is_kept_out_of_git_and_ci_refuses_before_any_write() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    let git = |args: &[&str]| {
        let status = Command::new("git").args(args).current_dir(work.path()).output().expect("git runs").status;
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    work.orqis_provider(&server);
    work.write(
        "keys.yaml",
        "apiVersion: orqis.seqops.dev/v1alpha1\nkind: Agent\nmetadata:\n  name: store\nspec:\n  name: Store Agent\n  openapiSpec: {fromFile: api.yaml}\n  apiProvider: google\n  model: gemini-2.5-flash\n  baseUrl: https://store.example.com/api\n---\napiVersion: orqis.seqops.dev/v1alpha1\nkind: ApiKey\nmetadata:\n  name: widget\nspec:\n  name: widget\n  agentRef: {name: store}\n  writeSecretTo: {file: keys/widget.key}\n",
    );
    let api = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/orqis/store-api.yaml"));
    work.write("api.yaml", &api.expect("the example's OpenAPI document"));
    let objects = || server.call("GET", &format!("{}/_sandbox/objects", server.origin), None, "").1;
    let before = objects();
    let refused =
        work.command(&["apply", "-f", "manifests", "--auto-approve"]).env("CI", "true").output().expect("runs");
    let refused: Run = refused.into();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "add the line `/manifests/keys/widget.key` to");
    assert_contains(&refused.stderr, "refused before any change");
    assert_eq!(objects(), before, "nothing was made: the refusal came before the first write");
    let flagged: Run = work
        .command(&["apply", "-f", "manifests", "--auto-approve", "--require-ignored-secrets"])
        .env_remove("CI")
        .output()
        .expect("runs")
        .into();
    assert_eq!(flagged.code, 1, "{}", flagged.all());
    let warned: Run = work.command(&["plan", "-f", "manifests"]).env_remove("CI").output().expect("runs").into();
    assert_contains(&warned.stderr, "warning: ApiKey/widget: the value the API shows once goes to");
    std::fs::write(work.path().join(".gitignore"), "/manifests/keys/widget.key\n").expect("written");
    let applied: Run =
        work.command(&["apply", "-f", "manifests", "--auto-approve"]).env("CI", "true").output().expect("runs").into();
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(work.manifests().join("keys/widget.key").exists());
}

/// A wait for budget past a second is said: what for, why and how long.
#[test]
fn a_wait_for_the_request_budget_is_never_silent() {
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  credentials: {env: ORSAY_API_KEY}\n  rateLimit: {requests: 1, per: 2s}\n",
    );
    for name in ["a", "b"] {
        work.write(
            &format!("{name}.yaml"),
            &common::sequence(name, &format!("name: {name}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
    let applied = seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_contains(&applied.stderr, "orsay/main: waiting ");
    assert_contains(&applied.stderr, " for the request budget (");
}

/// Words as a person writes them: an article before a vowel, a webhook
/// schedule called what it is, and a plan that says its commit was not
/// all that was planned.
#[test]
fn plans_and_errors_read_as_a_person_writes() {
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  credentials: {env: ORSAY_API_KEY}\n",
    );
    work.write(
        "a.yaml",
        &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nprofile: {instagram: mybusiness}"),
    );
    let refused = seqops(work.path(), &["validate", "-f", "manifests"]);
    assert_contains(&refused.stderr, "but the profile is an INSTAGRAM profile");

    let examples = Workspace::new();
    common::copy_examples(&examples);
    let planned = seqops(examples.path(), &["plan", "-f", "manifests/orchagent", "--sandbox"]);
    assert_contains(&planned.stdout, "+ Schedule/crm-webhook \"webhook\"");

    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
            .args(args)
            .current_dir(examples.path())
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "manifests"]);
    git(&["commit", "-q", "-m", "examples"]);
    let clean = seqops(examples.path(), &["plan", "-f", "manifests/orsay", "--sandbox", "--format", "json"]);
    let clean: Value = serde_json::from_str(&clean.stdout).expect("JSON");
    assert!(
        clean["provenance"]["commit"].is_string() && clean["provenance"].get("dirty").is_none(),
        "{}",
        clean["provenance"]
    );
    std::fs::write(
        examples.manifests().join("orsay/new.yaml"),
        common::sequence("new", "name: New\ntrigger: WHATSAPP_MESSAGE"),
    )
    .expect("written");
    let dirty = seqops(examples.path(), &["plan", "-f", "manifests/orsay", "--sandbox", "--format", "json"]);
    let dirty: Value = serde_json::from_str(&dirty.stdout).expect("JSON");
    assert_eq!(dirty["provenance"]["dirty"], true, "{}", dirty["provenance"]);
}
