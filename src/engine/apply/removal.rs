//! An object leaving state: deleted remotely, or forgotten with the remote
//! object kept.

use super::writer::clear_deposed;
use super::{failed, unsaved, Progress, Step, Written};
use crate::engine::Failure;

/// `Action::Delete`: the remote object deleted, then its entry (or, for a
/// replaced object's old id, only that id) taken out of state.
pub(super) async fn apply_delete(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, client, state, progress, .. } = *step;
    let key = &change.key;
    let id = change.id.clone().unwrap_or_default();
    progress(Progress::started(format!("{key}: deleting {id}...")));
    client.delete(&id).await.map_err(failed(key))?;
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
        .map_err(unsaved(key))?;
    progress(Progress::finished(format!("{key}: deleted")));
    Ok(Written::default())
}

/// `Action::Forget`: the entry taken out of state; the remote object is
/// kept.
pub(super) async fn apply_forget(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, state, progress, .. } = *step;
    let key = &change.key;
    state
        .record_entries(std::slice::from_ref(key), |s| {
            s.resources.remove(key);
        })
        .await
        .map_err(unsaved(key))?;
    progress(Progress::finished(format!("{key}: removed from state; the remote object is kept")));
    Ok(Written::default())
}
