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
        record_into(&mut status, state.resources.get(&self.key));
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

/// What state holds of an object, into its status: the journal's fields,
/// cleared when there is no record (a create the API refused), and what
/// the next plan is made from. Every field of the record is named: a new
/// one does not compile until it is handled here and in
/// [`cluster::entry_of`].
pub fn record_into(status: &mut ResourceStatus, entry: Option<&Entry>) {
    let Some(entry) = entry else {
        status.external_id = None;
        status.pending_since = None;
        status.deposed_id = None;
        status.preexisting = Vec::new();
        return;
    };
    let Entry {
        // The object itself says these: its kind, the Provider it names,
        // and its deletion-policy and prevent-destroy annotations, read
        // live by the finalizer (a later merge of the two records keeps
        // them in one type).
        api_version: _,
        provider: _,
        orphan_on_delete: _,
        prevent_destroy: _,
        // When the status was read back is when it was last observed.
        observed_at: _,
        id,
        display_name,
        pending_since,
        preexisting,
        deposed_id,
        manifest_digest,
        applied_spec,
        last_applied,
        observed,
        depends_on,
        renew_token,
    } = entry;
    status.external_id = id.clone();
    status.display_name = Some(display_name.clone());
    status.pending_since = pending_since.clone();
    status.preexisting = preexisting.clone();
    status.deposed_id = deposed_id.clone();
    status.last_applied_digest = Some(manifest_digest.clone());
    status.applied_spec = (!applied_spec.is_null()).then(|| applied_spec.text().to_string());
    status.last_applied = Some(Value::Object(last_applied.fields()));
    let observed = observed.as_ref().unwrap_or(last_applied).fields();
    status.at_provider = Some(Value::Object(without_secrets(&observed)));
    status.depends_on = depends_on.clone();
    status.renew_token = renew_token.clone();
}

/// Observed fields without the markers that stand for secrets: a status
/// is read by anyone who may read the object.
fn without_secrets(fields: &crate::external::Fields) -> crate::external::Fields {
    fields
        .iter()
        .filter(|(_, v)| crate::external::sources::marker(v).is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::external::Stored;
    use serde_json::json;

    /// Every field of the record, none at its default: a field added to
    /// [`Entry`] fails to compile here until the round trip handles it.
    fn every_field_set() -> Entry {
        Entry {
            api_version: "gary.seqops.dev/v1alpha1".into(),
            provider: "gary-main".into(),
            id: Some("seq_1/enr_2".into()),
            display_name: "con_1 in seq_1".into(),
            pending_since: Some("2026-12-01T00:00:00Z".into()),
            preexisting: vec!["seq_1/enr_0".into()],
            deposed_id: Some("seq_1/enr_1".into()),
            manifest_digest: "sha256:abc".into(),
            applied_spec: Stored::of(&json!({"contactId": "con_1", "sequence": {"lookup": "Nurture"}})),
            last_applied: Stored::of(&json!({"contactId": "con_1", "sequence": "seq_1"})),
            observed: Some(Stored::of(&json!({"contactId": "con_1", "sequence": "seq_1", "status": "active"}))),
            observed_at: "2026-12-02T00:00:00Z".into(),
            orphan_on_delete: true,
            prevent_destroy: true,
            depends_on: vec![crate::manifest::ResourceKey::new("Provider", "gary-main")],
            renew_token: Some("t2".into()),
        }
    }

    #[test]
    fn a_record_written_as_a_status_reads_back_whole() {
        let entry = every_field_set();
        let mut status = ResourceStatus::default();
        record_into(&mut status, Some(&entry));
        // What the object itself says: its kind and its annotations.
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "gary.seqops.dev/v1alpha1", "kind": "Enrollment",
            "metadata": {"name": "lead", "namespace": "default", "annotations": {
                "seqops.dev/deletion-policy": "orphan", "seqops.dev/prevent-destroy": "true",
            }},
            "spec": {"contactId": "con_1", "sequence": {"lookup": "Nurture"}},
            "status": serde_json::to_value(&status).expect("a status"),
        }))
        .expect("an object");
        let read = cluster::entry_of(&object, "gary-main").expect("a record");
        assert_eq!(Entry { observed_at: entry.observed_at.clone(), ..read }, entry);
    }

    #[test]
    fn no_record_clears_the_journal_and_keeps_what_was_applied() {
        let mut status = ResourceStatus::default();
        record_into(&mut status, Some(&every_field_set()));
        record_into(&mut status, None);
        assert_eq!((status.external_id, status.pending_since, status.deposed_id), (None, None, None));
        assert!(status.preexisting.is_empty());
        assert_eq!(status.renew_token.as_deref(), Some("t2"), "the token a remote object was made for stays");
    }
}
