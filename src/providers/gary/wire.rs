//! Gary Club's JSON bodies, as the vendor documents them (shared/apis/gary.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One rung of a sequence's ladder: a message sent `wait_minutes` after the
/// previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `sms` or `email`.
    pub kind: String,
    pub wait_minutes: u64,
    pub body: String,
}

/// A message sequence, as `GET /sequences` and `GET /sequences/{id}` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sequence {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `draft`, `active`, `paused` or `archived`.
    pub status: String,
    #[serde(default)]
    pub steps: Vec<Step>,
    pub created_at: String,
    pub updated_at: String,
}

/// A contact in a sequence's ladder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub id: String,
    pub sequence_id: String,
    pub contact_id: String,
    /// The index of the next step to fire (the number of steps fired).
    pub current_step: u32,
    /// `active`, `paused`, `completed` or `cancelled`.
    pub status: String,
    #[serde(default)]
    pub next_run_at: Option<String>,
    pub enrolled_at: String,
    /// Why a paused row is paused, e.g. `reply_received`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    /// The free-form object sent at enrollment, stored as-is.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

/// The answer to `POST /sequences/{id}/enrollments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrolled {
    pub enrollment: Enrollment,
    /// True when the contact was already actively enrolled and the existing
    /// row came back.
    pub idempotent: bool,
}

/// The body of `POST /sequences/{id}/enrollments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub contact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// A page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// The cursor of the next page; `null` on the last one.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// All the rows that match, on every page.
    pub total: u64,
}

/// Every error answer: `{error, message, details}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A code such as `invalid_api_key`, `not_found` or `unprocessable`.
    pub error: String,
    pub message: String,
    #[serde(default)]
    pub details: Value,
}
