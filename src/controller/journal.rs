//! The controller's journal: the object's status.
//!
//! A reconcile plans and applies with state made from statuses and kept in
//! memory, so what it does between two remote changes would be lost with
//! the process. Each change that the next reconcile could not find again
//! by reading is written to the object's status as it happens: pending
//! (with what the create sends, and what had its name before) before a
//! create, the id once it is known, `deposedId` while a replaced object
//! awaits deletion. The next reconcile resumes from there.

use std::sync::{Arc, Mutex};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::{json, Value};

use super::cluster;
use super::reconcile::MANAGER;
use crate::engine::apply::ChangeSink;
use crate::engine::state::{Entry, State};
use crate::manifest::crd::ResourceStatus;
use crate::manifest::ResourceKey;

/// The object's status as this reconcile last wrote it, and the
/// resourceVersion that write made: what any later write in the reconcile
/// starts from, so that none takes back what the journal recorded.
#[derive(Clone, Default)]
pub struct Written(Arc<Mutex<Option<LastWrite>>>);

struct LastWrite {
    status: ResourceStatus,
    version: Option<String>,
}

impl Written {
    pub fn latest(&self, object: &DynamicObject) -> ResourceStatus {
        let written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        written.as_ref().map_or_else(|| cluster::status_of(object), |last| last.status.clone())
    }

    /// The resourceVersion the object has as far as this reconcile knows.
    pub fn version(&self, object: &DynamicObject) -> Option<String> {
        let written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        written.as_ref().map_or_else(|| object.resource_version(), |last| last.version.clone())
    }

    fn set(&self, status: ResourceStatus, version: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastWrite { status, version });
    }
}

/// Writes `status` whole, by server-side apply; with `version`, only if
/// the object still has that resourceVersion. The resourceVersion it
/// then has.
pub async fn patch_status(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    status: &ResourceStatus,
    version: Option<&str>,
) -> Result<Option<String>, kube::Error> {
    let types = object.types.clone().unwrap_or_default();
    let mut patch = json!({"apiVersion": types.api_version, "kind": types.kind, "status": status});
    if let Some(version) = version {
        patch["metadata"] = json!({"resourceVersion": version});
    }
    let params = PatchParams::apply(MANAGER).force();
    let written = api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch)).await?;
    Ok(written.resource_version())
}

/// Records each remote change of one object in its status.
pub struct StatusJournal {
    pub api: Api<DynamicObject>,
    pub object: DynamicObject,
    pub key: ResourceKey,
    pub written: Written,
}

#[async_trait::async_trait]
impl ChangeSink for StatusJournal {
    async fn record(&self, state: &State, keys: &[ResourceKey]) -> Result<(), String> {
        if !keys.contains(&self.key) {
            return Ok(());
        }
        let before = self.written.latest(&self.object);
        let mut status = before.clone();
        journal_into(&mut status, state.resources.get(&self.key));
        if identity(&status) == identity(&before) {
            // An update in place: the next reconcile reads it back.
            return Ok(());
        }
        // On condition of the object being as this reconcile read it: a
        // reconcile of a stale copy (one that does not show a create
        // already pending or made) must not create again.
        let version = self.written.version(&self.object);
        let written =
            patch_status(&self.api, &self.object, &status, version.as_deref()).await.map_err(|e| match e {
                kube::Error::Api(e) if e.code == 409 => format!(
                    "{} changed since this reconcile read it; nothing more is done until it is read again",
                    cluster::label(&self.object).display()
                ),
                e => format!("the status of {}: {e}", cluster::label(&self.object).display()),
            })?;
        self.written.set(status, written);
        Ok(())
    }
}

/// What the next reconcile could not find again by reading.
fn identity(status: &ResourceStatus) -> (&Option<String>, &Option<String>, &Option<String>) {
    (&status.external_id, &status.pending_since, &status.deposed_id)
}

/// The entry's journal fields into `status`; none when the entry is gone
/// (a create the API refused).
pub fn journal_into(status: &mut ResourceStatus, entry: Option<&Entry>) {
    status.external_id = entry.and_then(|e| e.id.clone());
    status.pending_since = entry.and_then(|e| e.pending_since.clone());
    status.deposed_id = entry.and_then(|e| e.deposed_id.clone());
    status.preexisting = entry.map(|e| e.preexisting.clone()).unwrap_or_default();
    if let Some(entry) = entry {
        status.last_applied = Some(Value::Object(entry.last_applied()));
        status.last_applied_digest = Some(entry.manifest_digest.clone());
    }
}
