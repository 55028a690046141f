//! One record of a managed object, kept alike wherever seqops keeps it: a
//! record with every field set is written and read back whole through a
//! state file (saved whole, and appended to its journal), `k8s://` state (a
//! Secret, against an HTTP server speaking the Kubernetes API) and a
//! controller object's status.

mod common;

use std::time::Duration;

use common::fake_cluster::FakeCluster;
use kube::api::{Api, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use seqops::engine::state::{Record, State, StateStore};
use seqops::external::Stored;
use seqops::manifest::crd::ResourceStatus;
use seqops::manifest::ResourceKey;
use serde_json::json;

/// Every field of the record, none at its default: a field added to the
/// record fails to compile here until the round trips handle it.
fn every_field_set() -> Record {
    Record {
        api_version: "gary.seqops.dev/v1alpha1".into(),
        provider: "gary-main".into(),
        id: Some("seq_1/enr_2".into()),
        display_name: "con_1 in seq_1".into(),
        pending_since: Some("2026-12-01T00:00:00Z".into()),
        preexisting: vec!["seq_1/enr_0".into()],
        deposed_id: Some("seq_1/enr_1".into()),
        manifest_digest: "sha256:abc".into(),
        applied_spec: Stored::of(&json!({"contactId": "con_1", "sequence": {"lookup": "Nurture"}})),
        last_applied: Stored::of(&json!({"contactId": "con_1", "sequence": "seq_1"})),
        observed: Some(Stored::of(&json!({"contactId": "con_1", "sequence": "seq_1", "status": "active"}))),
        observed_at: "2026-12-02T00:00:00Z".into(),
        orphan_on_delete: true,
        prevent_destroy: true,
        depends_on: vec![ResourceKey::new("Provider", "gary-main")],
        renew_token: Some("t2".into()),
    }
}

fn key() -> ResourceKey {
    ResourceKey::new("Enrollment", "lead")
}

/// A state holding only `record`.
fn state_of(record: &Record) -> State {
    let mut state = State::new(false);
    state.resources.insert(key(), record.clone());
    state
}

fn read_back(store: &StateStore) -> Record {
    let state = store.load().unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no state was written"));
    state.resources.get(&key()).cloned().unwrap_or_else(|| panic!("no record was written"))
}

#[test]
fn a_record_saved_in_a_state_file_reads_back_whole() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("state.json");
    let record = every_field_set();
    let store = StateStore::lock(&path, "test", Duration::ZERO).expect("the lock");
    store.save(&mut state_of(&record)).expect("saved");
    drop(store);
    assert_eq!(read_back(&StateStore::read_only(&path)), record);
}

#[test]
fn a_record_appended_to_a_state_files_journal_reads_back_whole() {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("state.json");
    let record = every_field_set();
    let store = StateStore::lock(&path, "test", Duration::ZERO).expect("the lock");
    let mut state = State::new(false);
    store.save(&mut state).expect("saved");
    state.resources.insert(key(), record.clone());
    store.append(&mut state, &[key()], None).expect("appended");
    drop(store);
    assert_eq!(read_back(&StateStore::read_only(&path)), record);
}

fn client(cluster: &FakeCluster, dir: &std::path::Path) -> kube::Client {
    let kubeconfig = cluster.kubeconfig(dir, "team");
    cluster.runtime().block_on(async {
        let config = Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await.expect("a client config");
        kube::Client::try_from(config).expect("a client")
    })
}

#[test]
fn a_record_saved_and_appended_in_k8s_state_reads_back_whole() {
    let cluster = FakeCluster::start();
    let dir = tempfile::tempdir().expect("a folder");
    let client = client(&cluster, dir.path());
    let record = every_field_set();
    let expected = record.clone();
    let (saved, appended) = cluster
        .runtime()
        .block_on(cluster.runtime().spawn(async move {
            // State kept in a Secret is reached from a multi-threaded
            // runtime's worker, as the CLI reaches it.
            let open = |command: Option<&'static str>| {
                let client = client.clone();
                async move {
                    let remote =
                        seqops::kube_state::KubeState::open(client, "team", "seqops-state", command, Duration::ZERO)
                            .await
                            .expect("the state opens");
                    StateStore::remote(Box::new(remote))
                }
            };
            let writer = open(Some("test")).await;
            writer.save(&mut state_of(&record)).expect("saved");
            let saved = read_back(&open(None).await);
            let mut state = State::new(false);
            writer.save(&mut state).expect("saved empty");
            state.resources.insert(key(), record.clone());
            writer.append(&mut state, &[key()], None).expect("appended");
            let appended = read_back(&open(None).await);
            drop(writer);
            (saved, appended)
        }))
        .expect("the round trip ran");
    assert_eq!(saved, expected, "saved whole");
    assert_eq!(appended, expected, "appended to the journal beside it");
}

#[test]
fn a_record_written_to_an_objects_status_reads_back_whole() {
    let cluster = FakeCluster::start();
    let dir = tempfile::tempdir().expect("a folder");
    let client = client(&cluster, dir.path());
    let record = every_field_set();
    let kinds = seqops::providers::kinds();
    let kind = kinds.iter().find(|k| k.kind == "Enrollment").expect("the Enrollment kind");
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, "team", &seqops::controller::cluster::api_resource(kind));
    // What the object itself says of its record: its kind, and the
    // annotations that keep and protect its remote object.
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gary.seqops.dev/v1alpha1", "kind": "Enrollment",
        "metadata": {"name": "lead", "namespace": "team", "annotations": {
            "seqops.dev/deletion-policy": "orphan", "seqops.dev/prevent-destroy": "true",
        }},
        "spec": {"contactId": "con_1", "sequence": {"lookup": "Nurture"}},
    }))
    .expect("an object");
    let mut status = ResourceStatus::default();
    status.keep(Some(&record));
    let read = cluster.runtime().block_on(async {
        let made = api.create(&PostParams::default(), &object).await.expect("the object is made");
        seqops::controller::journal::patch_status(&api, &made, &status, None).await.expect("the status is written");
        api.get("lead").await.expect("the object is read")
    });
    assert_eq!(seqops::controller::cluster::record_of(&read, "gary-main"), Some(record));
}
