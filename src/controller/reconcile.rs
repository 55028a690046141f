//! The one reconciler every kind goes through: finalizer and pause, then
//! observe (the object's world from the cluster, a plan against its API),
//! decide (from the observation alone), apply (each remote change recorded
//! as it happens) and report (status, Events, metrics).

use std::sync::Arc;

use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Action;
use kube::ResourceExt;

use super::apply;
use super::cluster::{self, annotation};
pub use super::context::Context;
use super::context::Reconciling;
use super::decide::{decide_for, Decision};
pub use super::error::{backoff, ReconcileError};
use super::finalize::finalize;
pub use super::finalize::FINALIZER;
use super::finalizers;
use super::journal::Written;
pub use super::journal::MANAGER;
pub use super::observe::drift_interval;
use super::observe::{observe, Observed};
use super::report::{self, provider_annotations};
pub use super::shared::{AccountHealth, Shared, MASS_DELETE_LIMIT};
use crate::manifest::annotations;
use crate::manifest::kind::KindSpec;
use crate::providers::ratelimit::Priority;

pub async fn reconcile(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = object.namespace().unwrap_or_else(|| "default".into());
    let api: Api<DynamicObject> = Api::namespaced_with(context.shared.client.clone(), &namespace, &context.resource);
    let written = Written::default();
    // A reconcile of an object already in sync only checks for drift: it
    // leaves a share of the account's budget to the changes people make.
    let priority = if only_checks(&context.kind, &object) { Priority::Check } else { Priority::Change };
    let at = Reconciling {
        object: &object,
        context: &context,
        api: &api,
        namespace: &namespace,
        written: &written,
        priority,
    };
    if annotation(&object, annotations::PAUSED) == Some("true") {
        return Ok(Action::await_change());
    }
    if object.metadata.deletion_timestamp.is_some() {
        return finalize(&at).await;
    }
    if !finalizers::has(object.as_ref(), FINALIZER) {
        finalizers::add(&api, object.as_ref(), FINALIZER).await?;
        // The change comes back as a watch event.
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let result = sync(&at).await;
    let kind = context.kind.kind;
    context.shared.metrics.record(kind, outcome(&result));
    context.shared.metrics.record_duration(kind, started.elapsed());
    match result {
        Ok(action) => {
            context.shared.backoffs.reset(&object.uid().unwrap_or_default());
            Ok(action)
        }
        Err(error) => {
            report::failed(&at, &error).await?;
            // A wait (for a reference's id) is reported like a failure,
            // but comes back when it said, with no backoff.
            if error.is_failure() {
                Err(error)
            } else {
                Ok(Action::requeue(error.requeue(0)))
            }
        }
    }
}

/// The `result` label of `seqops_reconciles_total`.
fn outcome(result: &Result<Action, ReconcileError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(error) if error.is_failure() => "error",
        Err(_) => "waiting",
    }
}

/// Observes, decides, applies and reports.
async fn sync(at: &Reconciling<'_>) -> Result<Action, ReconcileError> {
    let observation = match observe(at).await? {
        Observed::NotYet(wait) => return Ok(Action::requeue(wait)),
        Observed::Now(observation) => observation,
    };
    let decision = decide_for(&observation);
    if decision.makes() {
        // Before anything is made: the value it returns once must have a
        // Secret of this object's to go to.
        super::outputs::secret_is_ours(at).await?;
    }
    match decision {
        Decision::Observe(observed) => report::observed(at, &observed).await?,
        Decision::Apply(change) => {
            let applied = apply::apply(at, &observation, change).await?;
            report::applied(at, &observation.world.key, &applied).await?;
        }
    }
    Ok(Action::requeue(observation.interval))
}

/// Whether the object's spec and its provider's annotations are the ones
/// last synced, and synced well: its reconcile is a drift check, not a
/// change someone asked for. (An annotation such as a new re-enroll token
/// does not move `metadata.generation`.)
fn only_checks(kind: &KindSpec, object: &DynamicObject) -> bool {
    let status = cluster::sync_of(object);
    let synced = status.conditions.iter().any(|c| c.type_ == "Synced" && c.status == "True");
    status.observed_generation.is_some()
        && status.observed_generation == object.metadata.generation
        && synced
        && status.observed_annotations == provider_annotations(kind, object)
}

/// When a failed object is tried again, by what failed
/// ([`ReconcileError::requeue`]): backing off exponentially per object,
/// 5 s, 10 s, 20 s … up to 15 minutes, and never sooner than a vendor
/// asked.
pub fn error_policy(object: Arc<DynamicObject>, error: &ReconcileError, context: Arc<Context>) -> Action {
    if !error.is_failure() {
        return Action::requeue(error.requeue(0));
    }
    let failures = context.shared.backoffs.failed(&object.uid().unwrap_or_default());
    Action::requeue(error.requeue(failures))
}
