//! Orqis kinds as manifests write them: `Agent`, `LlmKey`, `ApiKey`.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::kind::{Reference, ReferenceField};
use crate::manifest::secret::{ValueSource, WriteSecretTo};
use crate::manifest::selector::NameRef;
use crate::manifest::urls;

// The LLM providers Orqis runs agents on. (A comment, not a doc: kube
// would show a type's doc on a CRD in place of the field's.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    Google,
    Openai,
    Anthropic,
    Mistral,
    Groq,
}

pub const LLM_PROVIDERS: [&str; 5] = ["google", "openai", "anthropic", "mistral", "groq"];

impl LlmProvider {
    /// The provider's name on the wire and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Mistral => "mistral",
            Self::Groq => "groq",
        }
    }
}

/// An Orqis agent made from an OpenAPI document.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orqis.seqops.dev",
    version = "v1alpha1",
    kind = "Agent",
    namespaced,
    category = "seqops",
    shortname = "orqisagent"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSpec {
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
    /// The agent's display name (in place).
    #[x_kube(validation = Rule::new("self.trim() != ''").message("an agent needs a non-empty name"))]
    pub name: String,
    /// What the agent does (in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The OpenAPI document the agent's tools come from, usually
    /// `{fromFile: api.yaml}` beside the manifest. A change replaces the agent.
    pub openapi_spec: ValueSource,
    /// The LLM provider (default `google`). A change replaces the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_provider: Option<LlmProvider>,
    /// The model; the provider's default when absent. A change replaces the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Overrides the OpenAPI document's server URL. A change replaces the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = urls::no_userinfo(), validation = urls::no_query())]
    pub base_url: Option<String>,
    /// Headers sent with every call the agent makes; their values are
    /// secrets, written but never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, ValueSource>>,
    /// Default tools (`google_search`, `tavily_search`, `wolfram_alpha`,
    /// `slack`, `github`); order does not matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<DefaultTool>>")]
    pub default_tools: Option<Vec<String>>,
}

// The default tools Orqis documents (`GET /agents/default-tools`, and what
// `tool_name` may be): what `defaultTools` may name, as the schema's enum,
// and the list the emulator serves. (No doc comment: a CRD would show it
// in place of the field's.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DefaultTool {
    GoogleSearch,
    TavilySearch,
    WolframAlpha,
    Slack,
    Github,
}

impl DefaultTool {
    pub const ALL: [DefaultTool; 5] =
        [Self::GoogleSearch, Self::TavilySearch, Self::WolframAlpha, Self::Slack, Self::Github];

    /// The tool's name on the wire and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::GoogleSearch => "google_search",
            Self::TavilySearch => "tavily_search",
            Self::WolframAlpha => "wolfram_alpha",
            Self::Slack => "slack",
            Self::Github => "github",
        }
    }
}

/// The LLM key an Orqis account uses for one provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orqis.seqops.dev",
    version = "v1alpha1",
    kind = "LlmKey",
    namespaced,
    category = "seqops",
    shortname = "orqisllmkey"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmKeySpec {
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
    /// Which LLM provider the key is for; one key per provider.
    pub provider: LlmProvider,
    /// The key; written, never read back.
    pub value: ValueSource,
}

/// A platform API key (`oq_…`) scoped to one agent.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orqis.seqops.dev",
    version = "v1alpha1",
    kind = "ApiKey",
    namespaced,
    category = "seqops",
    shortname = "orqisapikey"
)]
#[x_kube(validation = crate::manifest::policy::one_spelling(), validation = crate::manifest::policy::reads_first())]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeySpec {
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
    /// A label for the key. A change replaces (revokes and re-creates) it.
    pub name: String,
    /// The Orqis `Agent` manifest the key is scoped to.
    pub agent_ref: NameRef,
    /// Where the key, shown only once on creation, is written.
    #[x_kube(validation = Rule::new("has(self.file) || has(self.secretRef)").message(
        "name where the key goes: `file: PATH` (CLI) or `secretRef: {name, key}` (Kubernetes); Orqis shows it only once"
    ))]
    pub write_secret_to: WriteSecretTo,
}

/// The field an ApiKey names its Agent by.
pub const AGENT_REF: ReferenceField = ReferenceField::to("spec.agentRef.name", super::AGENT_KEY_KIND);

/// The Agent an ApiKey names.
pub fn api_key_references(spec: &ApiKeySpec) -> Vec<Reference> {
    vec![Reference::to(AGENT_REF.field, AGENT_REF.kind, spec.agent_ref.name.clone())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_tools_name_is_how_manifests_and_the_wire_spell_it() {
        for tool in DefaultTool::ALL {
            assert_eq!(serde_json::to_value(tool).ok(), Some(serde_json::json!(tool.name())));
        }
    }
}
