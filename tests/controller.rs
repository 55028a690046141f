//! The controller's reconciler against a scripted Kubernetes API (tower-test)
//! and the sandbox emulators: the exact requests and status patches of each
//! path.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use kube::core::DynamicObject;
use kube::runtime::controller::Action;
use kube::Client;
use seqops::controller::reconcile::{reconcile, Context, Shared};
use seqops::sandbox::{EmulatorConfig, Sandbox};
use serde_json::{json, Value};
use tower_test::mock::Handle;

const KEY: &str = "sk_live_controller";

type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// A scripted API server: each step names the method and path it expects
/// and gives the answer; every request body is kept for assertions.
struct Scenario {
    handle: ApiHandle,
    bodies: Vec<(String, String, Value)>,
}

impl Scenario {
    async fn expect(&mut self, method: &str, path: &str, answer: Value) -> Value {
        let (request, send) = tokio::time::timeout(Duration::from_secs(10), self.handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request came; expected {method} {path}"))
            .expect("the client is alive");
        assert_eq!(
            request.method().as_str(),
            method,
            "expected {method} {path}, got {} {}",
            request.method(),
            request.uri()
        );
        assert_eq!(request.uri().path(), path);
        let bytes = request.into_body().collect_bytes().await.expect("a body");
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.bodies.push((method.to_string(), path.to_string(), body.clone()));
        send.send_response(
            Response::builder().body(Body::from(serde_json::to_vec(&answer).expect("json"))).expect("a response"),
        );
        body
    }

    async fn expect_nothing(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(300), self.handle.next_request()).await;
        if let Ok(Some((request, _))) = next {
            panic!("an unexpected request was made: {} {}", request.method(), request.uri());
        }
    }
}

async fn sandbox() -> (String, Arc<Sandbox>, tokio::task::JoinHandle<()>) {
    let sandbox = Sandbox::new(EmulatorConfig::default(), None).expect("a sandbox");
    let (addr, task) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    (format!("http://{addr}"), sandbox, task)
}

fn context(client: Client, origin: &str) -> Arc<Context> {
    let shared = Arc::new(Shared::new(client, Some(origin.to_string())));
    let index = shared.kinds.iter().position(|k| k.kind == "Sequence").expect("the Sequence kind");
    Arc::new(Context::new(shared, index))
}

fn sequence(extra_metadata: Value, status: Value) -> DynamicObject {
    let mut metadata = json!({"name": "welcome", "namespace": "default", "uid": "uid-1", "resourceVersion": "7", "generation": 2, "finalizers": ["seqops.dev/finalizer"]});
    if let (Some(base), Some(extra)) = (metadata.as_object_mut(), extra_metadata.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "orsay.seqops.dev/v1alpha1", "kind": "Sequence", "metadata": metadata,
        "spec": {"name": "Welcome DM", "trigger": "WHATSAPP_MESSAGE", "active": true},
        "status": status,
    }))
    .expect("a Sequence object")
}

fn providers() -> Value {
    json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "ProviderList", "metadata": {}, "items": [{
        "apiVersion": "seqops.dev/v1alpha1", "kind": "Provider",
        "metadata": {"name": "orsay", "namespace": "default"},
        "spec": {"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}}},
    }]})
}

fn secret() -> Value {
    use base64_encode as b64;
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "orsay-key", "namespace": "default"}, "data": {"apiKey": b64(KEY)}})
}

fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const OBJECT: &str = "/apis/orsay.seqops.dev/v1alpha1/namespaces/default/sequences/welcome";
const PROVIDERS: &str = "/apis/seqops.dev/v1alpha1/namespaces/default/providers";
const SECRET: &str = "/api/v1/namespaces/default/secrets/orsay-key";

fn remote(origin: &str) -> Vec<Value> {
    let runtime = reqwest::blocking_get(format!("{origin}/orsay/api/v1/sequences"));
    runtime.as_array().cloned().unwrap_or_default()
}

mod reqwest {
    pub fn blocking_get(url: String) -> serde_json::Value {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let client = ::reqwest::Client::new();
                let response = client.get(url).bearer_auth(super::KEY).send().await.expect("the sandbox answers");
                response.json().await.unwrap_or(serde_json::Value::Null)
            })
        })
        .join()
        .expect("the request thread")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sequence_is_created_and_its_status_says_ready_with_the_external_id() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({}), json!({}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    let pending = api.expect("PATCH", &format!("{OBJECT}/status"), serde_json::to_value(&object).expect("json")).await;
    assert!(pending["status"]["pendingSince"].is_string(), "the create is recorded as pending first: {pending}");
    let done = api.expect("PATCH", &format!("{OBJECT}/status"), serde_json::to_value(&object).expect("json")).await;
    let action = task.await.expect("the reconcile ran").expect("the reconcile succeeded");
    let sequences = remote(&origin);
    assert_eq!(sequences.len(), 1);
    assert_eq!(done["status"]["externalId"], sequences[0]["id"]);
    assert!(done["status"].get("pendingSince").is_none(), "{done}");
    let conditions = done["status"]["conditions"].as_array().expect("conditions");
    assert!(conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True" && c["observedGeneration"] == 2));
    assert!(conditions.iter().any(|c| c["type"] == "Synced" && c["status"] == "True"));
    assert_eq!(done["status"]["lastApplied"]["name"], "Welcome DM");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    api.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_without_the_finalizer_gets_it_before_anything_else() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({"finalizers": []}), json!({}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    let patch = api.expect("PATCH", OBJECT, serde_json::to_value(&object).expect("json")).await;
    assert_eq!(patch, json!({"metadata": {"finalizers": ["seqops.dev/finalizer"], "resourceVersion": "7"}}));
    assert_eq!(task.await.expect("ran").expect("succeeded"), Action::await_change());
    assert!(remote(&origin).is_empty(), "nothing is created before the finalizer is in place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_removes_the_remote_object_then_the_finalizer() {
    let (origin, _sandbox, _task) = sandbox().await;
    let created = {
        let url = format!("{origin}/orsay/api/v1/sequences");
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt").block_on(async {
                let response = ::reqwest::Client::new()
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&json!({"name": "Welcome DM", "trigger": "WHATSAPP_MESSAGE"}))
                    .send()
                    .await
                    .expect("created");
                response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()
            })
        })
        .join()
        .expect("thread")
    };
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({"deletionTimestamp": "2026-11-23T10:00:00Z"}), json!({"externalId": created}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    let patch = api.expect("PATCH", OBJECT, serde_json::to_value(&object).expect("json")).await;
    assert_eq!(patch, json!({"metadata": {"finalizers": [], "resourceVersion": "7"}}));
    task.await.expect("ran").expect("succeeded");
    assert!(remote(&origin).is_empty(), "the remote object is gone before the finalizer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_keeps_the_remote_object_and_only_drops_the_finalizer() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(
        json!({"deletionTimestamp": "2026-11-23T10:00:00Z", "annotations": {"seqops.dev/deletion-policy": "orphan"}}),
        json!({"externalId": "kept-remote-id"}),
    );
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    let patch = api.expect("PATCH", OBJECT, serde_json::to_value(&object).expect("json")).await;
    assert_eq!(patch["metadata"]["finalizers"], json!([]));
    task.await.expect("ran").expect("succeeded");
    api.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_object_is_left_alone() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({"annotations": {"seqops.dev/paused": "true"}}), json!({}));
    let action = reconcile(Arc::new(object), context).await.expect("succeeded");
    assert_eq!(action, Action::await_change());
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect_nothing().await;
    assert!(remote(&origin).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_changes_nothing() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let mut object = sequence(json!({}), json!({}));
    object.data["spec"]["managementPolicy"] = json!("ObserveOnly");
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), serde_json::to_value(&object).expect("json")).await;
    task.await.expect("ran").expect("succeeded");
    assert!(remote(&origin).is_empty(), "ObserveOnly creates nothing");
    let conditions = status["status"]["conditions"].as_array().expect("conditions");
    assert!(
        conditions.iter().any(|c| c["type"] == "Synced" && c["status"] == "False" && c["reason"] == "Drifted"),
        "{status}"
    );
    assert!(status["status"]["drift"].as_array().is_some_and(|d| d.iter().any(|e| e["path"] == "name")), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_waits_with_reference_not_ready_while_its_agent_has_no_external_id() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let shared = Arc::new(Shared::new(Client::new(service, "default"), Some(origin.clone())));
    let index = shared.kinds.iter().position(|k| k.kind == "ApiKey").expect("ApiKey");
    let context = Arc::new(Context::new(shared, index));
    let key: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "orqis.seqops.dev/v1alpha1", "kind": "ApiKey",
        "metadata": {"name": "widget", "namespace": "default", "uid": "uid-2", "finalizers": ["seqops.dev/finalizer"], "generation": 1},
        "spec": {"name": "widget", "agentRef": {"name": "store"}, "writeSecretTo": {"secretRef": {"name": "widget-key", "key": "key"}}},
    }))
    .expect("an ApiKey");
    let task = tokio::spawn(reconcile(Arc::new(key.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    let orqis = json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "ProviderList", "metadata": {}, "items": [{
        "apiVersion": "seqops.dev/v1alpha1", "kind": "Provider", "metadata": {"name": "orqis", "namespace": "default"},
        "spec": {"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}},
    }]});
    api.expect("GET", PROVIDERS, orqis).await;
    let agent = json!({"apiVersion": "orqis.seqops.dev/v1alpha1", "kind": "Agent", "metadata": {"name": "store", "namespace": "default"},
        "spec": {"name": "Store", "openapiSpec": {"fromFile": "api.yaml"}}});
    api.expect("GET", "/apis/orqis.seqops.dev/v1alpha1/namespaces/default/agents/store", agent).await;
    let status = api
        .expect(
            "PATCH",
            "/apis/orqis.seqops.dev/v1alpha1/namespaces/default/apikeys/widget/status",
            serde_json::to_value(&key).expect("json"),
        )
        .await;
    let action = task.await.expect("ran").expect("succeeded");
    assert_eq!(action, Action::requeue(Duration::from_secs(15)));
    let synced = status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Synced"))
        .cloned()
        .expect("Synced");
    assert_eq!((synced["status"].clone(), synced["reason"].clone()), (json!("False"), json!("ReferenceNotReady")));
    assert!(synced["message"].as_str().is_some_and(|m| m.contains("orqis.Agent/store")), "{synced}");
}
