//! A Kubernetes API server over loopback HTTP that holds objects in memory
//! and answers reads, with a kubeconfig that points at it; every request is
//! kept for assertions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

type Objects = Arc<Mutex<BTreeMap<String, Value>>>;

pub struct FakeCluster {
    pub origin: String,
    objects: Objects,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeCluster {
    pub fn start() -> FakeCluster {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        let objects: Objects = Arc::default();
        let requests: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (held, seen) = (objects.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, _body: Bytes| {
            let (held, seen) = (held.clone(), seen.clone());
            async move {
                seen.lock().expect("the log").push((method.to_string(), uri.path().to_string()));
                let found = held.lock().expect("the objects").get(uri.path()).cloned();
                match (method, found) {
                    (Method::GET, Some(object)) => (StatusCode::OK, Json(object)).into_response(),
                    (Method::GET, None) => (StatusCode::NOT_FOUND, Json(status(404, "NotFound"))).into_response(),
                    _ => (StatusCode::METHOD_NOT_ALLOWED, Json(status(405, "MethodNotAllowed"))).into_response(),
                }
            }
        });
        let listener =
            runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("the fake API server listens");
        let origin = format!("http://{}", listener.local_addr().expect("an address"));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCluster { origin, objects, requests, _runtime: runtime }
    }

    /// Holds `object` at its API path (namespaced objects and Secrets).
    pub fn put(&self, object: Value) {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let base = if api_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{api_version}") };
        let path = format!("{base}/namespaces/{namespace}/{kind}s/{name}");
        self.objects.lock().expect("the objects").insert(path, object);
    }

    /// Every request served: (method, path).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().expect("the log").clone()
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
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code, "message": reason})
}

/// A Secret with one key, its value base64-encoded as the API holds it.
pub fn secret(namespace: &str, name: &str, key: &str, value: &str) -> Value {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": {key: encoded}})
}
