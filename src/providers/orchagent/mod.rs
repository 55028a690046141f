//! orchagent: agent hosting, workspaces, schedules, secrets and services
//! (shared/apis/orchagent.md and its OpenAPI document).

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

use super::http::Dialect;
use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindId, KindSpec, Reference, ReferenceField};
use crate::manifest::provider::ProviderType;

pub const BASE_URL: &str = "https://api.orchagent.io";

/// orchagent's Agent shares its kind name with Orqis's: keys say which.
pub const AGENT_KEY_KIND: KindId = KindId::new("orchagent.Agent");

/// Errors are `{error: {code, message, is_retryable}}`; every response has
/// `X-RateLimit-*` headers.
pub const DIALECT: Dialect = Dialect {
    error_detail: wire::error_detail,
    retryable: wire::is_retryable,
    rate_limit_headers: true,
    ..super::http::DETAIL_DIALECT
};

const GROUP: &str = "orchagent.seqops.dev/v1alpha1";

impl Kind for spec::WorkspaceSpec {
    type Resource = spec::Workspace;
    const API_VERSION: &'static str = GROUP;
    const KIND: &'static str = "Workspace";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::WORKSPACE_FACTS);
}

pub const WORKSPACE_KIND: KindSpec = KindSpec::of::<spec::WorkspaceSpec>();

impl Kind for spec::WorkspaceSecretSpec {
    type Resource = spec::WorkspaceSecret;
    const API_VERSION: &'static str = GROUP;
    const KIND: &'static str = "WorkspaceSecret";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::SECRET_FACTS);
    const REFERENCES: &'static [ReferenceField] = &[WORKSPACE_REF];

    fn references(&self) -> Vec<Reference> {
        spec::workspace_references(&self.workspace_ref)
    }
}

pub const SECRET_KIND: KindSpec = KindSpec::of::<spec::WorkspaceSecretSpec>();

impl Kind for spec::AgentSpec {
    type Resource = spec::Agent;
    const API_VERSION: &'static str = GROUP;
    const KIND: &'static str = "Agent";
    const ID: KindId = AGENT_KEY_KIND;
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::AGENT_FACTS);
}

pub const AGENT_KIND: KindSpec = KindSpec::of::<spec::AgentSpec>();

impl Kind for spec::ScheduleSpec {
    type Resource = spec::Schedule;
    const API_VERSION: &'static str = GROUP;
    const KIND: &'static str = "Schedule";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::SCHEDULE_FACTS);
    const REFERENCES: &'static [ReferenceField] = &[WORKSPACE_REF, AGENT_REF];

    fn references(&self) -> Vec<Reference> {
        spec::workspace_and_agent_references(&self.workspace_ref, &self.agent_ref)
    }

    fn check(&self) -> Vec<(String, String)> {
        spec::check_schedule(self)
    }
}

pub const SCHEDULE_KIND: KindSpec = KindSpec::of::<spec::ScheduleSpec>();

impl Kind for spec::ServiceSpec {
    type Resource = spec::Service;
    const API_VERSION: &'static str = GROUP;
    const KIND: &'static str = "Service";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::SERVICE_FACTS);
    const REFERENCES: &'static [ReferenceField] = &[WORKSPACE_REF, AGENT_REF, SERVICE_SECRETS];

    fn references(&self) -> Vec<Reference> {
        spec::service_references(self)
    }
}

pub const SERVICE_KIND: KindSpec = KindSpec::of::<spec::ServiceSpec>();

/// The Workspace a secret, Schedule or Service is in.
const WORKSPACE_REF: ReferenceField = ReferenceField::to("spec.workspaceRef.name", KindId::new("Workspace"));
/// The workspace secrets a Service reads, by their remote names.
const SERVICE_SECRETS: ReferenceField =
    ReferenceField::by_remote_name("spec.secretNames[]", KindId::new("WorkspaceSecret"));
/// The Agent a Schedule or Service runs.
const AGENT_REF: ReferenceField = ReferenceField::to("spec.agentRef.name", AGENT_KEY_KIND);

/// The type its Provider manifests name: `type: orchagent`.
pub const TYPE: ProviderType = ProviderType::new("orchagent", 4);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[WORKSPACE_KIND, SECRET_KIND, AGENT_KIND, SCHEDULE_KIND, SERVICE_KIND],
    client_for,
    emulator: |config| emulator::OrchagentEmulator::new(config),
    dialect: DIALECT,
    base_url: BASE_URL,
    rate: None,
    sandbox_path: emulator::BASE_PATH,
    export_filters: &[],
    probes: client::PROBES,
    sandbox_key: "sk_sandbox_seqops",
};

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    let api = Arc::new(client::OrchagentApi::new(account.clone()));
    match key_kind {
        "Workspace" => Some(Arc::new(client::WorkspaceClient(api))),
        "WorkspaceSecret" => Some(Arc::new(client::SecretClient(api))),
        k if AGENT_KEY_KIND == k => Some(Arc::new(client::AgentClient(api))),
        "Schedule" => Some(Arc::new(client::ScheduleClient(api))),
        "Service" => Some(Arc::new(client::ServiceClient(api))),
        _ => None,
    }
}
