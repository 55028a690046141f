//! The Kubernetes controller: one kube-rs Controller per kind, all through
//! one generic reconciler over the engine. What the CLI keeps in its state
//! file, the controller keeps in each object's status.

mod apply;
mod budgets;
pub mod cluster;
mod conditions;
mod context;
mod decide;
pub mod digest_key;
pub mod error;
mod finalize;
mod finalizers;
pub mod journal;
pub mod leader;
pub mod metrics;
mod observe;
mod outputs;
pub mod preview;
pub mod provider_guard;
mod provider_health;
pub mod prune;
pub mod reconcile;
mod references;
mod report;
mod shared;

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret as KubeSecret};
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, PartialObjectMeta};
use kube::runtime::{reflector, watcher, Controller, WatchStreamExt};
use kube::{Client, ResourceExt};
use tokio::sync::mpsc;

use crate::manifest::KindSpec;

pub use error::ReconcileError;
pub use reconcile::Context;

/// Kinds the controller reconciles: every kind but Provider.
pub fn reconciled_kinds() -> Vec<KindSpec> {
    crate::providers::kinds().into_iter().filter(|k| k.provider_type.is_some()).collect()
}

/// Where the controller runs and how it elects its leader.
pub struct Options {
    /// Watch only this namespace.
    pub namespace: Option<String>,
    /// Replaces every Provider's base URL (the sandbox).
    pub base_url_override: Option<String>,
    pub metrics_addr: String,
    /// Re-reads every object this often instead of the interval computed
    /// from the request budget (for trying drift correction out).
    pub drift_interval: Option<std::time::Duration>,
    /// Hosts other than the vendors' that Providers' keys may be sent to
    /// (`--allow-base-url`): the operator's, never a manifest's.
    pub allowed_hosts: Vec<String>,
    /// The Lease that elects the one replica that reconciles.
    pub lease_namespace: String,
    pub lease_name: String,
    pub identity: String,
    /// How much an object's manifest may hold and nest: one over a limit
    /// is reported on its condition and nothing is sent for it.
    pub limits: crate::manifest::limits::Limits,
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
    lock.lead(run(client, options, metrics)).await;
}

/// Reconciles of one kind run at once, at most: each holds a plan and its
/// connections while it runs, and a thousand at once (every object at
/// start) cost their memory all at the same time. Checks never wait for
/// budget in a place (see `BudgetHandle::reserve_check`), so an edit is not
/// queued behind them.
const RECONCILES_AT_ONCE: u16 = 64;

/// What the cache keeps of each object: not what the controller never
/// reads, which on a real API server is most of its metadata (the fields
/// each manager set, and kubectl's copy of the whole object).
fn slim(object: &mut DynamicObject) {
    for managed in object.metadata.managed_fields.iter_mut().flatten() {
        managed.fields_v1 = None;
    }
    object.annotations_mut().remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Runs a controller per kind until the process stops, counting reconciles
/// in `metrics`.
pub async fn run(client: Client, options: Options, metrics: Arc<metrics::Metrics>) {
    let namespace = options.namespace;
    let mut shared = reconcile::Shared::new(client.clone(), options.base_url_override);
    shared.metrics = metrics;
    shared.drift_interval = options.drift_interval;
    shared.policy = crate::operator::Policy::default().allowing_hosts(options.allowed_hosts);
    shared.limits = options.limits;
    shared.key_namespace = options.lease_namespace;
    let shared = Arc::new(shared);
    let mut senders = HashMap::new();
    let mut runs = Vec::new();
    for kind in reconciled_kinds() {
        let context = Arc::new(Context::new(shared.clone(), kind));
        let resource = context.resource.clone();
        let api = dynamic_api(&client, &namespace, &resource);
        let (sender, receiver) = mpsc::unbounded_channel();
        senders.insert(kind.key_kind, (sender, resource.clone()));
        // Only what the user changed wakes the reconciler: the spec (the
        // generation), annotations, finalizers, a delete. The controller's
        // own status writes would otherwise reconcile each object again,
        // spending vendor requests for nothing.
        let writer = reflector::store::Writer::new(resource.clone());
        let reader = writer.as_reader();
        let changes = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(slim)
            .reflect(writer)
            .filter_map(changed_by_user());
        let controller = Controller::for_stream_with(changes, reader, resource)
            .with_config(kube::runtime::controller::Config::default().concurrency(RECONCILES_AT_ONCE))
            .reconcile_on(futures::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|o| (o, r)) }))
            .shutdown_on_signal()
            .run(reconcile::reconcile, reconcile::error_policy, context)
            .for_each(|result| async move {
                if let Err(error) = result {
                    tracing::warn!("reconcile failed: {}", with_causes(&error));
                }
            });
        runs.push(controller);
    }
    // Providers are woken, like objects, by a change to the Secret they read.
    let (sender, receiver) = mpsc::unbounded_channel();
    let providers = cluster::api_resource(&crate::manifest::PROVIDER_KIND);
    senders.insert(crate::manifest::PROVIDER_KIND.key_kind, (sender, providers));
    let guard = guard_providers(client.clone(), namespace.clone(), shared.clone(), receiver);
    shared.references.set_triggers(senders);
    tokio::spawn(watch_sources(client, namespace, shared));
    futures::future::join(futures::future::join_all(runs), guard).await;
}

/// An error and what caused it, on one line: the runtime's own error says
/// only which object failed.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        // The runtime's errors name their cause themselves since kube 3.
        let part = inner.to_string();
        if !text.ends_with(&part) {
            text.push_str(&format!(": {part}"));
        }
        cause = inner.source();
    }
    text
}

/// Keeps each Provider while objects use it.
async fn guard_providers(
    client: Client,
    namespace: Option<String>,
    shared: Arc<reconcile::Shared>,
    woken: mpsc::UnboundedReceiver<kube::runtime::reflector::ObjectRef<DynamicObject>>,
) {
    let context = Arc::new(Context::new(shared, crate::manifest::PROVIDER_KIND));
    let resource = context.resource.clone();
    let api = dynamic_api(&client, &namespace, &resource);
    // Its own status writes must not reconcile it again.
    let writer = reflector::store::Writer::new(resource.clone());
    let reader = writer.as_reader();
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .filter_map(changed_by_user());
    Controller::for_stream_with(changes, reader, resource)
        .reconcile_on(futures::stream::unfold(woken, |mut r| async move { r.recv().await.map(|o| (o, r)) }))
        .shutdown_on_signal()
        .run(provider_guard::reconcile, reconcile::error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::warn!("guarding a Provider failed: {}", with_causes(&error));
            }
        })
        .await;
}

type WatchEvent<E> = Result<watcher::Event<DynamicObject>, E>;

/// Passes an object on only when what a user changes on it (spec,
/// annotations, finalizers, deletion) differs from when it last passed;
/// forgets objects once they are deleted.
fn changed_by_user<E>() -> impl FnMut(WatchEvent<E>) -> std::future::Ready<Option<Result<DynamicObject, E>>> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    move |event| {
        let passed = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                object.metadata.generation.hash(&mut hasher);
                object.annotations().hash(&mut hasher);
                object.finalizers().hash(&mut hasher);
                object.metadata.deletion_timestamp.is_some().hash(&mut hasher);
                let hash = hasher.finish();
                (seen.insert(object.uid().unwrap_or_default(), hash) != Some(hash)).then_some(Ok(object))
            }
            Ok(watcher::Event::Delete(object)) => {
                seen.remove(&object.uid().unwrap_or_default());
                None
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
            Err(error) => Some(Err(error)),
        };
        std::future::ready(passed)
    }
}

/// Reconciles the objects that read a Secret, a ConfigMap or a Provider
/// whenever it changes. Only metadata is watched: values never pass through
/// here.
async fn watch_sources(client: Client, namespace: Option<String>, shared: Arc<reconcile::Shared>) {
    // An `Api` of `PartialObjectMeta` asks for metadata only.
    let provider_resource = cluster::api_resource(&crate::manifest::PROVIDER_KIND);
    let providers: Api<PartialObjectMeta<DynamicObject>> = match &namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &provider_resource),
        None => Api::all_with(client.clone(), &provider_resource),
    };
    let changes = futures::stream::select_all([
        changed_objects(typed_api::<PartialObjectMeta<KubeSecret>>(&client, &namespace), "Secret", any_change).boxed(),
        changed_objects(typed_api::<PartialObjectMeta<ConfigMap>>(&client, &namespace), "ConfigMap", any_change)
            .boxed(),
        // A Provider's status (which the controller writes) is no change
        // its objects need to hear of: each would spend a read.
        changed_objects(providers, "Provider", user_change).boxed(),
    ]);
    futures::pin_mut!(changes);
    while let Some((object_namespace, read)) = changes.next().await {
        shared.references.wake(&object_namespace, &read);
    }
}

/// A seqops kind's objects in the watched namespace, or in all of them.
fn dynamic_api(client: &Client, namespace: &Option<String>, resource: &ApiResource) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

fn typed_api<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// What tells one version of an object from another: any write.
fn any_change(object: &PartialObjectMeta<impl kube::Resource>) -> String {
    object.resource_version().unwrap_or_default()
}

/// What tells one version of an object from another: what a user changes
/// (the spec, annotations, finalizers, a delete), not its status.
fn user_change(object: &PartialObjectMeta<impl kube::Resource>) -> String {
    format!(
        "{:?}/{:?}/{:?}/{}",
        object.metadata.generation,
        object.annotations(),
        object.finalizers(),
        object.metadata.deletion_timestamp.is_some()
    )
}

/// The objects of one kind that change, as (namespace, `Kind/name`): a new
/// version (as `version` tells them apart) or a delete, not the same object
/// listed again when the watch restarts (that would reconcile every reader
/// for nothing).
fn changed_objects<K>(
    api: Api<PartialObjectMeta<K>>,
    kind: &'static str,
    version: fn(&PartialObjectMeta<K>) -> String,
) -> impl futures::Stream<Item = (String, String)> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let mut versions: HashMap<(String, String), String> = HashMap::new();
    watcher(api, watcher::Config::default()).default_backoff().filter_map(move |event| {
        let changed = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                let at = (object.namespace().unwrap_or_default(), format!("{kind}/{}", object.name_any()));
                let version = version(&object);
                (versions.insert(at.clone(), version.clone()) != Some(version)).then_some(at)
            }
            Ok(watcher::Event::Delete(object)) => {
                let at = (object.namespace().unwrap_or_default(), format!("{kind}/{}", object.name_any()));
                versions.remove(&at);
                Some(at)
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
            Err(error) => {
                tracing::warn!("watching {kind}s: {error}");
                None
            }
        };
        std::future::ready(changed)
    })
}
