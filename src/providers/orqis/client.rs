//! Orqis's API over the shared HTTP layer, and the clients of its three
//! kinds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::providers::http::segment;
use crate::providers::probe::{self, Probe, ProbePath};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::mapping::{self, HeadersChange};
use super::spec::{AgentSpec, ApiKeySpec, LlmKeySpec, LLM_PROVIDERS};
use super::wire;
use crate::providers::account::Secret;
use crate::providers::error::{none_if_gone, ok_if_gone};
use crate::providers::sources::{self, SourceValues};
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
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

    /// Sends `body`, one of the wire's request bodies, and reads the answer
    /// as JSON (`null` when it is empty).
    async fn send<B: Serialize>(&self, method: Method, path: &str, body: Option<&B>) -> Result<Value, ProviderError> {
        let body = body.map(serde_json::to_value).transpose().map_err(|e| ProviderError::Invalid(e.to_string()))?;
        let response = self.account.http.send(method.clone(), path, body.as_ref()).await?;
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

pub struct AgentClient(pub Arc<OrqisApi>);

// `export` stays the default, `None`: Orqis never returns an agent's OpenAPI
// document or header values.
#[async_trait]
impl ExternalClient for AgentClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::AGENT_FACTS
    }

    fn requests(&self, write: Write<'_>) -> u64 {
        mapping::agent_requests(write)
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<AgentSpec>().map(|agent| agent.name.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let agent = spec.typed::<AgentSpec>()?;
        let document = context.sources.get(mapping::DOCUMENT).ok_or_else(|| self.0.missing("spec.openapiSpec"))?;
        mapping::agent_desired(agent, sources::content_digest(document.expose()), |path| context.secret(path))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let agents = self.0.agents().await?;
        Ok(agents
            .iter()
            .map(|a| RemoteSummary {
                id: a.id.clone(),
                display_name: a.name.clone(),
                fields: mapping::agent_summary(a),
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let agents = self.0.agents().await?;
        let Some(agent) = agents.iter().find(|a| a.id == id) else { return Ok(None) };
        let headers = none_if_gone::<wire::Headers>(self.0.get(&format!("/agents/{}/headers", segment(id))).await)?;
        Ok(headers.map(|headers| mapping::agent_observed(agent, &headers)))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = mapping::create_agent(desired, |path| self.0.value(sources, path))?;
        let created = self.0.send(Method::POST, "/v3/agents", Some(&body)).await;
        self.0.changed();
        let created: wire::CreatedAgent = serde_json::from_value(created?).map_err(|_| ProviderError::Decode {
            account: self.0.account.label(),
            method: "POST".into(),
            path: "/v3/agents".into(),
            reason: "no id in the answer".into(),
        })?;
        Ok(Created { id: created.id, unapplied: mapping::set_after_create(desired), ..Default::default() })
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let result = self.apply_update(&request).await;
        self.0.changed();
        result
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let result = self.0.send::<()>(Method::DELETE, &format!("/agents/{}", segment(id)), None).await;
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
    /// Name and description, then headers, then default tools: each kind
    /// of change is its own call, made in that order.
    async fn apply_update(&self, request: &UpdateRequest<'_>) -> Result<(), ProviderError> {
        let (id, changes) = (request.id, request.changes);
        if let Some(body) = mapping::update_agent(changes) {
            self.0.send(Method::PUT, &format!("/agents/{}", segment(id)), Some(&body)).await?;
        }
        let headers_path = format!("/agents/{}/headers", segment(id));
        match mapping::headers_change(changes, |path| self.0.value(request.sources, path))? {
            Some(HeadersChange::Remove) => self.0.send::<()>(Method::DELETE, &headers_path, None).await.map(drop)?,
            Some(HeadersChange::Save(body)) => self.0.send(Method::PUT, &headers_path, Some(&body)).await.map(drop)?,
            None => {}
        }
        let tools = mapping::tool_changes(changes, request.observed, request.desired);
        for body in &tools.add {
            self.0.send(Method::POST, &format!("/agents/{}/tools", segment(id)), Some(body)).await?;
        }
        for tool in &tools.remove {
            let path = format!("/v3/agents/{}/tools/{}", segment(id), segment(tool));
            ok_if_gone(self.0.send::<()>(Method::DELETE, &path, None).await)?;
        }
        Ok(())
    }
}

pub struct LlmKeyClient(pub Arc<OrqisApi>);

#[async_trait]
impl ExternalClient for LlmKeyClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::LLM_KEY_FACTS
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(mapping::llm_key_desired(spec.typed::<LlmKeySpec>()?, context.secret("value")?))
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<LlmKeySpec>().map(mapping::llm_key_provider).unwrap_or_default().to_string()
    }

    /// One read per LLM provider: Orqis has no call that lists saved keys.
    /// A plan reads only the providers its manifests name; an export reads
    /// all five.
    async fn list(&self, scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let named: BTreeSet<&str> = match scope {
            ListScope::Specs(specs) => {
                specs.iter().filter_map(|s| mapping::scoped_llm_provider(s.spec.json())).collect()
            }
            ListScope::All | ListScope::Export(_) => LLM_PROVIDERS.into_iter().collect(),
        };
        let mut found = Vec::new();
        for provider in LLM_PROVIDERS.into_iter().filter(|p| named.contains(p)) {
            if self.observe(provider).await?.is_some() {
                let fields = mapping::llm_key_summary(provider);
                found.push(RemoteSummary { id: provider.into(), display_name: provider.into(), fields });
            }
        }
        Ok(found)
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let status: wire::LlmKeyStatus = self.0.get(&format!("/users/me/llm-key?provider={}", segment(id))).await?;
        Ok(mapping::llm_key_observed(id, &status))
    }

    async fn create(&self, desired: &Fields, sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = mapping::save_llm_key(desired, self.0.value(sources, "value")?);
        self.0.send(Method::PUT, "/users/me/llm-key", Some(&body)).await?;
        Ok(Created::id(body.provider))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        self.create(request.desired, request.sources).await.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let path = format!("/users/me/llm-key?provider={}", segment(id));
        ok_if_gone(self.0.send::<()>(Method::DELETE, &path, None).await)
    }
}

pub struct ApiKeyClient(pub Arc<OrqisApi>);

#[async_trait]
impl ExternalClient for ApiKeyClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::API_KEY_FACTS
    }

    /// A create is followed by a list: the answer has the key, not its id.
    fn requests(&self, write: Write<'_>) -> u64 {
        match write {
            Write::Create { .. } => 2,
            _ => 1,
        }
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<ApiKeySpec>().map(|key| key.name.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(mapping::api_key_desired(spec.typed::<ApiKeySpec>()?, context.reference("spec.agentRef.name")))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let keys = self.0.api_keys().await?;
        Ok(keys
            .iter()
            .map(|k| RemoteSummary {
                id: k.id.clone(),
                display_name: k.name.clone(),
                fields: mapping::api_key_summary(k),
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        Ok(self.0.api_keys().await?.iter().find(|k| k.id == id).map(mapping::api_key_summary))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = mapping::create_api_key(desired);
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
                    "{}: agent {} already has an active API key, and Orqis allows one per agent: revoke it (or remove the ApiKey manifest that owns it) first",
                    self.0.account.label(),
                    body.agent_id
                )))
            }
            Err(error) => return Err(error),
        };
        self.identify(created).await
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("API key {} cannot be changed in place; it is replaced", request.id)))
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let result = self.0.send::<()>(Method::DELETE, &format!("/users/me/api-keys/{}", segment(id)), None).await;
        self.0.changed();
        ok_if_gone(result)
    }
}

impl ApiKeyClient {
    /// The answer has the key but not its id: the list has both. If the
    /// list cannot be read, the key exists without seqops knowing its id:
    /// a create without an answer, whose key is kept all the same.
    async fn identify(&self, created: wire::CreatedApiKey) -> Result<Created, ProviderError> {
        let outputs: BTreeMap<String, Secret> = [("key".to_string(), Secret::new(created.key.clone()))].into();
        let unidentified = |reason: String| ProviderError::Unidentified {
            account: self.0.account.label(),
            method: "POST".into(),
            path: "/users/me/api-keys".into(),
            reason,
            outputs: outputs.clone(),
        };
        let keys = self.0.api_keys().await.map_err(|e| unidentified(format!("the list of keys failed: {e}")))?;
        let id = mapping::created_key_id(&keys, &created)
            .ok_or_else(|| unidentified("the new key is not in the list".into()))?;
        Ok(Created { id, outputs, ..Default::default() })
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
