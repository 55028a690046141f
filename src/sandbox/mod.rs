//! The sandbox: every provider's emulator behind one loopback server, each
//! under its own path prefix, with request counts for tests and benchmarks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

/// How an emulator behaves, the same for all of them.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Requests each organization may make per `window`; 0 for no limit.
    pub requests_per_hour: u32,
    /// The window of the limit: an hour, as the vendors count, unless a test
    /// needs it shorter.
    pub window: Duration,
    /// Added to every answer after its work is done.
    pub latency: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self { requests_per_hour: 200, window: Duration::from_secs(3600), latency: Duration::ZERO }
    }
}

/// One provider's emulator.
pub trait Emulator: Send + Sync {
    /// The provider id, e.g. `orsay`.
    fn id(&self) -> &'static str;
    /// Where its API answers, e.g. `/orsay/api/v1`.
    fn base_path(&self) -> &'static str;
    fn router(self: Arc<Self>) -> Router;
    /// Its data, to keep in the sandbox's file.
    fn snapshot(&self) -> Value;
    fn restore(&self, snapshot: Value) -> Result<(), String>;
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    Some(headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?.trim())
}

/// A hex SHA-256 of a value, 32 characters long: how emulators keep keys
/// and secrets they never need to give back.
pub fn digest(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// An emulator's data as JSON, for [`Emulator::snapshot`].
pub fn snapshot_of<T: serde::Serialize>(data: &Mutex<T>) -> Value {
    let data = data.lock().unwrap_or_else(|e| e.into_inner());
    serde_json::to_value(&*data).unwrap_or(Value::Null)
}

/// Replaces an emulator's data with a snapshot, for [`Emulator::restore`].
pub fn restore_into<T: serde::de::DeserializeOwned>(data: &Mutex<T>, snapshot: Value) -> Result<(), String> {
    let restored: T = serde_json::from_value(snapshot).map_err(|e| e.to_string())?;
    *data.lock().unwrap_or_else(|e| e.into_inner()) = restored;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read the sandbox data in {path}: {reason}")]
    Data { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

pub struct Sandbox {
    emulators: Vec<Arc<dyn Emulator>>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    data_file: Option<PathBuf>,
    /// Held from a snapshot to its write: two changes saved at once must
    /// not let the older snapshot be written last.
    saving: Mutex<()>,
}

impl Sandbox {
    /// Serves `emulators` (every provider's: `providers::emulators`); with a
    /// data file, their data is loaded from it and saved to it after every
    /// change.
    pub fn new(emulators: Vec<Arc<dyn Emulator>>, data_file: Option<PathBuf>) -> Result<Arc<Self>, SandboxError> {
        if let Some(path) = &data_file {
            if let Ok(bytes) = std::fs::read(path) {
                let error = |reason: String| SandboxError::Data { path: path.clone(), reason };
                let mut saved: BTreeMap<String, Value> =
                    serde_json::from_slice(&bytes).map_err(|e| error(e.to_string()))?;
                for emulator in &emulators {
                    if let Some(snapshot) = saved.remove(emulator.id()) {
                        emulator.restore(snapshot).map_err(error)?;
                    }
                }
            }
        }
        let counts = emulators.iter().map(|e| (e.id(), 0)).collect();
        Ok(Arc::new(Self { emulators, counts: Mutex::new(counts), data_file, saving: Mutex::new(()) }))
    }

    pub fn router(self: &Arc<Self>) -> Router {
        let sandbox = self.clone();
        let mut router =
            Router::new().route("/_sandbox/requests", get(move || async move { Json(sandbox.request_counts()) }));
        for emulator in &self.emulators {
            let sandbox = self.clone();
            let id = emulator.id();
            let counted = emulator.clone().router().layer(middleware::from_fn(move |request: Request, next: Next| {
                let sandbox = sandbox.clone();
                async move {
                    let changes = request.method() != Method::GET;
                    sandbox.count(id);
                    let response = next.run(request).await;
                    if changes {
                        sandbox.save();
                    }
                    response
                }
            }));
            router = router.nest(emulator.base_path(), counted);
        }
        router
    }

    /// Requests each emulator has served, by provider id.
    pub fn request_counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn count(&self, id: &'static str) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default() += 1;
    }

    /// Every emulator's data, by provider id (secret values as digests).
    pub fn snapshot(&self) -> BTreeMap<&'static str, Value> {
        self.emulators.iter().map(|e| (e.id(), e.snapshot())).collect()
    }

    fn save(&self) {
        let Some(path) = &self.data_file else { return };
        let _saving = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.snapshot();
        match serde_json::to_vec(&snapshot) {
            Ok(bytes) => {
                if let Err(error) = crate::files::write_atomically(path, &bytes) {
                    tracing::warn!("cannot save the sandbox data to {}: {error}", path.display());
                }
            }
            Err(error) => tracing::warn!("cannot encode the sandbox data: {error}"),
        }
    }

    /// Listens on `addr` (port 0 for any free port) and serves until the
    /// returned task is dropped or aborted.
    pub async fn serve(
        self: &Arc<Self>,
        addr: &str,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), SandboxError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Listen { addr: addr.to_string(), source })?;
        let local = listener.local_addr().map_err(|source| SandboxError::Listen { addr: addr.to_string(), source })?;
        let router = self.router();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!("sandbox server stopped: {error}");
            }
        });
        Ok((local, task))
    }
}
