//! The public JSON plan, format version [`FORMAT_VERSION`]: what `seqops
//! plan --out` saves, `--format json` prints and `docs/plan.schema.json`
//! describes. It is a type of its own, apart from the planner's working
//! [`Change`] and [`PlanDocument`] (as Terraform keeps `plans.Changes` apart
//! from the `ChangesSrc` it saves), so that the planner may reshape its
//! values without changing a byte users and their tools read; the two meet
//! only in the conversions below, one each way.
//!
//! The schema is generated from these types: their doc comments are its
//! descriptions and their names (`PlanDocument`, `Change`) its titles, so
//! both are kept as the format has them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{PlanDocument, Summary};
use crate::engine::connections::AccountUsage;
use crate::engine::diff::FieldChange;
use crate::engine::history::Provenance;
use crate::engine::plan::{Action, Change, ReferenceTo, Refresh, StateSync};
use crate::external::Fields;
use crate::manifest::ResourceKey;

/// The version of the plan document's format. A reader refuses a version it
/// does not know.
pub const FORMAT_VERSION: &str = "2";

// The field order is the order of the keys in the file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PlanDocument")]
pub struct JsonPlan {
    /// `"2"`; a reader refuses a version it does not know.
    #[schemars(extend("const" = "2"))]
    pub format_version: String,
    pub seqops_version: String,
    /// Identifies this plan; state remembers the last plan applied.
    pub plan_id: String,
    pub created_at: String,
    /// The state the plan was made against; `None` when there was none.
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    pub sandbox: bool,
    pub manifests_digest: String,
    pub refresh: Refresh,
    /// When not empty, the plan covers only these objects and what they
    /// depend on.
    pub targets: Vec<ResourceKey>,
    pub summary: Summary,
    pub changes: Vec<PlannedChange>,
    /// Objects whose manifest changed to what they already are: recorded in
    /// state on apply, no request made.
    #[serde(default)]
    pub syncs: Vec<StateSync>,
    pub warnings: Vec<String>,
    pub requests: Vec<AccountUsage>,
    /// Who made the plan and why: commit, author, CI run, `--message`.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// The `-f` set the plan was made from, as given (relative to where it
    /// was made): `seqops apply PLANFILE` reads the same. Absent from plans
    /// made before it was recorded, which apply with `-f` as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// `hmac-sha256:KEYID:HEX` of the rest of the document under the
    /// digest key: apply refuses a plan edited since it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One object's change.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Change")]
pub struct PlannedChange {
    pub key: ResourceKey,
    pub api_version: String,
    pub provider: String,
    pub action: Action,
    /// The remote id the change acts on (absent for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub display_name: String,
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The fields the object will have, secrets as salted digests.
    #[serde(default)]
    pub desired: Fields,
    /// The fields to send.
    #[serde(default)]
    pub updates: Fields,
    #[serde(default)]
    pub manifest_digest: String,
    /// The manifest's spec, recorded in state once applied. It names where
    /// secret values come from, never the values.
    #[serde(default)]
    pub spec: serde_json::Value,
    /// The folder the spec's `fromFile` and `writeSecretTo.file` paths are
    /// relative to.
    #[serde(default)]
    pub source_dir: String,
    #[serde(default)]
    pub observed: Fields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ReferenceTo>,
    /// Unmanaged remote objects that already had this object's name when
    /// planned: a create whose answer is lost must not take one for its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preexisting: Vec<String>,
    #[serde(default)]
    pub orphan_on_delete: bool,
    #[serde(default)]
    pub prevent_destroy: bool,
    /// The kind's renew annotation's token on the manifest, recorded with
    /// the object once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_token: Option<String>,
    /// The create is one the renew annotation's new token asks for (a
    /// contact enrolled once more), not the object's first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renews: bool,
    /// The manifest's annotations, which a provider may read (a
    /// confirmation it asks for).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The change ends the object (a Topo stop): planned like a delete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends: bool,
    /// The requests applying it is expected to make.
    #[serde(default)]
    pub requests: u64,
}

/// The JSON Schema of the plan document: `docs/plan.schema.json`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(JsonPlan)
}

impl From<&Change> for PlannedChange {
    /// Writing: the working change as the format has it. Every field is
    /// named, so a field added to `Change` is placed in the format, or left
    /// out, on purpose.
    fn from(change: &Change) -> Self {
        let Change {
            key,
            api_version,
            provider,
            action,
            id,
            display_name,
            fields,
            drift,
            reasons,
            desired,
            updates,
            manifest_digest,
            spec,
            source_dir,
            observed,
            depends_on,
            references,
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            ends,
            requests,
        } = change;
        Self {
            key: key.clone(),
            api_version: api_version.clone(),
            provider: provider.clone(),
            action: *action,
            id: id.clone(),
            display_name: display_name.clone(),
            fields: fields.clone(),
            drift: drift.clone(),
            reasons: reasons.clone(),
            desired: desired.clone(),
            updates: updates.clone(),
            manifest_digest: manifest_digest.clone(),
            spec: spec.clone(),
            source_dir: source_dir.clone(),
            observed: observed.clone(),
            depends_on: depends_on.clone(),
            references: references.clone(),
            preexisting: preexisting.clone(),
            orphan_on_delete: *orphan_on_delete,
            prevent_destroy: *prevent_destroy,
            renew_token: renew_token.clone(),
            renews: *renews,
            annotations: annotations.clone(),
            ends: *ends,
            requests: *requests,
        }
    }
}

impl From<PlannedChange> for Change {
    /// Reading a saved plan back for apply: the format's change as the
    /// working one, moved, not copied.
    fn from(planned: PlannedChange) -> Self {
        let PlannedChange {
            key,
            api_version,
            provider,
            action,
            id,
            display_name,
            fields,
            drift,
            reasons,
            desired,
            updates,
            manifest_digest,
            spec,
            source_dir,
            observed,
            depends_on,
            references,
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            ends,
            requests,
        } = planned;
        Self {
            key,
            api_version,
            provider,
            action,
            id,
            display_name,
            fields,
            drift,
            reasons,
            desired,
            updates,
            manifest_digest,
            spec,
            source_dir,
            observed,
            depends_on,
            references,
            preexisting,
            orphan_on_delete,
            prevent_destroy,
            renew_token,
            renews,
            annotations,
            ends,
            requests,
        }
    }
}

impl From<&PlanDocument> for JsonPlan {
    /// Writing (and signing, which covers these bytes): the document as
    /// the format has it.
    fn from(document: &PlanDocument) -> Self {
        let PlanDocument {
            format_version,
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes,
            syncs,
            warnings,
            requests,
            provenance,
            files,
            signature,
        } = document;
        Self {
            format_version: format_version.clone(),
            seqops_version: seqops_version.clone(),
            plan_id: plan_id.clone(),
            created_at: created_at.clone(),
            state_lineage: state_lineage.clone(),
            state_serial: *state_serial,
            sandbox: *sandbox,
            manifests_digest: manifests_digest.clone(),
            refresh: *refresh,
            targets: targets.clone(),
            summary: summary.clone(),
            changes: changes.iter().map(PlannedChange::from).collect(),
            syncs: syncs.clone(),
            warnings: warnings.clone(),
            requests: requests.clone(),
            provenance: provenance.clone(),
            files: files.clone(),
            signature: signature.clone(),
        }
    }
}

impl From<JsonPlan> for PlanDocument {
    /// Reading a saved plan: the format's document as the working one.
    fn from(json: JsonPlan) -> Self {
        let JsonPlan {
            format_version,
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes,
            syncs,
            warnings,
            requests,
            provenance,
            files,
            signature,
        } = json;
        Self {
            format_version,
            seqops_version,
            plan_id,
            created_at,
            state_lineage,
            state_serial,
            sandbox,
            manifests_digest,
            refresh,
            targets,
            summary,
            changes: changes.into_iter().map(Change::from).collect(),
            syncs,
            warnings,
            requests,
            provenance,
            files,
            signature,
        }
    }
}
