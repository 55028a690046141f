//! The `SequenceRun` kind as manifests write it.

use std::collections::BTreeMap;

use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::selector::NameRef;

/// An existing Topo sequence run: its variable overrides and its state.
/// Topo makes runs itself; seqops adopts one and changes only these.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "topo.seqops.dev",
    version = "v1alpha1",
    kind = "SequenceRun",
    namespaced,
    category = "seqops",
    shortname = "toporun"
)]
#[x_kube(
    validation = crate::manifest::policy::one_spelling(),
    validation = crate::manifest::policy::reads_first(),
    validation = Rule::new("has(self.id) != has(self.selector)")
        .message("name the run with `id: seq_run_…` or with `selector: {templateId, contactId}`, one of them")
        .field_path(".id")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SequenceRunSpec {
    /// The `topo` Provider to use; optional when exactly one is loaded.
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
    /// The run's id (`seq_run_…`); or give `selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The one live run of a template for a contact, resolved once and then
    /// kept in state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<RunSelector>,
    /// Template variables this run overrides; a key removed here is reset
    /// to the template's default, keys set elsewhere are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    /// Where the run should be: running, paused until a time, or stopped
    /// with a commercial outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self.phase != 'Paused' || has(self.pausedUntil)")
            .message("a pause needs the time it ends")
            .field_path(".pausedUntil"),
        validation = Rule::new("self.phase != 'Stopped' || (has(self.reason) && has(self.scope))")
            .message("a stop needs `reason: WIN|LOSE` and `scope: CONTACT|COMPANY`"),
        validation = goes_with("pausedUntil", "Paused"),
        validation = goes_with("reason", "Stopped"),
        validation = goes_with("scope", "Stopped")
    )]
    pub state: Option<RunState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSelector {
    pub template_id: String,
    pub contact_id: String,
}

/// One type per field, as a structural schema needs: `phase` says which of
/// the others apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunState {
    pub phase: Phase,
    /// With `Paused`: when the run resumes by itself (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub paused_until: Option<String>,
    /// With `Stopped`: the commercial outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StopReason>,
    /// With `Stopped`: this run only, or every live run of the template at
    /// the contact's company (needs `topo.seqops.dev/confirm-company-stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<StopScope>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    Active,
    Paused,
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StopReason {
    #[serde(rename = "WIN")]
    Win,
    #[serde(rename = "LOSE")]
    Lose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StopScope {
    #[serde(rename = "CONTACT")]
    Contact,
    #[serde(rename = "COMPANY")]
    Company,
}

/// A field of a run's state that only a phase may have.
fn goes_with(field: &str, phase: &str) -> Rule {
    Rule::new(format!("!has(self.{field}) || self.phase == '{phase}'"))
        .message(kube::core::Message::Message(format!("goes with `phase: {phase}`")))
        .field_path(format!(".{field}"))
}

/// What CEL does not say: that `pausedUntil` is a time (the API server
/// checks its `format: date-time` itself).
pub fn check(spec: &SequenceRunSpec) -> Vec<(String, String)> {
    match spec.state.as_ref().and_then(|s| s.paused_until.as_deref()) {
        Some(at) if parse_time(at).is_none() => vec![(
            "spec.state.pausedUntil".into(),
            format!("{at:?} is not an RFC 3339 time such as 2026-12-07T09:00:00Z"),
        )],
        _ => Vec::new(),
    }
}

/// An RFC 3339 time in unix milliseconds.
pub fn parse_time(text: &str) -> Option<u64> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}
