//! Adopting an existing remote object: bound in state first, then brought
//! to what the manifest asks.

use super::existing::update;
use super::writer::upsert;
use super::{unsaved, Progress, Step, Written};
use crate::engine::Failure;

/// `Action::Adopt`: the object bound to the manifest, and updated.
pub(super) async fn apply_adopt(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, client, state, progress, .. } = *step;
    let key = &change.key;
    let id = change.id.clone().unwrap_or_default();
    progress(Progress::started(format!("{key}: adopting {id}...")));
    let prepared = step.prepare().await?;
    // Until the update is confirmed, state knows the id but not what was
    // applied, so an interrupted adopt is planned again in full.
    state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, Some(id.clone()), |e| {
                e.manifest_digest = String::new();
                e.set_observed(&change.observed);
            })
        })
        .await
        .map_err(unsaved(key))?;
    update(change, &prepared, &id, client, state).await?;
    progress(Progress::finished(format!("{key}: adopted (id {id})")));
    Ok(Written::default())
}
