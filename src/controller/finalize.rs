//! On deletion: the remote object goes (unless orphaned), then the
//! finalizer; never the finalizer first. What happens is decided from the
//! object alone before anything is read, then done, then told.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::ResourceExt;

use super::cluster::{self, annotation};
use super::context::{Context, Reconciling};
use super::error::ReconcileError;
use super::finalizers;
use super::report::record;
use super::shared::MASS_DELETE_LIMIT;
use crate::engine::lost::{LostCreate, Made};
use crate::external::ExternalClient;
use crate::manifest::{annotations, policy};
use crate::providers::ratelimit::Priority;

/// The finalizer that keeps an object until its remote object is deleted.
pub const FINALIZER: &str = "seqops.dev/finalizer";

/// What deleting the object does to its remote object.
#[derive(Debug, PartialEq)]
pub enum Ending {
    /// Kept: orphaned by annotation, left out of the policies, or a kind
    /// the API cannot delete.
    Keep { undeletable: bool },
    /// Held by `seqops.dev/prevent-destroy`, with this object.
    Blocked { id: String },
    /// Deleted, when there is anything remote (an id, a deposed id, or a
    /// create whose answer was lost).
    Delete { remote: bool },
}

/// Decided from the object before connecting, so a broken Provider does
/// not hold an object that keeps its remote object in deletion.
pub fn ending(context: &Context, object: &DynamicObject) -> Ending {
    let undeletable = context.kind.facts.is_some_and(|f| !f.deletable());
    let orphan = annotation(object, annotations::DELETION_POLICY) == Some("orphan")
        || !policy::allows(&cluster::spec_of(object), policy::Policy::Delete)
        || undeletable;
    if orphan {
        return Ending::Keep { undeletable };
    }
    let status = cluster::status_of(object);
    if let Some(id) =
        status.external_id.clone().filter(|_| annotation(object, annotations::PREVENT_DESTROY) == Some("true"))
    {
        return Ending::Blocked { id };
    }
    let remote =
        status.external_id.is_some() || status.record.deposed_id.is_some() || status.record.pending_since.is_some();
    Ending::Delete { remote }
}

pub async fn finalize(at: &Reconciling<'_>) -> Result<Action, ReconcileError> {
    let Reconciling { object, context, api, .. } = *at;
    if !finalizers::has(object, FINALIZER) {
        return Ok(Action::await_change());
    }
    match ending(context, object) {
        Ending::Blocked { id } => {
            let note = format!(
                "seqops.dev/prevent-destroy: \"true\" keeps the remote object {id} and this object with it: remove the annotation to let the delete go on, or set seqops.dev/deletion-policy: orphan to keep the remote object and let this one go"
            );
            record(context, object, true, "DeleteBlocked", note).await;
            return Ok(Action::await_change());
        }
        Ending::Delete { remote: true } => {
            if let Some(held) = delete_remote(at).await? {
                return Ok(held);
            }
        }
        Ending::Delete { remote: false } => {}
        Ending::Keep { undeletable } => orphaned(context, object, undeletable).await,
    }
    context.shared.forget(context.kind.key_kind, object);
    finalizers::remove(api, object, FINALIZER).await?;
    Ok(Action::await_change())
}

/// Deletes what the object made remotely; a requeue when the Provider's
/// mass-delete window holds it.
async fn delete_remote(at: &Reconciling<'_>) -> Result<Option<Action>, ReconcileError> {
    let Reconciling { object, context, namespace, .. } = *at;
    let world = cluster::load(&context.shared, object, &context.kind).await?;
    let connected = context.connect(&world, object, namespace, Priority::Change).await?;
    let provider = world.manifests.get(&world.key).and_then(|r| r.provider.clone()).unwrap_or_default();
    let client = connected.connections.client(&provider, context.kind.key_kind.as_str())?;
    let allowed = world
        .manifests
        .providers()
        .find(|p| p.metadata.name == provider)
        .is_some_and(|p| p.annotation_is_true(annotations::ALLOW_MASS_DELETE));
    if !context.shared.deletes.admit(&format!("{namespace}/{provider}"), allowed) {
        let note = format!(
            "held: more than {MASS_DELETE_LIMIT} objects of Provider {provider} were deleted within a minute; annotate the Provider {}: \"true\" to let the deletions go on",
            annotations::ALLOW_MASS_DELETE
        );
        record(context, object, true, "MassDeleteHeld", note).await;
        return Ok(Some(Action::requeue(Duration::from_secs(30))));
    }
    for id in remote_objects(at, client.as_ref()).await? {
        client.delete(&id).await?;
        record(context, object, false, "Deleted", format!("deleted the remote object {id}")).await;
    }
    Ok(None)
}

/// Tells that the remote object was kept, and why when the API cannot
/// delete it.
async fn orphaned(context: &Context, object: &DynamicObject, undeletable: bool) {
    let Some(id) = cluster::status_of(object).external_id else { return };
    let note = if undeletable {
        format!("the API cannot delete a {}: kept the remote object {id}", context.kind.kind)
    } else {
        format!("kept the remote object {id}")
    };
    record(context, object, false, "Orphaned", note).await;
}

/// The remote objects deleting `object` deletes: its own, a replaced one
/// still to be deleted (`deposedId`), and, for a create whose answer was
/// lost, what that create made, looked up as the engine does: by natural
/// key or by what it sent, among objects no other object of the kind
/// manages that were not there before. Several candidates are reported in
/// a Warning and none is deleted.
async fn remote_objects(at: &Reconciling<'_>, client: &dyn ExternalClient) -> Result<Vec<String>, ReconcileError> {
    let Reconciling { object, api, context, .. } = *at;
    let status = cluster::status_of(object);
    let mut ids: Vec<String> = status.external_id.iter().chain(status.record.deposed_id.iter()).cloned().collect();
    let Some(entry) = cluster::record_of(object, "").filter(|e| e.id.is_none() && e.pending_since.is_some()) else {
        return Ok(ids);
    };
    let sent = entry.last_applied();
    let lost = LostCreate { display_name: &entry.display_name, sent: &sent, preexisting: &entry.preexisting };
    if !lost.knows_what_was_sent() {
        let note = "its create got no answer, and its status does not say what the create sent: nothing is deleted on a guess; delete what it made yourself, if anything".to_string();
        record(context, object, true, "DeleteUnsure", note).await;
        return Ok(ids);
    }
    let others = api.list(&kube::api::ListParams::default()).await?;
    let managed: BTreeSet<String> = others
        .items
        .iter()
        .filter(|o| o.uid() != object.uid())
        .map(cluster::status_of)
        .flat_map(|s| s.external_id.into_iter().chain(s.record.deposed_id))
        .collect();
    match lost.look_up(&crate::external::Spec::from_json(cluster::spec_of(object)), client, &managed).await? {
        Made::One(id) => ids.push(id),
        Made::Nothing => {}
        Made::Several(candidates) => {
            let note = format!(
                "its create got no answer, and {} remote objects could be what it made ({}): none is deleted on a guess",
                candidates.len(),
                candidates.join(", ")
            );
            record(context, object, true, "DeleteUnsure", note).await;
        }
    }
    Ok(ids)
}
