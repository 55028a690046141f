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
use crate::manifest::kind::{self, KindSpec};

pub const BASE_URL: &str = "https://api.orchagent.io";

/// orchagent's Agent shares its kind name with Orqis's: keys say which.
pub const AGENT_KEY_KIND: &str = "orchagent.Agent";

/// Errors are `{error: {code, message, is_retryable}}`; every response has
/// `X-RateLimit-*` headers.
pub const DIALECT: Dialect = Dialect {
    error_detail: wire::error_detail,
    retryable: wire::is_retryable,
    rate_limit_headers: true,
    wait_out_429: true,
};

const GROUP: &str = "orchagent.seqops.dev/v1alpha1";

pub const WORKSPACE_KIND: KindSpec = KindSpec {
    api_version: GROUP,
    kind: "Workspace",
    key_kind: "Workspace",
    provider_type: Some("orchagent"),
    parse: kind::parse_typed::<spec::WorkspaceSpec>,
    references: kind::no_references,
    check: kind::no_checks,
    crd: <spec::Workspace as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::WorkspaceSpec),
    annotations: &[],
};

pub const SECRET_KIND: KindSpec = KindSpec {
    api_version: GROUP,
    kind: "WorkspaceSecret",
    key_kind: "WorkspaceSecret",
    provider_type: Some("orchagent"),
    parse: kind::parse_typed::<spec::WorkspaceSecretSpec>,
    references: spec::workspace_references,
    check: kind::no_checks,
    crd: <spec::WorkspaceSecret as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::WorkspaceSecretSpec),
    annotations: &[],
};

pub const AGENT_KIND: KindSpec = KindSpec {
    api_version: GROUP,
    kind: "Agent",
    key_kind: AGENT_KEY_KIND,
    provider_type: Some("orchagent"),
    parse: kind::parse_typed::<spec::AgentSpec>,
    references: kind::no_references,
    check: kind::no_checks,
    crd: <spec::Agent as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::AgentSpec),
    annotations: &[],
};

pub const SCHEDULE_KIND: KindSpec = KindSpec {
    api_version: GROUP,
    kind: "Schedule",
    key_kind: "Schedule",
    provider_type: Some("orchagent"),
    parse: kind::parse_typed::<spec::ScheduleSpec>,
    references: spec::workspace_and_agent_references,
    check: spec::check_schedule,
    crd: <spec::Schedule as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::ScheduleSpec),
    annotations: &[],
};

pub const SERVICE_KIND: KindSpec = KindSpec {
    api_version: GROUP,
    kind: "Service",
    key_kind: "Service",
    provider_type: Some("orchagent"),
    parse: kind::parse_typed::<spec::ServiceSpec>,
    references: spec::workspace_and_agent_references,
    check: kind::no_checks,
    crd: <spec::Service as kube::CustomResourceExt>::crd,
    schema: || schemars::schema_for!(spec::ServiceSpec),
    annotations: &[],
};

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: crate::manifest::provider::ProviderType::Orchagent,
    kinds: &[WORKSPACE_KIND, SECRET_KIND, AGENT_KIND, SCHEDULE_KIND, SERVICE_KIND],
    facts: &[
        &mapping::WORKSPACE_FACTS,
        &mapping::SECRET_FACTS,
        &mapping::AGENT_FACTS,
        &mapping::SCHEDULE_FACTS,
        &mapping::SERVICE_FACTS,
    ],
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

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    let api = Arc::new(client::OrchagentApi::new(account.clone()));
    match key_kind {
        "Workspace" => Some(Arc::new(client::WorkspaceClient(api))),
        "WorkspaceSecret" => Some(Arc::new(client::SecretClient(api))),
        AGENT_KEY_KIND => Some(Arc::new(client::AgentClient(api))),
        "Schedule" => Some(Arc::new(client::ScheduleClient(api))),
        "Service" => Some(Arc::new(client::ServiceClient(api))),
        _ => None,
    }
}
