//! Orqis's API over the shared HTTP layer, and the clients of its three
//! kinds.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::providers::http::segment;
use crate::providers::probe::{self, Probe, ProbePath};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::spec::LLM_PROVIDERS;
use super::wire;
use crate::providers::account::Secret;
use crate::providers::error::{none_if_gone, ok_if_gone};
use crate::providers::sources::{self, SourceValues, DIGEST, SENSITIVE};
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary,
    UpdateRequest, Write,
};

/// One Orqis account. The agents and API keys lists are read at most once
/// between two changes: Orqis has no call that reads one agent.
pub struct OrqisApi {
    account: Arc<Account>,
    agents: Mutex<Option<Vec<wire::Agent>>>,
    api_keys: Mutex<Option<Vec<wire::ApiKey>>>,
}

impl OrqisApi {
    pub fn new(account: Arc<Account>) -> Self {
        Self { account, agents: Mutex::new(None), api_keys: Mutex::new(None) }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ProviderError> {
        self.account.http.get(path).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        let response = self.account.http.send(method.clone(), path, body).await?;
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        self.account.http.decode(&method, path, &response)
    }

    async fn agents(&self) -> Result<Vec<wire::Agent>, ProviderError> {
        if let Some(agents) = self.agents.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(agents);
        }
        let agents: Vec<wire::Agent> = self.get("/v3/agents").await?;
        *self.agents.lock().unwrap_or_else(|e| e.into_inner()) = Some(agents.clone());
        Ok(agents)
    }

    async fn api_keys(&self) -> Result<Vec<wire::ApiKey>, ProviderError> {
        if let Some(keys) = self.api_keys.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(keys);
        }
        let keys: Vec<wire::ApiKey> = self.get("/users/me/api-keys").await?;
        *self.api_keys.lock().unwrap_or_else(|e| e.into_inner()) = Some(keys.clone());
        Ok(keys)
    }

    /// Forgets the cached lists after a change.
    fn changed(&self) {
        *self.agents.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.api_keys.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn missing(&self, what: &str) -> ProviderError {
        ProviderError::Invalid(format!("{}: no value was read for {what}", self.account.label()))
    }

    /// The value read for the source at `path`, for a request body.
    fn value(&self, sources: &SourceValues, path: &str) -> Result<String, ProviderError> {
        sources.get(path).map(|v| v.expose().to_string()).ok_or_else(|| self.missing(path))
    }
}

fn text_or_null(value: &Option<String>) -> Value {
    value.as_ref().map_or(Value::Null, |v| json!(v))
}

pub struct AgentClient(pub Arc<OrqisApi>);

pub static AGENT_FACTS: KindFacts = KindFacts {
    key_kind: super::AGENT_KEY_KIND,
    immutable: &["openapiSpec", "apiProvider", "model", "baseUrl"],
    sets: &["defaultTools"],
    write_only: &["model", "baseUrl"],
    default: |field| match field {
        "headers" => json!({}),
        "defaultTools" => json!([]),
        "apiProvider" => json!("google"),
        _ => Value::Null,
    },
    summary_fields: &["name", "description", "apiProvider", "model", "baseUrl", "defaultTools"],
    deletable: true,
    create_before_delete: true,
    // Default tools are added one call each once the agent exists.
    set_after_create: &["defaultTools"],
    ..KindFacts::CRUD
};

fn agent_summary(agent: &wire::Agent) -> Fields {
    let config = &agent.configuration;
    let mut fields = Map::new();
    fields.insert("name".into(), json!(agent.name));
    fields.insert("description".into(), text_or_null(&agent.description));
    fields.insert("apiProvider".into(), json!(config.api_provider.clone().unwrap_or_else(|| "google".into())));
    // Orqis documents neither in an agent's configuration: when they are
    // not returned they are taken to be what seqops wrote.
    if let Some(model) = &config.model {
        fields.insert("model".into(), json!(model));
    }
    if let Some(base_url) = &config.base_url {
        fields.insert("baseUrl".into(), json!(base_url));
    }
    fields.insert("defaultTools".into(), json!(config.default_tools));
    fields
}

// `export` stays the default, `None`: Orqis never returns an agent's OpenAPI
// document or header values.
#[async_trait]
impl ExternalClient for AgentClient {
    fn facts(&self) -> &'static KindFacts {
        &AGENT_FACTS
    }

    /// Default tools are added and removed one call each; name and
    /// description, and the headers, are one call each.
    fn requests(&self, write: Write<'_>) -> u64 {
        let tools = |fields: &Fields| names(fields.get("defaultTools").unwrap_or(&Value::Null));
        match write {
            Write::Create { desired } => 1 + tools(desired).len() as u64,
            Write::Update { changes, observed } => {
                let renamed = ["name", "description"].iter().any(|f| changes.contains_key(*f));
                let tools_changed = changes.contains_key("defaultTools");
                let moved =
                    if tools_changed { tools(changes).symmetric_difference(&tools(observed)).count() } else { 0 };
                u64::from(renamed) + u64::from(changes.contains_key("headers")) + moved as u64
            }
            Write::Delete => 1,
        }
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let mut fields = Map::new();
        for name in ["name", "description", "apiProvider", "model", "baseUrl", "defaultTools"] {
            if let Some(value) = spec.get(name) {
                fields.insert(name.into(), value.clone());
            }
        }
        let document = context.sources.get("openapiSpec").ok_or_else(|| self.0.missing("spec.openapiSpec"))?;
        fields.insert("openapiSpec".into(), sources::content_digest(document.expose()));
        if let Some(headers) = spec.get("headers").and_then(Value::as_object) {
            let mut secrets = Map::new();
            for name in headers.keys() {
                secrets.insert(name.clone(), context.secret(&format!("headers.{name}"))?);
            }
            fields.insert("headers".into(), Value::Object(secrets));
        }
        Ok(fields)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let agents = self.0.agents().await?;
        Ok(agents
            .iter()
            .map(|a| RemoteSummary { id: a.id.clone(), display_name: a.name.clone(), fields: agent_summary(a) })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let agents = self.0.agents().await?;
        let Some(agent) = agents.iter().find(|a| a.id == id) else { return Ok(None) };
        let mut fields = agent_summary(agent);
        fields.insert("openapiSpec".into(), sources::unknown(DIGEST));
        let Some(headers) =
            none_if_gone::<wire::Headers>(self.0.get(&format!("/agents/{}/headers", segment(id))).await)?
        else {
            return Ok(None);
        };
        let names: Map<String, Value> =
            headers.header_names.iter().map(|n| (n.clone(), sources::unknown(SENSITIVE))).collect();
        fields.insert("headers".into(), Value::Object(names));
        Ok(Some(fields))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let mut body = Map::new();
        body.insert("agent_name".into(), desired.get("name").cloned().unwrap_or_default());
        body.insert("openapi_spec_content".into(), json!(self.0.value(sources, "openapiSpec")?));
        let optional = [
            ("description", "agent_description"),
            ("apiProvider", "api_provider"),
            ("model", "model"),
            ("baseUrl", "base_url"),
        ];
        for (field, wire_name) in optional {
            if let Some(value) = desired.get(field).filter(|v| !v.is_null()) {
                body.insert(wire_name.into(), value.clone());
            }
        }
        if let Some(headers) = desired.get("headers").and_then(Value::as_object).filter(|h| !h.is_empty()) {
            body.insert("headers".into(), self.header_values(headers.keys(), sources)?);
        }
        let created = self.0.send(Method::POST, "/v3/agents", Some(&Value::Object(body))).await;
        self.0.changed();
        let id = created?["id"].as_str().map(str::to_string).ok_or_else(|| ProviderError::Decode {
            account: self.0.account.label(),
            method: "POST".into(),
            path: "/v3/agents".into(),
            reason: "no id in the answer".into(),
        })?;
        // Default tools are added one call each once the agent exists.
        let mut unapplied = Fields::new();
        if let Some(tools) = desired.get("defaultTools").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())) {
            unapplied.insert("defaultTools".into(), tools.clone());
        }
        Ok(Created { id, unapplied, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let id = request.id;
        let result = self.apply_update(&request).await;
        self.0.changed();
        let _ = id;
        result
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let result = self.0.send(Method::DELETE, &format!("/agents/{}", segment(id)), None).await;
        self.0.changed();
        ok_if_gone(result)
    }

    async fn check_capacity(&self, creates: usize) -> Result<(), ProviderError> {
        if creates == 0 {
            return Ok(());
        }
        let plan: wire::Plan = self.0.get("/users/me/plan").await?;
        let (limit, used) = (plan.limits.agents as usize, plan.usage.agents as usize);
        if used + creates > limit {
            return Err(ProviderError::Invalid(format!(
                "{}: the Orqis `{}` plan allows {limit} agent(s) and the account has {used}; this plan creates {creates} more, which Orqis would refuse (Agent limit reached). Delete agents or upgrade the plan first",
                self.0.account.label(),
                plan.plan
            )));
        }
        Ok(())
    }
}

impl AgentClient {
    fn header_values<'a>(
        &self,
        names: impl Iterator<Item = &'a String>,
        sources: &SourceValues,
    ) -> Result<Value, ProviderError> {
        let mut values = Map::new();
        for name in names {
            values.insert(name.clone(), json!(self.0.value(sources, &format!("headers.{name}"))?));
        }
        Ok(Value::Object(values))
    }

    async fn apply_update(&self, request: &UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (id, changes) = (request.id, request.changes);
        let mut renamed = Map::new();
        for field in ["name", "description"] {
            if let Some(value) = changes.get(field) {
                renamed.insert(field.into(), value.clone());
            }
        }
        if !renamed.is_empty() {
            self.0.send(Method::PUT, &format!("/agents/{}", segment(id)), Some(&Value::Object(renamed))).await?;
        }
        if let Some(headers) = changes.get("headers").and_then(Value::as_object) {
            // The API replaces all headers at once: send every one the
            // manifest has, or remove them all.
            if headers.is_empty() {
                self.0.send(Method::DELETE, &format!("/agents/{}/headers", segment(id)), None).await?;
            } else {
                let body = json!({ "headers": self.header_values(headers.keys(), request.sources)? });
                self.0.send(Method::PUT, &format!("/agents/{}/headers", segment(id)), Some(&body)).await?;
            }
        }
        if let Some(tools) = changes.get("defaultTools") {
            let wanted = names(tools);
            let present = names(request.observed.get("defaultTools").unwrap_or(&Value::Null));
            let provider = request.desired.get("apiProvider").cloned().unwrap_or(json!("google"));
            for tool in wanted.difference(&present) {
                let body = json!({ "tool_name": tool, "api_provider": provider });
                self.0.send(Method::POST, &format!("/agents/{}/tools", segment(id)), Some(&body)).await?;
            }
            for tool in present.difference(&wanted) {
                ok_if_gone(
                    self.0
                        .send(Method::DELETE, &format!("/v3/agents/{}/tools/{}", segment(id), segment(tool)), None)
                        .await,
                )?;
            }
        }
        Ok(())
    }
}

fn names(value: &Value) -> BTreeSet<String> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

pub struct LlmKeyClient(pub Arc<OrqisApi>);

pub static LLM_KEY_FACTS: KindFacts = KindFacts {
    key_kind: "LlmKey",
    immutable: &["provider"],
    sets: &[],
    write_only: &[],
    default: |_| Value::Null,
    summary_fields: &["provider"],
    deletable: true,
    create_before_delete: false,
    // The create is `PUT /users/me/llm-key`, one key per LLM provider.
    natural_key: &["provider"],
    idempotent_create: true,
    create_overwrites: true,
    ..KindFacts::CRUD
};

#[async_trait]
impl ExternalClient for LlmKeyClient {
    fn facts(&self) -> &'static KindFacts {
        &LLM_KEY_FACTS
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let mut fields = Map::new();
        fields.insert("provider".into(), spec["provider"].clone());
        fields.insert("value".into(), context.secret("value")?);
        Ok(fields)
    }

    fn display_name(&self, spec: &Value) -> String {
        spec["provider"].as_str().unwrap_or_default().to_string()
    }

    /// One read per LLM provider: Orqis has no call that lists saved keys.
    /// A plan reads only the providers its manifests name; an export reads
    /// all five.
    async fn list(&self, scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let named: BTreeSet<&str> = match scope {
            ListScope::Specs(specs) => specs.iter().filter_map(|s| s.spec["provider"].as_str()).collect(),
            ListScope::All | ListScope::Export(_) => LLM_PROVIDERS.into_iter().collect(),
        };
        let mut found = Vec::new();
        for provider in LLM_PROVIDERS.into_iter().filter(|p| named.contains(p)) {
            if self.observe(provider).await?.is_some() {
                let fields = Map::from_iter([("provider".to_string(), json!(provider))]);
                found.push(RemoteSummary { id: provider.into(), display_name: provider.into(), fields });
            }
        }
        Ok(found)
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let status: wire::LlmKeyStatus = self.0.get(&format!("/users/me/llm-key?provider={}", segment(id))).await?;
        Ok(status.has_key.then(|| {
            Map::from_iter([("provider".to_string(), json!(id)), ("value".to_string(), sources::unknown(SENSITIVE))])
        }))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let provider = desired.get("provider").and_then(Value::as_str).unwrap_or_default().to_string();
        let body = json!({ "provider": provider, "api_key": self.0.value(sources, "value")? });
        self.0.send(Method::PUT, "/users/me/llm-key", Some(&body)).await?;
        Ok(Created::id(provider))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        self.create(request.desired, request.sources).await.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        ok_if_gone(self.0.send(Method::DELETE, &format!("/users/me/llm-key?provider={}", segment(id)), None).await)
    }
}

pub struct ApiKeyClient(pub Arc<OrqisApi>);

pub static API_KEY_FACTS: KindFacts = KindFacts {
    key_kind: "ApiKey",
    immutable: &["name", "agent"],
    sets: &[],
    write_only: &[],
    default: |_| Value::Null,
    summary_fields: &["name", "agent"],
    deletable: true,
    // Orqis allows one active key per agent: the old one goes first.
    create_before_delete: false,
    ..KindFacts::CRUD
};

fn api_key_fields(key: &wire::ApiKey) -> Fields {
    Map::from_iter([("name".to_string(), json!(key.name)), ("agent".to_string(), json!(key.agent_id))])
}

#[async_trait]
impl ExternalClient for ApiKeyClient {
    fn facts(&self) -> &'static KindFacts {
        &API_KEY_FACTS
    }

    /// A create is followed by a list: the answer has the key, not its id.
    fn requests(&self, write: Write<'_>) -> u64 {
        match write {
            Write::Create { .. } => 2,
            _ => 1,
        }
    }

    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let mut fields = Map::new();
        fields.insert("name".into(), spec["name"].clone());
        fields.insert("agent".into(), context.reference("spec.agentRef.name"));
        Ok(fields)
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let keys = self.0.api_keys().await?;
        Ok(keys
            .iter()
            .map(|k| RemoteSummary { id: k.id.clone(), display_name: k.name.clone(), fields: api_key_fields(k) })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        Ok(self.0.api_keys().await?.iter().find(|k| k.id == id).map(api_key_fields))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let agent = desired.get("agent").and_then(Value::as_str).unwrap_or_default().to_string();
        let body = json!({ "name": desired.get("name"), "agent_id": agent });
        let created = self.0.send(Method::POST, "/users/me/api-keys", Some(&body)).await;
        self.0.changed();
        let created: wire::CreatedApiKey = match created {
            Ok(value) => serde_json::from_value(value).map_err(|e| ProviderError::Decode {
                account: self.0.account.label(),
                method: "POST".into(),
                path: "/users/me/api-keys".into(),
                reason: e.to_string(),
            })?,
            Err(ProviderError::Status { status: 409, .. }) => {
                return Err(ProviderError::Invalid(format!(
                    "{}: agent {agent} already has an active API key, and Orqis allows one per agent: revoke it (or remove the ApiKey manifest that owns it) first",
                    self.0.account.label()
                )))
            }
            Err(error) => return Err(error),
        };
        // The answer has the key but not its id: the list has both. If the
        // list cannot be read, the key exists without seqops knowing its
        // id: a create without an answer, whose key is kept all the same.
        let outputs: std::collections::BTreeMap<String, Secret> =
            [("key".to_string(), Secret::new(created.key))].into_iter().collect();
        let unidentified = |reason: String| ProviderError::Unidentified {
            account: self.0.account.label(),
            method: "POST".into(),
            path: "/users/me/api-keys".into(),
            reason,
            outputs: outputs.clone(),
        };
        let keys = self.0.api_keys().await.map_err(|e| unidentified(format!("the list of keys failed: {e}")))?;
        let id = keys
            .iter()
            .find(|k| k.prefix == created.prefix && k.agent_id == created.agent_id)
            .map(|k| k.id.clone())
            .ok_or_else(|| unidentified("the new key is not in the list".into()))?;
        Ok(Created { id, outputs, ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("API key {} cannot be changed in place; it is replaced", request.id)))
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let result = self.0.send(Method::DELETE, &format!("/users/me/api-keys/{}", segment(id)), None).await;
        self.0.changed();
        ok_if_gone(result)
    }
}

/// The endpoints this client reads, for `seqops check`.
pub const PROBES: &[Probe] = &[
    Probe {
        endpoint: "GET /v3/agents",
        path: ProbePath::Fixed("/v3/agents"),
        expect: |body| probe::ids::<Vec<wire::Agent>>(body, |agents| agents.iter().map(|a| a.id.clone()).collect()),
    },
    Probe {
        endpoint: "GET /agents/{id}/headers",
        path: ProbePath::Under { parent: "GET /v3/agents", path: |id| format!("/agents/{}/headers", segment(id)) },
        expect: probe::shape::<wire::Headers>,
    },
    Probe {
        endpoint: "GET /users/me/api-keys",
        path: ProbePath::Fixed("/users/me/api-keys"),
        expect: |body| probe::ids::<Vec<wire::ApiKey>>(body, |keys| keys.iter().map(|k| k.id.clone()).collect()),
    },
    Probe {
        endpoint: "GET /users/me/plan",
        path: ProbePath::Fixed("/users/me/plan"),
        expect: probe::shape::<wire::Plan>,
    },
    Probe {
        endpoint: "GET /users/me/llm-key?provider={provider}",
        path: ProbePath::Fixed("/users/me/llm-key?provider=google"),
        expect: probe::shape::<wire::LlmKeyStatus>,
    },
];
