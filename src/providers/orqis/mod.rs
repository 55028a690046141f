//! Orqis: AI agents built from OpenAPI documents (shared/apis/orqis.md).

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

use super::{Account, ExternalClient};
use crate::manifest::kind::{self, KindSpec};

pub const BASE_URL: &str = "https://api.orqisai.com";

/// Orqis's Agent shares its kind name with orchagent's: keys say which.
pub const AGENT_KEY_KIND: &str = "orqis.Agent";

pub const AGENT_KIND: KindSpec = KindSpec {
    api_version: "orqis.seqops.dev/v1alpha1",
    kind: "Agent",
    key_kind: AGENT_KEY_KIND,
    provider_type: Some("orqis"),
    parse: kind::parse_typed::<spec::AgentSpec>,
    references: kind::no_references,
    check: kind::no_checks,
    crd: <spec::Agent as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::AgentSpec),
    annotations: &[],
};

pub const LLM_KEY_KIND: KindSpec = KindSpec {
    api_version: "orqis.seqops.dev/v1alpha1",
    kind: "LlmKey",
    key_kind: "LlmKey",
    provider_type: Some("orqis"),
    parse: kind::parse_typed::<spec::LlmKeySpec>,
    references: kind::no_references,
    check: kind::no_checks,
    crd: <spec::LlmKey as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::LlmKeySpec),
    annotations: &[],
};

pub const API_KEY_KIND: KindSpec = KindSpec {
    api_version: "orqis.seqops.dev/v1alpha1",
    kind: "ApiKey",
    key_kind: "ApiKey",
    provider_type: Some("orqis"),
    parse: kind::parse_typed::<spec::ApiKeySpec>,
    references: spec::api_key_references,
    check: kind::no_checks,
    crd: <spec::ApiKey as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::ApiKeySpec),
    annotations: &[],
};

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: crate::manifest::provider::ProviderType::Orqis,
    kinds: &[AGENT_KIND, LLM_KEY_KIND, API_KEY_KIND],
    facts: &[&mapping::AGENT_FACTS, &mapping::LLM_KEY_FACTS, &mapping::API_KEY_FACTS],
    client_for,
    emulator: |config| emulator::OrqisEmulator::new(config),
    dialect: super::http::ORQIS_DIALECT,
    base_url: BASE_URL,
    rate: None,
    sandbox_path: emulator::BASE_PATH,
    export_filters: &[],
    probes: client::PROBES,
    sandbox_key: "orqis_sandbox_seqops",
};

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    let api = Arc::new(client::OrqisApi::new(account.clone()));
    match key_kind {
        AGENT_KEY_KIND => Some(Arc::new(client::AgentClient(api))),
        "LlmKey" => Some(Arc::new(client::LlmKeyClient(api))),
        "ApiKey" => Some(Arc::new(client::ApiKeyClient(api))),
        _ => None,
    }
}
