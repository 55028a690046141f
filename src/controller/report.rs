//! Report: what a reconcile tells of what it found and did, in the object's
//! status (server-side applied, from what the journal last wrote), its
//! Events, and the objects it wakes.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use super::apply::Applied;
use super::cluster;
use super::conditions::Verdict;
use super::context::{Context, Reconciling};
use super::decide::Observed;
use super::error::ReconcileError;

use super::journal::{self, Written};
use crate::engine::{Action, Change};
use crate::manifest::crd::ResourceStatus;
use crate::manifest::kind::KindSpec;
use crate::manifest::ResourceKey;
use crate::providers;

/// An object seqops only observes: what differs, its id, and why nothing
/// is changed.
pub async fn observed(at: &Reconciling<'_>, observed: &Observed) -> Result<(), ReconcileError> {
    let Observed { drift, external_id, refused } = observed;
    write_status(at.api, at.object, |status| {
        status.drift = drift.clone();
        status.external_id = external_id.clone();
        status.observed_annotations = provider_annotations(&at.context.kind, at.object);
        Verdict::observed_ready(external_id.is_some(), refused.clone()).set(status, at.object);
        Verdict::observed_sync(!drift.is_empty()).set(status, at.object);
    })
    .await?;
    Ok(())
}

/// An object applied: its record and conditions, the Event its change
/// makes, and the objects that refer to it woken when its id is new.
pub async fn applied(at: &Reconciling<'_>, key: &ResourceKey, applied: &Applied) -> Result<(), ReconcileError> {
    let Applied { entry, change, terminal, provenance } = applied;
    write_status_from(at.api, at.object, at.written, |status| {
        status.keep(entry.as_ref());
        status.observed_annotations = provider_annotations(&at.context.kind, at.object);
        // Drift found was just set back (the Event names it): none is left.
        status.drift = Vec::new();
        let what = match change.as_ref().map(|c| c.action) {
            Some(action) => format!("{action:?} applied").to_lowercase(),
            None => "the remote object matches the spec".to_string(),
        };
        terminal.as_deref().map_or_else(Verdict::available, Verdict::terminal).set(status, at.object);
        Verdict::applied(what).set(status, at.object);
    })
    .await?;
    let Some(change) = change else { return Ok(()) };
    let id = entry.as_ref().and_then(|e| e.id.clone()).unwrap_or_default();
    let (reason, mut note) = event_of(change, &id);
    if !provenance.is_empty() {
        note.push_str(&format!("; {}", provenance.describe()));
    }
    record(at.context, at.object, false, reason, note).await;
    if matches!(change.action, Action::Create | Action::Adopt | Action::Replace) {
        // What refers to this object has its (new) id to use now.
        at.context.shared.references.wake(at.namespace, &key.to_string());
    }
    Ok(())
}

/// A reconcile that did not end in sync: its condition (from what the
/// journal recorded, so that a failure after a remote change keeps the
/// record of it), its metric, and a Warning unless it only waits.
pub async fn failed(at: &Reconciling<'_>, error: &ReconcileError) -> Result<(), ReconcileError> {
    at.context.shared.metrics.record_error(at.context.kind.kind, error.metric_label());
    write_status_from(at.api, at.object, at.written, |status| Verdict::failed(error).set(status, at.object)).await?;
    if error.is_failure() {
        record(at.context, at.object, true, error.reason(), error.to_string()).await;
    }
    Ok(())
}

/// The object's annotations that its kind's provider reads.
pub fn provider_annotations(kind: &KindSpec, object: &DynamicObject) -> BTreeMap<String, String> {
    object
        .annotations()
        .iter()
        .filter(|(name, _)| kind.annotations.contains(&name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// The Event a change applied makes: its reason and what it says.
fn event_of(change: &Change, id: &str) -> (&'static str, String) {
    let fields = || change.fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ");
    let renew = providers::facts_for(&change.key.kind).and_then(|f| f.renew()).filter(|_| change.renews);
    if let (Action::Create, Some(renew)) = (change.action, renew) {
        let token = change.renew_token.as_deref().unwrap_or_default();
        return (renew.event, format!("made the remote object {id} anew, as {}: {token:?} asks", renew.annotation));
    }
    match change.action {
        Action::Create => ("Created", format!("created the remote object {id}")),
        Action::Adopt => ("Adopted", format!("adopted the remote object {id}")),
        Action::Replace => {
            let old = change.id.as_deref().unwrap_or_default();
            ("Replaced", format!("replaced the remote object {old} with {id} ({} cannot change in place)", fields()))
        }
        Action::Delete | Action::Forget => ("Deleted", format!("removed the remote object {id}")),
        _ if !change.drift.is_empty() => ("DriftCorrected", format!("set {} back to the spec", fields())),
        _ => ("Updated", format!("updated {}", fields())),
    }
}

/// Records a Kubernetes Event about the object. An Event that cannot be
/// written is logged, never a reason to fail the reconcile.
pub async fn record(context: &Context, object: &DynamicObject, warning: bool, reason: &str, note: String) {
    // The API server refuses notes over 1 kB.
    let note = if note.len() > 1000 {
        let mut end = 1000;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &note[..end])
    } else {
        note
    };
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    let reference = object.object_ref(&context.resource);
    if let Err(error) = context.shared.recorder.publish(&event, &reference).await {
        tracing::warn!("cannot record the Event {reason} for {}: {error}", cluster::label(object).display());
    }
}

/// Server-side applies the object's status, as field manager `seqops`, on
/// condition that the object is as it was read: a stale copy's status must
/// never take back what a newer one says (the conflict is retried with a
/// fresh copy).
pub async fn write_status(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    change: impl FnOnce(&mut ResourceStatus),
) -> Result<(), kube::Error> {
    write_status_from(api, object, &Written::default(), change).await
}

/// [`write_status`] from what the journal last wrote, if it wrote.
async fn write_status_from(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    written: &Written,
    change: impl FnOnce(&mut ResourceStatus),
) -> Result<(), kube::Error> {
    let mut status = written.latest(object);
    change(&mut status);
    status.observed_generation = object.metadata.generation;
    journal::patch_status(api, object, &status, written.version(object).as_deref()).await.map(|_| ())
}
