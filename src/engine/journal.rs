//! State's journal: each remote change appends one fsynced line beside the
//! state file (`state.json.journal`) holding what it changed, the entries
//! it touched and the history it added, instead of rewriting the whole
//! state. State stays one reviewable JSON document: the journal is folded
//! into it (compacted) at the end of a run, when it grows past the state's
//! own size, and when a run that died is opened again. A line cut short by
//! a crash was never acknowledged and is dropped; each line carries the
//! serial it brings state to, so a line already in the state is skipped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::{self, HistoryRecord};
use super::state::{Entry, State};
use crate::manifest::ResourceKey;

/// What one remote change did to state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    /// The state's serial once this record is applied.
    pub serial: u64,
    /// Each touched entry as it now is; `None` when it was removed.
    #[serde(default, with = "entries")]
    pub entries: Vec<(ResourceKey, Option<Entry>)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryRecord>,
}

/// Entries as a list of `{key, entry}`: keys are `Kind/name` strings.
mod entries {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Item {
        key: ResourceKey,
        entry: Option<Entry>,
    }

    pub fn serialize<S: serde::Serializer>(value: &[(ResourceKey, Option<Entry>)], s: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Item> =
            value.iter().map(|(key, entry)| Item { key: key.clone(), entry: entry.clone() }).collect();
        items.serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(ResourceKey, Option<Entry>)>, D::Error> {
        Ok(Vec::<Item>::deserialize(d)?.into_iter().map(|i| (i.key, i.entry)).collect())
    }
}

impl Record {
    /// What `state` now holds of `keys`, and the history after `before`
    /// (the newest history record before the change).
    pub fn of(state: &State, keys: &[ResourceKey], before: Option<&HistoryRecord>) -> Self {
        let entries = keys.iter().map(|key| (key.clone(), state.resources.get(key).cloned())).collect();
        let start = match before {
            Some(last) => state.history.iter().rposition(|r| r == last).map_or(0, |at| at + 1),
            None => 0,
        };
        Self { serial: state.serial, entries, history: state.history[start..].to_vec() }
    }

    fn apply(self, state: &mut State) {
        for (key, entry) in self.entries {
            match entry {
                Some(entry) => state.resources.insert(key, entry),
                None => state.resources.remove(&key),
            };
        }
        history::append(&mut state.history, self.history);
        state.serial = self.serial;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line} is not a journal record ({reason}); state and the journal disagree: restore state from a backup")]
    Corrupt { path: PathBuf, line: usize, reason: String },
}

/// The journal beside `state`.
pub fn path_for(state: &Path) -> PathBuf {
    let mut name = state.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".journal");
    state.with_file_name(name)
}

/// Applies journal records kept elsewhere than in a file (a Secret's, see
/// `kube_state`), oldest first, to `state`; whether any was new. `label`
/// names where they are, for errors.
pub fn replay_records(label: &str, records: Vec<Vec<u8>>, state: &mut State) -> Result<bool, JournalError> {
    let mut replayed = false;
    for (index, bytes) in records.into_iter().enumerate() {
        let record = serde_json::from_slice::<Record>(&bytes).map_err(|e| JournalError::Corrupt {
            path: PathBuf::from(label),
            line: index + 1,
            reason: e.to_string(),
        })?;
        if record.serial > state.serial {
            record.apply(state);
            replayed = true;
        }
    }
    Ok(replayed)
}

/// Applies the journal at `path` to `state`; whether it held anything new.
pub fn replay(path: &Path, state: &mut State) -> Result<bool, JournalError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(JournalError::Io { path: path.to_path_buf(), source }),
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut replayed = false;
    for (index, line) in lines.iter().enumerate() {
        let last = index + 1 == lines.len();
        // The last line of a run that died while writing it (cut short, or
        // without its newline) was never acknowledged: nothing depends on it.
        let record = match serde_json::from_str::<Record>(line.trim_end()) {
            Ok(record) if line.ends_with('\n') => record,
            _ if last => break,
            Ok(record) => record,
            Err(e) => {
                return Err(JournalError::Corrupt { path: path.to_path_buf(), line: index + 1, reason: e.to_string() })
            }
        };
        if record.serial > state.serial {
            record.apply(state);
            replayed = true;
        }
    }
    Ok(replayed)
}

/// An open journal, appended to under the state's lock.
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    /// Bytes appended since the last compaction.
    pub bytes: u64,
}

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self { path, file: None, bytes: 0 }
    }

    /// Appends `record` and waits until it is on disk; the bytes written.
    pub fn append(&mut self, record: &Record) -> Result<u64, JournalError> {
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut line = serde_json::to_vec(record).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        if self.file.is_none() {
            use std::os::unix::fs::OpenOptionsExt;
            let file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path).map_err(io)?;
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else { return Ok(0) };
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.bytes += line.len() as u64;
        Ok(line.len() as u64)
    }

    /// Empties the journal: the state file now holds everything in it.
    pub fn clear(&mut self) -> Result<(), JournalError> {
        self.file = None;
        self.bytes = 0;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Io { path: self.path.clone(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{StateStore, STATE_VERSION};
    use std::time::Duration;

    fn entry(id: &str) -> Entry {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "orsay.seqops.dev/v1alpha1", "provider": "main", "id": id, "displayName": id,
            "manifestDigest": "d", "lastApplied": {"name": id}, "observed": {"name": id}, "observedAt": "2026-12-02T00:00:00Z",
        }))
        .unwrap_or_else(|e| panic!("an entry: {e}"))
    }

    fn locked(path: &Path) -> StateStore {
        StateStore::lock(path, "test", Duration::ZERO).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A run that records `count` creates one by one and dies before the
    /// end of the run folds them in.
    fn a_run_that_dies_after(path: &Path, count: usize) -> State {
        let store = locked(path);
        let mut state = State::new(false);
        store.save(&mut state).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..count {
            let key = ResourceKey::new("Sequence", format!("s{i}"));
            state.resources.insert(key.clone(), entry(&format!("id-{i}")));
            store.append(&mut state, &[key], None).unwrap_or_else(|e| panic!("{e}"));
        }
        state
    }

    #[test]
    fn each_change_appends_one_line_and_leaves_the_state_file_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let _ = a_run_that_dies_after(&path, 3);

        let journal = std::fs::read_to_string(path_for(&path)).unwrap_or_default();
        assert_eq!(journal.lines().count(), 3, "one record per change:\n{journal}");
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written["resources"], serde_json::json!({}), "the state file is not rewritten per change");
    }

    #[test]
    fn a_run_that_died_is_recovered_from_state_and_journal_with_nothing_lost() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let died = a_run_that_dies_after(&path, 5);

        let reopened = locked(&path).load().unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("state"));

        assert_eq!(reopened.resources.len(), 5);
        assert_eq!(reopened.serial, died.serial);
        assert!(!path_for(&path).exists(), "folded into the state file under the lock");
        let file: State =
            serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.resources.len(), 5, "the state file holds everything again");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let _ = a_run_that_dies_after(&path, 2);
        let mut journal = OpenOptions::new().append(true).open(path_for(&path)).unwrap_or_else(|e| panic!("{e}"));
        journal.write_all(b"{\"serial\": 99, \"entries\": [{\"key\": \"Seq").unwrap_or_else(|e| panic!("{e}"));

        let reopened = StateStore::read_only(&path).load().unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(reopened.map(|s| s.resources.len()), Some(2));
    }

    #[test]
    fn a_journal_that_grows_past_the_state_is_folded_in() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let _ = a_run_that_dies_after(&path, 6000);

        let journal = std::fs::metadata(path_for(&path)).map(|m| m.len()).unwrap_or(0);
        let state = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

        assert!(journal <= state.max(1 << 20), "journal {journal} bytes, state {state} bytes");
        assert!(state > 1 << 20, "compacted at least once: the state file holds most entries");
    }

    #[test]
    fn state_of_format_1_is_read_and_written_as_the_current_format() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let old = serde_json::json!({"version": 1, "lineage": "l", "serial": 4, "resources": {}});
        std::fs::write(&path, old.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let store = locked(&path);
        let mut state = store.load().unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("state"));

        store.save(&mut state).unwrap_or_else(|e| panic!("{e}"));

        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written["format_version"], STATE_VERSION);
        assert_eq!(written["serial"], 5);
    }
}
