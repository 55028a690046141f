//! The sandbox: every provider's emulator behind one loopback server, each
//! under its own path prefix, with request counts for tests and benchmarks,
//! and the faults a run asks for ([`faults`]).

pub mod clock;
pub mod faults;

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

pub use clock::SandboxClock;
use faults::Faults;

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
    /// The vendors' time, shared by every emulator made from this config
    /// (and its clones): moved forward with `seqops sandbox clock advance`.
    pub clock: SandboxClock,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            requests_per_hour: 200,
            window: Duration::from_secs(3600),
            latency: Duration::ZERO,
            clock: SandboxClock::default(),
        }
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
    /// The clock its vendor's time runs on, if it keeps time.
    fn clock(&self) -> Option<&SandboxClock> {
        None
    }
}

/// The objects emulators hold, by `emulator collection` (`orchagent
/// schedules`): each JSON object with an `id`, or a stored `digest` (as
/// secrets are kept), counted under the nearest field above it that
/// holds a list, or else the nearest lowercase field name (objects inside
/// objects count too: a Topo workspace's runs). After a run
/// through faults, these counts show whether anything was made twice.
pub fn inventory(snapshot: &BTreeMap<&str, Value>) -> BTreeMap<String, usize> {
    fn walk(
        value: &Value,
        list: Option<&str>,
        field: Option<&str>,
        emulator: &str,
        counts: &mut BTreeMap<String, usize>,
    ) {
        match value {
            Value::Object(map) => {
                if map.contains_key("id") || map.contains_key("digest") {
                    let collection = list.or(field).unwrap_or("objects");
                    *counts.entry(format!("{emulator} {collection}")).or_default() += 1;
                }
                for (key, inner) in map {
                    let named = key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                    let list = if inner.is_array() { Some(key.as_str()) } else { list };
                    walk(inner, list, if named { Some(key) } else { field }, emulator, counts);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, list, field, emulator, counts)),
            _ => {}
        }
    }
    let mut counts = BTreeMap::new();
    for (emulator, data) in snapshot {
        walk(data, None, None, emulator, &mut counts);
    }
    counts
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    Some(headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.trim())
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
    /// Of those, the requests that may change something (not a GET).
    writes: Mutex<BTreeMap<&'static str, u64>>,
    data_file: Option<PathBuf>,
    /// Held from a snapshot to its write: two changes saved at once must
    /// not let the older snapshot be written last.
    saving: Mutex<()>,
    faults: Option<Arc<Faults>>,
}

impl Sandbox {
    /// Serves `emulators` (every provider's: `providers::emulators`); with a
    /// data file, their data is loaded from it and saved to it after every
    /// change.
    pub fn new(emulators: Vec<Arc<dyn Emulator>>, data_file: Option<PathBuf>) -> Result<Arc<Self>, SandboxError> {
        Self::with_faults(emulators, data_file, None)
    }

    /// As [`Sandbox::new`], making the faults `faults` asks for.
    pub fn with_faults(
        emulators: Vec<Arc<dyn Emulator>>,
        data_file: Option<PathBuf>,
        faults: Option<Faults>,
    ) -> Result<Arc<Self>, SandboxError> {
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
        let counts: BTreeMap<&'static str, u64> = emulators.iter().map(|e| (e.id(), 0)).collect();
        let faults = faults.map(Arc::new);
        let writes = Mutex::new(counts.clone());
        Ok(Arc::new(Self { emulators, counts: Mutex::new(counts), writes, data_file, saving: Mutex::new(()), faults }))
    }

    pub fn router(self: &Arc<Self>) -> Router {
        let sandbox = self.clone();
        let (made, held, read, moved, written) = (self.clone(), self.clone(), self.clone(), self.clone(), self.clone());
        let mut router = Router::new()
            .route("/_sandbox/requests", get(move || async move { Json(sandbox.request_counts()) }))
            .route("/_sandbox/writes", get(move || async move { Json(written.write_counts()) }))
            .route("/_sandbox/faults", get(move || async move { Json(made.faults_made()) }))
            .route("/_sandbox/objects", get(move || async move { Json(inventory(&held.snapshot())) }))
            .route(
                "/_sandbox/clock",
                get(move || async move { Json(read.clock_reading()) })
                    .post(move |body: Json<clock::Advance>| async move { moved.advance_clock(&body.advance) }),
            );
        for emulator in &self.emulators {
            let sandbox = self.clone();
            let id = emulator.id();
            let mut served = emulator.clone().router();
            if let Some(faults) = &self.faults {
                let faults = faults.clone();
                served = served.layer(middleware::from_fn(move |request: Request, next: Next| {
                    faults.clone().around(id, request, next)
                }));
            }
            let counted = served.layer(middleware::from_fn(move |request: Request, next: Next| {
                let sandbox = sandbox.clone();
                async move {
                    let changes = request.method() != Method::GET;
                    sandbox.count(id, changes);
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

    /// Faults made so far, by emulator and mode (`orchagent dropped`).
    pub fn faults_made(&self) -> BTreeMap<String, u64> {
        self.faults.as_ref().map(|f| f.made()).unwrap_or_default()
    }

    /// The emulators' clocks, each once.
    fn clocks(&self) -> Vec<&SandboxClock> {
        let mut clocks: Vec<&SandboxClock> = Vec::new();
        for clock in self.emulators.iter().filter_map(|e| e.clock()) {
            if !clocks.iter().any(|c| c.same_as(clock)) {
                clocks.push(clock);
            }
        }
        clocks
    }

    /// The sandbox's time, as the emulators keep it.
    pub fn clock_reading(&self) -> clock::ClockReading {
        let clocks = self.clocks();
        let ahead = clocks.iter().map(|c| c.ahead()).max().unwrap_or_default();
        let clock = clocks.iter().max_by_key(|c| c.ahead()).copied().cloned().unwrap_or_default();
        clock::ClockReading { now: clock.now_rfc3339(), ahead_seconds: ahead.as_secs() }
    }

    /// Moves every emulator's time forward by `by` (`3d`); the answer is the
    /// clock after, or why `by` is not a duration.
    fn advance_clock(&self, by: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        match clock::parse_advance(by) {
            Ok(duration) => {
                for clock in self.clocks() {
                    clock.advance(duration);
                }
                tracing::info!("the sandbox's clock moved forward by {by}");
                Json(self.clock_reading()).into_response()
            }
            Err(message) => {
                let body = serde_json::json!({"error": message});
                (axum::http::StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }

    fn count(&self, id: &'static str, write: bool) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default() += 1;
        if write {
            *self.writes.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default() += 1;
        }
    }

    /// Requests that may change something (all but GET) each emulator has
    /// served, by provider id.
    pub fn write_counts(&self) -> BTreeMap<&'static str, u64> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
