//! `seqops plan --cluster`: what the controller will do once the manifests
//! are applied to a namespace. The controller's objects in the cluster are
//! the state (their statuses hold what the CLI's state file holds), and the
//! Provider credentials and `secretKeyRef`/`configMapKeyRef` values come
//! from the cluster's Secrets and ConfigMaps. Only reads are made, to the cluster and to the vendors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kube::api::{Api, DynamicObject};

use super::cluster::{self, ClusterError};
use super::prune::{self, Findings, Scope};
use crate::engine::state::State;
use crate::engine::Connections;
use crate::external::Stored;
use crate::manifest::{KindSpec, Manifests};
use crate::providers::sources::ClusterValues;
use crate::providers::{self, Account};

/// What a plan against the cluster starts from.
pub struct ClusterView {
    pub state: State,
    pub connections: Connections,
    /// Manifests whose object is being deleted in the cluster: the
    /// controller finishes the delete, whatever the manifests say.
    pub being_deleted: Vec<String>,
    /// Objects in the cluster the manifests no longer hold, a prune's and
    /// those left alone.
    pub removed: Findings,
}

/// Whether the plan deletes what the manifests no longer hold, and which.
#[derive(Clone, Debug, Default)]
pub struct PruneOptions {
    pub prune: bool,
    pub scope: Scope,
}

/// Reads the state and the credentials for `manifests` from `namespace`.
pub async fn view(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
    kinds: &[KindSpec],
    base_url_override: Option<&str>,
    allowed: &[String],
    prune: &PruneOptions,
) -> Result<ClusterView, ClusterError> {
    let mut state = State::new(false);
    let mut being_deleted = Vec::new();
    let mut present = Vec::new();
    let mut values = ClusterValues::from_cluster();
    for resource in manifests.managed() {
        let Some(kind) = kinds.iter().find(|k| k.key_kind == resource.key.kind) else { continue };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &cluster::api_resource(kind));
        if let Some(object) = api.get_opt(&resource.metadata.name).await? {
            if object.metadata.deletion_timestamp.is_some() {
                being_deleted.push(resource.key.to_string());
            }
            state.salts.insert(resource.key.clone(), cluster::salt_of(&object));
            let provider = resource.provider.clone().unwrap_or_default();
            if let Some(entry) = cluster::record_of(&object, &provider) {
                state.resources.insert(resource.key.clone(), entry);
            }
            present.push(object);
        }
        cluster::read_sources(client, namespace, resource.spec.json(), &mut values).await?;
    }
    let mut removed = prune::find(client, namespace, manifests, kinds, &present, &prune.scope, prune.prune).await?;
    let pruned_providers = insert_pruned(&mut state, &mut removed, manifests);
    let mut accounts = Vec::new();
    for provider in manifests.providers() {
        let name = provider.metadata.name.clone();
        let used = manifests.managed().any(|r| r.provider.as_deref() == Some(&name));
        if !used && !pruned_providers.contains(&name) {
            continue;
        }
        let settings = cluster::account_settings(client, namespace, provider, base_url_override, allowed).await?;
        let dialect = providers::dialect(settings.provider_type);
        accounts.push(Account::connect(settings, dialect, Arc::new(|m| eprintln!("{m}"))));
    }
    let connections = Connections::new(crate::providers::Accounts::new(accounts)).with_cluster_values(values);
    Ok(ClusterView { state, connections, being_deleted, removed })
}

/// Puts each object a prune deletes into `state`, as the controller's
/// finalizer will see it, so the plan shows its delete (or why it is kept).
/// One whose Provider is not in the manifests cannot be planned and is
/// left. Returns the Providers they use.
fn insert_pruned(state: &mut State, removed: &mut Findings, manifests: &Manifests) -> BTreeSet<String> {
    let providers: BTreeMap<String, String> = manifests
        .providers()
        .map(|p| {
            let provider_type = p.spec.typed::<crate::manifest::ProviderSpec>().map(|s| s.provider_type.to_string());
            (p.metadata.name.clone(), provider_type.unwrap_or_default())
        })
        .collect();
    let mut used = BTreeSet::new();
    for object in std::mem::take(&mut removed.pruned) {
        let provider = prune::provider_of(&object, &providers).filter(|p| providers.contains_key(p));
        let Some(provider) = provider else {
            removed.left.push(object.key);
            continue;
        };
        if let Some(mut entry) = cluster::record_of(&object.object, &provider) {
            // A status written before the applied spec was kept: what the
            // object holds is what was last applied.
            if entry.applied_spec.is_null() {
                entry.applied_spec = Stored::of(&cluster::spec_of(&object.object));
            }
            state.salts.insert(object.key.clone(), cluster::salt_of(&object.object));
            state.resources.insert(object.key.clone(), entry);
            used.insert(provider);
        }
        removed.pruned.push(object);
    }
    used
}
