//! The `Enrollment` kind as manifests write it.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::manifest::selector::{NameRef, Selector};

/// A contact enrolled in a Gary Club sequence. Gary can enroll a contact
/// (idempotently, while the enrollment is active) but can neither change
/// nor cancel an enrollment, so every field is fixed once it is made.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "gary.seqops.dev",
    version = "v1alpha1",
    kind = "Enrollment",
    namespaced,
    category = "seqops",
    shortname = "garyenr"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentSpec {
    /// The `gary` Provider to use; optional when exactly one is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    /// The sequence: `{lookup: "Post-call nurture"}` by name or `{id: seq_…}`.
    pub sequence: Selector,
    /// The contact to enroll; it must belong to the same tenant.
    #[x_kube(validation = kube::core::Rule::new("self.trim() != ''").message("name the contact to enroll (`con_…`)"))]
    pub contact_id: String,
    /// Free-form attribution or context, stored as-is on the enrollment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}
