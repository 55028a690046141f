//! Orqis: AI agents built from OpenAPI documents (shared/apis/orqis.md).

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindId, KindSpec, Reference, ReferenceField};
use crate::manifest::provider::ProviderType;

pub const BASE_URL: &str = "https://api.orqisai.com";

/// Orqis's Agent shares its kind name with orchagent's: keys say which.
pub const AGENT_KEY_KIND: KindId = KindId::new("orqis.Agent");

impl Kind for spec::AgentSpec {
    type Resource = spec::Agent;
    const API_VERSION: &'static str = "orqis.seqops.dev/v1alpha1";
    const KIND: &'static str = "Agent";
    const ID: KindId = AGENT_KEY_KIND;
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::AGENT_FACTS);
}

pub const AGENT_KIND: KindSpec = KindSpec::of::<spec::AgentSpec>();

impl Kind for spec::LlmKeySpec {
    type Resource = spec::LlmKey;
    const API_VERSION: &'static str = "orqis.seqops.dev/v1alpha1";
    const KIND: &'static str = "LlmKey";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::LLM_KEY_FACTS);
}

pub const LLM_KEY_KIND: KindSpec = KindSpec::of::<spec::LlmKeySpec>();

impl Kind for spec::ApiKeySpec {
    type Resource = spec::ApiKey;
    const API_VERSION: &'static str = "orqis.seqops.dev/v1alpha1";
    const KIND: &'static str = "ApiKey";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::API_KEY_FACTS);
    const REFERENCES: &'static [ReferenceField] = &[spec::AGENT_REF];

    fn references(&self) -> Vec<Reference> {
        spec::api_key_references(self)
    }
}

pub const API_KEY_KIND: KindSpec = KindSpec::of::<spec::ApiKeySpec>();

/// The type its Provider manifests name: `type: orqis`.
pub const TYPE: ProviderType = ProviderType::new("orqis", 2);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[AGENT_KIND, LLM_KEY_KIND, API_KEY_KIND],
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

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    let api = Arc::new(client::OrqisApi::new(account.clone()));
    match key_kind {
        k if AGENT_KEY_KIND == k => Some(Arc::new(client::AgentClient(api))),
        "LlmKey" => Some(Arc::new(client::LlmKeyClient(api))),
        "ApiKey" => Some(Arc::new(client::ApiKeyClient(api))),
        _ => None,
    }
}
