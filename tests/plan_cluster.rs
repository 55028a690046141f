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

/// A cluster holding the Provider's key and `welcome`, applied as "Welcome
/// DM", and a workspace with the Provider and `welcome` named `name`.
fn welcome_applied_as_before(server: &Server, name: &str) -> (FakeCluster, Workspace, Vec<String>) {
    let ids = server.seed(1, |_| json!({"name": "Welcome DM", "trigger": "WHATSAPP_MESSAGE"}));
    let cluster = FakeCluster::start();
    cluster.put(secret("team", "orsay-key", "apiKey", KEY));
    cluster.put(applied_sequence("welcome", &ids[0], "Welcome DM"));
    let work = Workspace::new();
    work.write("provider.yaml", PROVIDER);
    work.write("welcome.yaml", &sequence("welcome", &format!("name: {name}\ntrigger: WHATSAPP_MESSAGE")));
    (cluster, work, ids)
}

fn plan_against(cluster: &FakeCluster, server: &Server, work: &Workspace) -> common::Run {
    plan_with(cluster, server, work, &[])
}

#[test]
fn plan_cluster_shows_what_the_controller_will_do_and_changes_nothing() {
    let server = Server::start(&[]);
    let (cluster, work, ids) = welcome_applied_as_before(&server, "Welcome DM v2");
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

/// A Sequence Flux applied from Kustomization `flux-system/apps`.
fn flux_owned(mut object: serde_json::Value, kustomization: &str) -> serde_json::Value {
    object["metadata"]["labels"] = json!({
        "kustomize.toolkit.fluxcd.io/name": kustomization,
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    });
    object
}

/// Three Sequences applied from one Kustomization (`welcome`, `old`,
/// `kept`, the last orphaned on delete), one from another; the pull
/// request keeps only `welcome`.
fn cluster_after_a_pull_request_removes_two(server: &Server) -> (FakeCluster, Workspace, Vec<String>) {
    let ids = server.seed(4, |i| json!({"name": format!("Seq {i}"), "trigger": "WHATSAPP_MESSAGE"}));
    let cluster = FakeCluster::start();
    cluster.put(secret("team", "orsay-key", "apiKey", KEY));
    cluster.put(flux_owned(applied_sequence("welcome", &ids[0], "Seq 0"), "apps"));
    cluster.put(flux_owned(applied_sequence("old", &ids[1], "Seq 1"), "apps"));
    let mut kept = flux_owned(applied_sequence("kept", &ids[2], "Seq 2"), "apps");
    kept["metadata"]["annotations"] = json!({"seqops.dev/deletion-policy": "orphan"});
    cluster.put(kept);
    cluster.put(flux_owned(applied_sequence("other-team", &ids[3], "Seq 3"), "marketing"));
    let work = Workspace::new();
    work.write("provider.yaml", PROVIDER);
    work.write("welcome.yaml", &sequence("welcome", "name: Seq 0\ntrigger: WHATSAPP_MESSAGE"));
    (cluster, work, ids)
}

fn plan_with(cluster: &FakeCluster, server: &Server, work: &Workspace, extra: &[&str]) -> common::Run {
    let kubeconfig = cluster.kubeconfig(work.path(), "team");
    let mut args = vec!["plan", "-f", "manifests", "--cluster", "--sandbox-origin", &server.origin];
    args.extend_from_slice(extra);
    let mut command = work.command(&args);
    command.env("KUBECONFIG", kubeconfig).env_remove("ORSAY_API_KEY");
    command.output().expect("seqops runs").into()
}

#[test]
fn plan_cluster_lists_what_the_pull_request_removes_as_left_in_the_cluster() {
    let server = Server::start(&[]);
    let (cluster, work, _) = cluster_after_a_pull_request_removes_two(&server);

    let plan = plan_with(&cluster, &server, &work, &[]);

    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_contains(&plan.all(), "left in the cluster, not in these manifests");
    assert_contains(&plan.all(), "--prune plans that): Sequence/kept, Sequence/old");
    assert!(
        !plan.all().contains("other-team"),
        "another Kustomization's object is not this pull request's:\n{}",
        plan.all()
    );
    assert_contains(&plan.stdout, "No changes.");
}

#[test]
fn plan_cluster_prune_plans_the_deletes_a_gitops_prune_leads_to_within_the_owner_and_reads_only() {
    let server = Server::start(&[]);
    let (cluster, work, ids) = cluster_after_a_pull_request_removes_two(&server);
    let before = server.orsay_requests();

    let plan = plan_with(&cluster, &server, &work, &["--prune"]);

    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_contains(&plan.all(), "--prune plans deletes for the objects owned by flux:flux-system/apps");
    assert_contains(&plan.stdout, format!("# Sequence/old (orsay, id {}) will be deleted", ids[1]));
    assert_contains(&plan.stdout, "seqops.dev/deletion-policy: orphan keeps the remote object");
    assert!(!plan.all().contains("other-team"), "{}", plan.all());
    assert_contains(&plan.stdout, "1 to delete");
    assert!(cluster.requests().iter().all(|(method, _)| method == "GET"), "only reads");
    assert_eq!(server.orsay_requests() - before, 1, "one read of the kept object; a delete needs no read");
    assert_eq!(server.sequences_named("Seq 1").len(), 1, "nothing deleted");
}

#[test]
fn plan_cluster_prune_by_selector_and_prevent_destroy_stops_the_plan() {
    let server = Server::start(&[]);
    let (cluster, work, _) = cluster_after_a_pull_request_removes_two(&server);
    let mut guarded = applied_sequence("guarded", "seq_guarded", "Guarded");
    guarded["metadata"]["labels"] = json!({"team": "growth"});
    guarded["metadata"]["annotations"] = json!({"seqops.dev/prevent-destroy": "true"});
    cluster.put(guarded);

    let plan = plan_with(&cluster, &server, &work, &["--prune", "--selector", "team=growth"]);

    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(
        &plan.all(),
        "Sequence/guarded: its manifest is gone, so it would be deleted, but it has seqops.dev/prevent-destroy",
    );
    assert!(!plan.all().contains("Sequence/old"), "outside the selector:\n{}", plan.all());
}

#[test]
fn plan_cluster_prune_with_nothing_to_scope_it_is_refused_before_any_vendor_request() {
    let server = Server::start(&[]);
    let (cluster, work, _) = welcome_applied_as_before(&server, "Welcome DM");
    let before = server.orsay_requests();

    let plan = plan_with(&cluster, &server, &work, &["--prune"]);
    let bad_selector = plan_with(&cluster, &server, &work, &["--prune", "--selector", "tier in (a"]);

    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(&plan.stderr, "--prune needs to know which objects your GitOps tool prunes");
    assert_contains(&plan.stderr, "name them with --selector");
    assert_eq!(bad_selector.code, 2, "{}", bad_selector.all());
    assert_contains(&bad_selector.stderr, "--selector `tier in (a`: a parenthesis is not closed");
    assert_eq!(server.orsay_requests(), before, "no request to the vendor");
}
