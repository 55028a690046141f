//! orchagent's API over the shared HTTP layer (`{data, metadata}` bodies),
//! and the clients of its five kinds.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;
use serde_json::Value;

use super::mapping::{self, AGENT_FACTS, SCHEDULE_FACTS, SECRET_FACTS, SERVICE_FACTS, WORKSPACE_FACTS};
use super::spec::{AgentSpec, ScheduleSpec, ServiceSpec, WorkspaceSecretSpec, WorkspaceSpec};
use super::wire;
use crate::providers::account::Secret;
use crate::providers::error::{none_if_gone, ok_if_gone};
use crate::providers::http::segment;
use crate::providers::listings::Listings;
use crate::providers::probe::{self, Probe, ProbePath};
use crate::providers::sources::SourceValues;
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
    UpdateRequest, Write,
};

/// The lists of one account, by path, each kept until the next change.
#[derive(Default)]
pub struct Lists {
    workspaces: Listings<Vec<wire::Workspace>>,
    agents: Listings<Vec<wire::Agent>>,
    secrets: Listings<Vec<wire::SecretName>>,
    schedules: Listings<Vec<wire::Schedule>>,
    services: Listings<Vec<wire::Service>>,
}

impl Lists {
    /// Any change may show in any list: a new agent in a schedule's
    /// `agent_name`, a deleted workspace in all of them.
    fn clear(&self) {
        self.workspaces.clear();
        self.agents.clear();
        self.secrets.clear();
        self.schedules.clear();
        self.services.clear();
    }
}

/// What a list holds, and where it is kept.
trait Listed: DeserializeOwned + Clone + Send + Sync + 'static {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>>;
}

impl Listed for wire::Workspace {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>> {
        &lists.workspaces
    }
}

impl Listed for wire::Agent {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>> {
        &lists.agents
    }
}

impl Listed for wire::SecretName {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>> {
        &lists.secrets
    }
}

impl Listed for wire::Schedule {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>> {
        &lists.schedules
    }
}

impl Listed for wire::Service {
    fn kept(lists: &Lists) -> &Listings<Vec<Self>> {
        &lists.services
    }
}

/// One orchagent account. Lists are read at most once between changes,
/// shared by every kind's client: workspaces are listed once, not once per
/// kind that lives in them.
pub struct OrchagentApi {
    account: Arc<Account>,
    lists: Arc<Lists>,
}

impl OrchagentApi {
    pub fn new(account: Arc<Account>) -> Self {
        let lists = account.shared("orchagent lists", Lists::default);
        Self { account, lists }
    }

    /// Sends a call and returns its `data`, if it has any.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<T>, ProviderError> {
        let response = self.exchange(&method, path, body).await?;
        if response.body.is_empty() {
            return Ok(None);
        }
        let envelope: wire::Envelope<T> = self.account.http.decode(&method, path, &response)?;
        Ok(envelope.data)
    }

    /// Sends a call whose answer says nothing seqops uses, so long as it
    /// is JSON.
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(), ProviderError> {
        let response = self.exchange(&method, path, body).await?;
        if !response.body.is_empty() {
            self.account.http.decode::<IgnoredAny>(&method, path, &response)?;
        }
        Ok(())
    }

    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<crate::providers::http::Response, ProviderError> {
        if method != Method::GET {
            self.lists.clear();
        }
        self.account.http.send(method.clone(), path, body).await
    }

    /// A list, kept until the next change.
    async fn list<T: Listed>(&self, path: &str) -> Result<Vec<T>, ProviderError> {
        let read = || async { Ok(self.call::<Vec<T>>(Method::GET, path, None).await?.unwrap_or_default()) };
        T::kept(&self.lists).get(path, read).await
    }

    async fn workspace_ids(&self) -> Result<Vec<String>, ProviderError> {
        Ok(self.list::<wire::Workspace>("/workspaces").await?.into_iter().filter_map(|w| w.id).collect())
    }

    /// Every object of a collection that lives in workspaces
    /// (`/workspaces/{id}/{collection}`), with its workspace's id.
    async fn in_workspaces<T: Listed>(&self, collection: &str) -> Result<Vec<(String, T)>, ProviderError> {
        let mut found = Vec::new();
        for workspace in self.workspace_ids().await? {
            for item in self.list(&format!("/workspaces/{}/{}", segment(&workspace), segment(collection))).await? {
                found.push((workspace.clone(), item));
            }
        }
        Ok(found)
    }

    fn label(&self) -> String {
        self.account.label()
    }
}

/// Ids of objects that live in a workspace are `WORKSPACE/ID`.
fn split(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/').ok_or_else(|| ProviderError::Invalid(format!("`{id}` is not a WORKSPACE/ID id")))
}

/// A wire body as the JSON the HTTP layer sends.
fn json<T: Serialize>(body: &T) -> Result<Value, ProviderError> {
    serde_json::to_value(body).map_err(|e| ProviderError::Invalid(format!("a request body cannot be written: {e}")))
}

fn no_id(label: String, path: &str) -> ProviderError {
    ProviderError::Decode {
        account: label,
        method: "POST".into(),
        path: path.into(),
        reason: "no id in the answer".into(),
    }
}

fn summary(id: String, display_name: Option<&str>, fields: Fields) -> RemoteSummary {
    RemoteSummary { id, display_name: display_name.unwrap_or_default().to_string(), fields }
}

/// One call, and a second after a create that sets one of `later`.
fn follow_up(write: Write<'_>, facts: &KindFacts) -> u64 {
    match write {
        Write::Create { desired } => 1 + u64::from(!facts.after_create(desired).is_empty()),
        _ => 1,
    }
}

fn workspace_path(workspace: &str, collection: &str, id: &str) -> String {
    format!("/workspaces/{}/{collection}/{}", segment(workspace), segment(id))
}

// ---- Workspace -------------------------------------------------------------

pub struct WorkspaceClient(pub Arc<OrchagentApi>);

#[async_trait]
impl ExternalClient for WorkspaceClient {
    fn facts(&self) -> &'static KindFacts {
        &WORKSPACE_FACTS
    }

    async fn desired(&self, spec: &Spec, _context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(mapping::workspace_desired(spec.typed::<WorkspaceSpec>()?))
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(Some(Value::Object(observed.clone())))
    }

    /// Workspaces are adopted by slug.
    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<WorkspaceSpec>().map(mapping::workspace_slug).unwrap_or_default()
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let workspaces = self.0.list::<wire::Workspace>("/workspaces").await?;
        Ok(workspaces
            .iter()
            .map(|w| summary(w.id.clone().unwrap_or_default(), w.slug.as_deref(), mapping::workspace_fields(w)))
            .collect())
    }

    /// The API has no read of one workspace: it is found in the list.
    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let workspaces = self.0.list::<wire::Workspace>("/workspaces").await?;
        Ok(workspaces.iter().find(|w| w.id.as_deref() == Some(id)).map(mapping::workspace_fields))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = json(&mapping::create_workspace(desired)?)?;
        let made = self.0.call::<wire::Workspace>(Method::POST, "/workspaces", Some(&body)).await?;
        made.and_then(|w| w.id).map(Created::id).ok_or_else(|| no_id(self.0.label(), "/workspaces"))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!(
            "{}: orchagent cannot change a workspace ({}): rename it in the dashboard, then apply",
            self.0.label(),
            request.changes.keys().cloned().collect::<Vec<_>>().join(", ")
        )))
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("{}: orchagent cannot delete workspace {id}", self.0.label())))
    }
}

// ---- WorkspaceSecret --------------------------------------------------------

pub struct SecretClient(pub Arc<OrchagentApi>);

#[async_trait]
impl ExternalClient for SecretClient {
    fn facts(&self) -> &'static KindFacts {
        &SECRET_FACTS
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<WorkspaceSecretSpec>().map(|secret| secret.name.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        mapping::secret_desired(spec.typed::<WorkspaceSecretSpec>()?, context)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let secrets = self.0.in_workspaces::<wire::SecretName>("secrets").await?;
        Ok(secrets
            .into_iter()
            .map(|(workspace, secret)| {
                let name = secret.name.unwrap_or_default();
                let fields = mapping::secret_fields(&workspace, &name);
                RemoteSummary { id: format!("{workspace}/{name}"), display_name: name, fields }
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, name) = split(id)?;
        let path = format!("/workspaces/{}/secrets", segment(workspace));
        let Some(secrets) = none_if_gone(self.0.list::<wire::SecretName>(&path).await)? else {
            return Ok(None);
        };
        let found = secrets.iter().any(|s| s.name.as_deref() == Some(name));
        Ok(found.then(|| mapping::secret_observed(workspace, name)))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let (workspace, body) = mapping::set_secret(desired, sources)
            .ok_or_else(|| ProviderError::Invalid(format!("{}: no value was read for spec.value", self.0.label())))?;
        self.0.send(Method::PUT, &format!("/workspaces/{}/secrets", segment(&workspace)), Some(&json(&body)?)).await?;
        Ok(Created::id(format!("{workspace}/{}", body.name)))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        self.create(request.desired, request.sources).await.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, name) = split(id)?;
        ok_if_gone(self.0.send(Method::DELETE, &workspace_path(workspace, "secrets", name), None).await)
    }
}

// ---- Agent -------------------------------------------------------------------

pub struct AgentClient(pub Arc<OrchagentApi>);

#[async_trait]
impl ExternalClient for AgentClient {
    fn facts(&self) -> &'static KindFacts {
        &AGENT_FACTS
    }

    /// A delete asks what confirmation it needs first.
    fn requests(&self, write: Write<'_>) -> u64 {
        match write {
            Write::Delete => 2,
            _ => 1,
        }
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<AgentSpec>().map(|agent| agent.name.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, _context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(mapping::agent_desired(spec.typed::<AgentSpec>()?))
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(Some(Value::Object(observed.clone())))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let agents = self.0.list::<wire::Agent>("/agents").await?;
        Ok(agents
            .iter()
            .map(|a| summary(a.id.clone().unwrap_or_default(), a.name.as_deref(), mapping::agent_fields(a)))
            .collect())
    }

    /// The API has no read of one agent: it is found in the list.
    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let agents = self.0.list::<wire::Agent>("/agents").await?;
        Ok(agents.iter().find(|a| a.id.as_deref() == Some(id)).map(mapping::agent_fields))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = json(&mapping::create_agent(desired)?)?;
        let made = self.0.call::<wire::CreatedAgent>(Method::POST, "/agents", Some(&body)).await?.unwrap_or_default();
        let id = made.agent.and_then(|a| a.id).ok_or_else(|| no_id(self.0.label(), "/agents"))?;
        let outputs = made.service_key.map(|key| ("service_key".to_string(), Secret::new(key))).into_iter().collect();
        Ok(Created { id, outputs, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let body = json(&mapping::agent_patch(request.changes)?)?;
        self.0.send(Method::PATCH, &format!("/agents/{}", segment(request.id)), Some(&body)).await
    }

    /// Asks what confirmation the delete needs, and gives it.
    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let asked = format!("/agents/{}/delete-check", segment(id));
        let Some(check) = none_if_gone(self.0.call::<wire::DeleteCheck>(Method::GET, &asked, None).await)? else {
            return Ok(());
        };
        let check = check.unwrap_or_default();
        let path = match (check.requires_confirmation, check.agent_name) {
            (Some(true), Some(name)) => format!("/agents/{}?confirmation_name={}", segment(id), segment(&name)),
            _ => format!("/agents/{}", segment(id)),
        };
        ok_if_gone(self.0.send(Method::DELETE, &path, None).await)
    }
}

// ---- Schedule ------------------------------------------------------------------

pub struct ScheduleClient(pub Arc<OrchagentApi>);

#[async_trait]
impl ExternalClient for ScheduleClient {
    fn facts(&self) -> &'static KindFacts {
        &SCHEDULE_FACTS
    }

    /// What the create call cannot take is set by a second call.
    fn requests(&self, write: Write<'_>) -> u64 {
        follow_up(write, &SCHEDULE_FACTS)
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        mapping::schedule_desired(spec.typed::<ScheduleSpec>()?, context)
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<ScheduleSpec>().map(mapping::schedule_spec_name).unwrap_or_default()
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let schedules = self.0.in_workspaces::<wire::Schedule>("schedules").await?;
        Ok(schedules
            .into_iter()
            .map(|(workspace, schedule)| {
                let fields = mapping::schedule_fields(&workspace, &schedule);
                let id = format!("{workspace}/{}", schedule.id.unwrap_or_default());
                RemoteSummary { id, display_name: mapping::schedule_name(&Value::Object(fields.clone())), fields }
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, schedule) = split(id)?;
        let path = workspace_path(workspace, "schedules", schedule);
        let found = none_if_gone(self.0.call::<wire::Schedule>(Method::GET, &path, None).await)?;
        Ok(found.map(|data| mapping::schedule_fields(workspace, &data.unwrap_or_default())))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let workspace = mapping::workspace_of(desired);
        let body = json(&mapping::create_schedule(desired)?)?;
        let path = format!("/workspaces/{}/schedules", segment(&workspace));
        let made = self.0.call::<wire::Schedule>(Method::POST, &path, Some(&body)).await?.unwrap_or_default();
        let id = made.id.ok_or_else(|| no_id(self.0.label(), &path))?;
        let outputs: BTreeMap<String, Secret> =
            made.webhook_url.map(|url| ("webhook_url".to_string(), Secret::new(url))).into_iter().collect();
        let unapplied = SCHEDULE_FACTS.after_create(desired);
        Ok(Created { id: format!("{workspace}/{id}"), outputs, unapplied, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (workspace, schedule) = split(request.id)?;
        let body = json(&mapping::schedule_patch(request.changes, request.sources)?)?;
        self.0.send(Method::PATCH, &workspace_path(workspace, "schedules", schedule), Some(&body)).await
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, schedule) = split(id)?;
        ok_if_gone(self.0.send(Method::DELETE, &workspace_path(workspace, "schedules", schedule), None).await)
    }
}

// ---- Service -------------------------------------------------------------------

pub struct ServiceClient(pub Arc<OrchagentApi>);

#[async_trait]
impl ExternalClient for ServiceClient {
    fn facts(&self) -> &'static KindFacts {
        &SERVICE_FACTS
    }

    /// What the create call cannot take is set by a second call.
    fn requests(&self, write: Write<'_>) -> u64 {
        follow_up(write, &SERVICE_FACTS)
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<ServiceSpec>().map(|service| service.name.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        mapping::service_desired(spec.typed::<ServiceSpec>()?, context)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let services = self.0.in_workspaces::<wire::Service>("services").await?;
        Ok(services
            .into_iter()
            .map(|(workspace, service)| {
                let id = format!("{workspace}/{}", service.id.as_deref().unwrap_or_default());
                summary(id, service.name.as_deref(), mapping::service_fields(&workspace, &service))
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, service) = split(id)?;
        let path = workspace_path(workspace, "services", service);
        let found = none_if_gone(self.0.call::<wire::Service>(Method::GET, &path, None).await)?;
        Ok(found.map(|data| mapping::service_fields(workspace, &data.unwrap_or_default())))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let workspace = mapping::workspace_of(desired);
        let body = json(&mapping::deploy_service(desired, sources)?)?;
        let path = format!("/workspaces/{}/services", segment(&workspace));
        let made = self.0.call::<wire::Service>(Method::POST, &path, Some(&body)).await?.unwrap_or_default();
        let id = made.id.ok_or_else(|| no_id(self.0.label(), &path))?;
        let unapplied = SERVICE_FACTS.after_create(desired);
        Ok(Created { id: format!("{workspace}/{id}"), unapplied, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (workspace, service) = split(request.id)?;
        let body = json(&mapping::service_patch(request.changes, request.sources)?)?;
        self.0.send(Method::PATCH, &workspace_path(workspace, "services", service), Some(&body)).await
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, service) = split(id)?;
        ok_if_gone(self.0.send(Method::DELETE, &workspace_path(workspace, "services", service), None).await)
    }
}

/// The endpoints this client reads, for `seqops check`.
pub const PROBES: &[Probe] = &[
    Probe {
        endpoint: "GET /workspaces",
        path: ProbePath::Fixed("/workspaces"),
        expect: |body| probe::enveloped(body, &["id", "name", "slug"]),
    },
    Probe {
        endpoint: "GET /workspaces/{id}/secrets",
        path: ProbePath::Under { parent: "GET /workspaces", path: |id| format!("/workspaces/{}/secrets", segment(id)) },
        expect: |body| probe::enveloped(body, &["name"]),
    },
    Probe {
        endpoint: "GET /workspaces/{id}/schedules",
        path: ProbePath::Under {
            parent: "GET /workspaces",
            path: |id| format!("/workspaces/{}/schedules", segment(id)),
        },
        expect: |body| probe::enveloped(body, &["id"]),
    },
    Probe {
        endpoint: "GET /workspaces/{id}/services",
        path: ProbePath::Under {
            parent: "GET /workspaces",
            path: |id| format!("/workspaces/{}/services", segment(id)),
        },
        expect: |body| probe::enveloped(body, &["id", "name"]),
    },
    Probe {
        endpoint: "GET /agents",
        path: ProbePath::Fixed("/agents"),
        expect: |body| probe::enveloped(body, &["id", "name"]),
    },
    Probe {
        endpoint: "GET /agents/{id}/delete-check",
        path: ProbePath::Under { parent: "GET /agents", path: |id| format!("/agents/{}/delete-check", segment(id)) },
        expect: probe::shape::<Value>,
    },
];
