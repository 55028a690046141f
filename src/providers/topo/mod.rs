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
use crate::manifest::kind::{self, KindSpec};
use crate::manifest::provider::ProviderType;

pub const BASE_URL: &str = "https://api.topo.io";

pub const DIALECT: Dialect = Dialect { error_detail: client::error_detail, ..DETAIL_DIALECT };

pub const RUN_KIND: KindSpec = KindSpec {
    api_version: "topo.seqops.dev/v1alpha1",
    kind: "SequenceRun",
    key_kind: "SequenceRun",
    provider_type: Some("topo"),
    parse: kind::parse_typed::<spec::SequenceRunSpec>,
    references: kind::no_references,
    check: spec::check,
    crd: <spec::SequenceRun as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::SequenceRunSpec),
    annotations: &[mapping::CONFIRM_COMPANY_STOP],
};

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: ProviderType::Topo,
    kinds: &[RUN_KIND],
    facts: &[&mapping::RUN_FACTS],
    client_for,
    emulator: |config| emulator::TopoEmulator::new(config),
    dialect: DIALECT,
    base_url: BASE_URL,
    // Topo documents no request limit.
    rate: None,
    sandbox_path: emulator::BASE_PATH,
    sandbox_key: "topo_sandbox_seqops",
    export_filters: &["template", "status"],
    probes: client::PROBES,
};

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (key_kind == RUN_KIND.key_kind).then(|| Arc::new(SequenceRunClient(Arc::new(TopoApi::new(account.clone())))) as _)
}
