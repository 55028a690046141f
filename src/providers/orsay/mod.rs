//! Orsay: Instagram and WhatsApp DM sequences (shared/apis/orsay.md).

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

pub use client::{OrsayApi, SequenceClient};

use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindSpec};
use crate::manifest::provider::ProviderType;

pub const BASE_URL: &str = "https://client.api.prod.orsay.ai/api/v1";
/// The vendor's limit: 200 requests per hour per organization.
pub const REQUESTS_PER_HOUR: u32 = 200;

impl Kind for spec::SequenceSpec {
    type Resource = spec::Sequence;
    const API_VERSION: &'static str = "orsay.seqops.dev/v1alpha1";
    const KIND: &'static str = "Sequence";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::SEQUENCE_FACTS);
}

pub const SEQUENCE_KIND: KindSpec = KindSpec::of::<spec::SequenceSpec>();

/// The type its Provider manifests name: `type: orsay`.
pub const TYPE: ProviderType = ProviderType::new("orsay", 1);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[SEQUENCE_KIND],
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

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (SEQUENCE_KIND.key_kind == key_kind).then(|| Arc::new(SequenceClient::new(OrsayApi::new(account.clone()))) as _)
}
