//! Observe: the object's world as the cluster holds it (its manifest, its
//! Provider, what it refers to and reads), its account, and a plan against
//! what the vendor's API holds now. Every request a reconcile reads with is
//! made here; decide makes none.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use serde_json::Value;

use super::cluster::{self, ClusterError, World};
use super::context::Reconciling;
use super::error::ReconcileError;
use crate::engine::{self, Connections, Plan, PlanOptions, Refresh};
use crate::external::digest::Digests;
use crate::providers::ratelimit::Priority;

/// What a reconcile observed: all that decide and apply need, and nothing
/// they must fetch.
pub struct Observation {
    pub world: World,
    pub connections: Connections,
    /// The object's change and what it depends on, against the API now.
    pub plan: Plan,
    /// The object's spec as the cluster holds it: its policies.
    pub spec: Value,
    pub digests: Digests,
    /// When the object is next checked for drift.
    pub interval: Duration,
}

pub enum Observed {
    Now(Box<Observation>),
    /// A drift check whose turn in the budget has not come: it waits
    /// outside the controller's queue, so that an edit to the object is
    /// not held behind it.
    NotYet(Duration),
}

pub async fn observe(at: &Reconciling<'_>) -> Result<Observed, ReconcileError> {
    let world = load(at).await?;
    let connected = at.context.connect(&world, at.object, at.namespace, at.priority).await?;
    if let Some(wait) = (at.priority == Priority::Check).then(|| connected.handle.reserve_check()).flatten() {
        return Ok(Observed::NotYet(wait.max(Duration::from_secs(1))));
    }
    let shared = &at.context.shared;
    let interval =
        shared.drift_interval.unwrap_or_else(|| drift_interval(connected.handle.limiter().limit(), connected.objects));
    let spec = cluster::spec_of(at.object);
    // Only an object with secrets needs the key (one read, once).
    let digests = if crate::external::sources::Sources::of(&spec).any() {
        shared.digests().await.map_err(|e| ReconcileError::ApiServer(e.to_string()))?
    } else {
        Digests::default()
    };
    let options = PlanOptions {
        digests: digests.clone(),
        targets: vec![world.key.clone()],
        list_only_for_new: true,
        outputs_to_files: false,
        ..PlanOptions::new(Refresh::Full)
    };
    let plan = engine::plan(&world.manifests, &world.state, &connected.connections, &options).await?;
    let connections = connected.connections;
    Ok(Observed::Now(Box::new(Observation { world, connections, plan, spec, digests, interval })))
}

/// The object's world; a reference without an id yet is waited for, and
/// wakes the object as soon as it has one.
async fn load(at: &Reconciling<'_>) -> Result<World, ReconcileError> {
    match cluster::load(&at.context.shared, at.object, &at.context.kind).await {
        Err(ClusterError::ReferenceNotReady(key)) => {
            let waits_for = BTreeSet::from([key.to_string()]);
            let (kind, name) = (at.context.kind.key_kind, at.object.name_any());
            at.context.shared.references.note_reads(kind, at.namespace, &name, &waits_for);
            Err(ReconcileError::ReferenceNotReady(key))
        }
        loaded => Ok(loaded?),
    }
}

/// How often an account's objects are read for drift: half the hourly
/// budget spread over them, and never more often than every five minutes.
pub fn drift_interval(requests_per_hour: Option<u32>, objects: usize) -> Duration {
    let floor = Duration::from_secs(300);
    match requests_per_hour.filter(|l| *l > 0) {
        Some(limit) => floor.max(Duration::from_secs(objects as u64 * 3600 * 2 / u64::from(limit))),
        None => floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_checks_spread_half_the_budget_over_an_accounts_objects() {
        assert_eq!(drift_interval(Some(200), 10), Duration::from_secs(360));
        assert_eq!(drift_interval(Some(200), 1), Duration::from_secs(300));
        assert_eq!(drift_interval(Some(200), 100), Duration::from_secs(3600));
        assert_eq!(drift_interval(None, 1000), Duration::from_secs(300));
    }
}
