//! Apply: the plan made, each remote change recorded in the object's
//! status as it happens (pending before a create), so that the next
//! reconcile resumes from it, and values shown once written to the
//! object's Secret.

use std::sync::Arc;

use kube::api::DynamicObject;

use super::cluster::annotation;
use super::context::Reconciling;
use super::error::ReconcileError;
use super::journal::{StatusJournal, MANAGER};
use super::observe::Observation;
use super::outputs;
use crate::engine::apply::StateWriter;
use crate::engine::history::Provenance;
use crate::engine::state::{Entry, StateStore};
use crate::engine::{self, ApplyOptions, Change};

/// What applying did: the object's record once applied, the change made
/// (if any), and the state its remote object is in when nothing follows.
pub struct Applied {
    pub entry: Option<Entry>,
    pub change: Option<Box<Change>>,
    pub terminal: Option<String>,
    pub provenance: Provenance,
}

/// Applies the observed plan; `change` is the object's own.
pub async fn apply(
    at: &Reconciling<'_>,
    observation: &Observation,
    change: Option<Box<Change>>,
) -> Result<Applied, ReconcileError> {
    let key = &observation.world.key;
    let journal =
        StatusJournal { api: at.api.clone(), object: at.object.clone(), key: key.clone(), written: at.written.clone() };
    let writer = StateWriter::with_sink(StateStore::in_memory(), observation.world.state.clone(), Arc::new(journal));
    let provenance = provenance_of(at.object);
    let options = ApplyOptions {
        parallelism: 1,
        outputs_to_files: false,
        digests: observation.digests.clone(),
        provenance: provenance.clone(),
        ..ApplyOptions::default()
    };
    let report = engine::apply(&observation.plan, &observation.connections, &writer, options, &|_| {}).await?;
    for (_, values) in &report.outputs {
        outputs::write(at, values).await?;
    }
    if let Some((_, failure)) = report.failed.into_iter().next() {
        return Err(ReconcileError::of_failure(failure));
    }
    let entry = writer.snapshot().await.resources.get(key).cloned();
    let terminal = terminal_state(observation, entry.as_ref());
    Ok(Applied { entry, change, terminal, provenance })
}

/// The state the remote object is in, when its kind says nothing follows
/// it.
fn terminal_state(observation: &Observation, entry: Option<&Entry>) -> Option<String> {
    let key = &observation.world.key;
    let provider = observation.world.manifests.get(key).and_then(|r| r.provider.clone()).unwrap_or_default();
    let facts = observation.connections.client(&provider, &key.kind).ok().map(|c| c.facts());
    facts.zip(entry).and_then(|(facts, e)| facts.terminal(&e.observed()))
}

/// Who changed the object and why, as far as the cluster says: the field
/// manager of its latest change that was not the controller's own (kubectl,
/// a GitOps tool), and `kubernetes.io/change-cause`.
pub fn provenance_of(object: &DynamicObject) -> Provenance {
    let managers = object.metadata.managed_fields.iter().flatten();
    let latest = managers
        .filter(|m| m.manager.as_deref() != Some(MANAGER) && m.subresource.is_none())
        .max_by_key(|m| m.time.clone());
    Provenance {
        author: latest.and_then(|m| m.manager.clone()),
        message: annotation(object, "kubernetes.io/change-cause").map(String::from),
        ..Provenance::default()
    }
}
