//! `seqops check --provider NAME`: one read per endpoint the Provider's
//! clients read, said beforehand, and which of them answered as the client
//! expects.

mod common;

use common::{assert_contains, Server, Workspace};

const EXAMPLES: [(&str, &str); 5] = [
    ("orsay", "orsay-main"),
    ("orqis", "orqis-main"),
    ("gary", "gary-agency"),
    ("orchagent", "orchagent-main"),
    ("topo", "topo-sales"),
];

fn examples(provider: &str) -> String {
    format!("{}/examples/{provider}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_answers_as_expected_for_every_example_provider_against_the_sandbox() {
    for (folder, name) in EXAMPLES {
        let work = Workspace::new();

        let check = work.run(&["check", "-f", &examples(folder), "--sandbox", "--provider", name]);

        assert_eq!(check.code, 0, "{folder}: {}", check.all());
        assert_contains(&check.stdout, "one read per endpoint seqops reads; nothing is written.");
        assert_contains(&check.stdout, "every endpoint answered as the client expects.");
        assert!(!check.stdout.contains("DIFFERS"), "{}", check.stdout);
    }
}

#[test]
fn check_makes_the_requests_it_states_and_changes_nothing() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    server.seed(2, |i| serde_json::json!({"name": format!("S{i}"), "trigger": "WHATSAPP_MESSAGE"}));
    let before = server.orsay_requests();

    let check = work.run(&["check", "-f", "manifests", "--provider", "main"]);

    assert_eq!(check.code, 0, "{}", check.all());
    let first = check.stdout.lines().next().unwrap_or_default();
    assert_contains(first, "Checking orsay/main at ");
    assert_contains(first, "at most 4 requests");
    assert_contains(&check.stdout, "ok      GET /sequences/{id}");
    assert_contains(&check.stdout, "4 requests made;");
    assert_eq!(server.orsay_requests() - before, 4, "one request per endpoint, as stated");
    assert_eq!(server.sequences_named("S0").len(), 1, "nothing changed");
    assert!(!work.path().join(".seqops/state.json").exists(), "check keeps no state");
}

#[test]
fn check_names_the_endpoints_whose_path_or_shape_differs_from_the_documents() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    // Gary's API where Orsay's should be: its /sequences is a page, not a list.
    let provider = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {}/gary/api/public/v1\n  credentials:\n    env: ORSAY_API_KEY\n",
        server.origin
    );
    work.write("provider.yaml", &provider);

    let mut check = work.command(&["check", "-f", "manifests", "--provider", "main", "--format", "json"]);
    let check: common::Run = check.env("ORSAY_API_KEY", "gc_live_sandbox_seqops").output().expect("runs").into();

    assert_eq!(check.code, 1, "{}", check.all());
    let findings: serde_json::Value = serde_json::from_str(&check.stdout).expect("JSON findings");
    let verdict = |endpoint: &str| {
        findings.as_array().into_iter().flatten().find(|f| f["endpoint"] == endpoint).cloned().unwrap_or_default()
    };
    assert_eq!(verdict("GET /agents")["verdict"], "unexpected");
    assert_contains(
        verdict("GET /agents")["detail"].as_str().unwrap_or_default(),
        "the path differs from the vendor's documents",
    );
    assert_contains(
        verdict("GET /sequences")["detail"].as_str().unwrap_or_default(),
        "the answer does not read as documented",
    );
    assert_eq!(verdict("GET /sequences/{id}")["verdict"], "skipped");
}

#[test]
fn check_of_a_provider_not_in_the_manifests_names_those_that_are() {
    let work = Workspace::new();

    let check = work.run(&["check", "-f", &examples("orsay"), "--sandbox", "--provider", "orsay"]);

    assert_eq!(check.code, 1, "{}", check.all());
    assert_contains(&check.stderr, "no Provider named `orsay` in the manifests (there are: orsay-main)");
}
