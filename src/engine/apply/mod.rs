//! Applying a plan: in dependency order, independent changes at once, and
//! state written after every remote change so that nothing is lost when the
//! run is interrupted.
//!
//! This module holds the apply's types and the driver that runs a plan's
//! layers; each action is carried out in a module of its own, as the
//! planner plans it:
//!
//! - `create`: a new object, and a create whose answer was lost;
//! - `existing`: an update in place, or a replacement;
//! - `adoption`: binding an existing remote object;
//! - `removal`: a delete, or a forget that keeps the remote object;
//! - `prepare`: what every write needs first (a saved plan's object
//!   checked, references resolved, sources read again);
//! - `outputs`: values an API returns once;
//! - `writer`: state as the apply writes it.

mod adoption;
mod create;
mod existing;
mod outputs;
mod prepare;
mod removal;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use super::history::{self, HistoryRecord, Provenance};
use super::plan::{Action, Change, Plan};
use super::state::{now_rfc3339, State, StateError};
use super::{graph, Connections, EngineError, Failure};
use crate::external::{Cause, ExternalClient, ProviderError, Secret};
use crate::manifest::ResourceKey;

pub use writer::{record_syncs, StateWriter};

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

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub done: Vec<(ResourceKey, Action)>,
    pub failed: Vec<(ResourceKey, Failure)>,
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
    Failed(Failure),
    /// Not attempted: something it depends on did not happen.
    Skipped,
    Untouched(String),
    /// Not started: the apply was asked to stop.
    Stopped(String),
}

/// One change's result, by its key and action.
type Ran = (ResourceKey, Action, Outcome);

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
    writer::record_moves(&plan.changes, state).await?;
    record_syncs(&plan.syncs, state).await?;
    let mut report = ApplyReport::default();
    // What did not happen: what depends on it is skipped.
    let mut failed = BTreeSet::new();
    // Accounts whose first write of this apply has been tried.
    let mut proven: BTreeSet<String> = BTreeSet::new();
    for layer in phases(&plan.changes)? {
        let mut results = Vec::new();
        for batch in first_writes_alone(layer, &plan.changes, &failed, &mut proven) {
            results.extend(run_batch(&batch, connections, state, options, progress).await);
        }
        let made = report.add(results, &mut failed);
        record_history(&plan.changes, &made, state, options).await?;
    }
    Ok(report)
}

/// The layers changes run in: creates, adopts, updates and replaces in
/// dependency order, then deletes and forgets in the reverse of theirs.
fn phases(changes: &[Change]) -> Result<Vec<Vec<&Change>>, EngineError> {
    let (removals, others): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| matches!(c.action, Action::Delete | Action::Forget));
    let mut phases = ordered(&others)?;
    let mut reverse = ordered(&removals)?;
    reverse.reverse();
    phases.extend(reverse);
    Ok(phases)
}

/// A layer's changes, each with whether something it waits for failed, in
/// two batches run one after the other. An account's first write goes
/// alone: a key that may not write is refused once, and its other writes
/// are then not tried.
fn first_writes_alone<'c>(
    layer: Vec<&'c Change>,
    all: &[Change],
    failed: &BTreeSet<ResourceKey>,
    proven: &mut BTreeSet<String>,
) -> [Vec<(&'c Change, bool)>; 2] {
    let blocked: Vec<bool> = layer.iter().map(|change| blocked_by(change, all, failed)).collect();
    let mut seen = BTreeSet::new();
    let (first, rest): (Vec<_>, Vec<_>) = layer.into_iter().zip(blocked).partition(|(change, _)| {
        change.action.sends() && !proven.contains(&change.provider) && seen.insert(&change.provider)
    });
    proven.extend(first.iter().chain(&rest).map(|(change, _)| change.provider.clone()));
    [first, rest]
}

/// Runs a batch, `parallelism` changes at once.
async fn run_batch(
    batch: &[(&Change, bool)],
    connections: &Connections,
    state: &StateWriter,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Ran> {
    // The futures are made first and boxed, not made by a closure inside
    // the stream: that keeps the whole apply `Send` for every lifetime, as
    // the controller's runtime needs. A few hundred at a time: each holds
    // room for its whole run, kilobytes.
    let parallelism = options.parallelism.max(1);
    let mut results = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(FUTURES_AT_ONCE.max(parallelism)) {
        let runs: Vec<BoxFuture<'_, Ran>> = chunk
            .iter()
            .map(|&(change, blocked)| -> BoxFuture<'_, _> {
                Box::pin(run_change(change, blocked, connections, state, options, progress))
            })
            .collect();
        results.extend(stream::iter(runs).buffer_unordered(parallelism).collect::<Vec<_>>().await);
    }
    results
}

impl ApplyReport {
    /// Adds a layer's results, and returns the objects it changed; what
    /// did not happen joins `failed`.
    fn add(&mut self, results: Vec<Ran>, failed: &mut BTreeSet<ResourceKey>) -> BTreeSet<ResourceKey> {
        let mut made = BTreeSet::new();
        for (key, action, outcome) in results {
            if matches!(outcome, Outcome::Done(_)) {
                made.insert(key.clone());
            } else {
                failed.insert(key.clone());
            }
            match outcome {
                Outcome::Done(written) => {
                    if let Some(path) = written.file {
                        self.outputs_written.push((key.clone(), path));
                    }
                    if !written.values.is_empty() {
                        self.outputs.push((key.clone(), written.values));
                    }
                    self.done.push((key, action));
                }
                Outcome::Skipped => self.skipped.push(key),
                Outcome::Failed(message) => self.failed.push((key, message)),
                Outcome::Untouched(reason) => self.untouched.push((key, reason)),
                Outcome::Stopped(why) => {
                    self.left.push(key);
                    self.stopped = Some(why);
                }
            }
        }
        made
    }
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
) -> Ran {
    let refused = connections.refusal(&change.provider).filter(|_| change.action.sends());
    let outcome = if let Some(why) = options.stop.requested().or_else(|| state.fenced()) {
        Outcome::Stopped(why)
    } else if blocked {
        Outcome::Skipped
    } else if let Some(why) = refused {
        Outcome::Failed(Failure::new(format!("{}: not tried, since {why}", change.key), Cause::Refused))
    } else {
        match prepare::verify(change, connections, options).await {
            Some(reason) => Outcome::Untouched(reason),
            None => match apply_change(change, connections, state, options, progress).await {
                Ok(written) => Outcome::Done(written),
                Err(failure) => {
                    let message = prepare::scrubbed(&failure.message, change, connections, options);
                    Outcome::Failed(failure.reworded(message))
                }
            },
        }
    };
    (change.key.clone(), change.action, outcome)
}

/// Carries out one change, by its action.
async fn apply_change(
    change: &Change,
    connections: &Connections,
    state: &StateWriter,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Written, Failure> {
    let client = connections.client(&change.provider, &change.key.kind).map_err(|e| e.to_string())?;
    let step = Step { change, client: client.as_ref(), connections, state, options, progress };
    match change.action {
        Action::Create => create::apply_create(&step).await,
        Action::Adopt => adoption::apply_adopt(&step).await,
        Action::Update => existing::apply_update(&step).await,
        Action::Replace => existing::apply_replace(&step).await,
        Action::Delete => removal::apply_delete(&step).await,
        Action::Forget => removal::apply_forget(&step).await,
        Action::Moved => {
            // Its record moved before anything was applied: nothing is sent.
            progress(Progress::finished(format!("{}: state keeps its record under this name", change.key)));
            Ok(Written::default())
        }
    }
}

/// One change being applied, with what applying it needs: its client,
/// the cluster's values its secrets may come from, state, the run's
/// options and where progress is told.
#[derive(Clone, Copy)]
pub(super) struct Step<'a> {
    pub change: &'a Change,
    pub client: &'a dyn ExternalClient,
    pub connections: &'a Connections,
    pub state: &'a StateWriter,
    pub options: &'a ApplyOptions,
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

impl Step<'_> {
    /// The change's values resolved for sending.
    async fn prepare(&self) -> Result<prepare::Prepared, Failure> {
        prepare::prepare(self.change, self.client, self.connections, self.state, self.options).await
    }
}

/// An error the API gave for the change, as the apply reports it.
fn failed(key: &ResourceKey) -> impl Fn(ProviderError) -> Failure + '_ {
    move |error| Failure::provider(key, &error)
}

/// State could not be saved after a remote change was made.
fn unsaved(key: &ResourceKey) -> impl Fn(StateError) -> Failure + '_ {
    move |error| {
        let message = format!("{key}: the remote change was made but state could not be saved: {error}");
        Failure::new(message, Cause::Unrecorded)
    }
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

/// The changes in layers of their dependency graph: each layer depends
/// only on those before it.
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
