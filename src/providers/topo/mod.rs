//! Topo: sales-engagement sequence runs (shared/apis/topo.md). Topo makes
//! runs itself from templates and contact lists; seqops adopts existing
//! runs and keeps their variable overrides and their state (running, paused
//! until a time, stopped with an outcome) as the manifests say.

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

pub use client::{SequenceRunClient, TopoApi};

use super::http::{Dialect, DETAIL_DIALECT};
use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindSpec};
use crate::manifest::provider::ProviderType;

pub const BASE_URL: &str = "https://api.topo.io";

pub const DIALECT: Dialect = Dialect { error_detail: client::error_detail, ..DETAIL_DIALECT };

impl Kind for spec::SequenceRunSpec {
    type Resource = spec::SequenceRun;
    const API_VERSION: &'static str = "topo.seqops.dev/v1alpha1";
    const KIND: &'static str = "SequenceRun";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::RUN_FACTS);
    const ANNOTATIONS: &'static [&'static str] = &[mapping::CONFIRM_COMPANY_STOP];

    fn check(&self) -> Vec<(String, String)> {
        spec::check(self)
    }
}

pub const RUN_KIND: KindSpec = KindSpec::of::<spec::SequenceRunSpec>();

/// The type its Provider manifests name: `type: topo`.
pub const TYPE: ProviderType = ProviderType::new("topo", 5);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[RUN_KIND],
    client_for,
    emulator: |config| emulator::TopoEmulator::new(config),
    dialect: DIALECT,
    base_url: BASE_URL,
    // Topo documents no request limit.
    rate: None,
    sandbox_path: emulator::BASE_PATH,
    sandbox_key: "topo_sandbox_seqops",
    export_filters: &[mapping::TEMPLATE_FILTER, mapping::STATUS_FILTER],
    probes: client::PROBES,
};

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (RUN_KIND.key_kind == key_kind).then(|| Arc::new(SequenceRunClient(Arc::new(TopoApi::new(account.clone())))) as _)
}
