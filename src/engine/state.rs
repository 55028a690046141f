//! State: what seqops manages, under which remote id, and what it last
//! applied. Each remote change is appended to a journal beside it as it
//! happens (see [`super::journal`]); the whole document is written
//! atomically when the journal is folded in. Guarded by an exclusive lock.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use crate::clock::now_rfc3339;
use crate::external::digest::Digests;
pub use crate::files::write_atomically;
use crate::manifest::provider::{ProviderSpec, ProviderType, Rate, RateLimit};
use crate::manifest::ResourceKey;

pub use crate::manifest::record::{Entry, Record};

use super::journal::{self, Journal};

/// The state format: 2 keeps a journal beside the file. State of format 1
/// is read as it is and written as 2 on its first write.
pub const STATE_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(rename = "format_version", alias = "version")]
    pub version: u32,
    /// Fixed when the state is created: a plan or a copy made from another
    /// state is recognised as foreign.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    /// Whether the remote ids are the sandbox's rather than the vendors'.
    #[serde(default)]
    pub sandbox: bool,
    /// The salt of the digests an older seqops made (a SHA-256 salted per
    /// state): kept until every such digest is re-keyed, then dropped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub salt: String,
    /// Objects salted otherwise: the controller salted each object's
    /// digests in its own status by the object's uid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub salts: BTreeMap<ResourceKey, String>,
    /// How to reach each account, kept so that objects whose Provider
    /// manifest was removed can still be deleted.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderRecord>,
    #[serde(default)]
    pub resources: BTreeMap<ResourceKey, Entry>,
    /// Who changed what and why, newest last (the latest
    /// [`super::history::KEPT`] changes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<super::history::HistoryRecord>,
    /// The id of the last saved plan applied, so it is not applied twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_plan_applied: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRecord {
    #[serde(rename = "type")]
    pub provider_type: ProviderType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The older record of `rateLimit.requestsPerHour`, read from state
    /// written before `rateLimit` was recorded whole.
    #[serde(default, skip_serializing)]
    pub requests_per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl ProviderRecord {
    /// What a Provider manifest's spec says of its account (never its key).
    pub fn of(spec: &ProviderSpec) -> Self {
        Self {
            provider_type: spec.provider_type,
            base_url: spec.base_url.clone(),
            credentials_env: spec.credentials.env.clone(),
            rate_limit: spec.rate_limit.clone(),
            requests_per_hour: None,
            headers: spec.headers.clone(),
        }
    }

    /// The pacing the Provider asks for: `Some(None)` turns pacing off,
    /// `None` leaves the vendor's.
    pub fn pacing(&self) -> Option<Option<Rate>> {
        let limit = self.rate_limit.clone().or_else(|| self.requests_per_hour.map(RateLimit::per_hour))?;
        Some(limit.rate())
    }
}

impl State {
    /// Moves the record of `from` to `to` (a rename: `seqops.dev/moved-from`,
    /// `seqops state mv`), and what depends on `from` to depend on `to`.
    /// False, changing nothing, when `from` has no record or `to` has one.
    pub fn move_entry(&mut self, from: &ResourceKey, to: &ResourceKey) -> bool {
        if self.resources.contains_key(to) {
            return false;
        }
        let Some(entry) = self.resources.remove(from) else { return false };
        self.resources.insert(to.clone(), entry);
        if let Some(salt) = self.salts.remove(from) {
            self.salts.insert(to.clone(), salt);
        }
        for entry in self.resources.values_mut() {
            for dependency in entry.depends_on.iter_mut().filter(|d| *d == from) {
                *dependency = to.clone();
            }
        }
        true
    }

    pub fn new(sandbox: bool) -> Self {
        Self {
            version: STATE_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            sandbox,
            salt: String::new(),
            salts: BTreeMap::new(),
            providers: BTreeMap::new(),
            resources: BTreeMap::new(),
            history: Vec::new(),
            last_plan_applied: None,
        }
    }

    /// How an object's secret digests are made: under `digests`' key,
    /// re-keying those the state's old salt made.
    pub fn digests_for(&self, key: &ResourceKey, digests: &Digests) -> Digests {
        digests.with_legacy_salt(self.salts.get(key).unwrap_or(&self.salt))
    }

    /// Forgets the old salt once no digest it made is left: it would only
    /// help whoever reads the state test a guess.
    fn drop_spent_salt(&mut self) {
        if self.salt.is_empty() {
            return;
        }
        let legacy = self.resources.values().any(|entry| {
            entry.holds(crate::external::sources::SENSITIVE, crate::external::digest::holds_legacy_digest)
        });
        if !legacy {
            self.salt.clear();
        }
    }

    /// Remote ids already managed for one provider and kind.
    pub fn managed_ids(&self, provider: &str, key_kind: &str) -> std::collections::BTreeSet<String> {
        self.resources
            .iter()
            .filter(|(key, entry)| entry.provider == provider && key.kind == key_kind)
            .flat_map(|(_, entry)| entry.id.iter().chain(entry.deposed_id.iter()).cloned())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("state {path} is not valid: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write state {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("state {path} is locked by {holder}; wait for it to finish, or pass --lock-timeout to wait")]
    Locked { path: PathBuf, holder: String },
    #[error("state {path} was written by a newer seqops (state version {version})")]
    TooNew { path: PathBuf, version: u32 },
    #[error("state {path}: {reason}")]
    Remote { path: PathBuf, reason: String },
    #[error("state's journal {0}")]
    Journal(#[from] journal::JournalError),
    #[error("the change was made but could not be recorded in {0}")]
    Sink(String),
}

/// State kept elsewhere than in a file (a Kubernetes Secret), locked for as
/// long as the value lives when it was opened to write.
pub trait RemoteState: Send + Sync {
    /// Where the state is, for messages: `k8s://team/seqops-state`.
    fn label(&self) -> String;
    /// The saved state, or `None` when there is none yet.
    fn load(&self) -> Result<Option<Vec<u8>>, String>;
    /// Writes the state whole; the journal kept beside it, if any, is
    /// emptied by the same write.
    fn save(&self, bytes: &[u8]) -> Result<(), String>;
    /// The journal records kept beside the state since it was last saved,
    /// oldest first, as the last `load` found them.
    fn journal(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// Appends the record of one remote change (`journal::Record` as
    /// JSON); `Ok(false)` when the state should be saved whole instead
    /// (this store keeps no journal, or it is full).
    fn append(&self, _record: &[u8]) -> Result<bool, String> {
        Ok(false)
    }
    /// Why this state may no longer be written (its lock was lost, or
    /// someone else wrote it): an apply makes no further change.
    fn fenced(&self) -> Option<String> {
        None
    }
}

/// Who holds a lock, written where the lock is (the lock file, a Lease)
/// so others can say.
#[derive(Debug, Serialize, Deserialize)]
pub struct LockHolder {
    pid: u32,
    host: String,
    command: String,
    since: String,
}

impl LockHolder {
    /// This process, running `command`, from now.
    pub fn current(command: &str) -> Self {
        Self { pid: std::process::id(), host: hostname(), command: command.to_string(), since: now_rfc3339() }
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` (pid {} on {}, since {})", self.command, self.pid, self.host, self.since)
    }
}

/// A state file, opened with or without its lock.
pub struct StateStore {
    path: PathBuf,
    _lock: Option<File>,
    /// Kept in memory only: the controller's, whose state lives in each
    /// object's status.
    memory: bool,
    remote: Option<Box<dyn RemoteState>>,
    /// The journal, for a state file held under its lock.
    journal: Option<std::sync::Mutex<Journal>>,
    /// The size of the state file as last written: the journal is folded
    /// in once it grows past it.
    written: std::sync::atomic::AtomicU64,
    /// Bytes written to state and its journal by this store, and in how
    /// many writes: what a benchmark of an apply reports.
    pub writes: std::sync::Mutex<(u64, u64)>,
}

/// The journal is folded into state once it is larger than this or than
/// the state file, whichever is larger.
const JOURNAL_MIN_COMPACTION: u64 = 1 << 20;

impl StateStore {
    /// Opens the state at `path`, taking its exclusive lock: when another
    /// process holds it, waits up to `wait`, then fails naming the holder.
    pub fn lock(path: &Path, command: &str, wait: Duration) -> Result<Self, StateError> {
        let lock_path = lock_path(path);
        let write_error = |source| StateError::Write { path: lock_path.clone(), source };
        if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(write_error)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let holder = serde_json::from_str::<LockHolder>(&text)
                        .map_or_else(|_| "another process".to_string(), |h| h.to_string());
                    return Err(StateError::Locked { path: path.to_path_buf(), holder });
                }
                Err(std::fs::TryLockError::Error(source)) => return Err(write_error(source)),
            }
        }
        let holder = LockHolder::current(command);
        file.set_len(0).map_err(write_error)?;
        file.write_all(serde_json::to_string(&holder).unwrap_or_default().as_bytes()).map_err(write_error)?;
        file.flush().map_err(write_error)?;
        let journal = Some(std::sync::Mutex::new(Journal::new(journal::path_for(path))));
        Ok(Self { journal, _lock: Some(file), ..Self::read_only(path) })
    }

    /// Opens the state for reading only, without its lock.
    pub fn read_only(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            _lock: None,
            memory: false,
            remote: None,
            journal: None,
            written: Default::default(),
            writes: Default::default(),
        }
    }

    /// A store that keeps nothing on disk.
    pub fn in_memory() -> Self {
        Self { memory: true, ..Self::read_only(Path::new("(in memory)")) }
    }

    /// State kept by `remote` (which holds its own lock, if any).
    pub fn remote(remote: Box<dyn RemoteState>) -> Self {
        let path = PathBuf::from(remote.label());
        Self { remote: Some(remote), ..Self::read_only(&path) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why this state may no longer be written, if so.
    pub fn fenced(&self) -> Option<String> {
        self.remote.as_ref().and_then(|r| r.fenced())
    }

    pub fn load(&self) -> Result<Option<State>, StateError> {
        if self.memory {
            return Ok(None);
        }
        let corrupt = |e: serde_json::Error| StateError::Corrupt { path: self.path.clone(), reason: e.to_string() };
        let mut state: State = match &self.remote {
            Some(remote) => match remote.load() {
                Ok(Some(bytes)) => serde_json::from_slice(&bytes).map_err(corrupt)?,
                Ok(None) => return Ok(None),
                Err(reason) => return Err(StateError::Remote { path: self.path.clone(), reason }),
            },
            // Read whole, then parsed: parsing from memory is twice as fast
            // as from a stream, and the text is dropped once read (what state
            // keeps of each object is text too, see `Stored`).
            None => match std::fs::read(&self.path) {
                Ok(bytes) => {
                    self.written.store(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    serde_json::from_slice(&bytes).map_err(corrupt)?
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(StateError::Read { path: self.path.clone(), source }),
            },
        };
        if state.version > STATE_VERSION {
            return Err(StateError::TooNew { path: self.path.clone(), version: state.version });
        }
        state.resources.values_mut().for_each(Entry::compact);
        if let Some(remote) = &self.remote {
            journal::replay_records(&remote.label(), remote.journal(), &mut state)?;
        } else {
            let replayed = journal::replay(&journal::path_for(&self.path), &mut state)?;
            // A run that died left its journal: fold it in while holding
            // the lock, so the state file says everything again.
            if replayed && self.journal.is_some() {
                self.write_whole(&mut state)?;
            }
        }
        Ok(Some(state))
    }

    /// Writes `state` whole, with its serial incremented; an older format
    /// is written as the current one.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        state.drop_spent_salt();
        self.write_whole(state)
    }

    /// Records one remote change: the entries `keys` name as `state` now
    /// holds them, and the history added after `before`. Appended to the
    /// journal where there is one, else written whole.
    pub fn append(
        &self,
        state: &mut State,
        keys: &[ResourceKey],
        before: Option<&super::history::HistoryRecord>,
    ) -> Result<(), StateError> {
        if let Some(remote) = &self.remote {
            return self.append_remote(remote.as_ref(), state, keys, before);
        }
        let Some(journal) = &self.journal else { return self.save(state) };
        state.serial += 1;
        let record = journal::Record::of(state, keys, before);
        let mut journal = journal.lock().unwrap_or_else(|e| e.into_inner());
        let size = journal.append(&record)?;
        self.count(size);
        let limit = self.written.load(std::sync::atomic::Ordering::Relaxed).max(JOURNAL_MIN_COMPACTION);
        if journal.bytes > limit {
            drop(journal);
            self.write_whole(state)?;
        }
        Ok(())
    }

    /// [`StateStore::append`] for state kept by `remote`: its journal, or
    /// the whole state where it keeps none or its journal is full.
    fn append_remote(
        &self,
        remote: &dyn RemoteState,
        state: &mut State,
        keys: &[ResourceKey],
        before: Option<&super::history::HistoryRecord>,
    ) -> Result<(), StateError> {
        state.serial += 1;
        let record = serde_json::to_vec(&journal::Record::of(state, keys, before))
            .map_err(|e| StateError::Corrupt { path: self.path.clone(), reason: e.to_string() })?;
        match remote.append(&record) {
            Ok(true) => {
                self.count(record.len() as u64);
                Ok(())
            }
            Ok(false) => self.write_whole(state),
            Err(reason) => Err(StateError::Remote { path: self.path.clone(), reason }),
        }
    }

    fn count(&self, bytes: u64) {
        let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        *writes = (writes.0 + bytes, writes.1 + 1);
    }

    /// Writes `state` as it is, then empties the journal it now holds.
    fn write_whole(&self, state: &mut State) -> Result<(), StateError> {
        if self.memory {
            return Ok(());
        }
        state.version = STATE_VERSION;
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| StateError::Corrupt { path: self.path.clone(), reason: e.to_string() })?;
        if let Some(remote) = &self.remote {
            remote.save(&bytes).map_err(|reason| StateError::Remote { path: self.path.clone(), reason })?;
            self.count(bytes.len() as u64);
            return Ok(());
        }
        write_atomically(&self.path, &bytes).map_err(|source| StateError::Write { path: self.path.clone(), source })?;
        self.count(bytes.len() as u64);
        self.written.store(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(journal) = &self.journal {
            journal.lock().unwrap_or_else(|e| e.into_inner()).clear()?;
        }
        Ok(())
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// This machine's name, for saying who holds a lock.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("state.json");
        let _first = StateStore::lock(&path, "seqops apply", Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
        let second = StateStore::lock(&path, "seqops plan", Duration::ZERO);
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("locked by `seqops apply`"), "{message}");
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
    }

    #[test]
    fn a_state_file_of_format_2_is_read_and_written_back_as_it_was() {
        // The record is written under the names state always gave it: a
        // state file keeps its shape, and its format.
        let entry = serde_json::json!({
            "apiVersion": "gary.seqops.dev/v1alpha1", "provider": "gary-main", "id": "seq_1/enr_2",
            "displayName": "con_1 in seq_1", "pendingSince": "2026-12-01T00:00:00Z", "preexisting": ["seq_1/enr_0"],
            "deposedId": "seq_1/enr_1", "manifestDigest": "sha256:abc",
            "appliedSpec": {"contactId": "con_1", "sequence": {"lookup": "Nurture"}},
            "lastApplied": {"contactId": "con_1", "sequence": "seq_1"},
            "observed": {"contactId": "con_1", "sequence": "seq_1", "status": "active"},
            "observedAt": "2026-12-02T00:00:00Z", "orphanOnDelete": true, "preventDestroy": true,
            "dependsOn": ["Provider/gary-main"], "renewToken": "t2",
        });
        let written_by_format_2 = serde_json::json!({
            "format_version": 2, "lineage": "l-1", "serial": 7, "sandbox": false, "providers": {},
            "resources": {"Enrollment/lead": entry},
        });
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("state.json");
        std::fs::write(&path, written_by_format_2.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let store = StateStore::lock(&path, "test", Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
        let mut state = store.load().ok().flatten().unwrap_or_else(|| panic!("state not read"));
        store.save(&mut state).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let written: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((STATE_VERSION, &written["format_version"]), (2, &serde_json::json!(2)));
        assert_eq!(written["resources"], written_by_format_2["resources"]);
    }

    #[test]
    fn saving_increments_the_serial_and_keeps_the_lineage() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store =
            StateStore::lock(&dir.path().join("s.json"), "test", Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
        let mut state = State::new(false);
        store.save(&mut state).unwrap_or_else(|e| panic!("{e}"));
        store.save(&mut state).unwrap_or_else(|e| panic!("{e}"));
        let loaded = store.load().ok().flatten().unwrap_or_else(|| panic!("state not saved"));
        assert_eq!((loaded.serial, loaded.lineage), (2, state.lineage));
    }
}
