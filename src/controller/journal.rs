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
use serde_json::json;

use super::cluster;
use crate::engine::apply::ChangeSink;
use crate::engine::state::State;
use crate::manifest::crd::ResourceStatus;
use crate::manifest::ResourceKey;

/// The field manager of every status and Secret the controller writes.
pub const MANAGER: &str = "seqops";

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
    let patch = match version {
        Some(version) => json!({"apiVersion": types.api_version, "kind": types.kind, "status": status,
                                "metadata": {"resourceVersion": version}}),
        None => json!({"apiVersion": types.api_version, "kind": types.kind, "status": status}),
    };
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
        status.keep(state.resources.get(&self.key));
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
    (&status.record.id, &status.record.pending_since, &status.record.deposed_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::Entry;
    use crate::external::Stored;

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
        status.keep(Some(&entry));
        // What the object itself says (its kind and its annotations) is
        // read from it.
        let object = enrollment(serde_json::to_value(&status).expect("a status"));
        let read = cluster::record_of(&object, "gary-main").expect("a record");
        assert_eq!(read, entry);
    }

    /// An Enrollment whose status is `status`, with the annotations that
    /// orphan and protect its remote object.
    fn enrollment(status: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "gary.seqops.dev/v1alpha1", "kind": "Enrollment",
            "metadata": {"name": "lead", "namespace": "default", "annotations": {
                "seqops.dev/deletion-policy": "orphan", "seqops.dev/prevent-destroy": "true",
            }},
            "spec": {"contactId": "con_1", "sequence": {"lookup": "Nurture"}},
            "status": status,
        }))
        .expect("an object")
    }

    #[test]
    fn a_status_as_an_older_seqops_wrote_it_is_read_as_it_was() {
        // What the controller wrote before state and status kept one record:
        // the id only as `externalId`, the observation only as `atProvider`,
        // the digest as `lastAppliedDigest` and the spec as JSON text.
        let status = json!({
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available"}],
            "externalId": "seq_1/enr_2",
            "displayName": "con_1 in seq_1",
            "lastAppliedDigest": "sha256:abc",
            "atProvider": {"contactId": "con_1", "sequence": "seq_1", "status": "active"},
            "lastApplied": {"contactId": "con_1", "sequence": "seq_1"},
            "deposedId": "seq_1/enr_1",
            "appliedSpec": "{\"contactId\":\"con_1\",\"sequence\":{\"lookup\":\"Nurture\"}}",
            "renewToken": "t2",
            "dependsOn": ["Provider/gary-main"],
            "observedAnnotations": {"gary.seqops.dev/re-enroll": "t2"},
            "observedGeneration": 2,
        });
        let read = cluster::record_of(&enrollment(status), "gary-main").expect("a record");
        let expected = Entry { pending_since: None, preexisting: Vec::new(), ..every_field_set() };
        assert_eq!(Entry { observed_at: expected.observed_at.clone(), ..read }, expected);
    }

    #[test]
    fn a_status_that_stands_for_no_remote_object_is_no_record() {
        let provider_status =
            json!({"conditions": [{"type": "Ready", "status": "True"}], "atProvider": {"requestsMade": 3}});
        assert_eq!(cluster::record_of(&enrollment(provider_status), "gary-main"), None);
        let mut status = ResourceStatus::default();
        status.keep(Some(&every_field_set()));
        status.keep(None);
        let refused = serde_json::to_value(&status).expect("a status");
        assert_eq!(cluster::record_of(&enrollment(refused), "gary-main"), None);
    }

    #[test]
    fn an_id_observe_only_found_after_a_refused_create_is_read_as_the_records() {
        // A create the API refused clears the remote but keeps the record's
        // observation time; ObserveOnly then finds the object and says only
        // its `externalId`.
        let mut status = ResourceStatus::default();
        status.keep(Some(&every_field_set()));
        status.keep(None);
        status.external_id = Some("seq_1/enr_9".into());
        let object = enrollment(serde_json::to_value(&status).expect("a status"));
        let read = cluster::record_of(&object, "gary-main").expect("a record");
        assert_eq!(read.id.as_deref(), Some("seq_1/enr_9"));
    }

    #[test]
    fn a_status_keeps_secret_markers_out_of_at_provider_and_repeats_nothing_the_object_says() {
        let token = json!({"$sensitive": "hmac-sha256:k:ab"});
        let entry = Entry {
            last_applied: Stored::of(&json!({"name": "svc", "token": token})),
            observed: Some(Stored::of(&json!({"name": "svc", "token": token, "state": "up"}))),
            ..every_field_set()
        };
        let mut status = ResourceStatus::default();
        status.keep(Some(&entry));
        let written = serde_json::to_value(&status).expect("a status");
        assert_eq!(written["atProvider"], json!({"name": "svc", "state": "up"}), "{written}");
        assert_eq!(written["lastApplied"]["token"], token, "what was written keeps its marker, as before");
        assert_eq!(written["externalId"], "seq_1/enr_2");
        for said_by_the_object in ["apiVersion", "provider", "orphanOnDelete", "preventDestroy"] {
            assert!(written.get(said_by_the_object).is_none(), "{said_by_the_object}: {written}");
        }
    }

    #[test]
    fn no_record_clears_the_journal_and_keeps_what_was_applied() {
        let mut status = ResourceStatus::default();
        status.keep(Some(&every_field_set()));
        status.keep(None);
        assert_eq!((status.external_id, status.record.pending_since, status.record.deposed_id), (None, None, None));
        assert!(status.record.preexisting.is_empty());
        assert_eq!(status.record.renew_token.as_deref(), Some("t2"), "the token a remote object was made for stays");
    }
}
