//! Topo's JSON bodies, as the vendor documents them (shared/apis/topo.md).
//! The vendor's pages describe the fields without naming them; the names
//! here are the ones seqops pins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every status a sequence run may be in.
pub const STATUSES: &[&str] = &[
    "ACTIVE",
    "WAITING_FOR_LEAD",
    "WAITING_FOR_USER",
    "SUCCEEDED",
    "FAILED",
    "STOPPED_EARLY",
    "COMPLETED",
    "FOUND",
    "REFUSED",
];

/// The statuses a run never leaves: it has finished, failed, been stopped,
/// or never started.
pub const TERMINAL: &[&str] = &["SUCCEEDED", "FAILED", "STOPPED_EARLY", "COMPLETED", "REFUSED"];

/// A sequence run, as `GET /v1/sequences` and `GET /v1/sequences/{id}` show
/// it (and every write answers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceRun {
    pub id: String,
    pub workspace_id: String,
    /// Null when the contact record has been deleted.
    pub contact_id: Option<String>,
    pub sequence_template_id: String,
    /// One of [`STATUSES`].
    pub status: String,
    /// The run's own overrides of the template's variables (the template's
    /// defaults are not included).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// The contact list that triggered the run, if any.
    pub contact_list_id: Option<String>,
    /// When the most recently executed step ran (RFC 3339).
    pub last_step_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of `GET /v1/sequences`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub items: Vec<SequenceRun>,
    /// The runs that match, on every page.
    pub total_count: u64,
    /// The pages at the requested size.
    pub total_pages: u64,
    /// True when pages follow this one.
    pub has_more: bool,
}

/// The body of `PATCH /v1/sequences/{id}`: overrides to merge; a null value
/// removes one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    pub variables: BTreeMap<String, Option<String>>,
}

/// The body of `POST /v1/sequences/{id}/pause`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PauseRequest {
    /// When the run resumes by itself (RFC 3339, in the future).
    pub paused_until: String,
}

/// The body of `POST /v1/sequences/{id}/stop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopRequest {
    /// `WIN` or `LOSE`.
    pub reason: String,
    /// `CONTACT` (this run) or `COMPANY` (also the template's other runs at
    /// the contact's company).
    pub scope: String,
}

/// Every error answer: `{status_code, type, message, data, request_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub status_code: u16,
    /// `ValidationIssue`, `UnauthorizedIssue`, `NotFoundIssue`,
    /// `CommitIssue` or `BusinessIssue`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub data: Value,
    pub request_id: String,
}
