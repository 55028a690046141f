//! `seqops init` through the built binary: the project it writes validates,
//! plans against the sandbox with nothing to note or warn about, applies,
//! keeps what must stay out of git out of it, and is written over nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{assert_contains, Run};
use serde_json::Value;

/// `seqops ARGS` in `dir`, with an environment of its own: no keys, no
/// digest key, no CI, the user's config folder inside `dir`.
fn seqops(dir: &Path, args: &[&str]) -> Run {
    common::newcomer(dir, args).output().expect("seqops runs").into()
}

/// `git ARGS` in `dir`; whether it succeeded.
fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("git runs")
        .success()
}

/// Fails unless stderr is the one line saying the sandbox stands in.
#[track_caller]
fn only_the_sandbox_line(run: &Run) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("sandbox: "),
        "stderr holds more than the sandbox line:\n{}",
        run.all()
    );
}

fn provider_types() -> Vec<&'static str> {
    seqops::providers::all().into_iter().map(|p| p.provider_type.as_str()).collect()
}

/// The manifest files under `dir` (YAML files outside hidden folders,
/// OpenAPI documents left out as the project's .seqopsignore leaves them).
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') {
            found.extend(manifests(&path));
        } else if name.ends_with(".yaml") && !name.ends_with(".openapi.yaml") {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn init_with_orsay_and_gary_then_plan_in_the_sandbox_exits_0_with_only_the_sandbox_line_on_stderr() {
    let root = tempfile::tempdir().expect("a folder");
    let init = seqops(root.path(), &["init", "demo", "--provider", "orsay", "--provider", "gary"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let plan = seqops(root.path(), &["plan", "-f", "demo", "--sandbox"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    only_the_sandbox_line(&plan);
    assert!(!plan.stderr.contains("note:") && !plan.stderr.contains("warning:"), "{}", plan.stderr);
    assert_contains(&plan.stdout, "Sequence/welcome-dm (orsay-main) will be created");
    assert_contains(&plan.stdout, "Enrollment/nurture-bbbb (gary-main) will be created");
    assert_contains(&plan.stdout, "Plan: 2 to create");
}

#[test]
fn init_for_each_provider_type_writes_manifests_that_validate_plan_cleanly_apply_and_then_match() {
    for provider in seqops::providers::all() {
        let provider_type = provider.provider_type.as_str();
        let root = tempfile::tempdir().expect("a folder");
        // In a git work tree: a secret file git would commit is warned of.
        assert!(git(root.path(), &["init", "-q"]));
        let init = seqops(root.path(), &["init", "project", "--provider", provider_type]);
        assert_eq!(init.code, 0, "{provider_type}: {}", init.all());

        let written = manifests(&root.path().join("project"));
        assert_eq!(
            written.len(),
            1 + provider.kinds.len(),
            "{provider_type}: a Provider and a sample per kind: {written:?}"
        );
        // Every sample is read (the count) and valid; one alone would miss
        // the Provider and the manifests it refers to.
        let validate = seqops(root.path(), &["validate", "-f", "project"]);
        assert_eq!(validate.code, 0, "{provider_type}: {}", validate.all());
        assert_contains(&validate.stdout, format!("{} manifests are valid", written.len()));

        let plan = seqops(root.path(), &["plan", "-f", "project", "--sandbox"]);
        assert_eq!(plan.code, 0, "{provider_type}: {}", plan.all());
        only_the_sandbox_line(&plan);

        let apply = seqops(root.path(), &["apply", "-f", "project", "--sandbox", "--auto-approve"]);
        assert_eq!(apply.code, 0, "{provider_type}: {}", apply.all());
        assert!(!apply.stderr.contains("warning:"), "{provider_type}: {}", apply.stderr);
        assert_contains(&apply.stdout, "Apply complete!");

        let again = seqops(root.path(), &["plan", "-f", "project", "--sandbox", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{provider_type}: applied, nothing is left to change: {}", again.all());
    }
}

#[test]
fn init_with_every_provider_type_at_once_plans_cleanly() {
    let root = tempfile::tempdir().expect("a folder");
    let mut args = vec!["init", "all"];
    for provider_type in provider_types() {
        args.extend(["--provider", provider_type]);
    }
    let init = seqops(root.path(), &args);
    assert_eq!(init.code, 0, "{}", init.all());
    let plan = seqops(root.path(), &["plan", "-f", "all", "--sandbox"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    only_the_sandbox_line(&plan);
    let kinds: usize = seqops::providers::all().into_iter().map(|p| p.kinds.len()).sum();
    assert_contains(&plan.stdout, format!("Plan: {} to create", kinds - 1));
    assert_contains(&plan.stdout, "1 to adopt");
}

#[test]
fn init_without_a_folder_writes_into_the_current_one_and_plan_reads_it_there() {
    let root = tempfile::tempdir().expect("a folder");
    let init = seqops(root.path(), &["init", "--provider", "topo"]);
    assert_eq!(init.code, 0, "{}", init.all());
    assert!(root.path().join("topo/provider.yaml").is_file());
    assert!(root.path().join(".gitignore").is_file());
    let plan = seqops(root.path(), &["plan", "--sandbox"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    only_the_sandbox_line(&plan);
}

#[test]
fn init_lists_what_it_wrote_and_the_plan_command_it_prints_runs_as_printed() {
    let root = tempfile::tempdir().expect("a folder");
    let init = seqops(root.path(), &["init", "demo", "--provider", "orqis"]);
    assert_eq!(init.code, 0, "{}", init.all());
    for file in
        [".gitignore", ".seqopsignore", ".github/workflows/seqops.yml", "orqis/provider.yaml", "orqis/agent.yaml"]
    {
        assert_contains(&init.stdout, format!("  demo/{file}\n"));
        assert!(root.path().join("demo").join(file).is_file(), "{file} is written");
    }
    assert_contains(&init.stdout, "With ORQIS_TOKEN set, `seqops plan -f demo` plans against your accounts");
    let rest = &init.stdout[init.stdout.find("Next:").expect("the next steps")..];
    let command: Vec<&str> = rest.split('`').nth(1).expect("a command").split_whitespace().collect();
    assert_eq!(command, ["seqops", "plan", "-f", "demo", "--sandbox"]);
    let plan = seqops(root.path(), &command[1..]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    only_the_sandbox_line(&plan);
}

#[test]
fn init_writes_nothing_when_a_file_it_would_write_is_there_and_names_it() {
    let root = tempfile::tempdir().expect("a folder");
    let mine = root.path().join("demo/orsay/sequence.yaml");
    std::fs::create_dir_all(mine.parent().expect("a folder")).expect("made");
    std::fs::write(&mine, "# mine\n").expect("written");
    let init = seqops(root.path(), &["init", "demo", "--provider", "orsay", "--provider", "gary"]);
    assert_eq!(init.code, 1, "{}", init.all());
    assert_contains(&init.stderr, "error: demo/orsay/sequence.yaml is there already");
    assert_eq!(std::fs::read_to_string(&mine).expect("still there"), "# mine\n");
    for other in [".gitignore", ".seqopsignore", ".github", "orsay/provider.yaml", "gary"] {
        assert!(!root.path().join("demo").join(other).exists(), "{other} was written");
    }
}

#[test]
fn an_unknown_provider_type_gets_the_nearest_and_every_type_and_none_at_all_gets_the_types() {
    let root = tempfile::tempdir().expect("a folder");
    let typo = seqops(root.path(), &["init", "demo", "--provider", "orsey"]);
    assert_eq!(typo.code, 2, "{}", typo.all());
    assert_contains(&typo.stderr, "a similar value exists: 'orsay'");
    assert_contains(&typo.stderr, format!("[possible values: {}]", provider_types().join(", ")));
    let none = seqops(root.path(), &["init", "demo"]);
    assert_eq!(none.code, 1, "{}", none.all());
    assert_contains(&none.stderr, provider_types().join(", "));
    assert!(!root.path().join("demo").exists(), "nothing is written");
}

#[test]
fn the_gitignore_keeps_state_secret_files_and_saved_plans_out_of_git() {
    let root = tempfile::tempdir().expect("a folder");
    assert!(git(root.path(), &["init", "-q"]));
    let init = seqops(root.path(), &["init", "--provider", "orqis"]);
    assert_eq!(init.code, 0, "{}", init.all());
    for ignored in [".seqops/state.json", "orqis/.secrets/website-widget.key", "plan.json", "plan.md", "orsay.plan"] {
        assert!(git(root.path(), &["check-ignore", "-q", ignored]), "{ignored} is not ignored");
    }
    for kept in ["orqis/agent.yaml", ".seqopsignore", ".github/workflows/seqops.yml"] {
        assert!(!git(root.path(), &["check-ignore", "-q", kept]), "{kept} is ignored");
    }
}

#[test]
fn the_workflow_plans_pull_requests_and_applies_the_saved_plan_on_main_with_each_providers_key() {
    let root = tempfile::tempdir().expect("a folder");
    let init = seqops(root.path(), &["init", "--provider", "orsay", "--provider", "gary"]);
    assert_eq!(init.code, 0, "{}", init.all());
    let text = std::fs::read_to_string(root.path().join(".github/workflows/seqops.yml")).expect("the workflow");
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    assert!(workflow["on"].get("pull_request").is_some(), "{text}");
    assert_eq!(workflow["on"]["push"]["branches"], serde_yaml::from_str::<serde_yaml::Value>("[main]").expect("YAML"));
    assert_eq!(workflow["env"]["ORSAY_API_KEY"].as_str(), Some("${{ secrets.ORSAY_API_KEY }}"));
    assert_eq!(workflow["env"]["GARY_API_KEY"].as_str(), Some("${{ secrets.GARY_API_KEY }}"));
    assert_eq!(workflow["env"]["MANIFESTS"].as_str(), Some("."));
    let steps = |job: &str| serde_yaml::to_string(&workflow["jobs"][job]["steps"]).expect("text");
    assert_contains(&steps("plan"), "seqops plan -f \"$MANIFESTS\"");
    assert_contains(&steps("plan"), "--out plan.json");
    assert_eq!(workflow["jobs"]["apply"]["needs"].as_str(), Some("plan"));
    assert_eq!(workflow["jobs"]["apply"]["if"].as_str(), Some("github.event_name == 'push'"));
    assert_contains(&steps("apply"), "seqops apply plan.json");
}

/// A field's description as the schema holds it, on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn each_sample_says_above_its_fields_what_the_schema_says_they_mean() {
    let root = tempfile::tempdir().expect("a folder");
    let mut args = vec!["init", "all"];
    for provider_type in provider_types() {
        args.extend(["--provider", provider_type]);
    }
    assert_eq!(seqops(root.path(), &args).code, 0);
    let schemas: Value = serde_json::from_str(&seqops(root.path(), &["schema"]).stdout).expect("the schemas");
    let mut checked = 0;
    for file in manifests(&root.path().join("all")) {
        let text = std::fs::read_to_string(&file).expect("a sample");
        let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        let group = document["apiVersion"].as_str().expect("an apiVersion").split('/').next().expect("a group");
        let kind = document["kind"].as_str().expect("a kind");
        let spec = &schemas[format!("{group}_{kind}.json")]["$defs"]["Spec"];
        assert_contains(
            &one_line(&text.lines().map_while(|l| l.strip_prefix('#')).collect::<Vec<_>>().join(" ")),
            one_line(spec["description"].as_str().expect("the kind's description")),
        );
        let lines: Vec<&str> = text.lines().collect();
        let mut section = "";
        for (index, line) in lines.iter().enumerate() {
            if !line.starts_with([' ', '#']) {
                section = line.split(':').next().unwrap_or_default();
            }
            if section != "spec" {
                continue;
            }
            let Some(key) =
                line.strip_prefix("  ").and_then(|l| l.split(':').next()).filter(|k| !k.starts_with([' ', '#']))
            else {
                continue;
            };
            let Some(description) = spec["properties"][key]["description"].as_str() else { continue };
            let comment: Vec<&str> = lines[..index]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with('#'))
                .map(|l| l.trim_start().trim_start_matches('#').trim())
                .collect();
            let comment = comment.into_iter().rev().collect::<Vec<_>>().join(" ");
            assert_contains(&one_line(&comment), one_line(description));
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} fields were checked");
}
