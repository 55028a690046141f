//! Applying a plan: in dependency order, independent changes at once, and
//! state written after every remote change so that nothing is lost when the
//! run is interrupted.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio::sync::Mutex;

use super::plan::{Action, Change, Plan};
use super::state::{now_rfc3339, Entry, State, StateError, StateStore};
use super::{graph, Connections, EngineError};
use crate::manifest::ResourceKey;
use crate::providers::{ExternalClient, Fields, ProviderError};

/// A line of progress: a change starting, or one finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub line: String,
    pub finished: bool,
}

impl Progress {
    fn started(line: String) -> Self {
        Self {
            line,
            finished: false,
        }
    }

    fn finished(line: String) -> Self {
        Self {
            line,
            finished: true,
        }
    }
}

/// State behind a lock, saved after every change.
pub struct StateWriter {
    store: StateStore,
    state: Mutex<State>,
}

impl StateWriter {
    pub fn new(store: StateStore, state: State) -> Self {
        Self {
            store,
            state: Mutex::new(state),
        }
    }

    /// Applies `change` to state and saves it before returning.
    pub async fn record<R>(&self, change: impl FnOnce(&mut State) -> R) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        change(&mut state);
        self.store.save(&mut state)
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
}

/// How to apply.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    /// Changes made at once.
    pub parallelism: usize,
    /// Re-observe each object before changing it, and leave it alone if it
    /// changed since the plan observed it (for saved plans).
    pub verify_observed: bool,
}

enum Outcome {
    Done,
    Failed(String),
    /// Not attempted: something it depends on did not happen.
    Skipped,
    Untouched(String),
}

impl ApplyReport {
    pub fn count(&self, action: Action) -> usize {
        self.done.iter().filter(|(_, a)| *a == action).count()
    }
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
    let mut report = ApplyReport::default();
    let (removals, others): (Vec<&Change>, Vec<&Change>) = plan
        .changes
        .iter()
        .partition(|c| matches!(c.action, Action::Delete | Action::Forget));
    let mut phases = ordered(&others)?;
    let mut reverse = ordered(&removals)?;
    reverse.reverse();
    phases.extend(reverse);
    let failed_keys: Arc<std::sync::Mutex<BTreeSet<ResourceKey>>> = Default::default();
    for layer in phases {
        let results: Vec<(ResourceKey, Action, Outcome)> = stream::iter(layer)
            .map(|change| {
                let failed_keys = failed_keys.clone();
                async move {
                    let blocked = {
                        let failed = failed_keys.lock().unwrap_or_else(|e| e.into_inner());
                        change.depends_on.iter().any(|d| failed.contains(d))
                    };
                    let outcome = if blocked {
                        Outcome::Skipped
                    } else {
                        match verify(change, connections, options).await {
                            Some(reason) => Outcome::Untouched(reason),
                            None => {
                                match apply_change(change, connections, state, progress).await {
                                    Ok(()) => Outcome::Done,
                                    Err(message) => Outcome::Failed(message),
                                }
                            }
                        }
                    };
                    (change.key.clone(), change.action, outcome)
                }
            })
            .buffer_unordered(options.parallelism.max(1))
            .collect()
            .await;
        for (key, action, outcome) in results {
            if !matches!(outcome, Outcome::Done) {
                failed_keys
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone());
            }
            match outcome {
                Outcome::Done => report.done.push((key, action)),
                Outcome::Skipped => report.skipped.push(key),
                Outcome::Failed(message) => report.failed.push((key, message)),
                Outcome::Untouched(reason) => report.untouched.push((key, reason)),
            }
        }
    }
    Ok(report)
}

/// For a saved plan: why the object must be left alone, if it changed
/// remotely since the plan observed it.
async fn verify(
    change: &Change,
    connections: &Connections,
    options: ApplyOptions,
) -> Option<String> {
    let acts_on_remote = matches!(
        change.action,
        Action::Update | Action::Replace | Action::Delete | Action::Adopt
    );
    let id = change
        .id
        .as_deref()
        .filter(|_| options.verify_observed && acts_on_remote)?;
    let client = match connections.client(&change.provider, &change.key.kind) {
        Ok(client) => client,
        Err(error) => return Some(error.to_string()),
    };
    match client.observe(id).await {
        Ok(None) if change.action == Action::Delete => None,
        Ok(None) => Some(format!("{id} was deleted remotely since the plan was made")),
        Ok(Some(now)) => {
            let changed = super::planfile::changed_since(&change.observed, &now);
            (!changed.is_empty()).then(|| {
                format!(
                    "changed remotely since the plan was made ({})",
                    changed.join(", ")
                )
            })
        }
        Err(error) => Some(format!("could not be observed before changing it: {error}")),
    }
}

fn ordered<'a>(changes: &[&'a Change]) -> Result<Vec<Vec<&'a Change>>, EngineError> {
    let nodes: Vec<(ResourceKey, Vec<ResourceKey>)> = changes
        .iter()
        .map(|c| (c.key.clone(), c.depends_on.clone()))
        .collect();
    let layers = graph::layers(&nodes).map_err(|cycle| {
        let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        EngineError::Plan(vec![format!(
            "these objects refer to each other in a cycle: {}",
            names.join(", ")
        )])
    })?;
    Ok(layers
        .into_iter()
        .map(|layer| {
            layer
                .iter()
                .flat_map(|key| changes.iter().filter(move |c| &c.key == key).copied())
                .collect()
        })
        .collect())
}

async fn apply_change(
    change: &Change,
    connections: &Connections,
    state: &StateWriter,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), String> {
    let key = &change.key;
    let client = connections
        .client(&change.provider, &key.kind)
        .map_err(|e| e.to_string())?;
    let fail = |error: ProviderError| format!("{key}: {error}");
    let save = |error: StateError| {
        format!("{key}: the remote change was made but state could not be saved: {error}")
    };
    match change.action {
        Action::Create => {
            progress(Progress::started(format!("{key}: creating...")));
            let id = create(change, client.as_ref(), state).await?;
            progress(Progress::finished(format!("{key}: created (id {id})")));
        }
        Action::Adopt => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: adopting {id}...")));
            state
                .record(|s| {
                    s.resources.insert(
                        key.clone(),
                        entry_for(
                            change,
                            Some(id.clone()),
                            Fields::new(),
                            change.observed.clone(),
                        ),
                    )
                })
                .await
                .map_err(save)?;
            if !change.updates.is_empty() {
                client.update(&id, &change.updates).await.map_err(fail)?;
            }
            let observed = merged(&change.observed, &change.updates);
            state
                .record(|s| {
                    s.resources.insert(
                        key.clone(),
                        entry_for(change, Some(id.clone()), change.desired.clone(), observed),
                    )
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!("{key}: adopted (id {id})")));
        }
        Action::Update => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!(
                "{key}: updating {}...",
                field_names(&change.updates)
            )));
            client.update(&id, &change.updates).await.map_err(fail)?;
            let observed = merged(&change.observed, &change.updates);
            state
                .record(|s| {
                    s.resources.insert(
                        key.clone(),
                        entry_for(change, Some(id.clone()), change.desired.clone(), observed),
                    )
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!("{key}: updated (id {id})")));
        }
        Action::Replace => {
            let old = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: replacing {old}...")));
            if client.facts().create_before_delete {
                state
                    .record(|s| {
                        if let Some(entry) = s.resources.get_mut(key) {
                            entry.deposed_id = Some(old.clone());
                        }
                    })
                    .await
                    .map_err(save)?;
                let id = create(change, client.as_ref(), state).await?;
                client.delete(&old).await.map_err(fail)?;
                state
                    .record(|s| {
                        if let Some(entry) = s.resources.get_mut(key) {
                            entry.deposed_id = None;
                        }
                    })
                    .await
                    .map_err(save)?;
                progress(Progress::finished(format!(
                    "{key}: replaced ({old} -> {id})"
                )));
            } else {
                client.delete(&old).await.map_err(fail)?;
                state
                    .record(|s| {
                        s.resources.remove(key);
                    })
                    .await
                    .map_err(save)?;
                let id = create(change, client.as_ref(), state).await?;
                progress(Progress::finished(format!(
                    "{key}: replaced ({old} -> {id})"
                )));
            }
        }
        Action::Delete => {
            let id = change.id.clone().unwrap_or_default();
            progress(Progress::started(format!("{key}: deleting {id}...")));
            client.delete(&id).await.map_err(fail)?;
            state
                .record(|s| match s.resources.get_mut(key) {
                    Some(entry) if entry.deposed_id.as_deref() == Some(id.as_str()) => {
                        entry.deposed_id = None
                    }
                    _ => {
                        s.resources.remove(key);
                    }
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!("{key}: deleted")));
        }
        Action::Forget => {
            state
                .record(|s| {
                    s.resources.remove(key);
                })
                .await
                .map_err(save)?;
            progress(Progress::finished(format!(
                "{key}: removed from state; the remote object is kept"
            )));
        }
    }
    Ok(())
}

/// Creates the object, recording it as pending first: if the answer is lost
/// (or the process dies), the next run finds it by name instead of creating
/// it twice. A create that got no answer is looked up before giving up.
async fn create(
    change: &Change,
    client: &dyn ExternalClient,
    state: &StateWriter,
) -> Result<String, String> {
    let key = &change.key;
    let save = |error: StateError| format!("{key}: state could not be saved: {error}");
    state
        .record(|s| {
            let mut entry = s
                .resources
                .get(key)
                .cloned()
                .unwrap_or_else(|| entry_for(change, None, Fields::new(), Fields::new()));
            entry.pending_since = Some(now_rfc3339());
            entry.display_name = change.display_name.clone();
            // While pending there is no id; a replaced object's old id is
            // kept in `deposed_id` until its delete is confirmed.
            entry.id = None;
            s.resources.insert(key.clone(), entry);
        })
        .await
        .map_err(save)?;
    let id = match client.create(&change.desired).await {
        Ok(id) => id,
        Err(error) if error.is_unanswered() => {
            let managed = state
                .snapshot()
                .await
                .managed_ids(&change.provider, &key.kind);
            let found = client
                .list()
                .await
                .map_err(|e| format!("{key}: {error}; looking it up failed too: {e}"))?;
            let matches: Vec<_> = found
                .into_iter()
                .filter(|s| s.display_name == change.display_name && !managed.contains(&s.id))
                .collect();
            match matches.as_slice() {
                [one] => one.id.clone(),
                _ => return Err(format!("{key}: {error}; it is recorded as pending and the next run looks for it before creating anything")),
            }
        }
        Err(error) => {
            // The API answered no: nothing was made, so nothing is pending.
            state
                .record(|s| {
                    if let Some(entry) = s.resources.get_mut(key) {
                        if entry.deposed_id.is_some() {
                            entry.id = entry.deposed_id.take();
                            entry.pending_since = None;
                        } else {
                            s.resources.remove(key);
                        }
                    }
                })
                .await
                .map_err(save)?;
            return Err(format!("{key}: {error}"));
        }
    };
    let deposed = state
        .snapshot()
        .await
        .resources
        .get(key)
        .and_then(|e| e.deposed_id.clone());
    state
        .record(|s| {
            let mut entry = entry_for(
                change,
                Some(id.clone()),
                change.desired.clone(),
                change.desired.clone(),
            );
            entry.deposed_id = deposed;
            s.resources.insert(key.clone(), entry);
        })
        .await
        .map_err(save)?;
    Ok(id)
}

fn entry_for(change: &Change, id: Option<String>, last_applied: Fields, observed: Fields) -> Entry {
    Entry {
        api_version: change.api_version.clone(),
        provider: change.provider.clone(),
        id,
        display_name: change.display_name.clone(),
        pending_since: None,
        deposed_id: None,
        manifest_digest: change.manifest_digest.clone(),
        applied_spec: change.spec.clone(),
        last_applied,
        observed,
        observed_at: now_rfc3339(),
        orphan_on_delete: change.orphan_on_delete,
        prevent_destroy: change.prevent_destroy,
        depends_on: change.depends_on.clone(),
    }
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
