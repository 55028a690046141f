//! Orsay: Instagram and WhatsApp DM sequences (shared/apis/orsay.md).

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

pub use client::{OrsayApi, SequenceClient};

use super::{Account, ExternalClient};
use crate::manifest::kind::{self, KindSpec};

pub const BASE_URL: &str = "https://client.api.prod.orsay.ai/api/v1";
/// The vendor's limit: 200 requests per hour per organization.
pub const REQUESTS_PER_HOUR: u32 = 200;

pub const SEQUENCE_KIND: KindSpec = KindSpec {
    api_version: "orsay.seqops.dev/v1alpha1",
    kind: "Sequence",
    key_kind: "Sequence",
    provider_type: Some("orsay"),
    parse: kind::parse_typed::<spec::SequenceSpec>,
    references: kind::no_references,
    check: kind::no_checks,
    crd: <spec::Sequence as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::SequenceSpec),
    annotations: &[],
};

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: crate::manifest::provider::ProviderType::Orsay,
    kinds: &[SEQUENCE_KIND],
    facts: &[&mapping::SEQUENCE_FACTS],
    client_for,
    emulator: |config| emulator::OrsayEmulator::new(config),
    dialect: super::http::DETAIL_DIALECT,
    base_url: BASE_URL,
    rate: Some(crate::manifest::provider::Rate::per_hour(REQUESTS_PER_HOUR)),
    sandbox_path: emulator::BASE_PATH,
    export_filters: &[],
    probes: client::PROBES,
    sandbox_key: "sk_sandbox_seqops",
};

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (key_kind == SEQUENCE_KIND.key_kind).then(|| Arc::new(SequenceClient::new(OrsayApi::new(account.clone()))) as _)
}
