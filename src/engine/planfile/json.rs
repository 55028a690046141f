//! The public JSON plan, format version [`FORMAT_VERSION`]: what `seqops
//! plan --out` saves, `--format json` prints and `docs/plan.schema.json`
//! describes. It is a type of its own, apart from the planner's working
//! [`Change`] and [`PlanDocument`] (as Terraform keeps `plans.Changes` apart
//! from the `ChangesSrc` it saves), so that the planner may reshape its
//! values without changing a byte users and their tools read; the two meet
//! only in the conversions of module `convert`, one each way.
//!
//! The schema is generated from these types: their doc comments are its
//! descriptions and their names (`PlanDocument`, `Change`) its titles, so
//! both are kept as the format has them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Summary;
use crate::engine::connections::AccountUsage;
use crate::engine::diff::FieldChange;
use crate::engine::history::Provenance;
use crate::engine::plan::{Action, Refresh, Verb};
use crate::external::Fields;
use crate::manifest::ResourceKey;

/// The version of the plan document's format. A reader refuses a version it
/// does not know.
pub const FORMAT_VERSION: &str = "3";

// The field order is the order of the keys in the file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PlanDocument")]
pub struct JsonPlan {
    /// `"3"`; a reader refuses a version it does not know.
    #[schemars(extend("const" = "3"))]
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
    pub syncs: Vec<PlannedSync>,
    pub warnings: Vec<String>,
    pub requests: Vec<AccountUsage>,
    /// Who made the plan and why: commit, author, CI run, `--message`.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// Where the plan applies: the environment, the state, each Provider
    /// and where its key comes from. Named, never read: no value.
    #[serde(default, skip_serializing_if = "AppliesTo::is_empty")]
    pub applies_to: AppliesTo,
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

/// Where a plan applies, as the Markdown comment's header names it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppliesTo {
    /// The environment or overlay (`--environment`), when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Where state is: a file, or `k8s://NAMESPACE/NAME`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderSource>,
}

impl AppliesTo {
    pub fn is_empty(&self) -> bool {
        *self == AppliesTo::default()
    }
}

/// A Provider and where its key comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderSource {
    pub name: String,
    #[serde(rename = "type")]
    pub provider_type: String,
    /// `$ORSAY_API_KEY`, or `Secret orsay-key, key api-key`.
    pub credentials: String,
}

/// One object's change.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Change")]
pub struct PlannedChange {
    pub key: ResourceKey,
    pub api_version: String,
    pub provider: String,
    /// What apply does.
    pub action: Action,
    /// What the change does, in the order it happens, as Terraform's JSON
    /// plan lists a change's actions: a replace is its `delete` and
    /// `create` in the order they run, an adoption that stops the object
    /// `["adopt", "stop"]`, a move to a new name `["moved"]`.
    pub actions: Vec<Verb>,
    /// Whether any of it cannot be undone: a replace, a delete or a stop,
    /// as the summary's `cannot_be_undone` counts them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cannot_be_undone: bool,
    /// A create the API cannot take back (a Gary enrollment): marked, not
    /// counted as destructive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lasting: bool,
    /// For an object moved to this name, the key state knew it by
    /// (Terraform's `previous_address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<ResourceKey>,
    /// The remote id the change acts on (absent for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub display_name: String,
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<FieldChange>,
    /// Why the change is planned, each as a code and its words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<PlannedReason>,
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
    pub references: Vec<PlannedReference>,
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
    /// The requests applying it is expected to make.
    #[serde(default)]
    pub requests: u64,
}

/// One reason for a change: a code tools can match (`field_immutable`, as
/// Terraform's `action_reason`), and the words a reviewer reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Reason")]
pub struct PlannedReason {
    pub code: String,
    pub text: String,
}

/// A reference from a spec field to another manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ReferenceTo")]
pub struct PlannedReference {
    /// The field holding it, e.g. `spec.agentRef.name`.
    pub field: String,
    pub key: ResourceKey,
}

/// What a plan learnt that changes nothing remotely: a manifest edited to
/// what the remote object already is. Recorded by the next apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "StateSync")]
pub struct PlannedSync {
    pub key: ResourceKey,
    pub manifest_digest: String,
    pub applied_spec: serde_json::Value,
    pub last_applied: Fields,
    pub observed: Fields,
}

/// The JSON Schema of the plan document: `docs/plan.schema.json`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(JsonPlan)
}
