//! `seqops plan --cluster`: what the controller will do once the manifests
//! are applied to a namespace. The controller's objects in the cluster are
//! the state (their statuses hold what the CLI's state file holds), and the
//! Provider credentials and `secretKeyRef`/`configMapKeyRef` values come
//! from the cluster's Secrets and ConfigMaps. Only reads are made, to the cluster and to the vendors.

use std::sync::Arc;

use kube::api::{Api, DynamicObject};

use super::cluster::{self, ClusterError};
use crate::engine::state::State;
use crate::engine::Connections;
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
}

/// Reads the state and the credentials for `manifests` from `namespace`.
pub async fn view(
    client: &kube::Client,
    namespace: &str,
    manifests: &Manifests,
    kinds: &[KindSpec],
    base_url_override: Option<&str>,
    allowed: &[String],
) -> Result<ClusterView, ClusterError> {
    let mut state = State::new(false);
    let mut being_deleted = Vec::new();
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
            if let Some(entry) = cluster::entry_of(&object, &provider) {
                state.resources.insert(resource.key.clone(), entry);
            }
        }
        cluster::read_sources(client, namespace, &resource.spec, &mut values).await?;
    }
    let mut accounts = Vec::new();
    for provider in manifests.providers() {
        let name = provider.metadata.name.clone();
        if !manifests.managed().any(|r| r.provider.as_deref() == Some(&name)) {
            continue;
        }
        let settings = cluster::account_settings(client, namespace, provider, base_url_override, allowed).await?;
        let dialect = providers::dialect(settings.provider_type);
        accounts.push(Account::connect(settings, dialect, Arc::new(|m| eprintln!("{m}"))));
    }
    let connections = Connections::new(crate::providers::Accounts::new(accounts)).with_cluster_values(values);
    Ok(ClusterView { state, connections, being_deleted })
}
