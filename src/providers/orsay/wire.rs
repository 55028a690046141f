//! Orsay's JSON bodies, as the vendor documents them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_published: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default)]
    pub instagram: Vec<InstagramProfile>,
    #[serde(default)]
    pub whatsapp: Vec<WhatsappProfile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstagramProfile {
    pub id: String,
    pub username: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatsappProfile {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// What `GET /sequences` returns for each sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceSummary {
    pub id: String,
    pub name: String,
    pub trigger: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub active: bool,
}

/// What `GET /sequences/{id}` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sequence {
    pub id: String,
    pub name: String,
    pub trigger: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub active: bool,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub profile_id: Option<String>,
    #[serde(default)]
    pub inbound_response_delay: Option<u64>,
    #[serde(default)]
    pub inbound_response_delay_unit: Option<String>,
    #[serde(default)]
    pub flow: Vec<FlowStep>,
    #[serde(default)]
    pub filtering_agent: Option<String>,
    #[serde(default)]
    pub should_continue_existing_conversations: Option<bool>,
    #[serde(default)]
    pub keywords: Option<Vec<String>>,
    #[serde(default)]
    pub target_accounts: Option<Vec<String>>,
    #[serde(default)]
    pub enable_agent_on_conversation: Option<bool>,
    #[serde(default)]
    pub require_manual_approval: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowStep {
    #[serde(default)]
    pub delay: u64,
    #[serde(default = "minutes")]
    pub delay_unit: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_delays: Option<Vec<Delay>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delay {
    pub delay: u64,
    #[serde(default = "minutes")]
    pub delay_unit: String,
}

fn minutes() -> String {
    "MINUTES".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub id: String,
}
