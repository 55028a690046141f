//! The test-only kind (`Note`, src/providers/notes), built with
//! `--features test-kind`: planned, applied, changed, replaced and deleted
//! through the sandbox by the seqops binary, and reconciled by the
//! controller against an in-memory Kubernetes API. It shows that a kind
//! said once in its own folder is all the engine, the CLI and the
//! controller need.
#![cfg(feature = "test-kind")]

mod common;

use std::sync::Arc;

use common::fake_cluster::FakeCluster;
use common::{Server, Workspace, KEY};
use kube::api::{Api, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use seqops::controller::reconcile;
use serde_json::{json, Value};

fn provider(server: &Server) -> String {
    format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: notes\nspec:\n  type: notes\n  baseUrl: {}/notes-api\n  credentials:\n    env: ORSAY_API_KEY\n",
        server.origin
    )
}

fn note(title: &str, body: &str) -> String {
    format!("apiVersion: notes.seqops.dev/v1alpha1\nkind: Note\nmetadata:\n  name: todo\nspec:\n  title: {title}\n  body: {body}\n")
}

/// The notes the sandbox holds for the test key.
fn remote(server: &Server) -> Vec<Value> {
    let (status, body) = server.call("GET", &format!("{}/notes-api/notes", server.origin), None, KEY);
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

#[test]
fn a_note_is_created_changed_replaced_and_deleted_through_the_sandbox() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.write("provider.yaml", &provider(&server));
    work.write("note.yaml", &note("Groceries", "milk"));

    let plan = work.plan();
    assert_eq!(plan.code, 2, "a create is a change:\n{}", plan.all());
    common::assert_contains(&plan.stdout, "Note/todo");
    work.apply();
    let made = remote(&server);
    assert_eq!(made.len(), 1);
    assert_eq!((made[0]["title"].clone(), made[0]["body"].clone()), (json!("Groceries"), json!("milk")));
    assert_eq!(work.plan().code, 0, "nothing is left to do once applied");

    work.write("note.yaml", &note("Groceries", "milk and eggs"));
    work.apply();
    let changed = remote(&server);
    assert_eq!((changed.len(), changed[0]["id"].clone()), (1, made[0]["id"].clone()), "changed in place");
    assert_eq!(changed[0]["body"], "milk and eggs");

    work.write("note.yaml", &note("Errands", "milk and eggs"));
    let replace = work.plan();
    common::assert_contains(&replace.all(), "replace");
    work.apply();
    let replaced = remote(&server);
    assert_eq!(replaced.len(), 1, "the old note goes once the new one is made");
    assert_ne!(replaced[0]["id"], made[0]["id"]);
    assert_eq!(replaced[0]["title"], "Errands");

    work.remove("note.yaml");
    let deleted = work.run(&["apply", "-f", "manifests", "--auto-approve", "--allow-delete-all"]);
    assert_eq!(deleted.code, 0, "{}", deleted.all());
    assert!(remote(&server).is_empty(), "a removed manifest's note is deleted");
}

#[test]
fn a_note_is_reconciled_by_the_controller() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    let fake = FakeCluster::start();
    let kubeconfig = fake.kubeconfig(work.path(), "default");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let config = Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await.expect("a config");
        let client = kube::Client::try_from(config).expect("a client");
        let shared = Arc::new(reconcile::Shared::new(client.clone(), Some(server.origin.clone())));
        let kind = shared.kinds.iter().find(|k| k.kind == "Note").copied().expect("the Note kind");
        let providers = shared.kinds.iter().find(|k| k.kind == "Provider").copied().expect("the Provider kind");
        let context = Arc::new(reconcile::Context::new(shared, kind));
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "default");
        let secret = serde_json::from_value(common::fake_cluster::secret("default", "notes-key", "apiKey", KEY))
            .expect("a Secret");
        secrets.create(&PostParams::default(), &secret).await.expect("the Secret is made");
        let provider_api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &seqops::controller::cluster::api_resource(&providers));
        let provider_object = json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "Provider",
            "metadata": {"name": "notes", "namespace": "default"},
            "spec": {"type": "notes", "credentials": {"secretRef": {"name": "notes-key", "key": "apiKey"}}}});
        let provider_object = serde_json::from_value(provider_object).expect("a Provider");
        provider_api.create(&PostParams::default(), &provider_object).await.expect("the Provider is made");
        let notes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &context.resource);
        let object = json!({"apiVersion": "notes.seqops.dev/v1alpha1", "kind": "Note",
            "metadata": {"name": "todo", "namespace": "default"}, "spec": {"title": "Groceries", "pinned": true}});
        let object = serde_json::from_value(object).expect("a Note");
        notes.create(&PostParams::default(), &object).await.expect("the Note is made");

        // The first reconcile puts the finalizer on; the next makes the note.
        for _ in 0..3 {
            let current = notes.get("todo").await.expect("the Note");
            reconcile::reconcile(Arc::new(current), context.clone()).await.expect("it reconciles");
        }
        let status = notes.get("todo").await.expect("the Note").data["status"].clone();
        let ready = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "the Note is Ready: {status}");
        let id = status["externalId"].as_str().expect("an external id").to_string();
        let made = tokio::task::spawn_blocking(move || remote(&server)).await.expect("the read");
        assert_eq!(made.len(), 1);
        assert_eq!((made[0]["id"].as_str(), made[0]["pinned"].clone()), (Some(id.as_str()), json!(true)));
    });
}
