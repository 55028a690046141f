//! `--state k8s://NAMESPACE/NAME`: state kept in a Kubernetes Secret (it
//! holds ids and salted digests of secret values), locked by a Lease named
//! `NAME-lock`, so that CI jobs and people share one state and one lock
//! with nothing but a cluster they can already reach.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams};

use crate::controller::leader::{Attempt, LeaseLock};
use crate::engine::state::{LockHolder, RemoteState, StateError};

/// The Secret's key that holds the state document.
const KEY: &str = "state.json";
/// The key that holds it gzipped, once it is larger than [`COMPRESS_ABOVE`].
const GZIP_KEY: &str = "state.json.gz";
/// State larger than this is stored gzipped (a state of 10,000 sequences
/// is about 27 MB of JSON and 1.5 MB gzipped; 1,000 fit easily).
const COMPRESS_ABOVE: usize = 256 << 10;
/// What a Secret's data may hold: the API server refuses more than 1 MiB,
/// and its keys and metadata take a little.
const SECRET_LIMIT: usize = (1 << 20) - (8 << 10);
/// Each remote change is appended under its own key beside the state,
/// `journal.0000000042`, by a merge patch that sends that record alone.
const JOURNAL_PREFIX: &str = "journal.";
/// The journal is folded into the state once it is larger than this or
/// than the state as stored, whichever is larger, and before a record
/// would take the Secret past what it holds.
const JOURNAL_MIN_COMPACTION: usize = 64 << 10;
/// A lock not renewed for this long (its holder died) may be taken.
const LOCK_DURATION: Duration = Duration::from_secs(60);
/// A holder that could not renew its lock for this long stops writing:
/// well before the lock may be taken by another.
const RENEW_DEADLINE: Duration = Duration::from_secs(40);
/// How often the lock is renewed (and found held by another).
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// The longest one call to the cluster may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `k8s://NAMESPACE/NAME` as (namespace, name).
pub fn parse(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("k8s://")?;
    let (namespace, name) = rest.split_once('/')?;
    let valid = |part: &str| !part.is_empty() && !part.contains('/');
    (valid(namespace) && valid(name)).then(|| (namespace.to_string(), name.to_string()))
}

pub struct KubeState {
    namespace: String,
    name: String,
    secrets: Api<Secret>,
    lock: Option<Arc<LeaseLock>>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    /// Why this state may no longer be written: its lock is another's or
    /// could not be renewed in time, or someone else wrote the state.
    fence: Fence,
    /// The Secret's resourceVersion as last read or written: each write is
    /// made on condition that it is still the one there.
    version: std::sync::Mutex<Option<String>>,
    journal: std::sync::Mutex<Journal>,
}

/// The journal the Secret holds beside the state, as last read or written.
#[derive(Default)]
struct Journal {
    /// Its keys, oldest first.
    keys: Vec<String>,
    /// Its records as `load` found them, until `journal` takes them.
    records: Vec<Vec<u8>>,
    bytes: usize,
    /// The size of the state as stored.
    stored: usize,
    next: u64,
}

impl Journal {
    /// What the Secret's `data` holds of state and journal.
    fn read(data: &BTreeMap<String, ByteString>) -> Self {
        let entries: Vec<(&String, &ByteString)> =
            data.iter().filter(|(key, _)| key.starts_with(JOURNAL_PREFIX)).collect();
        let next = entries
            .last()
            .and_then(|(key, _)| key[JOURNAL_PREFIX.len()..].parse::<u64>().ok())
            .map_or(1, |last| last + 1);
        Self {
            keys: entries.iter().map(|(key, _)| key.to_string()).collect(),
            bytes: entries.iter().map(|(_, value)| value.0.len()).sum(),
            records: entries.into_iter().map(|(_, value)| value.0.clone()).collect(),
            stored: [KEY, GZIP_KEY].iter().filter_map(|key| data.get(*key)).map(|v| v.0.len()).sum(),
            next,
        }
    }

    /// Whether `record` may be appended, or the state should be folded
    /// and written whole first.
    fn has_room_for(&self, record: &[u8]) -> bool {
        let grown = self.bytes + record.len();
        grown <= self.stored.max(JOURNAL_MIN_COMPACTION) && self.stored + grown <= SECRET_LIMIT
    }
}

/// Set once, and then kept: the first reason to stop writing.
#[derive(Clone, Default)]
struct Fence(Arc<std::sync::Mutex<Option<String>>>);

impl Fence {
    fn close(&self, why: String) {
        let mut reason = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if reason.is_none() {
            tracing::error!("{why}");
            *reason = Some(why);
        }
    }

    fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl KubeState {
    /// Opens the state; with `command`, takes its lock first, waiting up to
    /// `wait` for whoever holds it, and keeps it renewed until dropped.
    pub async fn open(
        client: kube::Client,
        namespace: &str,
        name: &str,
        command: Option<&str>,
        wait: Duration,
    ) -> Result<Self, StateError> {
        let label = format!("k8s://{namespace}/{name}");
        let failed = |reason: String| StateError::Remote { path: label.clone().into(), reason };
        let secrets = Api::namespaced(client.clone(), namespace);
        let mut state = Self {
            namespace: namespace.into(),
            name: name.into(),
            secrets,
            lock: None,
            renewal: None,
            fence: Fence::default(),
            version: std::sync::Mutex::new(None),
            journal: std::sync::Mutex::default(),
        };
        let Some(command) = command else { return Ok(state) };
        let identity = LockHolder::current(command).to_string();
        let leases: Api<Lease> = Api::namespaced(client, namespace);
        let lock = Arc::new(LeaseLock::new(leases, format!("{name}-lock"), identity, LOCK_DURATION));
        let started = Instant::now();
        loop {
            let attempt = tokio::time::timeout(CALL_TIMEOUT, lock.try_lead())
                .await
                .map_err(|_| failed(format!("the cluster did not answer within {}s", CALL_TIMEOUT.as_secs())))?;
            match attempt.map_err(|e| failed(format!("cannot take the lock: {e}")))? {
                Attempt::Leading => break,
                Attempt::HeldBy(holder) if started.elapsed() >= wait => {
                    return Err(StateError::Locked { path: label.into(), holder });
                }
                Attempt::HeldBy(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        state.renewal = Some(tokio::spawn(renew(lock.clone(), state.fence.clone(), format!("{label}-lock"))));
        state.lock = Some(lock);
        Ok(state)
    }

    /// Runs a Kubernetes call from the engine's synchronous state calls.
    fn run<T>(&self, call: impl std::future::Future<Output = T>) -> Result<T, String> {
        let handle = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
            .ok_or_else(|| "the cluster is reached from a multi-threaded runtime only".to_string())?;
        Ok(tokio::task::block_in_place(|| handle.block_on(call)))
    }
}

/// Keeps the lock renewed; closes the fence when another holds it, or when
/// it could not be renewed for [`RENEW_DEADLINE`] (it may be another's
/// soon after).
async fn renew(lock: Arc<LeaseLock>, fence: Fence, label: String) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let sent = Instant::now();
        match tokio::time::timeout(CALL_TIMEOUT, lock.try_lead()).await {
            Ok(Ok(Attempt::Leading)) => renewed = sent,
            Ok(Ok(Attempt::HeldBy(holder))) => {
                return fence.close(format!(
                    "the state lock {label} is held by {holder} now: no further change is made, so that two runs never write one state"
                ));
            }
            Ok(Err(error)) if renewed.elapsed() < RENEW_DEADLINE => {
                tracing::warn!("cannot renew the state lock {label}: {error}");
            }
            Err(_) if renewed.elapsed() < RENEW_DEADLINE => tracing::warn!("renewing the state lock {label} timed out"),
            _ => {
                return fence.close(format!(
                    "the state lock {label} could not be renewed for {}s: no further change is made, since another run may take it",
                    RENEW_DEADLINE.as_secs()
                ));
            }
        }
    }
}

impl RemoteState for KubeState {
    fn label(&self) -> String {
        format!("k8s://{}/{}", self.namespace, self.name)
    }

    fn fenced(&self) -> Option<String> {
        self.fence.reason()
    }

    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        let secret = self.call(self.secrets.get_opt(&self.name))?;
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) =
            secret.as_ref().and_then(|s| s.metadata.resource_version.clone());
        let Some(mut data) = secret.and_then(|s| s.data) else { return Ok(None) };
        *self.kept() = Journal::read(&data);
        if let Some(gzipped) = data.remove(GZIP_KEY) {
            warn_when_nearly_full(&self.label(), gzipped.0.len());
            return gunzip(&gzipped.0).map(Some);
        }
        Ok(data.remove(KEY).map(|b| b.0))
    }

    fn save(&self, bytes: &[u8]) -> Result<(), String> {
        let (key, stored) = stored_form(bytes)?;
        let size = stored.len();
        let exists = self.version.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if exists {
            // One write: the state, without the other form's key and
            // without the journal it now holds.
            let mut data = serde_json::Map::new();
            let other = if key == KEY { GZIP_KEY } else { KEY };
            data.insert(other.into(), serde_json::Value::Null);
            for folded in &self.kept().keys {
                data.insert(folded.clone(), serde_json::Value::Null);
            }
            data.insert(key.into(), encoded(stored)?);
            self.merge(data)?;
        } else {
            self.write(key, stored)?;
        }
        let mut journal = self.kept();
        *journal = Journal { stored: size, next: journal.next.max(1), ..Journal::default() };
        Ok(())
    }

    fn journal(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.kept().records)
    }

    fn append(&self, record: &[u8]) -> Result<bool, String> {
        let exists = self.version.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        let (key, room) = {
            let journal = self.kept();
            (format!("{JOURNAL_PREFIX}{:010}", journal.next), journal.has_room_for(record))
        };
        if !exists || !room {
            return Ok(false);
        }
        self.merge(serde_json::Map::from_iter([(key.clone(), encoded(record.to_vec())?)]))?;
        let mut journal = self.kept();
        journal.keys.push(key);
        journal.bytes += record.len();
        journal.next += 1;
        Ok(true)
    }
}

/// Bytes as a Secret's `data` holds them (base64).
fn encoded(bytes: Vec<u8>) -> Result<serde_json::Value, String> {
    serde_json::to_value(ByteString(bytes)).map_err(|e| e.to_string())
}

/// The key and bytes a state document is kept as: gzipped past
/// [`COMPRESS_ABOVE`], refused past what a Secret holds.
fn stored_form(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
    let (key, stored) = if bytes.len() > COMPRESS_ABOVE { (GZIP_KEY, gzip(bytes)?) } else { (KEY, bytes.to_vec()) };
    if stored.len() > SECRET_LIMIT {
        return Err(format!(
            "state is {} KiB even gzipped, more than the 1 MiB a Secret holds, so this change is not recorded there: keep state in a file (--state PATH, on a volume or a git branch) or split the manifests into one state per account, then run again",
            stored.len() >> 10
        ));
    }
    Ok((key, stored))
}

impl KubeState {
    fn kept(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A call to the cluster, within [`CALL_TIMEOUT`].
    fn call<T>(&self, call: impl std::future::Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
        self.run(tokio::time::timeout(CALL_TIMEOUT, call))?
            .map_err(|_| format!("the cluster did not answer within {}s", CALL_TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())
    }

    /// Writes the Secret with `stored` under `key` alone: server-side
    /// apply removes the other key if the last write used it. The write
    /// holds only if the Secret is as this run last saw it; otherwise
    /// someone else wrote it, and nothing more is written.
    fn write(&self, key: &str, stored: Vec<u8>) -> Result<(), String> {
        if let Some(why) = self.fence.reason() {
            return Err(why);
        }
        let version = self.version.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(BTreeMap::from([("app.kubernetes.io/managed-by".into(), "seqops".into())])),
                resource_version: version,
                ..Default::default()
            },
            data: Some(BTreeMap::from([(key.to_string(), ByteString(stored))])),
            ..Default::default()
        };
        let mut value = serde_json::to_value(&secret).map_err(|e| e.to_string())?;
        value["apiVersion"] = "v1".into();
        value["kind"] = "Secret".into();
        let params = PatchParams::apply("seqops").force();
        self.patched(&params, &Patch::Apply(&value))
    }

    /// Changes `data` of the Secret as this run last saw it (a `null`
    /// removes a key), leaving the rest as it is.
    fn merge(&self, data: serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        if let Some(why) = self.fence.reason() {
            return Err(why);
        }
        let version = self.version.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let patch = serde_json::json!({"metadata": {"resourceVersion": version}, "data": data});
        self.patched(&PatchParams::default(), &Patch::Merge(&patch))
    }

    /// Sends a patch made on condition of the resourceVersion it holds:
    /// a conflict means someone else wrote the state, and closes the fence.
    fn patched<P: serde::Serialize + std::fmt::Debug>(
        &self,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<(), String> {
        let written = self.run(tokio::time::timeout(CALL_TIMEOUT, self.secrets.patch(&self.name, params, patch)))?;
        match written {
            Ok(Ok(secret)) => {
                *self.version.lock().unwrap_or_else(|e| e.into_inner()) = secret.metadata.resource_version;
                Ok(())
            }
            Ok(Err(kube::Error::Api(e))) if e.code == 409 => {
                let why = format!(
                    "state {} was written by someone else since this run read it: it is not overwritten, and no further change is made; run again",
                    self.label()
                );
                self.fence.close(why.clone());
                Err(why)
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("the cluster did not answer within {}s", CALL_TIMEOUT.as_secs())),
        }
    }
}

impl Drop for KubeState {
    /// Gives the lock back at once (a holder that dies instead lets it
    /// expire after a minute).
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if let Some(lock) = self.lock.take() {
            if let Err(error) = self.run(lock.release()).and_then(|r| r.map_err(|e| e.to_string())) {
                tracing::warn!("cannot release the state lock: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_addresses_name_a_namespace_and_a_secret() {
        assert_eq!(parse("k8s://team/seqops-state"), Some(("team".into(), "seqops-state".into())));
        assert_eq!(parse("k8s://team"), None);
        assert_eq!(parse("k8s:///x"), None);
        assert_eq!(parse(".seqops/state.json"), None);
    }
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut text).map_err(|e| format!("{GZIP_KEY} is not gzip: {e}"))?;
    Ok(text)
}

/// Says so when state fills three quarters of what a Secret holds, before
/// a write fails.
fn warn_when_nearly_full(label: &str, stored: usize) {
    if stored > SECRET_LIMIT / 4 * 3 {
        eprintln!(
            "warning: state {label} is {} KiB gzipped of the 1 MiB a Secret holds: move it to a file (--state PATH) before it fills",
            stored >> 10
        );
    }
}

#[cfg(test)]
mod stored_form_tests {
    use super::*;

    #[test]
    fn small_state_is_kept_as_it_is_and_large_state_gzipped() {
        let small = br#"{"format_version": 2}"#;
        assert_eq!(stored_form(small).map(|(key, bytes)| (key, bytes.len())), Ok((KEY, small.len())));
        let large = serde_json::to_vec_pretty(&vec![
            serde_json::json!({"name": "Welcome DM", "trigger": "WHATSAPP_MESSAGE"});
            10_000
        ])
        .unwrap_or_default();
        let (key, stored) = stored_form(&large).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key, GZIP_KEY);
        assert!(stored.len() < large.len() / 10, "{} of {}", stored.len(), large.len());
        assert_eq!(gunzip(&stored), Ok(large));
    }

    #[test]
    fn state_a_secret_cannot_hold_is_refused_saying_what_to_do() {
        let noise: Vec<u8> = (0..(2usize << 20)).map(|_| rand::random::<u8>()).collect();
        let refused = stored_form(&noise).err().unwrap_or_default();
        assert!(refused.contains("more than the 1 MiB a Secret holds"), "{refused}");
        assert!(refused.contains("--state PATH"), "{refused}");
    }
}

#[cfg(test)]
mod journal_tests {
    use super::*;

    fn data(entries: &[(&str, usize)]) -> BTreeMap<String, ByteString> {
        entries.iter().map(|(key, size)| (key.to_string(), ByteString(vec![b'x'; *size]))).collect()
    }

    #[test]
    fn the_journal_is_read_in_order_and_appends_after_its_last_record() {
        let journal =
            Journal::read(&data(&[("state.json", 500), ("journal.0000000009", 10), ("journal.0000000010", 20)]));
        assert_eq!(journal.keys, ["journal.0000000009", "journal.0000000010"]);
        assert_eq!((journal.bytes, journal.stored, journal.next), (30, 500, 11));
    }

    #[test]
    fn the_journal_is_folded_once_it_outgrows_the_state_and_before_the_secret_is_full() {
        let small = Journal { stored: 1_000, bytes: JOURNAL_MIN_COMPACTION - 10, ..Journal::default() };
        assert!(small.has_room_for(&[0; 10]));
        assert!(!small.has_room_for(&[0; 11]), "past 64 KiB over a small state");
        let large = Journal { stored: 600 << 10, bytes: 300 << 10, ..Journal::default() };
        assert!(large.has_room_for(&[0; 1024]), "a journal may grow as large as the state");
        let full = Journal { stored: SECRET_LIMIT - (4 << 10), bytes: 0, ..Journal::default() };
        assert!(!full.has_room_for(&[0; 5 << 10]), "but never past what a Secret holds");
    }
}
