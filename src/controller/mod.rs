//! The Kubernetes controller: one kube-rs Controller per kind, all through
//! one generic reconciler over the engine. What the CLI keeps in its state
//! file, the controller keeps in each object's status.

pub mod cluster;
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

/// Runs a controller per kind, and the health and metrics endpoints on
/// `metrics_addr`, until the process stops.
pub async fn run(client: Client, namespace: Option<String>, base_url_override: Option<String>, metrics_addr: String) {
    let shared = Arc::new(reconcile::Shared::new(client.clone(), base_url_override));
    let metrics = shared.metrics.clone();
    tokio::spawn(async move {
        if let Err(error) = metrics::serve(&metrics_addr, metrics).await {
            tracing::error!("cannot serve health and metrics on {metrics_addr}: {error}");
        }
    });
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
