//! Creating an object. It is recorded as pending first, with what the
//! create sends: if the answer is lost (or the process dies), the next run
//! finds it instead of creating it twice. A create that got no answer is
//! looked up before giving up; objects that already had the name before it
//! are not taken for it.

use std::collections::BTreeMap;

use super::outputs::write_outputs;
use super::prepare::Prepared;
use super::writer::upsert;
use super::{existing, Progress, StateWriter, Step, Written};
use crate::engine::lost::{LostCreate, Made};
use crate::engine::plan::Change;
use crate::engine::state::{now_rfc3339, Entry, StateError};
use crate::engine::Failure;
use crate::external::{Cause, Created, ExternalClient, Fields, ProviderError, Stored};

/// What a create made: the new id, where its values shown once went, and
/// the provider's note on how it made it.
pub(super) type NewObject = (String, Written, Option<String>);

/// `Action::Create`: a new object.
pub(super) async fn apply_create(step: &Step<'_>) -> Result<Written, Failure> {
    let Step { change, progress, .. } = *step;
    let key = &change.key;
    progress(Progress::started(format!("{key}: creating...")));
    let prepared = step.prepare().await?;
    let (id, written, note) = create(step, &prepared).await?;
    let how = note.map(|n| format!("; {n}")).unwrap_or_default();
    progress(Progress::finished(format!("{key}: created (id {id}){how}")));
    Ok(written)
}

/// Creates the object, recording it as pending first: if the answer is lost
/// (or the process dies), the next run finds it by name instead of creating
/// it twice. A create that got no answer is looked up before giving up;
/// objects that already had the name before it are not taken for it.
pub(super) async fn create(step: &Step<'_>, prepared: &Prepared) -> Result<NewObject, Failure> {
    let Step { change, client, state, .. } = *step;
    let key = &change.key;
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
        .map_err(unsaved(change))?;
    match send_create(client, prepared).await {
        Ok(created) => record_created(step, prepared, created).await,
        Err(error) if error.is_unanswered() => {
            let message = recover_unanswered(step, &error, &sent).await;
            Err(Failure::new(message, error.cause()))
        }
        Err(error) => {
            restore(change, previous, state).await?;
            Err(Failure::provider(&change.key, &error))
        }
    }
}

/// State could not be saved around a create.
fn unsaved(change: &Change) -> impl Fn(StateError) -> Failure + '_ {
    move |error| Failure::new(format!("{}: state could not be saved: {error}", change.key), Cause::Unrecorded)
}

/// The API answered no: nothing was made, so state goes back to what it
/// was (a replaced object keeps its old id).
async fn restore(change: &Change, previous: Option<Entry>, state: &StateWriter) -> Result<(), Failure> {
    let key = &change.key;
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
        .map_err(unsaved(change))
}

/// The create answered. The one-time values go first: once state says the
/// object exists, nothing would ask for them again. Fields the create could
/// not set are then sent by an update.
async fn record_created(step: &Step<'_>, prepared: &Prepared, created: Created) -> Result<NewObject, Failure> {
    let Step { change, client, state, options, connections, .. } = *step;
    let id = created.id.clone();
    let applied: Fields = prepared
        .desired
        .iter()
        .filter(|(k, _)| !created.unapplied.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let written = if options.outputs_to_files {
        write_outputs(change, &created.outputs, options, connections.policy())
            .map(|file| Written { file, values: BTreeMap::new() })
    } else {
        Ok(Written { file: None, values: created.outputs.clone() })
    };
    let mut observed = applied.clone();
    observed.extend(created.observed.clone());
    state
        .record_entries(std::slice::from_ref(&change.key), |s| {
            upsert(s, change, Some(id.clone()), |e| e.set_applied(&applied, &observed))
        })
        .await
        .map_err(unsaved(change))?;
    let written = written?;
    if !created.unapplied.is_empty() {
        let rest = Prepared {
            desired: prepared.desired.clone(),
            updates: created.unapplied.clone(),
            sources: prepared.sources.clone(),
        };
        let mut after_create = change.clone();
        after_create.observed = applied;
        existing::update(&after_create, &rest, &id, client, state).await?;
    }
    Ok((id, written, created.note))
}

/// A create that got no answer: the values shown once that came with the
/// error go where they belong first (whatever the lookup finds, they are
/// not lost), then the object it made is looked up and, when found, bound.
/// The create is reported failed either way; the words say what is next.
async fn recover_unanswered(step: &Step<'_>, error: &ProviderError, sent: &Fields) -> String {
    let Step { change, client, state, options, connections, .. } = *step;
    let key = &change.key;
    let kept = match error.outputs() {
        Some(outputs) if options.outputs_to_files => {
            match write_outputs(change, outputs, options, connections.policy()) {
                Ok(Some(path)) => format!("; the value shown once is in {}", path.display()),
                Ok(None) => String::new(),
                Err(message) => format!("; {message}"),
            }
        }
        _ => String::new(),
    };
    let error = format!("{error}{kept}");
    let _one_at_a_time = state.recovery.lock().await;
    let id = match find_unanswered(change, sent, client, state).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return format!(
                "{key}: {error}; it is recorded as pending and the next run looks for it before creating anything"
            )
        }
        Err(lookup) => return format!("{key}: {error}; {lookup}"),
    };
    // The object exists, but what the create would have answered is lost:
    // state binds the id with what the create sent as applied, and no
    // manifest digest, so the next plan finishes the object.
    let bound = state
        .record_entries(std::slice::from_ref(key), |s| {
            upsert(s, change, Some(id.clone()), |e| {
                e.manifest_digest = String::new();
                e.set_applied(sent, sent);
            });
        })
        .await;
    match bound {
        Err(why) => unsaved(change)(why).message,
        Ok(()) => format!(
            "{key}: {error}; the object it made ({id}) is now in state: run apply again to finish it (a value the API shows only once was lost with the answer; replace the object to get a new one)"
        ),
    }
}

/// Sends a create. A kind whose create is idempotent is sent again when
/// its answer is lost: the answer is recovered with no guess from a list.
async fn send_create(client: &dyn ExternalClient, prepared: &Prepared) -> Result<Created, ProviderError> {
    let mut result = client.create(&prepared.desired, &prepared.sources).await;
    if client.facts().idempotent_create() {
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
