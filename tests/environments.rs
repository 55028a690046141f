//! examples/environments: one base, a staging and a production overlay,
//! each rendered by kustomize and planned from standard input with its own
//! state; and the examples' CI files valid for GitHub Actions and GitLab.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_contains, python_tools, Workspace};

fn environments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/environments")
}

fn rendered(environment: &str) -> String {
    std::fs::read_to_string(environments().join(format!("rendered/{environment}.rendered"))).expect("a rendered stream")
}

#[test]
fn the_checked_in_streams_are_what_kustomize_renders_from_the_overlays() {
    for environment in ["staging", "production"] {
        let overlay = environments().join("overlays").join(environment);
        let built = python_tools::kubectl(&["kustomize", &overlay.display().to_string()]);
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        assert_eq!(
            String::from_utf8_lossy(&built.stdout),
            rendered(environment),
            "run `kubectl kustomize examples/environments/overlays/{environment} > examples/environments/rendered/{environment}.rendered`"
        );
    }
}

#[test]
fn each_environment_plans_and_applies_from_standard_input_with_its_own_state() {
    let work = Workspace::new();
    for environment in ["staging", "production"] {
        let state = format!("{environment}/state.json");
        let args = |command: &str| -> Vec<String> {
            let mut args =
                vec![command.to_string(), "-f".into(), "-".into(), "--sandbox".into(), "--state".into(), state.clone()];
            args.push(if command == "apply" { "--auto-approve".into() } else { "--detailed-exitcode".into() });
            args
        };
        let apply: Vec<String> = args("apply");
        let applied = work.piped(&apply.iter().map(String::as_str).collect::<Vec<_>>(), &rendered(environment));
        assert_eq!(applied.code, 0, "{environment}: {}", applied.all());
        let plan: Vec<String> = args("plan");
        let again = work.piped(&plan.iter().map(String::as_str).collect::<Vec<_>>(), &rendered(environment));
        assert_eq!(again.code, 0, "{environment}: a second plan shows no changes:\n{}", again.all());
    }
    let state = |environment: &str| -> serde_json::Value {
        let bytes = std::fs::read(work.path().join(environment).join("state.json")).expect("its own state");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let (staging, production) = (state("staging"), state("production"));
    assert_eq!(staging["resources"]["Sequence/welcome"]["lastApplied"]["name"], "Welcome (staging)");
    assert_eq!(production["resources"]["Sequence/welcome"]["lastApplied"]["name"], "Welcome");
    assert_eq!(staging["providers"]["orsay"]["credentialsEnv"], "ORSAY_STAGING_API_KEY");
    assert_eq!(production["providers"]["orsay"]["rateLimit"]["requests"], 200);
    assert_ne!(staging["lineage"], production["lineage"]);
}

#[test]
fn walking_examples_passes_over_the_kustomize_folders_and_says_how_to_render_them() {
    let work = Workspace::new();
    let run = work.run(&["validate", "-f", &environments().display().to_string()]);
    assert_eq!(run.code, 1, "only kustomize folders: no manifest\n{}", run.all());
    assert_contains(&run.stderr, "overlays/staging: a kustomize folder, passed over; render it: kustomize build");
}

#[test]
fn the_ci_examples_are_valid_github_actions_and_gitlab_ci() {
    let ci = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci");
    for (schema, file) in
        [("vendor.github-workflows", "github/seqops.yml"), ("vendor.gitlab-ci", "gitlab/.gitlab-ci.yml")]
    {
        let checked =
            python_tools::check_jsonschema(&["--builtin-schema", schema, &ci.join(file).display().to_string()]);
        assert!(
            checked.status.success(),
            "{file}: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}
