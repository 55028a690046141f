//! `seqops plan --cluster`: the controller's objects in a cluster (an HTTP
//! server speaking the Kubernetes API) are the state, credentials come from
//! its Secrets, and nothing is changed on either side.

mod common;

use common::fake_cluster::{secret, FakeCluster};
use common::{assert_contains, sequence, Server, Workspace, KEY};
use serde_json::json;

const PROVIDER: &str = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  credentials:\n    secretRef: {name: orsay-key, key: apiKey}\n";

/// A Sequence as the controller leaves it once applied: its status holds
/// the external id and what was applied.
fn applied_sequence(name: &str, id: &str, applied_name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "orsay.seqops.dev/v1alpha1", "kind": "Sequence",
        "metadata": {"name": name, "namespace": "team", "uid": format!("uid-{name}")},
        "spec": {"name": applied_name, "trigger": "WHATSAPP_MESSAGE"},
        "status": {"externalId": id, "lastApplied": {"name": applied_name, "trigger": "WHATSAPP_MESSAGE"}},
    })
}

fn plan_against(cluster: &FakeCluster, server: &Server, work: &Workspace) -> common::Run {
    let kubeconfig = cluster.kubeconfig(work.path(), "team");
    let mut command = work.command(&["plan", "-f", "manifests", "--cluster", "--sandbox-origin", &server.origin]);
    command.env("KUBECONFIG", kubeconfig).env_remove("ORSAY_API_KEY");
    command.output().expect("seqops runs").into()
}

#[test]
fn plan_cluster_shows_what_the_controller_will_do_and_changes_nothing() {
    let server = Server::start(&[]);
    let ids = server.seed(1, |_| json!({"name": "Welcome DM", "trigger": "WHATSAPP_MESSAGE"}));
    let cluster = FakeCluster::start();
    cluster.put(secret("team", "orsay-key", "apiKey", KEY));
    cluster.put(applied_sequence("welcome", &ids[0], "Welcome DM"));
    let work = Workspace::new();
    work.write("provider.yaml", PROVIDER);
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM v2\ntrigger: WHATSAPP_MESSAGE"));
    work.write("new.yaml", &sequence("follow-up", "name: Follow up\ntrigger: WHATSAPP_MESSAGE"));
    work.write(
        "watched.yaml",
        &sequence("watched", "name: Watched\ntrigger: WHATSAPP_MESSAGE\nmanagementPolicy: ObserveOnly"),
    );
    let before = server.orsay_requests();

    let plan = plan_against(&cluster, &server, &work);

    assert_eq!(plan.code, 0, "{}", plan.all());
    let spent = server.orsay_requests() - before;
    assert_contains(&plan.stdout, "Namespace team: what the controller will do once these manifests are applied.");
    assert_contains(&plan.stdout, format!("# Sequence/welcome (orsay, id {}) will be updated in place", ids[0]));
    assert_contains(&plan.stdout, "~ name: \"Welcome DM\" -> \"Welcome DM v2\"");
    assert_contains(&plan.stdout, "+ Sequence/follow-up");
    assert_contains(&plan.all(), "Sequence/watched is ObserveOnly and does not exist remotely; left alone");
    assert_contains(&plan.stdout, "Plan: 1 to create, 1 to update, 0 to replace, 0 to delete.");
    let requests = cluster.requests();
    assert!(requests.iter().all(|(method, _)| method == "GET"), "only reads: {requests:?}");
    assert!(requests.iter().any(|(_, path)| path == "/api/v1/namespaces/team/secrets/orsay-key"), "{requests:?}");
    assert_eq!(server.sequences_named("Welcome DM").len(), 1, "nothing changed remotely");
    assert!(server.sequences_named("Follow up").is_empty());
    assert_eq!(spent, 2, "a list to place the new one, a read of the known one");
}

#[test]
fn plan_cluster_reads_secret_key_refs_from_the_cluster_and_shows_them_only_as_changed() {
    let server = Server::start(&[]);
    let cluster = FakeCluster::start();
    cluster.put(secret("team", "orqis-token", "token", common::ORQIS_TOKEN));
    cluster.put(secret("team", "llm", "google", "AIza-canary-value"));
    let work = Workspace::new();
    work.write(
        "orqis.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orqis\nspec:\n  type: orqis\n  credentials:\n    secretRef: {name: orqis-token, key: token}\n---\napiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value:\n    secretKeyRef: {name: llm, key: google}\n",
    );

    let plan = plan_against(&cluster, &server, &work);

    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_contains(&plan.stdout, "+ LlmKey/google");
    assert_contains(&plan.stdout, "(sensitive)");
    assert!(!plan.all().contains("AIza-canary-value"), "the value never reaches output:\n{}", plan.all());
}

#[test]
fn plan_cluster_names_a_missing_credential_secret_and_sends_nothing() {
    let server = Server::start(&[]);
    let cluster = FakeCluster::start();
    let work = Workspace::new();
    work.write("provider.yaml", PROVIDER);
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let before = server.orsay_requests();

    let plan = plan_against(&cluster, &server, &work);

    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(&plan.stderr, "Secret team/orsay-key has no key `apiKey` for Provider orsay");
    assert_eq!(server.orsay_requests(), before, "no request to the vendor");
}
