//! Applying a plan: in dependency order, independent changes at once, and
//! state written after every remote change so that nothing is lost when the
//! run is interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use tokio::sync::Mutex;

use super::history::{self, HistoryRecord, Provenance};
use super::lost::{LostCreate, Made};
use super::plan::{Action, Change, Plan, StateSync};
use super::state::{now_rfc3339, Entry, State, StateError, StateStore};
use super::{graph, Connections, EngineError};
use crate::external::sources::{ClusterValues, SourceReader, SourceValues};
use crate::external::Secret;
use crate::external::{
    Created, DesiredContext, ExternalClient, Fields, ProviderError, Stored, UpdateRequest, KNOWN_AFTER_APPLY,
};
use crate::manifest::ResourceKey;

/// A line of progress: a change starting, or one finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub line: String,
    pub finished: bool,
}

impl Progress {
    fn started(line: String) -> Self {
        Self { line, finished: false }
    }

    fn finished(line: String) -> Self {
        Self { line, finished: true }
    }
}

/// Where else each remote change is recorded as it happens, beside state
/// (the controller: the object's status, since its state lives only as
/// long as a reconcile).
#[async_trait::async_trait]
pub trait ChangeSink: Send + Sync {
    /// Records the entries `keys` as `state` now holds them.
    async fn record(&self, state: &State, keys: &[ResourceKey]) -> Result<(), String>;
}

/// State behind a lock, saved after every change.
pub struct StateWriter {
    store: StateStore,
    state: Mutex<State>,
    /// Held while a create whose answer was lost is looked up and bound:
    /// two such creates never take the same remote object for their own.
    recovery: Mutex<()>,
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

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub done: Vec<(ResourceKey, Action)>,
    pub failed: Vec<(ResourceKey, String)>,
    /// Changes not attempted because something they depend on failed.
    pub skipped: Vec<ResourceKey>,
    /// Objects a saved plan would have changed, left alone because they
    /// changed remotely since the plan was made.
    pub untouched: Vec<(ResourceKey, String)>,
    /// Files written with values the API returned once.
    pub outputs_written: Vec<(ResourceKey, PathBuf)>,
    /// Values the API returned once, kept in memory for the caller to store
    /// (when `outputs_to_files` is off).
    pub outputs: Vec<(ResourceKey, BTreeMap<String, Secret>)>,
    /// Changes not started because the apply was asked to stop, and why.
    pub left: Vec<ResourceKey>,
    pub stopped: Option<String>,
}

impl ApplyReport {
    pub fn count(&self, action: Action) -> usize {
        self.done.iter().filter(|(_, a)| *a == action).count()
    }
}

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Changes made at once.
    pub parallelism: usize,
    /// Re-observe each object before changing it, and leave it alone if it
    /// changed since the plan observed it (for saved plans).
    pub verify_observed: bool,
    /// Sources read for the sandbox (an unset variable gets a fake value).
    pub sandbox: bool,
    /// Values an API returns once go to `writeSecretTo.file`; otherwise
    /// they are handed back in [`ApplyReport::outputs`].
    pub outputs_to_files: bool,
    /// The key secret digests are made with (the plan's).
    pub digests: crate::external::digest::Digests,
    /// Who applies and why, recorded in state's history.
    pub provenance: Provenance,
    /// The saved plan applied, if one is.
    pub plan_id: Option<String>,
    /// Asked to stop at the next change boundary (`--max-duration`, SIGTERM).
    pub stop: Stop,
    /// Where a value shown once goes when its `writeSecretTo` cannot be
    /// written (beside state); `None` to have none.
    pub rescue_dir: Option<PathBuf>,
}

impl Default for ApplyOptions {
    /// Four changes at once against real accounts, one-time values to their
    /// files, nothing else asked for.
    fn default() -> Self {
        Self {
            parallelism: 4,
            verify_observed: false,
            sandbox: false,
            outputs_to_files: true,
            digests: Default::default(),
            provenance: Provenance::default(),
            plan_id: None,
            stop: Stop::default(),
            rescue_dir: None,
        }
    }
}

/// Asks a running apply to stop at the next change boundary: changes
/// already started finish and are recorded (one waiting for budget waits
/// for it), the rest are not started and are left for the next run.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    reason: Arc<std::sync::Mutex<Option<String>>>,
    /// When to stop by itself, and what it then says.
    deadline: Option<(std::time::Instant, String)>,
}

impl Stop {
    /// A stop that comes by itself once `after` has passed.
    pub fn after(after: std::time::Duration, why: impl Into<String>) -> Self {
        Self { deadline: Some((std::time::Instant::now() + after, why.into())), ..Self::default() }
    }

    /// Asks to stop, saying why; the first reason given is kept.
    pub fn request(&self, why: impl Into<String>) {
        let mut reason = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if reason.is_none() {
            *reason = Some(why.into());
        }
    }

    pub fn requested(&self) -> Option<String> {
        if let Some(reason) = self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Some(reason);
        }
        let (at, why) = self.deadline.as_ref()?;
        (std::time::Instant::now() >= *at).then(|| why.clone())
    }
}

/// Where a change's one-time values went.
#[derive(Default)]
struct Written {
    file: Option<PathBuf>,
    values: BTreeMap<String, Secret>,
}

enum Outcome {
    Done(Written),
    Failed(String),
    /// Not attempted: something it depends on did not happen.
    Skipped,
    Untouched(String),
    /// Not started: the apply was asked to stop.
    Stopped(String),
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

/// Applies `plan`. Creates, adopts, updates and replaces run in dependency
/// order, then deletes in reverse; up to `parallelism` changes run at once.
pub async fn apply(
    plan: &Plan,
    connections: &Connections,
    state: &StateWriter,
    options: ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ApplyReport, EngineError> {
    let options = &options;
    record_syncs(&plan.syncs, state).await?;
    let mut report = ApplyReport::default();
    let (removals, others): (Vec<&Change>, Vec<&Change>) =
        plan.changes.iter().partition(|c| matches!(c.action, Action::Delete | Action::Forget));
    let mut phases = ordered(&others)?;
    let mut reverse = ordered(&removals)?;
    reverse.reverse();
    phases.extend(reverse);
    let failed_keys: Arc<std::sync::Mutex<BTreeSet<ResourceKey>>> = Default::default();
    // Accounts whose first write of this apply has been tried.
    let mut proven: BTreeSet<String> = BTreeSet::new();
    for layer in phases {
        let blocked: Vec<bool> = {
            let failed = failed_keys.lock().unwrap_or_else(|e| e.into_inner());
            layer.iter().map(|change| blocked_by(change, &plan.changes, &failed)).collect()
        };
        // An account's first write goes alone: a key that may not write is
        // refused once, and its other writes are then not tried.
        let (first, rest): (Vec<_>, Vec<_>) = {
            let mut seen = BTreeSet::new();
            layer.into_iter().zip(blocked).partition(|(change, _)| {
                change.action != Action::Forget && !proven.contains(&change.provider) && seen.insert(&change.provider)
            })
        };
        let mut results = Vec::new();
        for batch in [first, rest] {
            proven.extend(batch.iter().map(|(change, _)| change.provider.clone()));
            // The futures are made first and boxed, not made by a closure
            // inside the stream: that keeps the whole apply `Send` for every
            // lifetime, as the controller's runtime needs. A few hundred at
            // a time: each holds room for its whole run, kilobytes.
            let parallelism = options.parallelism.max(1);
            for chunk in batch.chunks(FUTURES_AT_ONCE.max(parallelism)) {
                let runs: Vec<BoxFuture<'_, (ResourceKey, Action, Outcome)>> = chunk
                    .iter()
                    .map(|&(change, blocked)| -> BoxFuture<'_, _> {
                        Box::pin(run_change(change, blocked, connections, state, options, progress))
                    })
                    .collect();
                results.extend(stream::iter(runs).buffer_unordered(parallelism).collect::<Vec<_>>().await);
            }
        }
        let mut made = BTreeSet::new();
        for (key, action, outcome) in results {
            if matches!(outcome, Outcome::Done(_)) {
                made.insert(key.clone());
            }
            if !matches!(outcome, Outcome::Done(_)) {
                failed_keys.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone());
            }
            match outcome {
                Outcome::Done(written) => {
                    if let Some(path) = written.file {
                        report.outputs_written.push((key.clone(), path));
                    }
                    if !written.values.is_empty() {
                        report.outputs.push((key.clone(), written.values));
                    }
                    report.done.push((key, action));
                }
                Outcome::Skipped => report.skipped.push(key),
                Outcome::Failed(message) => report.failed.push((key, message)),
                Outcome::Untouched(reason) => report.untouched.push((key, reason)),
                Outcome::Stopped(why) => {
                    report.left.push(key);
                    report.stopped = Some(why);
                }
            }
        }
        record_history(&plan.changes, &made, state, options).await?;
    }
    Ok(report)
}

/// Who made the layer's changes and why, in state's history: one write per
/// layer, so a killed apply loses at most the history of the layer it was
/// in (never an id).
async fn record_history(
    changes: &[Change],
    made: &BTreeSet<ResourceKey>,
    state: &StateWriter,
    options: &ApplyOptions,
) -> Result<(), StateError> {
    if made.is_empty() {
        return Ok(());
    }
    let at = now_rfc3339();
    state
        .record_entries(&[], |s| {
            let records: Vec<HistoryRecord> = changes
                .iter()
                .filter(|c| made.contains(&c.key))
                .map(|change| HistoryRecord {
                    at: at.clone(),
                    key: change.key.clone(),
                    action: change.action,
                    id: s.resources.get(&change.key).and_then(|e| e.id.clone()).or_else(|| change.id.clone()),
                    fields: change.fields.iter().map(|f| f.path.clone()).collect(),
                    plan_id: options.plan_id.clone(),
                    by: options.provenance.clone(),
                })
                .collect();
            history::append(&mut s.history, records);
        })
        .await
}

/// How many changes' futures are made at once: enough to keep every
/// parallel slot busy, few enough that 100,000 changes do not hold 100,000
/// futures.
pub(super) const FUTURES_AT_ONCE: usize = 256;

/// One change of a layer, unless something it waits for failed. (A named
/// async fn, not a closure, so the future is `Send` for any lifetime, as
/// the controller's runtime needs.)
async fn run_change(
    change: &Change,
    blocked: bool,
    connections: &Connections,
    state: &StateWriter,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> (ResourceKey, Action, Outcome) {
    let refused = connections.refusal(&change.provider).filter(|_| change.action != Action::Forget);
    let outcome = if let Some(why) = options.stop.requested().or_else(|| state.fenced()) {
        Outcome::Stopped(why)
    } else if blocked {
        Outcome::Skipped
    } else if let Some(why) = refused {
        Outcome::Failed(format!("{}: not tried, since {why}", change.key))
    } else {
        match verify(change, connections, options).await {
            Some(reason) => Outcome::Untouched(reason),
            None => match apply_change(change, connections, state, options, progress).await {
                Ok(written) => Outcome::Done(written),
                Err(message) => Outcome::Failed(scrubbed(&message, change, connections, options)),
            },
        }
    };
    (change.key.clone(), change.action, outcome)
}

/// An error with every value the change's sources hold taken out: an API
/// may echo what it was sent, and errors reach the terminal, status and
/// Events.
fn scrubbed(message: &str, change: &Change, connections: &Connections, options: &ApplyOptions) -> String {
    let values = reader_for(change, options, connections.cluster_values()).read_all(&change.spec).unwrap_or_default();
    crate::external::sources::scrub(message, &values, None)
}

/// What reads a change's sources, as the plan read them.
fn reader_for<'c>(change: &Change, options: &ApplyOptions, cluster: &'c ClusterValues) -> SourceReader<'c> {
    SourceReader { base_dir: PathBuf::from(&change.source_dir), sandbox: options.sandbox, cluster }
}

/// Whether a change must wait for something that failed: a create or update
/// for what it refers to, a delete for what refers to it.
fn blocked_by(change: &Change, all: &[Change], failed: &BTreeSet<ResourceKey>) -> bool {
    if matches!(change.action, Action::Delete | Action::Forget) {
        all.iter().any(|other| failed.contains(&other.key) && other.depends_on.contains(&change.key))
    } else {
        change.depends_on.iter().any(|d| failed.contains(d))
    }
}

/// For a saved plan: why the object must be left alone, if it changed
/// remotely since the plan observed it.
async fn verify(change: &Change, connections: &Connections, options: &ApplyOptions) -> Option<String> {
    let acts_on_remote = matches!(change.action, Action::Update | Action::Replace | Action::Delete | Action::Adopt);
    let id = change.id.as_deref().filter(|_| options.verify_observed && acts_on_remote)?;
    let client = match connections.client(&change.provider, &change.key.kind) {
        Ok(client) => client,
        Err(error) => return Some(error.to_string()),
    };
    match client.observe(id).await {
        Ok(None) if change.action == Action::Delete => None,
        Ok(None) => Some(format!("{id} was deleted remotely since the plan was made")),
        Ok(Some(mut now)) => {
            crate::external::digest::conceal_fields(&mut now, &[&change.desired], &options.digests);
            let changed = super::planfile::changed_since(&change.observed, &now);
            (!changed.is_empty()).then(|| format!("changed remotely since the plan was made ({})", changed.join(", ")))
        }
        Err(error) => Some(format!("could not be observed before changing it: {error}")),
    }
}

fn ordered<'a>(changes: &[&'a Change]) -> Result<Vec<Vec<&'a Change>>, EngineError> {
    let nodes: Vec<(ResourceKey, Vec<ResourceKey>)> =
        changes.iter().map(|c| (c.key.clone(), c.depends_on.clone())).collect();
    let layers = graph::layers(&nodes).map_err(|cycle| {
        let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        EngineError::Plan(vec![format!("these objects refer to each other in a cycle: {}", names.join(", "))])
    })?;
    let mut by_key: BTreeMap<&ResourceKey, Vec<&'a Change>> = BTreeMap::new();
    for change in changes {
        by_key.entry(&change.key).or_default().push(change);
    }
    Ok(layers
        .into_iter()
        .map(|layer| layer.iter().flat_map(|key| by_key.get(key).into_iter().flatten().copied()).collect())
        .collect())
}

/// The fields to write, with the values behind them: references to objects
/// created earlier in this apply resolved, and sources read again (values
/// are never kept in a plan).
struct Prepared {
    desired: Fields,
    updates: Fields,
    sources: SourceValues,
}

async fn prepare(
    change: &Change,
    client: &dyn ExternalClient,
    cluster: &ClusterValues,
    state: &StateWriter,
    options: &ApplyOptions,
) -> Result<Prepared, String> {
    let key = &change.key;
    let unresolved = change.desired.values().any(has_placeholder);
    let has_sources = crate::external::sources::has_sources(&change.spec);
    if !unresolved && !has_sources {
        return Ok(Prepared {
            desired: change.desired.clone(),
            updates: change.updates.clone(),
            sources: SourceValues::default(),
        });
    }
    let sources = reader_for(change, options, cluster)
        .read_all(&change.spec)
        .map_err(|(field, message)| format!("{key}: {field}: {message}"))?;
    let (refs, digests) = state
        .read(|s| {
            let refs = change
                .references
                .iter()
                .map(|r| (r.field.clone(), s.resources.get(&r.key).and_then(|e| e.id.clone())))
                .collect();
            (refs, s.digests_for(key, &options.digests))
        })
        .await;
    let previous = (Stored::of(&change.spec), Stored::of(&change.desired));
    let context = DesiredContext {
        refs,
        previous: Some((&previous.0, &previous.1)),
        sources,
        digests,
        annotations: change.annotations.clone(),
    };
    let spec = crate::manifest::policy::without_policies(&change.spec);
    let fresh = client.desired(&spec, &context).await.map_err(|e| format!("{key}: {e}"))?;
    for (field, planned) in &change.desired {
        if !has_placeholder(planned) && fresh.get(field) != Some(planned) {
            return Err(format!(
                "{key}: `{field}` is not what the plan showed (its source or what it refers to changed); run `seqops plan` again"
            ));
        }
    }
    if let Some(field) = fresh.iter().find(|(_, v)| has_placeholder(v)).map(|(f, _)| f) {
        return Err(format!("{key}: `{field}` refers to an object that does not exist"));
    }
    let updates = change.updates.keys().filter_map(|k| fresh.get(k).map(|v| (k.clone(), v.clone()))).collect();
    Ok(Prepared { desired: fresh, updates, sources: context.sources })
}

fn has_placeholder(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s == KNOWN_AFTER_APPLY,
        serde_json::Value::Array(items) => items.iter().any(has_placeholder),
        serde_json::Value::Object(map) => map.values().any(has_placeholder),
        _ => false,
    }
}

/// Inserts or changes the entry of `change.key`, keeping a replaced
/// object's old id until its delete is confirmed.
fn upsert(state: &mut State, change: &Change, id: Option<String>, fill: impl FnOnce(&mut Entry)) {
    let deposed = state.resources.get(&change.key).and_then(|e| e.deposed_id.clone());
    let mut entry = Entry {
        api_version: change.api_version.clone(),
        provider: change.provider.clone(),
        id,
        display_name: change.display_name.clone(),
        pending_since: None,
        deposed_id: deposed,
        manifest_digest: change.manifest_digest.clone(),
        applied_spec: Stored::of(&change.spec),
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

async fn apply_change(
    change: &Change,
    connections: &Connections,
    state: &StateWriter,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Written, String> {
    let key = &change.key;
    let client = connections.client(&change.provider, &key.kind).map_err(|e| e.to_string())?;
    let client = client.as_ref();
    let fail = |error: ProviderError| format!("{key}: {error}");
    let save = |error: StateError| format!("{key}: the remote change was made but state could not be saved: {error}");
    let mut written = Written::default();
    match change.action {
        Action::Create => {
            progress(Progress::started(format!("{key}: creating...")));
            let prepared = prepare(change, client, connections.cluster_values(), state, options).await?;
            let (id, outputs, note) = create(change, &prepared, client, state, options).await?;
            written = outputs;
            let how = note.map(|n| format!("; {n}")).unwrap_or_default();
            progress(Progress::finished(format!("{key}: created (id {id}){how}")));
        }
        Action::Adopt => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: adopting {id}...")));
            let prepared = prepare(change, client, connections.cluster_values(), state, options).await?;
            // Until the update is confirmed, state knows the id but not what
            // was applied, so an interrupted adopt is planned again in full.
            state
                .record_entries(std::slice::from_ref(key), |s| {
                    upsert(s, change, Some(id.clone()), |e| {
                        e.manifest_digest = String::new();
                        e.set_observed(&change.observed);
                    })
                })
                .await
                .map_err(save)?;
            update(change, &prepared, &id, client, state).await?;
            progress(Progress::finished(format!("{key}: adopted (id {id})")));
        }
        Action::Update => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: updating {}...", field_names(&change.updates))));
            let prepared = prepare(change, client, connections.cluster_values(), state, options).await?;
            update(change, &prepared, &id, client, state).await?;
            progress(Progress::finished(format!("{key}: updated (id {id})")));
        }
        Action::Replace => {
            let old = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: replacing {old}...")));
            let prepared = prepare(change, client, connections.cluster_values(), state, options).await?;
            let mark_deposed = |s: &mut State| {
                if let Some(entry) = s.resources.get_mut(key) {
                    entry.deposed_id = Some(old.clone());
                }
            };
            if client.facts().create_before_delete {
                state.record_entries(std::slice::from_ref(key), mark_deposed).await.map_err(save)?;
                let (id, outputs, _) = create(change, &prepared, client, state, options).await?;
                written = outputs;
                client.delete(&old).await.map_err(fail)?;
                state.record_entries(std::slice::from_ref(key), |s| clear_deposed(s, key, &old)).await.map_err(save)?;
                progress(Progress::finished(format!("{key}: replaced ({old} -> {id})")));
            } else {
                state.record_entries(std::slice::from_ref(key), mark_deposed).await.map_err(save)?;
                client.delete(&old).await.map_err(fail)?;
                state.record_entries(std::slice::from_ref(key), |s| clear_deposed(s, key, &old)).await.map_err(save)?;
                let (id, outputs, _) = create(change, &prepared, client, state, options).await?;
                written = outputs;
                progress(Progress::finished(format!("{key}: replaced ({old} -> {id})")));
            }
        }
        Action::Delete => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: deleting {id}...")));
            client.delete(&id).await.map_err(fail)?;
            state
                .record_entries(std::slice::from_ref(key), |s| {
                    let entry = s.resources.get(key);
                    if entry.is_some_and(|e| e.deposed_id.as_deref() == Some(id.as_str())) {
                        clear_deposed(s, key, &id);
                    } else if entry.is_some_and(|e| e.id.as_deref() == Some(id.as_str()) || e.id.is_none()) {
                        s.resources.remove(key);
                    }
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!("{key}: deleted")));
        }
        Action::Forget => {
            state
                .record_entries(std::slice::from_ref(key), |s| {
                    s.resources.remove(key);
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!("{key}: removed from state; the remote object is kept")));
        }
    }
    Ok(written)
}

fn clear_deposed(state: &mut State, key: &ResourceKey, id: &str) {
    if let Some(entry) = state.resources.get_mut(key) {
        if entry.deposed_id.as_deref() == Some(id) {
            entry.deposed_id = None;
        }
    }
}

/// Sends the planned updates (if any) and records what is now applied.
async fn update(
    change: &Change,
    prepared: &Prepared,
    id: &str,
    client: &dyn ExternalClient,
    state: &StateWriter,
) -> Result<(), String> {
    let key = &change.key;
    if !prepared.updates.is_empty() {
        let request = UpdateRequest {
            id,
            changes: &prepared.updates,
            desired: &prepared.desired,
            observed: &change.observed,
            sources: &prepared.sources,
        };
        client.update(request).await.map_err(|e| format!("{key}: {e}"))?;
    }
    let observed = merged(&change.observed, &prepared.updates);
    state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, Some(id.to_string()), |e| e.set_applied(&prepared.desired, &observed))
        })
        .await
        .map_err(|e| format!("{key}: the remote change was made but state could not be saved: {e}"))
}

/// Creates the object, recording it as pending first: if the answer is lost
/// (or the process dies), the next run finds it by name instead of creating
/// it twice. A create that got no answer is looked up before giving up;
/// objects that already had the name before it are not taken for it.
async fn create(
    change: &Change,
    prepared: &Prepared,
    client: &dyn ExternalClient,
    state: &StateWriter,
    options: &ApplyOptions,
) -> Result<(String, Written, Option<String>), String> {
    let key = &change.key;
    let save = |error: StateError| format!("{key}: state could not be saved: {error}");
    let previous = state.read(|s| s.resources.get(key).cloned()).await;
    let sent = client.facts().sent_by_create(&prepared.desired);
    state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, None, |e| {
                e.pending_since = Some(now_rfc3339());
                e.preexisting = change.preexisting.clone();
                e.last_applied = Stored::of(&sent);
            });
        })
        .await
        .map_err(save)?;
    let created = match send_create(client, prepared).await {
        Ok(created) => created,
        Err(error) if error.is_unanswered() => {
            // Values shown once that came with it go where they belong
            // first: whatever the lookup finds, they are not lost.
            let kept = match error.outputs() {
                Some(outputs) if options.outputs_to_files => match write_outputs(change, outputs, options) {
                    Ok(Some(path)) => format!("; the value shown once is in {}", path.display()),
                    Ok(None) => String::new(),
                    Err(message) => format!("; {message}"),
                },
                _ => String::new(),
            };
            let error = format!("{error}{kept}");
            let _one_at_a_time = state.recovery.lock().await;
            let found =
                find_unanswered(change, &sent, client, state).await.map_err(|e| format!("{key}: {error}; {e}"))?;
            let Some(id) = found else {
                return Err(format!(
                    "{key}: {error}; it is recorded as pending and the next run looks for it before creating anything"
                ));
            };
            // The object exists, but what the create would have answered is
            // lost: state binds the id with what the create sent as applied,
            // and no manifest digest, so the next plan finishes the object.
            state
                .record_entries(std::slice::from_ref(key), |s| {
                    upsert(s, change, Some(id.clone()), |e| {
                        e.manifest_digest = String::new();
                        e.set_applied(&sent, &sent);
                    });
                })
                .await
                .map_err(save)?;
            return Err(format!(
                "{key}: {error}; the object it made ({id}) is now in state: run apply again to finish it (a value the API shows only once was lost with the answer; replace the object to get a new one)"
            ));
        }
        Err(error) => {
            // The API answered no: nothing was made, so state goes back to
            // what it was (a replaced object keeps its old id).
            state
                .record_entries(std::slice::from_ref(key), |s| match previous {
                    Some(mut entry) => {
                        entry.deposed_id = None;
                        entry.pending_since = None;
                        s.resources.insert(key.clone(), entry);
                    }
                    None => {
                        s.resources.remove(key);
                    }
                })
                .await
                .map_err(save)?;
            return Err(format!("{key}: {error}"));
        }
    };
    let id = created.id.clone();
    let applied: Fields = prepared
        .desired
        .iter()
        .filter(|(k, _)| !created.unapplied.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The one-time values first: once state says the object exists, nothing
    // would ask for them again.
    let written = if options.outputs_to_files {
        write_outputs(change, &created.outputs, options).map(|file| Written { file, values: BTreeMap::new() })
    } else {
        Ok(Written { file: None, values: created.outputs.clone() })
    };
    let mut observed = applied.clone();
    observed.extend(created.observed.clone());
    state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, Some(id.clone()), |e| e.set_applied(&applied, &observed))
        })
        .await
        .map_err(save)?;
    let written = written?;
    if !created.unapplied.is_empty() {
        let rest = Prepared {
            desired: prepared.desired.clone(),
            updates: created.unapplied.clone(),
            sources: prepared.sources.clone(),
        };
        let mut after_create = change.clone();
        after_create.observed = applied;
        update(&after_create, &rest, &id, client, state).await?;
    }
    Ok((id, written, created.note))
}

/// Sends a create. A kind whose create is idempotent is sent again when
/// its answer is lost: the answer is recovered with no guess from a list.
async fn send_create(client: &dyn ExternalClient, prepared: &Prepared) -> Result<Created, ProviderError> {
    let mut result = client.create(&prepared.desired, &prepared.sources).await;
    if client.facts().idempotent_create {
        for _ in 0..2 {
            match &result {
                Err(error) if error.is_unanswered() => {
                    result = client.create(&prepared.desired, &prepared.sources).await;
                }
                _ => break,
            }
        }
    }
    result
}

/// After a create without an answer: the one object it made, found by its
/// natural key or by what the create sent ([`LostCreate`]), that no state
/// entry manages and that was not there before. Several are no answer.
async fn find_unanswered(
    change: &Change,
    sent: &Fields,
    client: &dyn ExternalClient,
    state: &StateWriter,
) -> Result<Option<String>, String> {
    let managed = state.read(|s| s.managed_ids(&change.provider, &change.key.kind)).await;
    let lost = LostCreate { display_name: &change.display_name, sent, preexisting: &change.preexisting };
    match lost.look_up(&change.spec, client, &managed).await {
        Ok(Made::One(id)) => Ok(Some(id)),
        Ok(_) => Ok(None),
        Err(error) => Err(format!("looking it up failed too: {error}")),
    }
}

/// Writes what the API returned once to where the spec's `writeSecretTo`
/// says, readable by its owner only. When that cannot be written, the value
/// goes to a file of its own beside state (`options.rescue_dir`), and the
/// error says where: it is never thrown away.
fn write_outputs(
    change: &Change,
    outputs: &BTreeMap<String, Secret>,
    options: &ApplyOptions,
) -> Result<Option<PathBuf>, String> {
    if outputs.is_empty() {
        return Ok(None);
    }
    let key = &change.key;
    // Kinds whose one-time value is needed require `writeSecretTo` when
    // loaded; for the others (an agent's service key) its absence means the
    // value is not wanted.
    let Some(file) = change.spec.get("writeSecretTo").and_then(|w| w.get("file")).and_then(|f| f.as_str()) else {
        return Ok(None);
    };
    let text = match outputs.values().collect::<Vec<_>>().as_slice() {
        [one] => format!("{}\n", one.expose()),
        _ => outputs.iter().map(|(k, v)| format!("{k}={}\n", v.expose())).collect(),
    };
    let written = crate::files::confined(Path::new(&change.source_dir), file)
        .map_err(|e| format!("writeSecretTo.file: {e}"))
        .and_then(|path| {
            crate::files::write_atomically(&path, text.as_bytes())
                .map(|()| path.clone())
                .map_err(|e| format!("writing {} failed: {e}", path.display()))
        });
    match written {
        Ok(path) => Ok(Some(path)),
        Err(why) => Err(match rescue(options.rescue_dir.as_deref(), key, &text) {
            Some(kept) => format!(
                "{key}: the object was made, but {why}; the value it was shown once is kept in {} (readable by you only): move it where it belongs",
                kept.display()
            ),
            None => format!("{key}: the object was made, but {why}"),
        }),
    }
}

/// Keeps a value shown once in a new owner-only file in `dir`.
fn rescue(dir: Option<&Path>, key: &ResourceKey, text: &str) -> Option<PathBuf> {
    let dir = dir?.join("rescued");
    let name = format!("{}-{}-{}.value", key.kind, key.name, now_rfc3339().replace(':', ""));
    let path = dir.join(name.replace('/', "_"));
    crate::files::write_atomically(&path, text.as_bytes()).ok().map(|()| path)
}

fn merged(observed: &Fields, updates: &Fields) -> Fields {
    let mut result = observed.clone();
    for (field, value) in updates {
        result.insert(field.clone(), value.clone());
    }
    result
}

fn field_names(fields: &Fields) -> String {
    fields.keys().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_key_writing_to(dir: &str, file: &str) -> Change {
        serde_json::from_value::<crate::engine::planfile::PlannedChange>(serde_json::json!({
            "key": "ApiKey/widget", "api_version": "orqis.seqops.dev/v1alpha1", "provider": "orqis",
            "action": "create", "display_name": "widget", "fields": [],
            "spec": {"name": "widget", "writeSecretTo": {"file": file}}, "source_dir": dir,
        }))
        .map(Change::from)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn options(rescue_dir: &Path) -> ApplyOptions {
        ApplyOptions { sandbox: true, rescue_dir: Some(rescue_dir.to_path_buf()), ..ApplyOptions::default() }
    }

    #[test]
    fn a_value_shown_once_that_cannot_go_where_it_should_is_kept_beside_state() {
        let state_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Outside the project: refused, as any write that fails after the create.
        let change = api_key_writing_to("/proc", "no-such/widget.key");
        let outputs = BTreeMap::from([("key".to_string(), Secret::new("oq_shown_once"))]);

        let error = write_outputs(&change, &outputs, &options(state_dir.path())).err().unwrap_or_default();

        assert!(error.contains("the value it was shown once is kept in"), "{error}");
        let kept: Vec<PathBuf> = std::fs::read_dir(state_dir.path().join("rescued"))
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert_eq!(kept.len(), 1);
        assert!(error.contains(&kept[0].display().to_string()), "{error}");
        assert_eq!(std::fs::read_to_string(&kept[0]).ok().as_deref(), Some("oq_shown_once\n"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept[0]).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert!(!error.contains("oq_shown_once"), "the value is never in the message");
    }
}
