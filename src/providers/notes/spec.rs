//! The `Note` kind as manifests write it.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::manifest::policy::{ManagementPolicy, Policy};
use crate::manifest::selector::NameRef;

/// A note.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(group = "notes.seqops.dev", version = "v1alpha1", kind = "Note", namespaced, category = "seqops")]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteSpec {
    /// The `notes` Provider to use; optional when exactly one is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<Policy>>,
    /// The note's title: a new title is a new note.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Whether the note is pinned (the API's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
}
