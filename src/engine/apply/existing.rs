//! Changing an object state knows: its updates sent in place, or, where
//! the plan replaces it, a new one made and the old one deleted (in the
//! order the kind needs), the old id kept in state until its delete is
//! confirmed.

use super::create::create;
use super::prepare::Prepared;
use super::writer::{clear_deposed, mark_deposed, upsert};
use super::{failed, unsaved, Progress, StateWriter, Step, Written};
use crate::engine::plan::Change;
use crate::engine::Failure;
use crate::external::{ExternalClient, Fields, UpdateRequest};

/// `Action::Update`: the planned fields sent in place.
pub(super) async fn apply_update(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, client, state, progress, .. } = *step;
    let key = &change.key;
    let id = change.id.clone().unwrap_or_default();
    progress(Progress::started(format!("{key}: updating {}...", field_names(&change.updates))));
    let prepared = step.prepare().await?;
    update(change, &prepared, &id, client, state).await?;
    progress(Progress::finished(format!("{key}: updated (id {id})")));
    Ok(Written::default())
}

/// `Action::Replace`: the old id is marked deposed first, so a run killed
/// between the create and the delete still deletes it next time.
pub(super) async fn apply_replace(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, client, state, progress, .. } = *step;
    let key = &change.key;
    let old = change.id.clone().unwrap_or_default();
    progress(Progress::started(format!("{key}: replacing {old}...")));
    let prepared = step.prepare().await?;
    let keys = std::slice::from_ref(key);
    state.record_entries(keys, |s| mark_deposed(s, key, &old)).await.map_err(unsaved(key))?;
    let (id, written) = if client.facts().create_before_delete() {
        let (id, written, _) = create(step, &prepared).await?;
        delete_deposed(change, &old, client, state).await?;
        (id, written)
    } else {
        delete_deposed(change, &old, client, state).await?;
        let (id, written, _) = create(step, &prepared).await?;
        (id, written)
    };
    progress(Progress::finished(format!("{key}: replaced ({old} -> {id})")));
    Ok(written)
}

/// Deletes a replaced object's old id, and takes it out of state.
async fn delete_deposed(
    change: &Change,
    old: &str,
    client: &dyn ExternalClient,
    state: &StateWriter,
) -> Result<(), Failure> {
    let key = &change.key;
    client.delete(old).await.map_err(failed(key))?;
    state.record_entries(std::slice::from_ref(key), |s| clear_deposed(s, key, old)).await.map_err(unsaved(key))
}

/// Sends the planned updates (if any) and records what is now applied.
pub(super) async fn update(
    change: &Change,
    prepared: &Prepared,
    id: &str,
    client: &dyn ExternalClient,
    state: &StateWriter,
) -> Result<(), Failure> {
    let key = &change.key;
    if !prepared.updates.is_empty() {
        let request = UpdateRequest {
            id,
            changes: &prepared.updates,
            desired: &prepared.desired,
            observed: &change.observed,
            sources: &prepared.sources,
        };
        client.update(request).await.map_err(failed(key))?;
    }
    let observed = merged(&change.observed, &prepared.updates);
    state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, Some(id.to_string()), |e| e.set_applied(&prepared.desired, &observed))
        })
        .await
        .map_err(unsaved(key))
}

/// What the object is once the updates are made, as far as seqops knows.
fn merged(observed: &Fields, updates: &Fields) -> Fields {
    let mut result = observed.clone();
    for (field, value) in updates {
        result.insert(field.clone(), value.clone());
    }
    result
}

/// `name, flow`: the fields an update sends, for progress lines.
fn field_names(fields: &Fields) -> String {
    fields.keys().cloned().collect::<Vec<_>>().join(", ")
}
