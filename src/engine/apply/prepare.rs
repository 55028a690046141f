//! Before a change is made: a saved plan's object checked unchanged since
//! the plan saw it, references to objects made earlier in this apply
//! resolved, and sources read again (a plan never keeps their values).

use std::path::PathBuf;

use super::{ApplyOptions, StateWriter};
use crate::engine::connections::Connections;
use crate::engine::plan::{Action, Change};
use crate::engine::Failure;
use crate::external::sources::{SourceReader, SourceValues};
use crate::external::{DesiredContext, ExternalClient, Fields, Stored, KNOWN_AFTER_APPLY};

/// An error with every value the change's sources hold taken out: an API
/// may echo what it was sent, and errors reach the terminal, status and
/// Events.
pub(super) fn scrubbed(message: &str, change: &Change, connections: &Connections, options: &ApplyOptions) -> String {
    let values = reader_for(change, options, connections).read_all(change.spec.sources()).unwrap_or_default();
    crate::external::sources::scrub(message, &values, None)
}

/// What reads a change's sources, as the plan read them.
fn reader_for<'c>(change: &Change, options: &ApplyOptions, connections: &'c Connections) -> SourceReader<'c> {
    connections.source_reader(PathBuf::from(&change.source_dir), options.sandbox)
}

/// For a saved plan: why the object must be left alone, if it changed
/// remotely since the plan observed it.
pub(super) async fn verify(change: &Change, connections: &Connections, options: &ApplyOptions) -> Option<String> {
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
            let changed = crate::engine::planfile::changed_since(&change.observed, &now);
            (!changed.is_empty()).then(|| format!("changed remotely since the plan was made ({})", changed.join(", ")))
        }
        Err(error) => Some(format!("could not be observed before changing it: {error}")),
    }
}

/// The fields to write, with the values behind them: references to objects
/// created earlier in this apply resolved, and sources read again (values
/// are never kept in a plan).
pub(super) struct Prepared {
    pub(super) desired: Fields,
    pub(super) updates: Fields,
    pub(super) sources: SourceValues,
}

/// What to send for `change`, as it is now: as planned when the plan
/// needed nothing resolved, else resolved again and checked against the
/// plan (a value that changed since is an error, never sent unseen).
pub(super) async fn prepare(
    change: &Change,
    client: &dyn ExternalClient,
    connections: &Connections,
    state: &StateWriter,
    options: &ApplyOptions,
) -> Result<Prepared, Failure> {
    let key = &change.key;
    let unresolved = change.desired.values().any(has_placeholder);
    let has_sources = change.spec.sources().any();
    if !unresolved && !has_sources {
        return Ok(Prepared {
            desired: change.desired.clone(),
            updates: change.updates.clone(),
            sources: SourceValues::default(),
        });
    }
    let sources = reader_for(change, options, connections)
        .read_all(change.spec.sources())
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
    let previous = (Stored::of(change.spec.json()), Stored::of(&change.desired));
    let context = DesiredContext {
        refs,
        previous: Some((&previous.0, &previous.1)),
        sources,
        digests,
        annotations: change.annotations.clone(),
    };
    let fresh = client.desired(&change.spec, &context).await.map_err(|e| Failure::provider(key, &e))?;
    for (field, planned) in &change.desired {
        if !has_placeholder(planned) && fresh.get(field) != Some(planned) {
            return Err(format!(
                "{key}: `{field}` is not what the plan showed (its source or what it refers to changed); run `seqops plan` again"
            )
            .into());
        }
    }
    if let Some(field) = fresh.iter().find(|(_, v)| has_placeholder(v)).map(|(f, _)| f) {
        return Err(format!("{key}: `{field}` refers to an object that does not exist").into());
    }
    let updates = change.updates.keys().filter_map(|k| fresh.get(k).map(|v| (k.clone(), v.clone()))).collect();
    Ok(Prepared { desired: fresh, updates, sources: context.sources })
}

/// Whether a value still holds `(known after apply)` somewhere.
fn has_placeholder(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s == KNOWN_AFTER_APPLY,
        serde_json::Value::Array(items) => items.iter().any(has_placeholder),
        serde_json::Value::Object(map) => map.values().any(has_placeholder),
        _ => false,
    }
}
