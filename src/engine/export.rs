//! Onboarding an existing account: a manifest and a state entry for every
//! remote object seqops does not manage yet, so that an immediate plan says
//! `No changes.`

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::state::{now_rfc3339, Entry, State};
use super::{digest, Connections, EngineError};
use crate::external::{DesiredContext, ListScope, ProviderError, Stored};
use crate::manifest::ResourceKey;

/// One exported object.
#[derive(Debug)]
pub struct Exported {
    pub key: ResourceKey,
    pub api_version: String,
    pub kind: String,
    pub spec: serde_json::Value,
    pub entry: Entry,
}

/// Reads every object of `kind` in `provider` that state does not manage
/// (one list, then one read each) and returns its manifest and state entry.
/// Manifest names come from display names, made unique against `taken`.
pub async fn export(
    connections: &Connections,
    provider: &str,
    kind: (&str, &str, &str),
    state: &State,
    taken: &mut BTreeSet<ResourceKey>,
    parallelism: usize,
) -> Result<Vec<Exported>, EngineError> {
    export_selected(connections, provider, kind, state, taken, parallelism, &Default::default()).await
}

/// [`export`] of the objects `filters` select (`--sequence`, `--status`).
pub async fn export_selected(
    connections: &Connections,
    provider: &str,
    kind: (&str, &str, &str),
    state: &State,
    taken: &mut BTreeSet<ResourceKey>,
    parallelism: usize,
    filters: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<Vec<Exported>, EngineError> {
    let (api_version, kind_name, key_kind) = kind;
    let client = connections.client(provider, key_kind)?;
    let managed = state.managed_ids(provider, key_kind);
    let summaries: Vec<_> = client
        .list(&if filters.is_empty() { ListScope::All } else { ListScope::Export(filters) })
        .await
        .map_err(provider_error)?
        .into_iter()
        .filter(|s| !managed.contains(&s.id))
        .collect();
    let client = &client;
    let observed: Vec<_> = stream::iter(summaries)
        .map(|summary| async move { Ok::<_, ProviderError>((client.observe(&summary.id).await?, summary)) })
        .buffered(parallelism.max(1))
        .try_collect()
        .await
        .map_err(provider_error)?;
    let mut exported = Vec::new();
    for (fields, summary) in observed {
        // Gone between the list and the read: nothing to export.
        let Some(fields) = fields else { continue };
        let Some(exported_spec) = client.export(&fields).await.map_err(provider_error)? else {
            continue;
        };
        let mut spec = serde_json::Map::new();
        spec.insert("providerRef".into(), serde_json::json!({ "name": provider }));
        spec.extend(exported_spec.as_object().cloned().unwrap_or_default());
        let spec = serde_json::Value::Object(spec);
        let desired = client
            .desired(&crate::external::Spec::from_json(spec.clone()), &DesiredContext::default())
            .await
            .map_err(provider_error)?;
        let key = unique_key(key_kind, &summary.display_name, taken);
        let entry = Entry {
            api_version: api_version.to_string(),
            provider: provider.to_string(),
            id: Some(summary.id.clone()),
            display_name: summary.display_name.clone(),
            pending_since: None,
            deposed_id: None,
            manifest_digest: digest(&spec),
            applied_spec: Stored::of(&spec),
            last_applied: Stored::of(&desired),
            observed: Some(Stored::of(&fields)),
            observed_at: now_rfc3339(),
            orphan_on_delete: false,
            prevent_destroy: false,
            depends_on: Vec::new(),
            renew_token: None,
            preexisting: Vec::new(),
        };
        exported.push(Exported { key, api_version: api_version.to_string(), kind: kind_name.to_string(), spec, entry });
    }
    Ok(exported)
}

fn provider_error(error: ProviderError) -> EngineError {
    EngineError::Plan(vec![error.to_string()])
}

/// A manifest name from a display name: lower case, `-` between words,
/// with a number added when the name is taken.
fn unique_key(kind: &str, display_name: &str, taken: &mut BTreeSet<ResourceKey>) -> ResourceKey {
    let mut slug = String::new();
    for ch in display_name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').chars().take(60).collect::<String>();
    let slug = if slug.is_empty() { "object".to_string() } else { slug.trim_end_matches('-').to_string() };
    let mut key = ResourceKey::new(kind, slug.clone());
    let mut counter = 2;
    while taken.contains(&key) {
        key = ResourceKey::new(kind, format!("{slug}-{counter}"));
        counter += 1;
    }
    taken.insert(key.clone());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_display_names_and_are_made_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_key("Sequence", "Welcome DM!", &mut taken).name, "welcome-dm");
        assert_eq!(unique_key("Sequence", "welcome  dm", &mut taken).name, "welcome-dm-2");
        assert_eq!(unique_key("Sequence", "👋", &mut taken).name, "object");
    }
}
