//! `spec.managementPolicy`: whether seqops may change an object or only
//! watch it, the same for the CLI and the controller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What seqops may do to the remote object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete it to match the spec.
    #[default]
    Default,
    /// Read it and report how it differs from the spec; change nothing.
    ObserveOnly,
}

/// Whether a spec says `managementPolicy: ObserveOnly`.
pub fn observe_only(spec: &serde_json::Value) -> bool {
    spec.get("managementPolicy").and_then(|p| p.as_str()) == Some("ObserveOnly")
}
