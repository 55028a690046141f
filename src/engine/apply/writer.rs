//! State as an apply writes it: behind a lock, saved (or journaled) after
//! every remote change, and what a plan learnt without a change.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::ChangeSink;
use crate::engine::plan::{Change, StateSync};
use crate::engine::state::{now_rfc3339, Entry, State, StateError, StateStore};
use crate::external::{Fields, Stored};
use crate::manifest::ResourceKey;

/// State behind a lock, saved after every change.
pub struct StateWriter {
    store: StateStore,
    state: Mutex<State>,
    /// Held while a create whose answer was lost is looked up and bound:
    /// two such creates never take the same remote object for their own.
    pub(super) recovery: Mutex<()>,
    sink: Option<Arc<dyn ChangeSink>>,
}

impl StateWriter {
    pub fn new(store: StateStore, state: State) -> Self {
        Self { store, state: Mutex::new(state), recovery: Mutex::new(()), sink: None }
    }

    /// As [`StateWriter::new`], recording each change in `sink` as well.
    pub fn with_sink(store: StateStore, state: State, sink: Arc<dyn ChangeSink>) -> Self {
        Self { sink: Some(sink), ..Self::new(store, state) }
    }

    /// Applies `change` to state and saves it whole before returning.
    pub async fn record<R>(&self, change: impl FnOnce(&mut State) -> R) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        change(&mut state);
        self.store.save(&mut state)
    }

    /// Applies `change`, which touches only the entries `keys` and the
    /// history, and journals it before returning: one remote change costs
    /// one appended record, not a rewrite of the whole state.
    pub async fn record_entries<R>(
        &self,
        keys: &[ResourceKey],
        change: impl FnOnce(&mut State) -> R,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let before = state.history.last().cloned();
        change(&mut state);
        self.store.append(&mut state, keys, before.as_ref())?;
        match &self.sink {
            Some(sink) => sink.record(&state, keys).await.map_err(StateError::Sink),
            None => Ok(()),
        }
    }

    /// Why no further change may be made (state's lock was lost).
    pub fn fenced(&self) -> Option<String> {
        self.store.fenced()
    }

    /// Bytes written to state and its journal so far, and in how many writes.
    pub fn writes(&self) -> (u64, u64) {
        *self.store.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads state as it is now.
    pub async fn read<R>(&self, read: impl FnOnce(&State) -> R) -> R {
        read(&*self.state.lock().await)
    }

    pub async fn snapshot(&self) -> State {
        self.state.lock().await.clone()
    }
}

/// Records what a plan learnt without changing anything remotely: objects
/// whose manifest changed to what the remote side already is.
pub async fn record_syncs(syncs: &[StateSync], state: &StateWriter) -> Result<(), StateError> {
    if syncs.is_empty() {
        return Ok(());
    }
    state
        .record(|s| {
            for sync in syncs {
                if let Some(entry) = s.resources.get_mut(&sync.key) {
                    entry.manifest_digest = sync.manifest_digest.clone();
                    entry.applied_spec = Stored::of(&sync.applied_spec);
                    entry.set_applied(&sync.last_applied, &sync.observed);
                    entry.observed_at = now_rfc3339();
                }
            }
        })
        .await
}

/// Moves the records of objects given a new name (`seqops.dev/moved-from`)
/// to it, before anything else is applied, in one write: what refers to
/// the old name refers to the new one. A record already moved (an apply
/// run again) is left as it is.
pub async fn record_moves(changes: &[Change], state: &StateWriter) -> Result<(), StateError> {
    let moves: Vec<(&ResourceKey, &ResourceKey)> =
        changes.iter().filter_map(|c| c.steps.moved_from.as_ref().map(|from| (from, &c.key))).collect();
    if moves.is_empty() {
        return Ok(());
    }
    state
        .record(|s| {
            for (from, to) in &moves {
                s.move_entry(from, to);
            }
        })
        .await
}

/// Inserts or changes the entry of `change.key`, keeping a replaced
/// object's old id until its delete is confirmed.
pub(super) fn upsert(state: &mut State, change: &Change, id: Option<String>, fill: impl FnOnce(&mut Entry)) {
    let deposed = state.resources.get(&change.key).and_then(|e| e.deposed_id.clone());
    let mut entry = Entry {
        api_version: change.api_version.clone(),
        provider: change.provider.clone(),
        id,
        display_name: change.display_name.clone(),
        pending_since: None,
        deposed_id: deposed,
        manifest_digest: change.manifest_digest.clone(),
        applied_spec: Stored::of(change.spec.json()),
        last_applied: Stored::of(&Fields::new()),
        observed: None,
        observed_at: now_rfc3339(),
        orphan_on_delete: change.orphan_on_delete,
        prevent_destroy: change.prevent_destroy,
        depends_on: change.depends_on.clone(),
        renew_token: change.renew_token.clone(),
        preexisting: Vec::new(),
    };
    fill(&mut entry);
    state.resources.insert(change.key.clone(), entry);
}

pub(super) fn clear_deposed(state: &mut State, key: &ResourceKey, id: &str) {
    if let Some(entry) = state.resources.get_mut(key) {
        if entry.deposed_id.as_deref() == Some(id) {
            entry.deposed_id = None;
        }
    }
}

/// Marks `id` as the entry's old id, to delete once what replaces it is
/// made (or before, as the kind needs).
pub(super) fn mark_deposed(state: &mut State, key: &ResourceKey, id: &str) {
    if let Some(entry) = state.resources.get_mut(key) {
        entry.deposed_id = Some(id.to_string());
    }
}
