//! The Kubernetes controller: one kube-rs Controller per kind, all through
//! one generic reconciler over the engine. What the CLI keeps in its state
//! file, the controller keeps in each object's status.

pub mod cluster;
pub mod leader;
pub mod metrics;
pub mod reconcile;

use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{watcher, Controller};
use kube::Client;

pub use reconcile::{Context, ReconcileError};

/// Kinds the controller reconciles: every kind but Provider.
pub fn reconciled_kinds() -> Vec<usize> {
    let kinds = crate::providers::kinds();
    (0..kinds.len()).filter(|&i| kinds[i].provider_type.is_some()).collect()
}

/// Where the controller runs and how it elects its leader.
pub struct Options {
    /// Watch only this namespace.
    pub namespace: Option<String>,
    /// Replaces every Provider's base URL (the sandbox).
    pub base_url_override: Option<String>,
    pub metrics_addr: String,
    /// The Lease that elects the one replica that reconciles.
    pub lease_namespace: String,
    pub lease_name: String,
    pub identity: String,
}

/// Serves health and metrics at once, then reconciles while this replica
/// holds the Lease; returns when it loses it (the process should exit and
/// be restarted as a follower).
pub async fn run_elected(client: Client, options: Options) {
    // Followers answer health probes too.
    let metrics = Arc::new(metrics::Metrics::default());
    let served = metrics.clone();
    let addr = options.metrics_addr.clone();
    tokio::spawn(async move {
        if let Err(error) = metrics::serve(&addr, served).await {
            tracing::error!("cannot serve health and metrics on {addr}: {error}");
        }
    });
    let api = Api::namespaced(client.clone(), &options.lease_namespace);
    let lock = leader::LeaseLock::new(
        api,
        options.lease_name.clone(),
        options.identity.clone(),
        std::time::Duration::from_secs(15),
    );
    lock.lead(run(client, options.namespace, options.base_url_override, metrics)).await;
}

/// Runs a controller per kind until the process stops, counting reconciles
/// in `metrics`.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    base_url_override: Option<String>,
    metrics: Arc<metrics::Metrics>,
) {
    let mut shared = reconcile::Shared::new(client.clone(), base_url_override);
    shared.metrics = metrics;
    let shared = Arc::new(shared);
    let mut runs = Vec::new();
    for index in reconciled_kinds() {
        let context = Arc::new(Context::new(shared.clone(), index));
        let resource = context.resource.clone();
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let controller = Controller::new_with(api, watcher::Config::default(), resource)
            .shutdown_on_signal()
            .run(reconcile::reconcile, reconcile::error_policy, context)
            .for_each(|result| async move {
                if let Err(error) = result {
                    tracing::warn!("reconcile failed: {error}");
                }
            });
        runs.push(controller);
    }
    futures::future::join_all(runs).await;
}
