//! A canary in every source (a variable, a file) and in every secret-bearing
//! field of the examples (headers, LLM and workspace secrets, an alert URL,
//! a service's env, the API keys, values shown once) never reaches output at
//! `SEQOPS_LOG=trace`, a plan file (JSON, Markdown), state or the budget
//! file: when everything succeeds, and when the vendor answers each write
//! with an error that echoes what it was sent.

mod common;

use std::path::Path;

use common::{Server, Workspace, KEY, ORQIS_TOKEN};

const CANARIES: [(&str, &str); 4] = [
    ("STORE_TENANT_ID", "canary-tenant-7f3b"),
    ("GOOGLE_API_KEY", "AIza-canary-google-7f3c"),
    ("OUTREACH_ALERT_URL", "https://hooks.example.com/alert?token=canary-alert-7f3e"),
    ("CRM_API_TOKEN", "canary-crm-7f3f"),
];
const FILE_CANARIES: [(&str, &str); 2] = [
    ("orqis/secrets/store-api-token.txt", "Bearer canary-store-token-7f3a"),
    ("orchagent/secrets/anthropic-api-key.txt", "sk-ant-canary-7f3d"),
];

/// The Orqis and orchagent examples, their Providers pointed at `origin`,
/// their secret files holding canaries.
fn examples_at(work: &Workspace, origin: &str) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (provider, path) in [("orqis", "/orqis"), ("orchagent", "/orchagent")] {
        common::copy_folder(&examples.join(provider), &work.manifests().join(provider));
        let file = work.manifests().join(provider).join("provider.yaml");
        let text = std::fs::read_to_string(&file).expect("the provider manifest");
        let text = text.replace("  credentials:\n", &format!("  baseUrl: {origin}{path}\n  credentials:\n"));
        std::fs::write(file, text + "  rateLimit: {requests: 0, per: 1h}\n").expect("written");
    }
    for (file, canary) in FILE_CANARIES {
        std::fs::write(work.manifests().join(file), format!("{canary}\n")).expect("a canary file");
    }
}

fn run(work: &Workspace, args: &[&str]) -> common::Run {
    let mut command = work.command(args);
    command.env("SEQOPS_LOG", "trace").env("ORCHAGENT_API_KEY", KEY);
    for (variable, canary) in CANARIES {
        command.env(variable, canary);
    }
    command.output().expect("seqops runs").into()
}

/// Every canary, the API keys, and the values shown once (read from
/// where they were written, if they were).
fn secrets(work: &Workspace) -> Vec<String> {
    let mut all: Vec<String> = CANARIES.iter().chain(&FILE_CANARIES).map(|(_, c)| c.to_string()).collect();
    all.extend([KEY.to_string(), ORQIS_TOKEN.to_string()]);
    for written in ["orqis/.secrets/website-widget.key", "orchagent/.secrets/crm-webhook-url"] {
        if let Ok(value) = std::fs::read_to_string(work.manifests().join(written)) {
            all.push(value.trim().to_string());
        }
    }
    all
}

/// Fails naming the secret and where it showed.
fn assert_nowhere(work: &Workspace, runs: &[(&str, &common::Run)]) {
    let mut places: Vec<(String, String)> = runs.iter().map(|(what, run)| (what.to_string(), run.all())).collect();
    for file in [".seqops/state.json", ".seqops/budget.json", "plan.json", "plan.md"] {
        if let Ok(text) = std::fs::read_to_string(work.path().join(file)) {
            places.push((file.to_string(), text));
        }
    }
    for secret in secrets(work) {
        for (place, text) in &places {
            assert!(!text.contains(&secret), "{secret:?} reached {place}:\n{text}");
        }
    }
}

#[test]
fn no_secret_reaches_output_a_plan_file_or_state_when_everything_succeeds() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    examples_at(&work, &server.origin);

    let markdown = run(&work, &["plan", "-f", "manifests", "--format", "markdown"]);
    std::fs::write(work.path().join("plan.md"), &markdown.stdout).expect("written");
    let planned = run(&work, &["plan", "-f", "manifests", "--format", "json", "--out", "plan.json"]);
    let applied = run(&work, &["apply", "plan.json", "-f", "manifests"]);
    let again = run(&work, &["plan", "-f", "manifests", "--detailed-exitcode"]);

    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(work.manifests().join("orqis/.secrets/website-widget.key").exists(), "a value shown once was written");
    assert!(secrets(&work).len() == 10, "both values shown once are among the canaries");
    assert!(applied.stderr.contains("TRACE") || applied.stderr.contains("DEBUG"), "logs were on");
    assert_nowhere(&work, &[("markdown plan", &markdown), ("plan", &planned), ("apply", &applied), ("plan", &again)]);
}

#[test]
fn no_secret_reaches_output_or_state_when_the_vendor_echoes_it_in_an_error() {
    let server = Server::start(&[]);
    for status in [400, 409, 422, 500] {
        let gateway = common::echoing_gateway(server.origin.clone(), status);
        let work = Workspace::new();
        examples_at(&work, &gateway.origin);

        let applied = run(&work, &["apply", "-f", "manifests", "--auto-approve"]);

        assert_eq!(applied.code, 1, "every write fails with {status}:\n{}", applied.all());
        assert!(applied.all().contains("rejected: you sent"), "the vendor's error is shown:\n{}", applied.all());
        assert!(applied.all().contains("(sensitive)"), "what it echoed was scrubbed:\n{}", applied.all());
        assert_nowhere(&work, &[("apply", &applied)]);
    }
}
