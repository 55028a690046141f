//! The record of one managed object: what seqops knows of it (its remote
//! id, a create pending with what it sent and what had its name before, a
//! replaced object's id, the spec and fields last applied, the fields last
//! observed, the renew token it was made for, what it depends on, the
//! policies that keep or protect it).
//!
//! One type, written as it is wherever seqops keeps it: in a state file, in
//! `k8s://` state (the same document in a Secret), and in a controller
//! object's status, flattened beside the controller's own fields (see
//! [`super::crd::ResourceStatus`]; it lives here, beside the CRDs, so that
//! both the engine's state and the status schema can name it). Every field
//! has a default and an empty one is not written, so a status that holds no
//! record (a Provider's) shows none of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::crd::{any_value, preserved_object};
use super::ResourceKey;
use crate::external::{Fields, Stored};

/// One managed object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The kind's API version.
    // A status does not repeat it (the object says it), nor does its schema.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(skip)]
    pub api_version: String,
    /// The Provider manifest it is managed through.
    // A status does not repeat it (the object's spec names it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(skip)]
    pub provider: String,
    /// The remote id; absent while a create is pending (a status shows it
    /// as `externalId` too, for `kubectl get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the vendor calls it (a sequence's name, a schedule's `cron …`):
    /// what a create whose answer was lost is looked for by.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// Set when a create was sent and its answer is not yet recorded: the
    /// next run looks the object up by name before creating anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<String>,
    /// While a create is pending: the ids of objects with its name that
    /// existed before it was sent, never taken for what it made (its
    /// `lastApplied` is then what the create sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preexisting: Vec<String>,
    /// A replaced object's old id, recorded until its delete is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed_id: Option<String>,
    /// Digest of the manifest's spec as last applied: unchanged manifests
    /// need no lookups and, with `--refresh changed`, no reads (a status
    /// written by an older seqops calls it `lastAppliedDigest`).
    #[serde(default, alias = "lastAppliedDigest", skip_serializing_if = "String::is_empty")]
    pub manifest_digest: String,
    /// The manifest's spec as last applied (it holds no secret values:
    /// those are references to their sources); the lookups it resolved are
    /// reused while it is unchanged (a status written by an older seqops
    /// holds it as JSON text).
    #[serde(default, skip_serializing_if = "Stored::is_null", deserialize_with = "Stored::value_or_text")]
    #[schemars(schema_with = "any_value")]
    pub applied_spec: Stored,
    /// The fields seqops last wrote: the base of the three-way diff.
    #[serde(default, skip_serializing_if = "Stored::is_null")]
    #[schemars(schema_with = "preserved_object")]
    pub last_applied: Stored,
    /// The fields as last observed (or as written, after an apply), kept
    /// only where they differ from `lastApplied`, so that thousands of
    /// objects hold each object's fields once; secrets are markers, as in
    /// `lastApplied`.
    // Read it with `Entry::observed`, set it with `Entry::set_observed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub observed: Option<Stored>,
    /// When it was last observed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub observed_at: String,
    /// `seqops.dev/deletion-policy: orphan`.
    // A status does not repeat it: the annotation is read where it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(skip)]
    pub orphan_on_delete: bool,
    /// `seqops.dev/prevent-destroy: "true"`.
    // A status does not repeat it: the annotation is read where it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(skip)]
    pub prevent_destroy: bool,
    /// The objects it referred to when last applied (`Kind/name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceKey>,
    /// The token of the kind's renew annotation (Gary's
    /// `gary.seqops.dev/re-enroll`) the object was made for: a new token
    /// asks for one new object, a used one for nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_token: Option<String>,
}

/// The record of a managed object (`Entry` is the name state gives it).
pub type Record = Entry;

impl Entry {
    /// Sets what an object managed as a Kubernetes object says of itself
    /// rather than its record: its kind, the Provider it names, and its
    /// `seqops.dev/deletion-policy` and `seqops.dev/prevent-destroy`
    /// annotations, read live (a status read back takes them from the
    /// object; one written leaves them empty).
    pub fn object_says(&mut self, api_version: &str, provider: &str, orphan_on_delete: bool, prevent_destroy: bool) {
        self.api_version = api_version.to_string();
        self.provider = provider.to_string();
        self.orphan_on_delete = orphan_on_delete;
        self.prevent_destroy = prevent_destroy;
    }

    /// Whether it stands for a remote object, made or being made.
    pub fn is_remote(&self) -> bool {
        self.id.is_some() || self.pending_since.is_some()
    }

    /// Forgets the remote object (after a create the API refused): what
    /// was applied, and the renew token a remote object was made for, stay.
    pub fn forget_remote(&mut self) {
        self.id = None;
        self.pending_since = None;
        self.deposed_id = None;
        self.preexisting = Vec::new();
    }

    /// The fields seqops last wrote.
    pub fn last_applied(&self) -> Fields {
        self.last_applied.fields()
    }

    /// The fields as last observed.
    pub fn observed(&self) -> Fields {
        self.observed.as_ref().unwrap_or(&self.last_applied).fields()
    }

    /// The fields last applied and last observed, each parsed once.
    pub fn recorded(&self) -> (Fields, Fields) {
        let applied = self.last_applied();
        let observed = match &self.observed {
            Some(observed) => observed.fields(),
            None => applied.clone(),
        };
        (applied, observed)
    }

    /// The manifest's spec as last applied.
    pub fn applied_spec(&self) -> serde_json::Value {
        self.applied_spec.value()
    }

    /// Records what was observed, kept apart only if it differs from what
    /// was last applied.
    pub fn set_observed(&mut self, observed: &Fields) {
        let observed = Stored::of(observed);
        self.observed = (observed != self.last_applied).then_some(observed);
    }

    /// Records what was applied and then observed.
    pub fn set_applied(&mut self, last_applied: &Fields, observed: &Fields) {
        self.last_applied = Stored::of(last_applied);
        self.set_observed(observed);
    }

    /// Drops a kept observation equal to what was applied (state written
    /// before observations were kept apart).
    pub fn compact(&mut self) {
        if self.observed.as_ref() == Some(&self.last_applied) {
            self.observed = None;
        }
    }

    /// The spec as last applied and the fields it resolved to.
    pub fn applied(&self) -> (&Stored, &Stored) {
        (&self.applied_spec, &self.last_applied)
    }

    /// Whether what it wrote or saw holds a marker `needle` (`$sensitive`)
    /// for which `found` holds.
    pub fn holds(&self, needle: &str, found: impl Fn(&serde_json::Value) -> bool) -> bool {
        [Some(&self.last_applied), self.observed.as_ref()]
            .into_iter()
            .flatten()
            .filter(|stored| stored.mentions(needle))
            .any(|stored| stored.fields().values().any(&found))
    }
}
