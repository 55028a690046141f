//! Orqis's JSON bodies, as the vendor documents them (shared/apis/orqis.md).
//!
//! Request bodies list their fields in the vendor's order; optional ones
//! are left out when seqops has nothing to say, as the vendor's defaults
//! apply then.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An agent as `GET /v3/agents` lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub configuration: Configuration,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// An agent's `configuration`. The vendor's example shows
/// `engine_version`, `api_provider` and `tools`; `model`, `base_url` and
/// `default_tools` are not in it, and are read when they are there (the
/// tool calls' answers do show `default_tools`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    #[serde(default)]
    pub engine_version: Option<String>,
    #[serde(default)]
    pub api_provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub default_tools: Vec<String>,
    #[serde(default)]
    pub tools: Vec<serde_json::Value>,
}

/// `POST /v3/agents`. The vendor's text does not list `model` for a
/// create (only for a chat); seqops sends it when a manifest names one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateAgent {
    pub agent_name: String,
    pub openapi_spec_content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_provider: Option<String>,
    /// The LLM key; without it, the key saved for the provider is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

/// What `POST /v3/agents` answers, as far as seqops reads it: the answer
/// also has `name`, `configuration` and `visualization`, which are not
/// decoded, so that an answer with an id is never lost over them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedAgent {
    pub id: String,
}

/// `PUT /agents/{agent_id}`: the fields sent change. A `description` of
/// `null` clears it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateAgent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

/// A field that is present, even as `null`, is `Some`: serde's default
/// would read `null` as absent.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `GET /agents/{agent_id}/headers`: names only, never values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Headers {
    #[serde(default)]
    pub has_headers: bool,
    #[serde(default)]
    pub header_names: Vec<String>,
}

/// `PUT /agents/{agent_id}/headers`: replaces every header at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveHeaders {
    pub headers: BTreeMap<String, String>,
}

/// `POST /agents/{agent_id}/tools`: adds one default tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddTool {
    pub tool_name: String,
    /// The vendor's default is `google`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// `PUT /users/me/llm-key`: saves or replaces the key of one provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveLlmKey {
    pub provider: String,
    pub api_key: String,
}

/// `GET /users/me/llm-key?provider=`: whether a key is saved, never its
/// value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmKeyStatus {
    pub has_key: bool,
    pub provider: String,
}

/// A platform key as `GET /users/me/api-keys` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub agent_id: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_used_at: Option<String>,
}

/// `POST /users/me/api-keys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateApiKey {
    pub name: String,
    pub agent_id: String,
}

/// What `POST /users/me/api-keys` answers: the key, shown this once, but
/// not its id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: String,
    pub prefix: String,
    pub agent_id: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `GET /users/me/plan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan: String,
    pub limits: Limits,
    pub usage: Usage,
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
    #[serde(default)]
    pub cancel_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub agents: u32,
    pub runs_per_month: u32,
    pub api_access: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub agents: u32,
    pub runs_this_month: u32,
}
