//! Adopting an existing remote object: bound in state first, then brought
//! to what the manifest asks.

use super::existing::update;
use super::prepare::prepare;
use super::writer::upsert;
use super::{unsaved, ApplyOptions, Progress, StateWriter, Written};
use crate::engine::plan::Change;
use crate::external::sources::ClusterValues;
use crate::external::ExternalClient;

/// `Action::Adopt`: the object bound to the manifest, and updated.
pub(super) async fn apply_adopt(
    change: &Change,
    client: &dyn ExternalClient,
    cluster: &ClusterValues,
    state: &StateWriter,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Written, String> {
    let key = &change.key;
    let id = change.id.clone().unwrap_or_default();
    progress(Progress::started(format!("{key}: adopting {id}...")));
    let prepared = prepare(change, client, cluster, state, options).await?;
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
