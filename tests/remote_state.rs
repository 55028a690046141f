//! `--state k8s://NAMESPACE/NAME`: state in a Kubernetes Secret, locked by
//! a Lease, against an HTTP server speaking the Kubernetes API.

mod common;

use common::fake_cluster::FakeCluster;
use common::{assert_contains, sequence, server_and_workspace, Run, Workspace};
use serde_json::{json, Value};

const STATE: &str = "k8s://team/seqops-state";

fn run(work: &Workspace, cluster: &FakeCluster, args: &[&str]) -> Run {
    let kubeconfig = cluster.kubeconfig(work.path(), "team");
    let mut command = work.command(args);
    command.env("KUBECONFIG", kubeconfig);
    command.output().expect("seqops runs").into()
}

/// The state document the Secret holds.
fn saved_state(cluster: &FakeCluster) -> Value {
    use base64::Engine;
    let secret = cluster.get("/api/v1/namespaces/team/secrets/seqops-state").expect("the state Secret");
    let encoded = secret["data"]["state.json"].as_str().expect("a state.json key").to_string();
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64");
    serde_json::from_slice(&bytes).expect("a state document")
}

#[test]
fn state_in_a_cluster_secret_is_written_as_apply_goes_and_read_by_the_next_plan() {
    let (server, work) = server_and_workspace(&[]);
    let cluster = FakeCluster::start();
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));

    let apply = run(&work, &cluster, &["apply", "-f", "manifests", "--auto-approve", "--state", STATE]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    let state = saved_state(&cluster);
    let id = state["resources"]["Sequence/welcome"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(server.sequences_named("Welcome DM")[0]["id"], json!(id), "state holds the remote id");
    assert!(!work.path().join(".seqops/state.json").exists(), "no local state file");
    let lease = cluster.get("/apis/coordination.k8s.io/v1/namespaces/team/leases/seqops-state-lock");
    assert!(lease.is_some_and(|l| l["spec"]["holderIdentity"].is_null()), "the lock is given back");

    let plan = run(&work, &cluster, &["plan", "-f", "manifests", "--detailed-exitcode", "--state", STATE]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_contains(&plan.stdout, "No changes.");
    let list = run(&work, &cluster, &["state", "list", "--state", STATE]);
    assert_contains(&list.stdout, format!("Sequence/welcome\tmain\t{id}"));
}

#[test]
fn a_held_state_lock_stops_the_run_naming_its_holder_and_sends_nothing() {
    let (server, work) = server_and_workspace(&[]);
    let cluster = FakeCluster::start();
    let renewed =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    cluster.put(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "seqops-state-lock", "namespace": "team"},
        "spec": {"holderIdentity": "`seqops apply` (pid 7 on ci-runner-3)", "leaseDurationSeconds": 60, "renewTime": renewed},
    }));
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let before = server.orsay_requests();

    let apply = run(&work, &cluster, &["apply", "-f", "manifests", "--auto-approve", "--state", STATE]);

    assert_eq!(apply.code, 1, "{}", apply.all());
    assert_contains(&apply.stderr, "state k8s://team/seqops-state is locked by `seqops apply` (pid 7 on ci-runner-3)");
    assert_eq!(server.orsay_requests(), before, "nothing was sent");
    assert!(cluster.get("/api/v1/namespaces/team/secrets/seqops-state").is_none());
}
