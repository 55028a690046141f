//! What the user allows seqops to do to one object: Crossplane's
//! `spec.managementPolicies` (a set of `Observe`, `Create`, `Update`,
//! `Delete`, `LateInitialize`, or `*`), with `managementPolicy:
//! ObserveOnly` kept as the alias of `[Observe]`. The same for the CLI and
//! the controller.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// What seqops may do to the remote object (the older, single field). (A
// comment, not a doc: kube would show a type's doc on a CRD in place of
// the field's.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete it to match the spec.
    #[default]
    Default,
    /// Read it and report how it differs from the spec; change nothing.
    ObserveOnly,
}

/// One thing the user allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum Policy {
    Observe,
    Create,
    Update,
    Delete,
    LateInitialize,
    /// Everything.
    #[serde(rename = "*")]
    All,
}

/// The policies a spec allows (see [`super::common::Common::allowed`]).
pub fn allowed(spec: &serde_json::Value) -> BTreeSet<Policy> {
    super::common::Common::of(spec).allowed()
}

/// Whether the spec allows `policy`.
pub fn allows(spec: &serde_json::Value, policy: Policy) -> bool {
    allowed(spec).contains(&policy)
}

/// Whether a spec only observes: `managementPolicy: ObserveOnly` or
/// `managementPolicies: [Observe]`.
pub fn observe_only(spec: &serde_json::Value) -> bool {
    allowed(spec) == BTreeSet::from([Policy::Observe])
}

/// The two spellings exclude each other: a rule of every kind's spec,
/// checked by the API server and by the loader alike.
pub fn one_spelling() -> kube::core::Rule {
    kube::core::Rule::new("!has(self.managementPolicies) || !has(self.managementPolicy)")
        .message("give `managementPolicies` or the older `managementPolicy`, not both")
        .field_path(".managementPolicy")
}

/// A set that allows anything allows `Observe`: seqops must read an object
/// to manage it. `[]` (paused) allows nothing and is fine.
pub fn reads_first() -> kube::core::Rule {
    kube::core::Rule::new(
        "!has(self.managementPolicies) || size(self.managementPolicies) == 0 \
         || self.managementPolicies.exists(p, p == 'Observe' || p == '*')",
    )
    .message("include `Observe` (or `*`): seqops reads an object before it changes it; `[]` pauses")
    .field_path(".managementPolicies")
}
