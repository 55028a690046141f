//! orchagent's API over the shared HTTP layer (`{data, metadata}` bodies),
//! and the clients of its five kinds.

use std::sync::Arc;

use async_trait::async_trait;

use crate::providers::http::segment;
use crate::providers::listings::Listings;
use crate::providers::probe::{self, Probe, ProbePath};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::providers::account::Secret;
use crate::providers::error::{none_if_gone, ok_if_gone};
use crate::providers::sources::{self, SourceValues, SENSITIVE};
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary,
    UpdateRequest, Write,
};

/// `error.message` (with its code) of an error body.
pub fn error_detail(body: &[u8]) -> String {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (parsed["error"]["code"].as_str(), parsed["error"]["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.to_string(),
        _ => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// `error.is_retryable` of an error body.
pub fn is_retryable(body: &[u8]) -> Option<bool> {
    serde_json::from_slice::<Value>(body).ok()?.get("error")?.get("is_retryable")?.as_bool()
}

/// One orchagent account. Lists are read at most once between changes,
/// shared by every kind's client: workspaces are listed once, not once per
/// kind that lives in them.
pub struct OrchagentApi {
    account: Arc<Account>,
    lists: Arc<Listings<Vec<Value>>>,
}

impl OrchagentApi {
    pub fn new(account: Arc<Account>) -> Self {
        let lists = account.shared("orchagent lists", Listings::default);
        Self { account, lists }
    }

    /// Sends a call and returns its `data`.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        if method != Method::GET {
            self.lists.clear();
        }
        let response = self.account.http.send(method.clone(), path, body).await?;
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        let envelope: Value = self.account.http.decode(&method, path, &response)?;
        Ok(envelope.get("data").cloned().unwrap_or(Value::Null))
    }

    /// A list, kept until the next change.
    async fn list(&self, path: &str) -> Result<Vec<Value>, ProviderError> {
        let read = || async { Ok(self.call(Method::GET, path, None).await?.as_array().cloned().unwrap_or_default()) };
        self.lists.get(path, read).await
    }

    /// A top-level collection as summaries, each named by `name_field`.
    async fn summaries(
        &self,
        path: &str,
        name_field: &str,
        fields: fn(&Value) -> Fields,
    ) -> Result<Vec<RemoteSummary>, ProviderError> {
        Ok(self
            .list(path)
            .await?
            .iter()
            .map(|item| RemoteSummary {
                id: item["id"].as_str().unwrap_or_default().to_string(),
                display_name: item[name_field].as_str().unwrap_or_default().to_string(),
                fields: fields(item),
            })
            .collect())
    }

    /// One object of a top-level collection, found in its list (the API
    /// has no read of one).
    async fn find(&self, path: &str, id: &str, fields: fn(&Value) -> Fields) -> Result<Option<Fields>, ProviderError> {
        Ok(self.list(path).await?.iter().find(|item| item["id"] == id).map(fields))
    }

    async fn workspace_ids(&self) -> Result<Vec<String>, ProviderError> {
        Ok(self.list("/workspaces").await?.iter().filter_map(|w| w["id"].as_str().map(str::to_string)).collect())
    }

    /// Every object of a collection that lives in workspaces
    /// (`/workspaces/{id}/{collection}`), with its workspace's id.
    async fn in_workspaces(&self, collection: &str) -> Result<Vec<(String, Value)>, ProviderError> {
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

/// The spec's values of the listed fields, where present.
fn spec_fields(spec: &Value, names: &[(&str, &str)]) -> Map<String, Value> {
    names.iter().filter_map(|(name, _)| spec.get(*name).map(|v| (name.to_string(), v.clone()))).collect()
}

/// Copies `fields` (spec name → wire name) from `source` where present.
/// The secrets a Schedule's or Service's spec reads (`alertWebhookUrl`,
/// `env` values from sources) as markers in its fields.
fn with_secrets(fields: &mut Fields, context: &DesiredContext<'_>) -> Result<(), ProviderError> {
    if fields.contains_key("alertWebhookUrl") {
        fields.insert("alertWebhookUrl".into(), context.secret("alertWebhookUrl")?);
    }
    if let Some(Value::Object(env)) = fields.get_mut("env") {
        for (name, value) in env.iter_mut() {
            if value.is_object() {
                *value = context.secret(&format!("env.{name}"))?;
            }
        }
    }
    Ok(())
}

/// A request body with each secret marker replaced by the value behind it.
fn reveal(body: &mut Map<String, Value>, sources: &SourceValues) -> Result<(), ProviderError> {
    let value_of = |path: &str| {
        sources
            .get(path)
            .map(|secret| Value::String(secret.expose().to_string()))
            .ok_or_else(|| ProviderError::Invalid(format!("spec.{path}: no value was read for this secret")))
    };
    if body.get("alert_webhook_url").and_then(sources::marker).is_some() {
        body.insert("alert_webhook_url".into(), value_of("alertWebhookUrl")?);
    }
    if let Some(Value::Object(env)) = body.get_mut("env") {
        for (name, value) in env.iter_mut() {
            if sources::marker(value).is_some() {
                *value = value_of(&format!("env.{name}"))?;
            }
        }
    }
    Ok(())
}

fn pick(source: &Value, names: &[(&str, &str)], to_wire: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (spec, wire) in names {
        let (from, to) = if to_wire { (spec, wire) } else { (wire, spec) };
        // A null from the API is a value it does not have: the field's
        // default, like an absent one.
        if let Some(value) = source.get(*from).filter(|v| !v.is_null()) {
            out.insert(to.to_string(), value.clone());
        }
    }
    out
}

fn no_id(label: String, path: &str) -> ProviderError {
    ProviderError::Decode {
        account: label,
        method: "POST".into(),
        path: path.into(),
        reason: "no id in the answer".into(),
    }
}

// ---- Workspace -------------------------------------------------------------

pub struct WorkspaceClient(pub Arc<OrchagentApi>);

pub static WORKSPACE_FACTS: KindFacts = KindFacts {
    key_kind: "Workspace",
    immutable: &[],
    sets: &[],
    write_only: &[],
    default: |_| Value::Null,
    summary_fields: &["name", "slug"],
    deletable: false,
    create_before_delete: true,
    ..KindFacts::CRUD
};

/// What orchagent derives a slug from a name with.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

fn workspace_fields(workspace: &Value) -> Fields {
    Map::from_iter([("name".to_string(), workspace["name"].clone()), ("slug".to_string(), workspace["slug"].clone())])
}

#[async_trait]
impl ExternalClient for WorkspaceClient {
    fn facts(&self) -> &'static KindFacts {
        &WORKSPACE_FACTS
    }

    async fn desired(&self, spec: &Value, _context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(Map::from_iter([
            ("name".to_string(), spec["name"].clone()),
            ("slug".to_string(), json!(self.display_name(spec))),
        ]))
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(Some(Value::Object(observed.clone())))
    }

    /// Workspaces are adopted by slug.
    fn display_name(&self, spec: &Value) -> String {
        spec["slug"].as_str().map_or_else(|| slugify(spec["name"].as_str().unwrap_or_default()), str::to_string)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        self.0.summaries("/workspaces", "slug", workspace_fields).await
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        self.0.find("/workspaces", id, workspace_fields).await
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = json!({ "name": desired.get("name"), "slug": desired.get("slug") });
        let data = self.0.call(Method::POST, "/workspaces", Some(&body)).await?;
        data["id"].as_str().map(Created::id).ok_or_else(|| no_id(self.0.label(), "/workspaces"))
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

pub static SECRET_FACTS: KindFacts = KindFacts {
    key_kind: "WorkspaceSecret",
    immutable: &["workspace", "name"],
    sets: &[],
    write_only: &[],
    default: |_| Value::Null,
    summary_fields: &["workspace", "name"],
    deletable: true,
    create_before_delete: false,
    // The create is `PUT /workspaces/{id}/secrets`, by name.
    natural_key: &["workspace", "name"],
    idempotent_create: true,
    create_overwrites: true,
    ..KindFacts::CRUD
};

#[async_trait]
impl ExternalClient for SecretClient {
    fn facts(&self) -> &'static KindFacts {
        &SECRET_FACTS
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(Map::from_iter([
            ("workspace".to_string(), context.reference("spec.workspaceRef.name")),
            ("name".to_string(), spec["name"].clone()),
            ("value".to_string(), context.secret("value")?),
        ]))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        Ok(self
            .0
            .in_workspaces("secrets")
            .await?
            .into_iter()
            .map(|(workspace, secret)| {
                let name = secret["name"].as_str().unwrap_or_default().to_string();
                let fields =
                    Map::from_iter([("workspace".to_string(), json!(workspace)), ("name".to_string(), json!(name))]);
                RemoteSummary { id: format!("{workspace}/{name}"), display_name: name, fields }
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, name) = split(id)?;
        let Some(secrets) = none_if_gone(self.0.list(&format!("/workspaces/{}/secrets", segment(workspace))).await)?
        else {
            return Ok(None);
        };
        Ok(secrets.iter().any(|s| s["name"] == name).then(|| {
            Map::from_iter([
                ("workspace".to_string(), json!(workspace)),
                ("name".to_string(), json!(name)),
                ("value".to_string(), sources::unknown(SENSITIVE)),
            ])
        }))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let workspace = desired.get("workspace").and_then(Value::as_str).unwrap_or_default();
        let name = desired.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = sources
            .get("value")
            .ok_or_else(|| ProviderError::Invalid(format!("{}: no value was read for spec.value", self.0.label())))?;
        let body = json!({ "name": name, "value": value.expose() });
        self.0.call(Method::PUT, &format!("/workspaces/{}/secrets", segment(workspace)), Some(&body)).await?;
        Ok(Created::id(format!("{workspace}/{name}")))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        self.create(request.desired, request.sources).await.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, name) = split(id)?;
        ok_if_gone(
            self.0
                .call(Method::DELETE, &format!("/workspaces/{}/secrets/{}", segment(workspace), segment(name)), None)
                .await,
        )
    }
}

// ---- Agent -------------------------------------------------------------------

pub struct AgentClient(pub Arc<OrchagentApi>);

const AGENT_FIELDS: [(&str, &str); 13] = [
    ("name", "name"),
    ("version", "version"),
    ("type", "type"),
    ("runMode", "run_mode"),
    ("runtime", "runtime"),
    ("loop", "loop"),
    ("callable", "callable"),
    ("description", "description"),
    ("isPublic", "is_public"),
    ("tags", "tags"),
    ("supportedProviders", "supported_providers"),
    ("defaultEndpoint", "default_endpoint"),
    ("timeoutSeconds", "timeout_seconds"),
];

pub static AGENT_FACTS: KindFacts = KindFacts {
    key_kind: super::AGENT_KEY_KIND,
    immutable: &["name", "version", "type", "runMode", "runtime", "loop", "callable"],
    sets: &["tags", "supportedProviders"],
    // The agent the API returns has none of these.
    write_only: &["runtime", "loop", "tags", "supportedProviders", "defaultEndpoint", "timeoutSeconds"],
    default: |field| match field {
        "runMode" => json!("on_demand"),
        "callable" => json!(true),
        "isPublic" => json!(false),
        _ => Value::Null,
    },
    summary_fields: &["name", "version", "type", "runMode", "callable", "description", "isPublic"],
    deletable: true,
    create_before_delete: true,
    ..KindFacts::CRUD
};

fn agent_fields(agent: &Value) -> Fields {
    let mut fields = pick(agent, &AGENT_FIELDS, false);
    fields.retain(|name, _| AGENT_FACTS.summary_fields.contains(&name.as_str()));
    fields
}

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

    async fn desired(&self, spec: &Value, _context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(spec_fields(spec, &AGENT_FIELDS))
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(Some(Value::Object(observed.clone())))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        self.0.summaries("/agents", "name", agent_fields).await
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        self.0.find("/agents", id, agent_fields).await
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = Value::Object(pick(&Value::Object(desired.clone()), &AGENT_FIELDS, true));
        let data = self.0.call(Method::POST, "/agents", Some(&body)).await?;
        let id = data["agent"]["id"].as_str().ok_or_else(|| no_id(self.0.label(), "/agents"))?.to_string();
        let mut outputs = std::collections::BTreeMap::new();
        if let Some(key) = data["service_key"].as_str() {
            outputs.insert("service_key".to_string(), Secret::new(key));
        }
        Ok(Created { id, outputs, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let body = Value::Object(pick(&Value::Object(request.changes.clone()), &AGENT_FIELDS, true));
        self.0.call(Method::PATCH, &format!("/agents/{}", segment(request.id)), Some(&body)).await.map(|_| ())
    }

    /// Asks what confirmation the delete needs, and gives it.
    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let Some(check) =
            none_if_gone(self.0.call(Method::GET, &format!("/agents/{}/delete-check", segment(id)), None).await)?
        else {
            return Ok(());
        };
        let path = match (check["requires_confirmation"].as_bool(), check["agent_name"].as_str()) {
            (Some(true), Some(name)) => format!("/agents/{}?confirmation_name={}", segment(id), segment(name)),
            _ => format!("/agents/{}", segment(id)),
        };
        ok_if_gone(self.0.call(Method::DELETE, &path, None).await)
    }
}

/// One call, and a second after a create that sets one of `later`.
fn follow_up(write: Write<'_>, facts: &KindFacts) -> u64 {
    match write {
        Write::Create { desired } => 1 + u64::from(!facts.after_create(desired).is_empty()),
        _ => 1,
    }
}

// ---- Schedule ------------------------------------------------------------------

pub struct ScheduleClient(pub Arc<OrchagentApi>);

const SCHEDULE_FIELDS: [(&str, &str); 8] = [
    ("type", "type"),
    ("cronExpression", "cron_expression"),
    ("timezone", "timezone"),
    ("inputData", "input_data"),
    ("enabled", "enabled"),
    ("pinVersion", "pin_version"),
    ("alertWebhookUrl", "alert_webhook_url"),
    ("alertOnFailureCount", "alert_on_failure_count"),
];

pub static SCHEDULE_FACTS: KindFacts = KindFacts {
    key_kind: "Schedule",
    immutable: &["workspace", "agent", "type"],
    sets: &[],
    write_only: &["alertWebhookUrl", "alertOnFailureCount"],
    default: |field| match field {
        "timezone" => json!("UTC"),
        "enabled" => json!(true),
        "pinVersion" => json!(false),
        "inputData" => json!({}),
        _ => Value::Null,
    },
    summary_fields: &["agent", "type", "cronExpression", "timezone", "enabled"],
    deletable: true,
    create_before_delete: true,
    // The create call takes neither `enabled` nor the alert settings.
    set_after_create: &["enabled", "alertWebhookUrl", "alertOnFailureCount"],
    ..KindFacts::CRUD
};

fn schedule_fields(workspace: &str, schedule: &Value) -> Fields {
    let mut fields = pick(schedule, &SCHEDULE_FIELDS[..6], false);
    fields.insert("workspace".into(), json!(workspace));
    fields.insert("agent".into(), schedule["agent_id"].clone());
    fields
}

/// Schedules have no name: they are told apart by what they run and when.
/// What a schedule is called: `cron 0 9 * * 1-5`, or `webhook`.
fn schedule_name(fields: &Value) -> String {
    let kind = fields.get("type").and_then(Value::as_str).unwrap_or_default();
    match fields.get("cronExpression").and_then(Value::as_str) {
        Some(when) => format!("{kind} {when}"),
        None => kind.to_string(),
    }
}

#[async_trait]
impl ExternalClient for ScheduleClient {
    fn facts(&self) -> &'static KindFacts {
        &SCHEDULE_FACTS
    }

    /// What the create call cannot take is set by a second call.
    fn requests(&self, write: Write<'_>) -> u64 {
        follow_up(write, &SCHEDULE_FACTS)
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let mut fields = spec_fields(spec, &SCHEDULE_FIELDS);
        with_secrets(&mut fields, context)?;
        fields.insert("workspace".into(), context.reference("spec.workspaceRef.name"));
        fields.insert("agent".into(), context.reference("spec.agentRef.name"));
        Ok(fields)
    }

    fn display_name(&self, spec: &Value) -> String {
        schedule_name(spec)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        Ok(self
            .0
            .in_workspaces("schedules")
            .await?
            .into_iter()
            .map(|(workspace, schedule)| {
                let fields = schedule_fields(&workspace, &schedule);
                let id = format!("{workspace}/{}", schedule["id"].as_str().unwrap_or_default());
                RemoteSummary { id, display_name: schedule_name(&Value::Object(fields.clone())), fields }
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, schedule) = split(id)?;
        let found = self
            .0
            .call(Method::GET, &format!("/workspaces/{}/schedules/{}", segment(workspace), segment(schedule)), None)
            .await;
        Ok(none_if_gone(found)?.map(|data| schedule_fields(workspace, &data)))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let workspace = desired.get("workspace").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut body = pick(&Value::Object(desired.clone()), &SCHEDULE_FIELDS[..6], true);
        body.remove("enabled");
        reveal(&mut body, sources)?;
        body.insert("agent_id".into(), desired.get("agent").cloned().unwrap_or_default());
        let path = format!("/workspaces/{}/schedules", segment(&workspace));
        let data = self.0.call(Method::POST, &path, Some(&Value::Object(body))).await?;
        let id = data["id"].as_str().ok_or_else(|| no_id(self.0.label(), &path))?;
        let mut outputs = std::collections::BTreeMap::new();
        if let Some(url) = data["webhook_url"].as_str() {
            outputs.insert("webhook_url".to_string(), Secret::new(url));
        }
        let unapplied = SCHEDULE_FACTS.after_create(desired);
        Ok(Created { id: format!("{workspace}/{id}"), outputs, unapplied, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (workspace, schedule) = split(request.id)?;
        let mut body = pick(&Value::Object(request.changes.clone()), &SCHEDULE_FIELDS[1..], true);
        reveal(&mut body, request.sources)?;
        let body = Value::Object(body);
        self.0
            .call(
                Method::PATCH,
                &format!("/workspaces/{}/schedules/{}", segment(workspace), segment(schedule)),
                Some(&body),
            )
            .await
            .map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, schedule) = split(id)?;
        ok_if_gone(
            self.0
                .call(
                    Method::DELETE,
                    &format!("/workspaces/{}/schedules/{}", segment(workspace), segment(schedule)),
                    None,
                )
                .await,
        )
    }
}

// ---- Service -------------------------------------------------------------------

pub struct ServiceClient(pub Arc<OrchagentApi>);

const SERVICE_FIELDS: [(&str, &str); 9] = [
    ("name", "name"),
    ("minInstances", "min_instances"),
    ("maxInstances", "max_instances"),
    ("env", "env"),
    ("secretNames", "secret_names"),
    ("command", "command"),
    ("args", "args"),
    ("alertWebhookUrl", "alert_webhook_url"),
    ("maxRestartFailures", "max_restart_failures"),
];

pub static SERVICE_FACTS: KindFacts = KindFacts {
    key_kind: "Service",
    immutable: &["workspace", "agent", "name", "minInstances", "maxInstances", "command", "args"],
    sets: &["secretNames"],
    write_only: &["command", "args", "alertWebhookUrl"],
    default: |field| match field {
        "env" => json!({}),
        "secretNames" => json!([]),
        "minInstances" | "maxInstances" => json!(1),
        "maxRestartFailures" => json!(3),
        _ => Value::Null,
    },
    summary_fields: &["agent", "name", "minInstances", "maxInstances", "env", "secretNames", "maxRestartFailures"],
    deletable: true,
    create_before_delete: true,
    set_after_create: &["alertWebhookUrl", "maxRestartFailures"],
    ..KindFacts::CRUD
};

fn service_fields(workspace: &str, service: &Value) -> Fields {
    let mut fields = pick(service, &SERVICE_FIELDS, false);
    fields.retain(|name, _| !SERVICE_FACTS.write_only.contains(&name.as_str()));
    fields.insert("workspace".into(), json!(workspace));
    fields.insert("agent".into(), service["agent_id"].clone());
    fields
}

#[async_trait]
impl ExternalClient for ServiceClient {
    fn facts(&self) -> &'static KindFacts {
        &SERVICE_FACTS
    }

    /// What the create call cannot take is set by a second call.
    fn requests(&self, write: Write<'_>) -> u64 {
        follow_up(write, &SERVICE_FACTS)
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let mut fields = spec_fields(spec, &SERVICE_FIELDS);
        with_secrets(&mut fields, context)?;
        fields.insert("workspace".into(), context.reference("spec.workspaceRef.name"));
        fields.insert("agent".into(), context.reference("spec.agentRef.name"));
        Ok(fields)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        Ok(self
            .0
            .in_workspaces("services")
            .await?
            .into_iter()
            .map(|(workspace, service)| {
                let id = format!("{workspace}/{}", service["id"].as_str().unwrap_or_default());
                let display_name = service["name"].as_str().unwrap_or_default().to_string();
                RemoteSummary { id, display_name, fields: service_fields(&workspace, &service) }
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let (workspace, service) = split(id)?;
        let found = self
            .0
            .call(Method::GET, &format!("/workspaces/{}/services/{}", segment(workspace), segment(service)), None)
            .await;
        Ok(none_if_gone(found)?.map(|data| service_fields(workspace, &data)))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let workspace = desired.get("workspace").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut body = pick(&Value::Object(desired.clone()), &SERVICE_FIELDS[..7], true);
        reveal(&mut body, sources)?;
        body.insert("agent_id".into(), desired.get("agent").cloned().unwrap_or_default());
        let path = format!("/workspaces/{}/services", segment(&workspace));
        let data = self.0.call(Method::POST, &path, Some(&Value::Object(body))).await?;
        let id = data["id"].as_str().ok_or_else(|| no_id(self.0.label(), &path))?;
        let unapplied = SERVICE_FACTS.after_create(desired);
        Ok(Created { id: format!("{workspace}/{id}"), unapplied, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (workspace, service) = split(request.id)?;
        let patchable = [SERVICE_FIELDS[3], SERVICE_FIELDS[4], SERVICE_FIELDS[7], SERVICE_FIELDS[8]];
        let mut body = pick(&Value::Object(request.changes.clone()), &patchable, true);
        reveal(&mut body, request.sources)?;
        let body = Value::Object(body);
        self.0
            .call(
                Method::PATCH,
                &format!("/workspaces/{}/services/{}", segment(workspace), segment(service)),
                Some(&body),
            )
            .await
            .map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let (workspace, service) = split(id)?;
        ok_if_gone(
            self.0
                .call(
                    Method::DELETE,
                    &format!("/workspaces/{}/services/{}", segment(workspace), segment(service)),
                    None,
                )
                .await,
        )
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
