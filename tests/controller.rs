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
use seqops::controller::reconcile::{error_policy, reconcile, Context, Shared};
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
    let sandbox = Sandbox::new(seqops::providers::emulators(EmulatorConfig::default()), None).expect("a sandbox");
    let (addr, task) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    (format!("http://{addr}"), sandbox, task)
}

fn context(client: Client, origin: &str) -> Arc<Context> {
    let shared = Arc::new(Shared::new(client, Some(origin.to_string())));
    let kind = shared.kinds.iter().find(|k| k.kind == "Sequence").copied().expect("the Sequence kind");
    Arc::new(Context::new(shared, kind))
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
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

const OBJECT: &str = "/apis/orsay.seqops.dev/v1alpha1/namespaces/default/sequences/welcome";
const PROVIDERS: &str = "/apis/seqops.dev/v1alpha1/namespaces/default/providers";
const SECRET: &str = "/api/v1/namespaces/default/secrets/orsay-key";

const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

/// The Orsay sequences in the sandbox, as another user of the account sees
/// them.
fn remote(origin: &str) -> Vec<Value> {
    vendor("GET", &format!("{origin}/orsay/api/v1/sequences"), None).as_array().cloned().unwrap_or_default()
}

/// A request to the sandbox from outside seqops (someone in the vendor's
/// dashboard), made on its own thread so the test's runtime is not blocked.
fn vendor(method: &str, url: &str, body: Option<Value>) -> Value {
    let (method, url) = (::reqwest::Method::from_bytes(method.as_bytes()).expect("a method"), url.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let mut request = ::reqwest::Client::new().request(method, url).bearer_auth(KEY);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("the sandbox answers");
            response.json().await.unwrap_or(Value::Null)
        })
    })
    .join()
    .expect("the request thread")
}

/// A sequence made in the vendor's dashboard: its remote id.
fn made_in_the_dashboard(origin: &str, name: &str) -> String {
    let body = json!({"name": name, "trigger": "WHATSAPP_MESSAGE"});
    let created = vendor("POST", &format!("{origin}/orsay/api/v1/sequences"), Some(body));
    created["id"].as_str().expect("an id").to_string()
}

fn condition(status: &Value, kind: &str) -> Value {
    status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The object as the API server would hold it after the status patch.
fn with_status(object: &DynamicObject, patch: &Value) -> DynamicObject {
    let mut next = object.clone();
    next.data["status"] = patch["status"].clone();
    next
}

/// Runs the create path to the end: the Sequence as it stands once created.
async fn created_sequence(origin: &str) -> DynamicObject {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), origin);
    let object = sequence(json!({}), json!({}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    // The journal: pending, then the id; then the status in full.
    api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let done = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("the reconcile ran").expect("the reconcile succeeded");
    with_status(&object, &done)
}

/// Starts reconciling `object` against a fresh scripted API and answers the
/// reads every Sequence reconcile begins with: its Provider and key.
async fn reconcile_sequence(
    object: &DynamicObject,
    origin: &str,
) -> (tokio::task::JoinHandle<ReconcileResult>, Scenario) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context(Client::new(service, "default"), origin)));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    (task, api)
}

type ReconcileResult = Result<Action, seqops::controller::ReconcileError>;

/// Orsay requests the sandbox has served so far.
fn orsay_requests(sandbox: &Sandbox) -> u64 {
    sandbox.request_counts().get("orsay").copied().unwrap_or_default()
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
    let pending = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    assert!(pending["status"]["pendingSince"].is_string(), "the create is recorded as pending first: {pending}");
    assert_eq!(pending["status"]["lastApplied"]["name"], "Welcome DM", "with what the create sends: {pending}");
    let made = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    assert!(made["status"]["externalId"].is_string(), "then the id, as soon as it is known: {made}");
    assert!(made["status"].get("pendingSince").is_none(), "{made}");
    let done = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    let action = task.await.expect("the reconcile ran").expect("the reconcile succeeded");
    let sequences = remote(&origin);
    assert_eq!(sequences.len(), 1);
    assert_eq!(done["status"]["externalId"], sequences[0]["id"]);
    assert!(done["status"].get("pendingSince").is_none(), "{done}");
    let ready = condition(&done, "Ready");
    assert_eq!((ready["status"].clone(), ready["observedGeneration"].clone()), (json!("True"), json!(2)));
    assert_eq!(condition(&done, "Synced")["status"], "True");
    assert_eq!(done["status"]["lastApplied"]["name"], "Welcome DM");
    assert_eq!((event["type"].clone(), event["reason"].clone()), (json!("Normal"), json!("Created")));
    assert_eq!(event["regarding"]["name"], "welcome");
    assert!(event["note"].as_str().is_some_and(|n| n.contains(sequences[0]["id"].as_str().unwrap_or("?"))), "{event}");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    api.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_sequence_costs_one_read_and_records_no_event() {
    let (origin, sandbox, _task) = sandbox().await;
    let object = created_sequence(&origin).await;
    let before = orsay_requests(&sandbox);
    let (task, mut api) = reconcile_sequence(&object, &origin).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let action = task.await.expect("ran").expect("succeeded");
    api.expect_nothing().await;
    assert_eq!(orsay_requests(&sandbox) - before, 1, "one read of the sequence by its id");
    assert_eq!(condition(&status, "Synced")["message"], "the remote object matches the spec");
    assert_eq!(status["status"]["externalId"], object.data["status"]["externalId"]);
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    assert_eq!(remote(&origin).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_edit_updates_the_remote_object_in_place() {
    let (origin, _sandbox, _task) = sandbox().await;
    let mut object = created_sequence(&origin).await;
    object.data["spec"]["name"] = json!("Welcome DM v2");
    object.metadata.generation = Some(3);
    let (task, mut api) = reconcile_sequence(&object, &origin).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("ran").expect("succeeded");
    let sequences = remote(&origin);
    assert_eq!(sequences.len(), 1, "updated in place, not recreated");
    assert_eq!(sequences[0]["name"], "Welcome DM v2");
    assert_eq!(status["status"]["externalId"], sequences[0]["id"]);
    assert_eq!(status["status"]["lastApplied"]["name"], "Welcome DM v2");
    assert_eq!(status["status"]["observedGeneration"], 3);
    assert_eq!(condition(&status, "Synced")["observedGeneration"], 3);
    assert_eq!((event["reason"].clone(), event["note"].clone()), (json!("Updated"), json!("updated name")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_drift_is_set_back_to_the_spec_and_recorded_as_an_event() {
    let (origin, _sandbox, _task) = sandbox().await;
    let object = created_sequence(&origin).await;
    let id = object.data["status"]["externalId"].as_str().expect("an id").to_string();
    vendor("PUT", &format!("{origin}/orsay/api/v1/sequences/{id}"), Some(json!({"name": "Edited by hand"})));
    let (task, mut api) = reconcile_sequence(&object, &origin).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("ran").expect("succeeded");
    assert_eq!(remote(&origin)[0]["name"], "Welcome DM");
    assert_eq!(status["status"]["atProvider"]["name"], "Welcome DM", "what is there once corrected");
    assert!(status["status"].get("drift").is_none(), "nothing differs any more: {status}");
    assert_eq!(event["reason"], "DriftCorrected");
    assert_eq!(event["note"], "set name back to the spec");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_reported_in_status_and_as_a_warning_and_backs_off_exponentially() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = Arc::new(sequence(json!({}), json!({})));
    let task = tokio::spawn(reconcile(object.clone(), context.clone()));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    let without_key = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "orsay-key"}, "data": {}});
    api.expect("GET", SECRET, without_key).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    let error = task.await.expect("ran").expect_err("the reconcile fails");
    let synced = condition(&status, "Synced");
    assert_eq!((synced["status"].clone(), synced["reason"].clone()), (json!("False"), json!("CredentialsMissing")));
    let message = synced["message"].as_str().unwrap_or_default();
    assert!(message.contains("Secret default/orsay-key has no key `apiKey`"), "{message}");
    assert_eq!((event["type"].clone(), event["reason"].clone()), (json!("Warning"), json!("CredentialsMissing")));
    let waits: Vec<Action> = (0..3).map(|_| error_policy(object.clone(), &error, context.clone())).collect();
    let expected: Vec<Action> = [5, 10, 20].iter().map(|s| Action::requeue(Duration::from_secs(*s))).collect();
    assert_eq!(waits, expected);
    assert!(remote(&origin).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_id_annotation_adopts_the_remote_object_instead_of_creating_one() {
    let (origin, _sandbox, _task) = sandbox().await;
    let id = made_in_the_dashboard(&origin, "Old welcome");
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({"annotations": {"seqops.dev/external-id": id}}), json!({}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    let bound = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    assert_eq!(bound["status"]["externalId"], json!(id), "the journal binds the id first: {bound}");
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("ran").expect("succeeded");
    let sequences = remote(&origin);
    assert_eq!(sequences.len(), 1, "adopted, not created beside it");
    assert_eq!((sequences[0]["id"].clone(), sequences[0]["name"].clone()), (json!(id), json!("Welcome DM")));
    assert_eq!(status["status"]["externalId"], json!(id));
    assert!(status["status"].get("pendingSince").is_none(), "an adoption creates nothing: {status}");
    assert_eq!(event["reason"], "Adopted");
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
    let created = made_in_the_dashboard(&origin, "Welcome DM");
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let object = sequence(json!({"deletionTimestamp": "2026-11-23T10:00:00Z"}), json!({"externalId": created}));
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    api.expect("GET", SECRET, secret()).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    assert!(remote(&origin).is_empty(), "the remote object is gone before the finalizer");
    let patch = api.expect("PATCH", OBJECT, serde_json::to_value(&object).expect("json")).await;
    assert_eq!(patch, json!({"metadata": {"finalizers": [], "resourceVersion": "7"}}));
    assert_eq!(
        (event["reason"].clone(), event["note"].clone()),
        (json!("Deleted"), json!(format!("deleted the remote object {created}")))
    );
    task.await.expect("ran").expect("succeeded");
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
    let event = api.expect("POST", EVENTS, json!({})).await;
    assert_eq!(event["reason"], "Orphaned");
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
    let kind = shared.kinds.iter().find(|k| k.kind == "ApiKey").copied().expect("ApiKey");
    let context = Arc::new(Context::new(shared, kind));
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

fn orqis_providers() -> Value {
    json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "ProviderList", "metadata": {}, "items": [{
        "apiVersion": "seqops.dev/v1alpha1", "kind": "Provider", "metadata": {"name": "orqis", "namespace": "default"},
        "spec": {"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}},
    }]})
}

const DIGEST_KEY: &str = "/api/v1/namespaces/default/secrets/seqops-digest-key";

/// The controller's digest key Secret.
fn digest_key() -> Value {
    kube_secret("seqops-digest-key", "key", "a digest key of at least sixteen bytes")
}

fn kube_secret(name: &str, key: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"}, "data": {key: base64_encode(value)}})
}

/// The digest the Orqis emulator keeps of the Google key it was given.
fn saved_google_key(sandbox: &Sandbox) -> Value {
    let orqis = sandbox.snapshot().get("orqis").cloned().unwrap_or(Value::Null);
    let accounts = orqis["accounts"].as_object().cloned().unwrap_or_default();
    accounts.values().map(|a| a["llm_keys"]["google"].clone()).find(|k| !k.is_null()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_key_ref_is_read_from_its_secret_and_a_new_value_is_written_again() {
    let (origin, sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let shared = Arc::new(Shared::new(Client::new(service, "default"), Some(origin.clone())));
    let kind = shared.kinds.iter().find(|k| k.kind == "LlmKey").copied().expect("LlmKey");
    let context = Arc::new(Context::new(shared.clone(), kind));
    let key: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "orqis.seqops.dev/v1alpha1", "kind": "LlmKey",
        "metadata": {"name": "google", "namespace": "default", "uid": "uid-3", "finalizers": ["seqops.dev/finalizer"], "generation": 1},
        "spec": {"provider": "google", "value": {"secretKeyRef": {"name": "llm", "key": "google"}}},
    }))
    .expect("an LlmKey");
    const KEY_PATH: &str = "/apis/orqis.seqops.dev/v1alpha1/namespaces/default/llmkeys/google/status";
    let mut api = Scenario { handle, bodies: Vec::new() };
    let mut object = key.clone();
    for (round, (value, written)) in
        [("AIza-first", true), ("AIza-first", false), ("AIza-rotated", true)].into_iter().enumerate()
    {
        let before = sandbox.request_counts().get("orqis").copied().unwrap_or_default();
        let task = tokio::spawn(reconcile(Arc::new(object.clone()), context.clone()));
        api.expect("GET", PROVIDERS, orqis_providers()).await;
        api.expect("GET", "/api/v1/namespaces/default/secrets/llm", kube_secret("llm", "google", value)).await;
        api.expect("GET", "/api/v1/namespaces/default/secrets/orqis-token", kube_secret("orqis-token", "token", KEY))
            .await;
        if round == 0 {
            // The digest key is read once, by the first object with a secret.
            api.expect("GET", DIGEST_KEY, digest_key()).await;
        }
        // A create is journaled (pending, then its id) before the status.
        let mut status = api.expect("PATCH", KEY_PATH, json!({})).await;
        while status["status"]["pendingSince"].is_string() || condition(&status, "Synced").is_null() {
            status = api.expect("PATCH", KEY_PATH, json!({})).await;
        }
        if written {
            let event = api.expect("POST", EVENTS, json!({})).await;
            assert!(!event.to_string().contains(value), "the value stays out of events: {event}");
        } else {
            api.expect_nothing().await;
            let requests = sandbox.request_counts().get("orqis").copied().unwrap_or_default() - before;
            assert_eq!(requests, 1, "one read of whether the key is set; an unchanged value is not written again");
            assert_eq!(condition(&status, "Synced")["message"], "the remote object matches the spec");
        }
        task.await.expect("ran").expect("succeeded");
        assert_eq!(saved_google_key(&sandbox), json!(seqops::sandbox::digest(value)), "{value} was written");
        assert!(!status.to_string().contains(value), "the value stays out of status: {status}");
        object = with_status(&key, &status);
    }
    let readers = shared.references.readers("default", "Secret/llm");
    assert_eq!(readers, vec![(kind.key_kind, "google".to_string())], "a change to Secret llm reconciles the key");
    assert_eq!(shared.references.readers("default", "Secret/orqis-token"), vec![(kind.key_kind, "google".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orqis_agent_takes_its_openapi_document_from_a_config_map_and_its_header_from_a_secret() {
    let (origin, sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let shared = Arc::new(Shared::new(Client::new(service, "default"), Some(origin.clone())));
    let kind =
        shared.kinds.iter().find(|k| k.api_version.starts_with("orqis") && k.kind == "Agent").copied().expect("Agent");
    let context = Arc::new(Context::new(shared.clone(), kind));
    let agent: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "orqis.seqops.dev/v1alpha1", "kind": "Agent",
        "metadata": {"name": "store", "namespace": "default", "uid": "uid-4", "finalizers": ["seqops.dev/finalizer"], "generation": 1},
        "spec": {
            "name": "Store Agent",
            "openapiSpec": {"configMapKeyRef": {"name": "store-api", "key": "openapi.yaml"}},
            "headers": {"Authorization": {"secretKeyRef": {"name": "store-token", "key": "token"}}},
        },
    }))
    .expect("an Agent");
    let task = tokio::spawn(reconcile(Arc::new(agent), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, orqis_providers()).await;
    let document = "openapi: 3.0.0\ninfo: {title: Store, version: '1'}\npaths: {}\n";
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "store-api"}, "data": {"openapi.yaml": document}});
    api.expect("GET", "/api/v1/namespaces/default/configmaps/store-api", map).await;
    let token = kube_secret("store-token", "token", "Bearer store-canary");
    api.expect("GET", "/api/v1/namespaces/default/secrets/store-token", token).await;
    api.expect("GET", "/api/v1/namespaces/default/secrets/orqis-token", kube_secret("orqis-token", "token", KEY)).await;
    api.expect("GET", DIGEST_KEY, digest_key()).await;
    const STATUS: &str = "/apis/orqis.seqops.dev/v1alpha1/namespaces/default/agents/store/status";
    api.expect("PATCH", STATUS, json!({})).await;
    api.expect("PATCH", STATUS, json!({})).await;
    let status = api.expect("PATCH", STATUS, json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("ran").expect("succeeded");
    assert_eq!(condition(&status, "Ready")["status"], "True", "{status}");
    assert_eq!(event["reason"], "Created");
    let orqis = sandbox.snapshot().get("orqis").cloned().unwrap_or(Value::Null).to_string();
    assert!(orqis.contains("Store Agent"), "the agent exists remotely: {orqis}");
    assert!(!status.to_string().contains("store-canary"), "the header stays out of status: {status}");
    assert_eq!(shared.references.readers("default", "ConfigMap/store-api"), vec![(kind.key_kind, "store".to_string())]);
    assert_eq!(shared.references.readers("default", "Secret/store-token"), vec![(kind.key_kind, "store".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_observe_only_object_keeps_the_remote_object() {
    let (origin, _sandbox, _task) = sandbox().await;
    let id = made_in_the_dashboard(&origin, "Welcome DM");
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let mut object = sequence(json!({"deletionTimestamp": "2026-11-23T10:00:00Z"}), json!({"externalId": id}));
    object.data["spec"]["managementPolicy"] = json!("ObserveOnly");
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    let event = api.expect("POST", EVENTS, json!({})).await;
    let patch = api.expect("PATCH", OBJECT, json!({})).await;
    task.await.expect("ran").expect("succeeded");
    assert_eq!(event["reason"], "Orphaned");
    assert_eq!(patch["metadata"]["finalizers"], json!([]));
    assert_eq!(remote(&origin).len(), 1, "an observed object was never seqops's to delete");
    api.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_a_limit_gets_a_condition_naming_it_and_nothing_is_sent() {
    let (origin, sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &origin);
    let mut object = sequence(json!({}), json!({}));
    object.data["spec"]["name"] = json!("x".repeat(70_000));
    let task = tokio::spawn(reconcile(Arc::new(object), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    api.expect("GET", PROVIDERS, providers()).await;
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    api.expect("POST", EVENTS, json!({})).await;
    task.await.expect("ran").expect_err("the reconcile fails");
    let message = condition(&status, "Synced")["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("spec.name: 70000 characters, more than the 65536 allowed"), "{message}");
    assert_eq!(orsay_requests(&sandbox), 0, "nothing was sent for it");
}

/// What one failing reconcile did: its error, the status it wrote last,
/// the Event it recorded, and when the object comes back.
struct Failed {
    error: seqops::controller::ReconcileError,
    synced: Value,
    event: Option<Value>,
    requeue: Action,
    metrics: String,
}

/// Reconciles a new Sequence against the sandbox `faults` makes, answering
/// the API server's requests by `answer` (method, path → status code, body)
/// until the reconcile ends.
async fn failing_reconcile(faults: &str, answer: impl Fn(&str, &str) -> (u16, Value)) -> Failed {
    let faults = seqops::sandbox::faults::Faults::parse(faults).expect("a fault spec");
    let emulators = seqops::providers::emulators(EmulatorConfig::default());
    let sandbox = Sandbox::with_faults(emulators, None, Some(faults)).expect("a sandbox");
    let (addr, _serving) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let context = context(Client::new(service, "default"), &format!("http://{addr}"));
    let object = Arc::new(sequence(json!({}), json!({})));
    let mut task = tokio::spawn(reconcile(object.clone(), context.clone()));
    let mut requests = Vec::new();
    let result = loop {
        tokio::select! {
            done = &mut task => break done.expect("the reconcile ran"),
            next = handle.next_request() => {
                let Some((request, send)) = next else { break (&mut task).await.expect("the reconcile ran") };
                let (method, path) = (request.method().to_string(), request.uri().path().to_string());
                let bytes = request.into_body().collect_bytes().await.expect("a body");
                requests.push((method.clone(), path.clone(), serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
                let (code, body) = answer(&method, &path);
                let body = Body::from(serde_json::to_vec(&body).expect("json"));
                send.send_response(Response::builder().status(code).body(body).expect("a response"));
            }
        }
    };
    let error = result.expect_err("the reconcile fails");
    let last_status = requests.iter().rev().find(|(m, p, _)| m == "PATCH" && p.ends_with("/status")).expect("a status");
    let event = requests.iter().find(|(m, p, _)| m == "POST" && p == EVENTS).map(|(_, _, body)| body.clone());
    let requeue = error_policy(object, &error, context.clone());
    Failed {
        synced: condition(&last_status.2, "Synced"),
        error,
        event,
        requeue,
        metrics: context.shared.metrics.render(),
    }
}

/// The API server of a namespace with the Orsay Provider and its key.
fn cluster(method: &str, path: &str) -> (u16, Value) {
    match (method, path) {
        ("GET", PROVIDERS) => (200, providers()),
        ("GET", SECRET) => (200, secret()),
        _ => (200, json!({})),
    }
}

/// An answer of the API server's to a request it refuses.
fn api_status(code: u16, reason: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code}),
    )
}

impl Failed {
    /// The condition reason, the Event's, and the metric counted.
    fn assert_reported_as(&self, reason: &str, label: &str) {
        assert_eq!((self.synced["status"].clone(), self.synced["reason"].clone()), (json!("False"), json!(reason)));
        assert_eq!((self.error.reason(), self.error.metric_label()), (reason, label));
        let event = self.event.clone().expect("a Warning Event");
        assert_eq!((event["type"].clone(), event["reason"].clone()), (json!("Warning"), json!(reason)));
        let counted = format!("seqops_reconcile_errors_total{{kind=\"Sequence\",reason=\"{label}\"}} 1");
        assert!(self.metrics.contains(&counted), "{counted} in:\n{}", self.metrics);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_without_the_provider_is_an_invalid_manifest_backed_off() {
    let empty = json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "ProviderList", "metadata": {}, "items": []});
    let failed = failing_reconcile("", |m, p| if p == PROVIDERS { (200, empty.clone()) } else { cluster(m, p) }).await;
    failed.assert_reported_as("ManifestInvalid", "manifest_invalid");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_secret_without_its_key_is_missing_credentials_backed_off() {
    let without_key = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "orsay-key"}, "data": {}});
    let failed =
        failing_reconcile("", |m, p| if p == SECRET { (200, without_key.clone()) } else { cluster(m, p) }).await;
    failed.assert_reported_as("CredentialsMissing", "credentials_missing");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_vendor_refuses_is_reported_as_refused_credentials() {
    let refused = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "orsay-key"}, "data": {"apiKey": base64_encode("not-a-key")}});
    let failed = failing_reconcile("", |m, p| if p == SECRET { (200, refused.clone()) } else { cluster(m, p) }).await;
    failed.assert_reported_as("CredentialsRefused", "credentials_refused");
    assert!(failed.error.to_string().contains("401"), "{}", failed.error);
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_429_asking_for_two_minutes_requeues_the_object_no_sooner_than_that() {
    let failed = failing_reconcile("orsay=429:120s@100%", cluster).await;
    failed.assert_reported_as("Throttled", "throttled");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(120)), "as long as Retry-After asked, not 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_failing_with_503_is_a_vendor_failure_backed_off() {
    let failed = failing_reconcile("orsay=503@100%", cluster).await;
    failed.assert_reported_as("VendorFailed", "vendor_failed");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_the_vendor_refuses_with_400_is_a_vendor_rejection() {
    let failed = failing_reconcile("orsay:POST=echo@100%", cluster).await;
    failed.assert_reported_as("VendorRejected", "vendor_rejected");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
    assert!(!failed.synced.to_string().contains(KEY), "the echoed key stays out of status: {}", failed.synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_written_from_a_stale_copy_is_a_status_conflict() {
    let (origin, _sandbox, _task) = sandbox().await;
    let object = created_sequence(&origin).await;
    let (task, mut api) = reconcile_sequence(&object, &origin).await;
    let (request, send) = api.handle.next_request().await.expect("the status patch");
    assert_eq!((request.method().as_str(), request.uri().path()), ("PATCH", format!("{OBJECT}/status").as_str()));
    let (code, body) = api_status(409, "Conflict");
    let body = Body::from(serde_json::to_vec(&body).expect("json"));
    send.send_response(Response::builder().status(code).body(body).expect("a response"));
    let status = api.expect("PATCH", &format!("{OBJECT}/status"), json!({})).await;
    let event = api.expect("POST", EVENTS, json!({})).await;
    let error = task.await.expect("ran").expect_err("the reconcile fails");
    assert_eq!((error.reason(), error.metric_label()), ("StatusConflict", "status_conflict"));
    assert_eq!(condition(&status, "Synced")["reason"], "StatusConflict");
    assert_eq!(event["reason"], "StatusConflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_failing_is_an_api_server_error() {
    let failed =
        failing_reconcile("", |m, p| if p == PROVIDERS { api_status(500, "InternalError") } else { cluster(m, p) })
            .await;
    failed.assert_reported_as("ApiServerError", "api_server");
    assert_eq!(failed.requeue, Action::requeue(Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_secret_names_are_not_waited_for_in_the_cluster() {
    let (origin, _sandbox, _task) = sandbox().await;
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let shared = Arc::new(Shared::new(Client::new(service, "default"), Some(origin.clone())));
    let kind = shared.kinds.iter().find(|k| k.kind == "Service").copied().expect("Service");
    let context = Arc::new(Context::new(shared, kind));
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "orchagent.seqops.dev/v1alpha1", "kind": "Service",
        "metadata": {"name": "followup", "namespace": "default", "uid": "uid-3", "finalizers": ["seqops.dev/finalizer"], "generation": 1},
        "spec": {"name": "followup", "workspaceRef": {"name": "outreach"}, "agentRef": {"name": "writer"},
            "secretNames": ["ANTHROPIC_API_KEY"]},
    }))
    .expect("a Service");
    let task = tokio::spawn(reconcile(Arc::new(object.clone()), context));
    let mut api = Scenario { handle, bodies: Vec::new() };
    let providers = json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "ProviderList", "metadata": {}, "items": [{
        "apiVersion": "seqops.dev/v1alpha1", "kind": "Provider", "metadata": {"name": "orchagent", "namespace": "default"},
        "spec": {"type": "orchagent", "credentials": {"secretRef": {"name": "orchagent-key", "key": "key"}}},
    }]});
    api.expect("GET", PROVIDERS, providers).await;
    let workspace = json!({"apiVersion": "orchagent.seqops.dev/v1alpha1", "kind": "Workspace",
        "metadata": {"name": "outreach", "namespace": "default"}, "spec": {"name": "Outreach", "slug": "outreach"}});
    api.expect("GET", "/apis/orchagent.seqops.dev/v1alpha1/namespaces/default/workspaces/outreach", workspace).await;
    let agent = json!({"apiVersion": "orchagent.seqops.dev/v1alpha1", "kind": "Agent", "metadata": {"name": "writer", "namespace": "default"},
        "spec": {"name": "writer", "version": "v1", "type": "agent"}});
    api.expect("GET", "/apis/orchagent.seqops.dev/v1alpha1/namespaces/default/agents/writer", agent).await;
    // No GET of a WorkspaceSecret named ANTHROPIC_API_KEY: the next request
    // is the status, waiting for the workspace's id.
    let status = api
        .expect(
            "PATCH",
            "/apis/orchagent.seqops.dev/v1alpha1/namespaces/default/services/followup/status",
            serde_json::to_value(&object).expect("json"),
        )
        .await;
    task.await.expect("ran").expect("succeeded");
    let synced = condition(&status, "Synced");
    assert_eq!(synced["reason"], "ReferenceNotReady", "{status}");
    assert!(synced["message"].as_str().is_some_and(|m| !m.contains("WorkspaceSecret")), "{synced}");
}
