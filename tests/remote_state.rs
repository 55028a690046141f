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

/// The state the Secret holds: its document with the journal kept beside
/// it applied, as seqops reads it.
fn saved_state(cluster: &FakeCluster) -> Value {
    let secret = cluster.get("/api/v1/namespaces/team/secrets/seqops-state").expect("the state Secret");
    let mut state = decoded(&secret["data"]["state.json"]);
    for (_, record) in journal(&secret) {
        for item in record["entries"].as_array().into_iter().flatten() {
            let key = item["key"].as_str().expect("a key").to_string();
            state["resources"][key] = item["entry"].clone();
        }
    }
    state
}

/// The journal records the state Secret holds, by key.
fn journal(secret: &Value) -> Vec<(String, Value)> {
    let data = secret["data"].as_object().cloned().unwrap_or_default();
    data.into_iter().filter(|(key, _)| key.starts_with("journal.")).map(|(key, value)| (key, decoded(&value))).collect()
}

fn decoded(encoded: &Value) -> Value {
    use base64::Engine;
    let encoded = encoded.as_str().expect("a base64 value");
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The state lock, as `holder` renewed it just now.
fn lock_held_by(cluster: &FakeCluster, holder: &str) {
    let renewed =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    cluster.put(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "seqops-state-lock", "namespace": "team"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60, "renewTime": renewed},
    }));
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
    lock_held_by(&cluster, "`seqops apply` (pid 7 on ci-runner-3)");
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let before = server.orsay_requests();

    let apply = run(&work, &cluster, &["apply", "-f", "manifests", "--auto-approve", "--state", STATE]);

    assert_eq!(apply.code, 1, "{}", apply.all());
    assert_contains(&apply.stderr, "state k8s://team/seqops-state is locked by `seqops apply` (pid 7 on ci-runner-3)");
    assert_eq!(server.orsay_requests(), before, "nothing was sent");
    assert!(cluster.get("/api/v1/namespaces/team/secrets/seqops-state").is_none());
}

/// Six sequences applied one at a time, each answer 300 ms after its work,
/// with state in the cluster; the running apply.
fn a_slow_apply_with_state_in_the_cluster(
    cluster: &FakeCluster,
    count: usize,
) -> (common::Server, Workspace, std::process::Child) {
    let (server, work) = server_and_workspace(&["--latency", "300ms", "--requests-per-hour", "0"]);
    for index in 0..count {
        work.write(
            &format!("s{index}.yaml"),
            &sequence(&format!("s{index}"), &format!("name: Slow {index}\ntrigger: WHATSAPP_MESSAGE")),
        );
    }
    let mut command =
        work.command(&["apply", "-f", "manifests", "--auto-approve", "--parallelism", "1", "--state", STATE]);
    command.env("KUBECONFIG", cluster.kubeconfig(work.path(), "team"));
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("apply starts");
    (server, work, child)
}

fn wait_until(what: &str, check: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn remote_count(server: &common::Server) -> usize {
    server.orsay("GET", "/sequences", None).1.as_array().map_or(0, Vec::len)
}

#[test]
fn state_someone_else_wrote_mid_apply_is_not_overwritten_and_no_further_change_is_made() {
    use base64::Engine;
    let cluster = FakeCluster::start();
    let (server, _work, child) = a_slow_apply_with_state_in_the_cluster(&cluster, 6);
    let recorded = || {
        cluster.get("/api/v1/namespaces/team/secrets/seqops-state").is_some()
            && saved_state(&cluster)["resources"].as_object().is_some_and(|r| r.values().any(|e| e["id"].is_string()))
    };
    wait_until("the first create is recorded", recorded);
    // Another writer, who does not hold the lock, writes the state.
    let mut theirs = saved_state(&cluster);
    theirs["writtenBy"] = json!("someone else");
    let data = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&theirs).expect("json"));
    cluster.put(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "seqops-state", "namespace": "team"}, "data": {"state.json": data}}));

    let apply: Run = child.wait_with_output().expect("apply ends").into();

    assert_ne!(apply.code, 0, "{}", apply.all());
    assert_contains(&apply.stderr, "was written by someone else since this run read it");
    assert_eq!(saved_state(&cluster)["writtenBy"], "someone else", "their write is not overwritten");
    let made = remote_count(&server);
    assert!(made < 6, "no further change is made once state is another's: {made} of 6 made\n{}", apply.all());
}

#[test]
fn an_apply_whose_state_lock_is_taken_over_stops_before_its_next_change() {
    let cluster = FakeCluster::start();
    let (server, _work, child) = a_slow_apply_with_state_in_the_cluster(&cluster, 40);
    let lease = "/apis/coordination.k8s.io/v1/namespaces/team/leases/seqops-state-lock";
    wait_until("the apply holds the lock", || {
        cluster.get(lease).is_some_and(|l| l["spec"]["holderIdentity"].is_string())
    });
    wait_until("the first create is made", || remote_count(&server) > 0);
    lock_held_by(&cluster, "`seqops apply` (pid 9 on another-runner)");

    let apply: Run = child.wait_with_output().expect("apply ends").into();

    assert_ne!(apply.code, 0, "{}", apply.all());
    assert_contains(&apply.all(), "is held by `seqops apply` (pid 9 on another-runner) now");
    let made = remote_count(&server);
    assert!(made < 40, "the apply stopped once its lock was another's: {made} of 40 made");
    let holder = cluster.get(lease).map(|l| l["spec"]["holderIdentity"].clone());
    assert_eq!(holder, Some(json!("`seqops apply` (pid 9 on another-runner)")), "the new holder keeps its lock");
}

#[test]
fn each_change_appends_one_small_record_to_the_secret_and_a_killed_apply_is_recovered_with_nothing_lost() {
    let cluster = FakeCluster::start();
    let (server, work, mut child) = a_slow_apply_with_state_in_the_cluster(&cluster, 8);
    let secret = || cluster.get("/api/v1/namespaces/team/secrets/seqops-state");
    wait_until("three changes are journaled", || secret().is_some_and(|s| journal(&s).len() >= 3));
    child.kill().expect("the apply is killed");
    let _ = child.wait();

    let kept = secret().expect("the state Secret");
    let records = journal(&kept);
    assert!(records.iter().all(|(_, r)| r.to_string().len() < 4_096), "each record holds its change, not the state");
    let document = decoded(&kept["data"]["state.json"]);
    let in_document = document["resources"].as_object().map_or(0, |r| r.len());
    assert!(
        in_document < saved_state(&cluster)["resources"].as_object().map_or(0, |r| r.len()),
        "the document is not rewritten per change"
    );
    let recorded = records.iter().filter(|(_, r)| r["entries"][0]["entry"]["id"].is_string()).count();
    assert!(recorded >= 1, "creates are journaled with their ids: {records:?}");
    // The dead run's lock expired long ago.
    cluster.put(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "seqops-state-lock", "namespace": "team"},
        "spec": {"holderIdentity": "the killed apply", "leaseDurationSeconds": 60, "renewTime": "2026-01-01T00:00:00Z"},
    }));
    let plan = run(&work, &cluster, &["plan", "-f", "manifests", "--state", STATE]);
    let to_create = plan.stdout.split("Plan: ").nth(1).and_then(|rest| rest.split(' ').next()?.parse::<usize>().ok());
    assert!(to_create.is_some_and(|n| n <= 8 - recorded), "the plan reads the journal too:\n{}", plan.all());

    let apply = run(&work, &cluster, &["apply", "-f", "manifests", "--auto-approve", "--state", STATE]);

    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_eq!(remote_count(&server), 8, "nothing made twice, nothing left out\n{}", apply.all());
    let folded = secret().expect("the state Secret");
    assert!(journal(&folded).is_empty(), "the end of the run folds the journal into the document");
    assert_eq!(decoded(&folded["data"]["state.json"])["resources"].as_object().map(|r| r.len()), Some(8));
}

#[test]
fn state_mv_moves_a_record_in_the_cluster_secret_and_the_renamed_manifest_plans_nothing() {
    let (server, work) = server_and_workspace(&[]);
    let cluster = FakeCluster::start();
    work.write("welcome.yaml", &sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let apply = run(&work, &cluster, &["apply", "-f", "manifests", "--auto-approve", "--state", STATE]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    work.write("welcome.yaml", &sequence("hello", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let before = server.orsay_requests();

    let moved = run(&work, &cluster, &["state", "mv", "Sequence/welcome", "Sequence/hello", "--state", STATE]);

    assert_eq!(moved.code, 0, "{}", moved.all());
    assert_eq!(server.orsay_requests(), before, "a move sends nothing");
    let list = run(&work, &cluster, &["state", "list", "--state", STATE]);
    assert_contains(&list.stdout, "Sequence/hello\tmain\t");
    assert!(!list.stdout.contains("Sequence/welcome"), "{}", list.stdout);
    let plan = run(&work, &cluster, &["plan", "-f", "manifests", "--detailed-exitcode", "--state", STATE]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}
