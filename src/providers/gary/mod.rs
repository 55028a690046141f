//! Gary Club: SMS and email ladders (shared/apis/gary.md). seqops manages
//! enrollments: a contact enrolled in a sequence, which Gary can make
//! (idempotently, while it is active) but never change or cancel.

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

pub use client::{EnrollmentClient, GaryApi};

use super::http::{Dialect, DETAIL_DIALECT};
use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindSpec};
use crate::manifest::provider::{ProviderType, Rate};

pub const BASE_URL: &str = "https://agency.gary.club/api/public/v1";

pub const DIALECT: Dialect = Dialect { error_detail: client::error_detail, ..DETAIL_DIALECT };

impl Kind for spec::EnrollmentSpec {
    type Resource = spec::Enrollment;
    const API_VERSION: &'static str = "gary.seqops.dev/v1alpha1";
    const KIND: &'static str = "Enrollment";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::ENROLLMENT_FACTS);
    const ANNOTATIONS: &'static [&'static str] = &[mapping::RE_ENROLL];
}

pub const ENROLLMENT_KIND: KindSpec = KindSpec::of::<spec::EnrollmentSpec>();

/// The type its Provider manifests name: `type: gary`.
pub const TYPE: ProviderType = ProviderType::new("gary", 3);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[ENROLLMENT_KIND],
    client_for,
    emulator: |config| emulator::GaryEmulator::new(config),
    dialect: DIALECT,
    base_url: BASE_URL,
    // 60 requests per minute per key, in a sliding window.
    rate: Some(Rate::per_minute(60)),
    sandbox_path: emulator::BASE_PATH,
    sandbox_key: "gc_live_sandbox_seqops",
    export_filters: &[mapping::SEQUENCE_FILTER, mapping::STATUS_FILTER],
    probes: client::PROBES,
};

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    let api = Arc::new(GaryApi::new(account.clone()));
    (ENROLLMENT_KIND.key_kind == key_kind).then(|| Arc::new(EnrollmentClient(api)) as _)
}
