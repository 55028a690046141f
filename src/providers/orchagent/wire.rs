//! orchagent's JSON bodies, as its OpenAPI document
//! (shared/apis/orchagent-openapi.json) writes them: the bodies seqops
//! sends, and of those it reads, the fields it uses (others are ignored).
//!
//! The document marks no response field required, so every field read is
//! optional. Request fields are declared in the order seqops sends them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every success body: `{data, warnings?, metadata}`. Only `data` is read;
/// an answer without one has nothing in it.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope<T> {
    pub data: Option<T>,
}

/// Every error body: `{error: {code, message, is_retryable}, metadata}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorBody {
    pub error: Option<ErrorDetail>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorDetail {
    pub code: Option<String>,
    pub message: Option<String>,
    pub is_retryable: Option<bool>,
}

// ---- Workspaces -------------------------------------------------------------

/// `Workspace`: what `GET /workspaces` lists and `POST /workspaces` returns.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Workspace {
    pub id: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
}

/// The body of `POST /workspaces`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateWorkspace {
    pub name: String,
    /// Derived by orchagent from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

// ---- Secrets ----------------------------------------------------------------

/// An item of `GET /workspaces/{id}/secrets`: names only, never values.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SecretName {
    pub name: Option<String>,
}

/// The body of `PUT /workspaces/{id}/secrets`, which creates or replaces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetSecret {
    pub name: String,
    pub value: String,
}

// ---- Agents -----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentType {
    Prompt,
    Tool,
    Agent,
    Skill,
    /// A value the document does not list yet, kept as the vendor sent it:
    /// a new one in an answer must not fail a whole listing.
    #[serde(untagged)]
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    OnDemand,
    AlwaysOn,
    /// A value the document does not list yet, kept as the vendor sent it:
    /// a new one in an answer must not fail a whole listing.
    #[serde(untagged)]
    Other(String),
}

/// `Agent`: what `GET /agents` lists.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Agent {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<AgentType>,
    pub run_mode: Option<RunMode>,
    pub callable: Option<bool>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub command: String,
}

/// An agent's managed loop, `loop.max_turns` as the OpenAPI document names
/// it. The mapping hands it over in the spec's spelling, `maxTurns`, which
/// is read too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loop {
    #[serde(alias = "maxTurns")]
    pub max_turns: u32,
}

/// `CreateAgentRequest`, the body of `POST /agents` (without
/// `source_url`, which seqops never sets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateAgent {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: AgentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "loop")]
    pub agent_loop: Option<Loop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callable: Option<bool>,
    /// The fields an update may change too, sent in the same order.
    #[serde(flatten)]
    pub changeable: AgentPatch,
}

/// `CreateAgentResponse`: the agent, and its service key, shown once.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct CreatedAgent {
    pub agent: Option<Agent>,
    pub service_key: Option<String>,
}

/// The body of `PATCH /agents/{id}`. The OpenAPI document lists no such
/// call; orchagent.md does, and says `run_mode`, `runtime`, `loop` and
/// `callable` cannot change (nor do a name, version or type: seqops
/// replaces the agent for those), so only what can change is here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

/// `DeleteCheckResponse`: whether `DELETE /agents/{id}` needs the agent's
/// name as `confirmation_name`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct DeleteCheck {
    pub agent_name: Option<String>,
    pub requires_confirmation: Option<bool>,
}

// ---- Schedules --------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleType {
    Cron,
    Webhook,
    /// A value the document does not list yet, kept as the vendor sent it:
    /// a new one in an answer must not fail a whole listing.
    #[serde(untagged)]
    Other(String),
}

/// `Schedule`: what the schedules' list, read, create and update return.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Schedule {
    pub id: Option<String>,
    pub agent_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<ScheduleType>,
    pub cron_expression: Option<String>,
    pub timezone: Option<String>,
    pub input_data: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
    pub pin_version: Option<bool>,
    /// Holds the webhook's secret; returned only by the create.
    pub webhook_url: Option<String>,
}

/// `CreateScheduleRequest`, the body of `POST /workspaces/{id}/schedules`
/// (without the `provider` override, which seqops never sets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateSchedule {
    #[serde(rename = "type")]
    pub kind: ScheduleType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_version: Option<bool>,
    pub agent_id: String,
}

/// The body of `PATCH /workspaces/{id}/schedules/{schedule_id}`: only the
/// fields sent change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedulePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_version: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_on_failure_count: Option<u32>,
}

// ---- Services ---------------------------------------------------------------

/// `Service`: what the services' list, read, deploy and update return.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Service {
    pub id: Option<String>,
    pub agent_id: Option<String>,
    pub name: Option<String>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
    pub env: Option<Map<String, Value>>,
    pub secret_names: Option<Vec<String>>,
    pub max_restart_failures: Option<u32>,
}

/// `DeployServiceRequest`, the body of `POST /workspaces/{id}/services`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    pub agent_id: String,
}

/// The body of `PATCH /workspaces/{id}/services/{service_id}`: `env` and
/// `secret_names` replace what the service had.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restart_failures: Option<u32>,
}

// ---- Errors -----------------------------------------------------------------

/// `code: message` of an error body, or its first 200 characters when it
/// is not one.
pub fn error_detail(body: &[u8]) -> String {
    let detail = serde_json::from_slice::<ErrorBody>(body).ok().and_then(|b| b.error).unwrap_or_default();
    match (detail.code, detail.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message,
        _ => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// `error.is_retryable` of an error body.
pub fn is_retryable(body: &[u8]) -> Option<bool> {
    serde_json::from_slice::<ErrorBody>(body).ok()?.error?.is_retryable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_its_code_and_message_or_else_as_its_text() {
        let body = br#"{"error": {"code": "RATE_LIMITED", "message": "Slow down", "is_retryable": true}}"#;
        assert_eq!(error_detail(body), "RATE_LIMITED: Slow down");
        assert_eq!(is_retryable(body), Some(true));
        assert_eq!(error_detail(br#"{"error": {"message": "Bad name"}}"#), "Bad name");
        assert_eq!(error_detail(b"<html>502</html>"), "<html>502</html>");
        assert_eq!(is_retryable(b"<html>502</html>"), None);
    }

    #[test]
    fn an_answer_without_data_has_nothing_in_it() {
        let envelope: Envelope<Vec<Workspace>> =
            serde_json::from_str(r#"{"metadata": {"request_id": "req_1"}}"#).unwrap_or(Envelope { data: None });
        assert_eq!(envelope.data, None);
    }

    #[test]
    fn a_type_or_mode_the_document_does_not_list_is_read_as_sent_and_written_back_the_same() {
        let listed = r#"{"id": "agt_1", "type": "workflow", "run_mode": "scheduled"}"#;
        let agent: Agent = serde_json::from_str(listed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(agent.kind, Some(AgentType::Other("workflow".into())));
        assert_eq!(serde_json::json!(agent.run_mode), serde_json::json!("scheduled"));
        let schedule: Schedule = serde_json::from_str(r#"{"type": "event"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::json!(schedule.kind), serde_json::json!("event"));
        let known: Agent = serde_json::from_str(r#"{"type": "tool", "run_mode": "on_demand"}"#).unwrap_or_default();
        assert_eq!((known.kind, known.run_mode), (Some(AgentType::Tool), Some(RunMode::OnDemand)));
    }
}
