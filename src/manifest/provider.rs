//! The `Provider` kind: one configured account of one vendor API.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kind::{self, KindSpec};

/// A configured account of one provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "seqops.dev",
    version = "v1alpha1",
    kind = "Provider",
    namespaced,
    category = "seqops",
    shortname = "sqprov"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSpec {
    /// Which API: `orsay`, `orqis`, `gary`, `orchagent` or `topo`.
    #[serde(rename = "type")]
    pub provider_type: ProviderType,
    /// Overrides the vendor's base URL (for a regional endpoint or a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub credentials: Credentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    Orsay,
    Orqis,
    Gary,
    Orchagent,
    Topo,
}

impl ProviderType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Orsay => "orsay",
            ProviderType::Orqis => "orqis",
            ProviderType::Gary => "gary",
            ProviderType::Orchagent => "orchagent",
            ProviderType::Topo => "topo",
        }
    }
}

/// Where the API key comes from: an environment variable for the CLI, a
/// Kubernetes Secret for the controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

/// Client-side pacing. Without it, the vendor's documented limit applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per rolling hour seqops allows itself on this account; `0`
    /// turns pacing off.
    pub requests_per_hour: u32,
}

pub const PROVIDER_KIND: KindSpec = KindSpec {
    api_version: "seqops.dev/v1alpha1",
    kind: "Provider",
    key_kind: "Provider",
    provider_type: None,
    parse: kind::parse_typed::<ProviderSpec>,
    references: kind::no_references,
    check: check_provider,
    crd: <Provider as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(ProviderSpec),
};

fn check_provider(spec: &serde_json::Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let credentials = &spec["credentials"];
    if credentials.get("env").is_none() && credentials.get("secretRef").is_none() {
        problems.push((
            "spec.credentials".into(),
            "name where the API key comes from: `env: VARIABLE` (CLI) or `secretRef: {name, key}` (Kubernetes)".into(),
        ));
    }
    if let Some(url) = spec.get("baseUrl").and_then(|u| u.as_str()) {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            problems.push(("spec.baseUrl".into(), format!("`{url}` is not an http(s) URL")));
        }
    }
    problems
}
