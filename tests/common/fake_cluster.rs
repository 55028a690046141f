//! A Kubernetes API server over loopback HTTP, in memory, speaking what
//! seqops and its tests use: get, list and watch (also of metadata only),
//! create, replace with resourceVersion checks, merge patches, server-side
//! apply of status and Secrets, deletes that wait for finalizers, and the
//! generation bumped on spec changes. Any resource path works: CRDs need no
//! installing. A kubeconfig points at it; every request is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// A stored object: (API prefix, plural, namespace, name).
type Key = (String, String, String, String);

#[derive(Clone)]
struct Change {
    version: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Store {
    objects: BTreeMap<Key, Value>,
    version: u64,
    history: Vec<Change>,
    requests: Vec<(String, String)>,
}

struct Shared {
    store: Mutex<Store>,
    changes: broadcast::Sender<Change>,
}

pub struct FakeCluster {
    pub origin: String,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Runtime,
}

/// What a request names: a collection, maybe one object, maybe its status.
struct Target {
    prefix: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

fn parse(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (format!("api/{version}"), rest),
        ["apis", group, version, rest @ ..] => (format!("apis/{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(namespace.to_string()), rest),
        rest => (None, rest),
    };
    let (plural, name, status) = match rest {
        [plural] => (plural, None, false),
        [plural, name] => (plural, Some(name.to_string()), false),
        [plural, name, "status"] => (plural, Some(name.to_string()), true),
        _ => return None,
    };
    Some(Target { prefix, plural: plural.to_string(), namespace, name, status })
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code, "message": message});
    (StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
}

/// RFC 7386: objects merge, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (_, Some(_)) => {
            *target = json!({});
            merge(target, patch);
        }
        _ => *target = patch.clone(),
    }
}

/// A Secret's `stringData` goes to `data`, base64-encoded, as the API does.
fn encode_string_data(object: &mut Value) {
    use base64::Engine;
    let Some(strings) = object.as_object_mut().and_then(|o| o.remove("stringData")) else { return };
    for (key, value) in strings.as_object().cloned().unwrap_or_default() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap_or_default());
        object["data"][key] = json!(encoded);
    }
}

fn header_has(headers: &HeaderMap, name: &str, needle: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(needle))
}

/// Whether a write names a resourceVersion other than the object's.
fn stale(body: &Value, current: &Value) -> bool {
    let asked = body["metadata"]["resourceVersion"].as_str();
    asked.is_some_and(|v| Some(v) != current["metadata"]["resourceVersion"].as_str())
}

/// What a metadata-only request sees of an object.
fn metadata_only(object: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": object["metadata"]})
}

impl Shared {
    fn record(&self, store: &mut Store, key: Key, kind: &'static str, object: Value) {
        let change = Change { version: store.version, key, kind, object };
        store.history.push(change.clone());
        let _ = self.changes.send(change);
    }

    /// Stamps a new resourceVersion on `object` and keeps it (or removes
    /// it once deleted with no finalizers left).
    fn commit(&self, store: &mut Store, key: Key, mut object: Value, kind: &'static str) -> Value {
        store.version += 1;
        object["metadata"]["resourceVersion"] = json!(store.version.to_string());
        let finalizers = object["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if kind == "DELETED" || (object["metadata"]["deletionTimestamp"].is_string() && !finalizers) {
            store.objects.remove(&key);
            self.record(store, key, "DELETED", object.clone());
        } else {
            store.objects.insert(key.clone(), object.clone());
            self.record(store, key, kind, object.clone());
        }
        object
    }

    // One arm per verb and path the Kubernetes API serves.
    #[allow(clippy::too_many_lines)]
    fn handle(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let Some(target) = parse(uri.path()) else { return status(404, "NotFound", "no such path") };
        let metadata = header_has(headers, "accept", "as=PartialObjectMetadata");
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.requests.push((method.to_string(), uri.path().to_string()));
        let namespace = target.namespace.clone().unwrap_or_default();
        let Some(name) = target.name.clone().or_else(|| body["metadata"]["name"].as_str().map(String::from)) else {
            if *method != Method::GET {
                return status(400, "BadRequest", "no name");
            }
            let items: Vec<Value> = store
                .objects
                .iter()
                .filter(|((prefix, plural, ns, _), _)| {
                    *prefix == target.prefix
                        && *plural == target.plural
                        && target.namespace.as_ref().is_none_or(|n| n == ns)
                })
                .map(|(_, o)| if metadata { metadata_only(o) } else { o.clone() })
                .collect();
            let version = store.version.to_string();
            return Json(
                json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": version}, "items": items}),
            )
            .into_response();
        };
        let key: Key = (target.prefix.clone(), target.plural.clone(), namespace.clone(), name.clone());
        let current = store.objects.get(&key).cloned();
        match (method.as_str(), current) {
            ("GET", Some(object)) => Json(if metadata { metadata_only(&object) } else { object }).into_response(),
            ("GET", None) | ("PUT", None) | ("DELETE", None) => status(404, "NotFound", &format!("{name} not found")),
            ("POST", Some(_)) => status(409, "AlreadyExists", &format!("{name} already exists")),
            ("POST", None) => {
                let mut object = body;
                encode_string_data(&mut object);
                object["metadata"]["namespace"] = json!(namespace);
                object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
                object["metadata"]["generation"] = json!(1);
                object["metadata"]["creationTimestamp"] = json!("2026-11-23T00:00:00Z");
                let object = self.commit(&mut store, key, object, "ADDED");
                (StatusCode::CREATED, Json(object)).into_response()
            }
            ("PUT", Some(old)) => {
                if stale(&body, &old) {
                    return status(409, "Conflict", "the object has been modified");
                }
                let mut object = body;
                self.keep_server_fields(&old, &mut object, target.status);
                Json(self.commit(&mut store, key, object, "MODIFIED")).into_response()
            }
            ("PATCH", current) => {
                let apply = header_has(headers, "content-type", "apply-patch");
                // Server-side apply creates a missing object, never a
                // missing object's status.
                let creates = apply && !target.status;
                let Some(old) = current.or_else(|| creates.then(|| json!({"metadata": {"name": name}}))) else {
                    return status(404, "NotFound", &format!("{name} not found"));
                };
                if stale(&body, &old) {
                    return status(409, "Conflict", "the object has been modified");
                }
                let mut object = old.clone();
                let mut patch = body;
                if let Some(map) = patch.as_object_mut() {
                    map.remove("apiVersion");
                    map.remove("kind");
                    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.remove("resourceVersion");
                    }
                }
                if target.status {
                    // A status apply from the one field manager: its status.
                    object["status"] = patch["status"].take();
                } else {
                    encode_string_data(&mut patch);
                    merge(&mut object, &patch);
                    if old.get("apiVersion").is_none() {
                        object["metadata"]["namespace"] = json!(namespace);
                        object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
                    }
                }
                self.keep_server_fields(&old, &mut object, target.status);
                let kind = if old.get("apiVersion").is_none() { "ADDED" } else { "MODIFIED" };
                Json(self.commit(&mut store, key, object, kind)).into_response()
            }
            ("DELETE", Some(mut object)) => {
                let finalizers = object["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
                if finalizers {
                    object["metadata"]["deletionTimestamp"] = json!("2026-11-23T00:00:00Z");
                    Json(self.commit(&mut store, key, object, "MODIFIED")).into_response()
                } else {
                    Json(self.commit(&mut store, key, object, "DELETED")).into_response()
                }
            }
            _ => status(405, "MethodNotAllowed", "not supported by the fake API server"),
        }
    }

    /// What a client cannot change: identity, and a status or spec the
    /// request was not for; the generation follows the spec.
    fn keep_server_fields(&self, old: &Value, object: &mut Value, status_only: bool) {
        for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp"] {
            if let Some(value) = old["metadata"].get(field) {
                object["metadata"][field] = value.clone();
            }
        }
        if status_only {
            let status = object["status"].take();
            *object = old.clone();
            object["status"] = status;
        } else if let Some(status) = old.get("status") {
            object["status"] = status.clone();
        }
        let generation = old["metadata"]["generation"].as_u64().unwrap_or(1);
        let bumped = if old.get("spec") != object.get("spec") { generation + 1 } else { generation };
        object["metadata"]["generation"] = json!(bumped);
    }

    /// The changes a watch from `version` on a collection sees, then the
    /// live ones.
    fn watch(self: &Arc<Self>, path: &str, target: Target, version: u64, metadata: bool) -> Body {
        let (replay, live) = {
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store.requests.push(("WATCH".into(), path.to_string()));
            let replay: Vec<Change> = store.history.iter().filter(|c| c.version > version).cloned().collect();
            (replay, self.changes.subscribe())
        };
        let wanted = move |change: &Change| {
            let (prefix, plural, ns, _) = &change.key;
            *prefix == target.prefix && *plural == target.plural && target.namespace.as_ref().is_none_or(|n| n == ns)
        };
        let line = move |change: Change| {
            let object = if metadata { metadata_only(&change.object) } else { change.object };
            let mut text = json!({"type": change.kind, "object": object}).to_string();
            text.push('\n');
            Ok::<Bytes, std::io::Error>(Bytes::from(text))
        };
        let wanted_replay = wanted.clone();
        let first = futures::stream::iter(replay.into_iter().filter(move |c| wanted_replay(c)).map(line));
        let rest = futures::stream::unfold(live, move |mut live| {
            let wanted = wanted.clone();
            async move {
                loop {
                    match live.recv().await {
                        Ok(change) if change.version > version && wanted(&change) => return Some((change, live)),
                        Ok(_) => continue,
                        // Like a real server's 410, the watcher must list again.
                        Err(_) => return None,
                    }
                }
            }
        });
        use futures::StreamExt;
        Body::from_stream(first.chain(rest.map(line)))
    }
}

impl FakeCluster {
    pub fn start() -> FakeCluster {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let (changes, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared { store: Mutex::default(), changes });
        let served = shared.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = served.clone();
            async move {
                let query = uri.query().unwrap_or_default().to_string();
                let watching = query.split('&').any(|p| p == "watch=true" || p == "watch=1");
                if method == Method::GET && watching {
                    let Some(target) = parse(uri.path()) else { return status(404, "NotFound", "no such path") };
                    let version = query
                        .split('&')
                        .find_map(|p| p.strip_prefix("resourceVersion="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let metadata = header_has(&headers, "accept", "as=PartialObjectMetadata");
                    return Response::new(shared.watch(uri.path(), target, version, metadata));
                }
                shared.handle(&method, &uri, &headers, &body)
            }
        });
        let listener =
            runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("the fake API server listens");
        let origin = format!("http://{}", listener.local_addr().expect("an address"));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCluster { origin, shared, runtime }
    }

    /// Holds `object` as if created through the API (namespaced objects and
    /// Secrets), whatever it says of its status.
    pub fn put(&self, object: Value) {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let prefix = if api_version == "v1" { "api/v1".to_string() } else { format!("apis/{api_version}") };
        let mut store = self.shared.store.lock().unwrap_or_else(|e| e.into_inner());
        let mut object = object;
        object["metadata"]["generation"] = json!(1);
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        }
        self.shared.commit(&mut store, (prefix, format!("{kind}s"), namespace, name), object, "ADDED");
    }

    /// The object at an API path, as the server holds it.
    pub fn get(&self, path: &str) -> Option<Value> {
        let target = parse(path)?;
        let key = (target.prefix, target.plural, target.namespace.unwrap_or_default(), target.name?);
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner()).objects.get(&key).cloned()
    }

    /// Every request served: (method, path); watches are `WATCH`.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// A kubeconfig for this server whose context's namespace is `namespace`.
    pub fn kubeconfig(&self, dir: &Path, namespace: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: {namespace}\ncurrent-context: fake\n",
            self.origin
        );
        std::fs::write(&path, text).expect("the kubeconfig is written");
        path
    }

    /// The runtime the server runs on, for tests that talk to it with a
    /// kube client.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// An Orsay Provider reading its key from the Secret `orsay-key`, paced to
/// `requests_per_hour` (0: pacing off).
pub fn orsay_provider(namespace: &str, requests_per_hour: u32) -> Value {
    json!({
        "apiVersion": "seqops.dev/v1alpha1", "kind": "Provider",
        "metadata": {"name": "orsay", "namespace": namespace},
        "spec": {
            "type": "orsay",
            "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}},
            "rateLimit": {"requests": requests_per_hour},
        },
    })
}

/// The `n`th of many Sequences, `s{n}`, named "{title} {n}".
pub fn numbered_sequence(namespace: &str, n: usize, title: &str) -> Value {
    json!({
        "apiVersion": "orsay.seqops.dev/v1alpha1", "kind": "Sequence",
        "metadata": {"name": format!("s{n}"), "namespace": namespace},
        "spec": {"name": format!("{title} {n}"), "trigger": "WHATSAPP_MESSAGE"},
    })
}

/// The API path of [`numbered_sequence`] `n`.
pub fn numbered_sequence_path(namespace: &str, n: usize) -> String {
    format!("/apis/orsay.seqops.dev/v1alpha1/namespaces/{namespace}/sequences/s{n}")
}

impl FakeCluster {
    /// The condition of `kind` the object at `path` reports, if any.
    pub fn condition(&self, path: &str, kind: &str) -> Option<Value> {
        let object = self.get(path)?;
        object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind).cloned()
    }
}

/// A Secret with one key, its value base64-encoded as the API holds it.
pub fn secret(namespace: &str, name: &str, key: &str, value: &str) -> Value {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": {key: encoded}})
}
