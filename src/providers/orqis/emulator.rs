//! A local Orqis, faithful to the vendor's reference: account-wide bearer
//! tokens (agent-scoped `oq_` keys are refused for management), the plan's
//! agent limit (a token containing `free` is a free-plan account), OpenAPI
//! documents parsed into tools, write-only headers and LLM keys, default
//! tools, and platform API keys shown once.
//!
//! Secret values are kept only as digests: the emulator never returns them,
//! so it never needs them, and its data file holds none.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::spec::{DefaultTool, LLM_PROVIDERS};
use super::wire;
use crate::sandbox::{digest, Emulator, EmulatorConfig};

pub const BASE_PATH: &str = "/orqis";

/// How `GET /agents/default-tools` describes each tool the spec's
/// `DefaultTool` names, in the words of the vendor's list.
fn description(tool: DefaultTool) -> &'static str {
    match tool {
        DefaultTool::GoogleSearch => "Web search via Serper API",
        DefaultTool::TavilySearch => "AI-optimized web search",
        DefaultTool::WolframAlpha => "Computation & math queries",
        DefaultTool::Slack => "Send Slack messages",
        DefaultTool::Github => "GitHub repo operations",
    }
}

/// Each provider's default model.
fn default_model(provider: &str) -> &'static str {
    match provider {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-sonnet-4-6",
        "mistral" => "mistral-small-latest",
        "groq" => "llama-3.3-70b-versatile",
        _ => "gemini-2.5-flash",
    }
}

pub struct OrqisEmulator {
    config: EmulatorConfig,
    data: Mutex<Data>,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    accounts: BTreeMap<String, AccountData>,
}

#[derive(Default, Serialize, Deserialize)]
struct AccountData {
    free: bool,
    agents: Vec<StoredAgent>,
    /// Digests of saved LLM keys, by provider.
    llm_keys: BTreeMap<String, String>,
    api_keys: Vec<StoredApiKey>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredAgent {
    agent: wire::Agent,
    /// Header names with digests of their values.
    headers: BTreeMap<String, String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredApiKey {
    key: wire::ApiKey,
    digest: String,
}

#[derive(Clone)]
struct AccountKey(String);

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "detail": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError(status, detail.into())
}

type Answer = Result<Response, ApiError>;

fn now() -> String {
    crate::clock::now_rfc3339()
}

impl OrqisEmulator {
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Self { config, data: Mutex::new(Data::default()) })
    }

    fn with_account<T>(&self, key: &AccountKey, f: impl FnOnce(&mut AccountData) -> T) -> T {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let account = data
            .accounts
            .entry(key.0.clone())
            .or_insert_with(|| AccountData { free: key.0.starts_with("free:"), ..Default::default() });
        f(account)
    }

    /// Account-wide bearer tokens only: an `oq_` platform key is scoped to
    /// one agent and cannot manage the account.
    async fn gate(State(emulator): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let headers = request.headers();
        if headers.get("x-api-key").is_some() && headers.get("authorization").is_none() {
            return error(StatusCode::FORBIDDEN, "This key is scoped to a single agent and cannot manage the account")
                .into_response();
        }
        let Some(key) = bearer(headers) else {
            return error(StatusCode::UNAUTHORIZED, "Missing or invalid credentials").into_response();
        };
        request.extensions_mut().insert(key);
        let response = next.run(request).await;
        if !emulator.config.latency.is_zero() {
            tokio::time::sleep(emulator.config.latency).await;
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Option<AccountKey> {
    let token = crate::sandbox::bearer_token(headers)?;
    if token.len() < 6 || token.starts_with("oq_") {
        return None;
    }
    let plan = if token.contains("free") { "free:" } else { "pro:" };
    Some(AccountKey(format!("{plan}{}", digest(token))))
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(StatusCode::BAD_REQUEST, "Request body must be a JSON object")),
    }
}

fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(error(StatusCode::BAD_REQUEST, format!("{field} must be a string"))),
    }
}

fn agent_limit(free: bool) -> usize {
    if free {
        1
    } else {
        5
    }
}

/// The operations of an OpenAPI document, as the agent's tools.
fn parse_tools(document: &str) -> Option<Vec<Value>> {
    let parsed: Value = serde_json::from_str(document).ok().or_else(|| serde_yaml::from_str(document).ok())?;
    if parsed.get("openapi").is_none() && parsed.get("swagger").is_none() {
        return None;
    }
    let paths = parsed.get("paths")?.as_object()?;
    let mut tools = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let name = operation.get("operationId").and_then(Value::as_str).map(str::to_string);
                let name = name
                    .unwrap_or_else(|| format!("{method}_{}", path.trim_matches('/').replace(['/', '{', '}'], "_")));
                tools.push(json!({ "name": name, "method": method.to_uppercase(), "path": path }));
            }
        }
    }
    Some(tools)
}

fn headers_of(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(headers) = body.get("headers").filter(|h| !h.is_null()) else { return Ok(BTreeMap::new()) };
    let headers = headers.as_object().ok_or_else(|| error(StatusCode::BAD_REQUEST, "headers must be an object"))?;
    headers
        .iter()
        .map(|(name, value)| match value.as_str() {
            Some(value) => Ok((name.clone(), digest(value))),
            None => Err(error(StatusCode::BAD_REQUEST, format!("header {name} must be a string"))),
        })
        .collect()
}

async fn list_agents(State(e): State<Arc<OrqisEmulator>>, Extension(key): Extension<AccountKey>) -> Response {
    Json(e.with_account(&key, |a| a.agents.iter().map(|s| s.agent.clone()).collect::<Vec<_>>())).into_response()
}

async fn create_agent(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    e.with_account(&key, |account| {
        let name = text(&body, "agent_name")?.filter(|n| !n.trim().is_empty());
        let name = name.ok_or_else(|| error(StatusCode::BAD_REQUEST, "agent_name is required"))?;
        let document = text(&body, "openapi_spec_content")?.ok_or_else(|| error(StatusCode::BAD_REQUEST, "openapi_spec_content is required"))?;
        let tools = parse_tools(document).ok_or_else(|| error(StatusCode::BAD_REQUEST, "Invalid or unparseable OpenAPI spec"))?;
        let provider = text(&body, "api_provider")?.unwrap_or("google");
        if !LLM_PROVIDERS.contains(&provider) {
            return Err(error(StatusCode::BAD_REQUEST, format!("api_provider must be one of {}", LLM_PROVIDERS.join(", "))));
        }
        let limit = agent_limit(account.free);
        if account.agents.len() >= limit {
            let plan = if account.free { "FREE" } else { "PRO" };
            return Err(error(
                StatusCode::FORBIDDEN,
                format!("Agent limit reached ({}/{limit}). Your {plan} plan allows {limit} agent(s).", account.agents.len()),
            ));
        }
        let agent = wire::Agent {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            description: text(&body, "agent_description")?.map(str::to_string),
            configuration: wire::Configuration {
                engine_version: Some("v3".into()),
                api_provider: Some(provider.to_string()),
                model: Some(text(&body, "model")?.unwrap_or(default_model(provider)).to_string()),
                base_url: text(&body, "base_url")?.map(str::to_string),
                default_tools: Vec::new(),
                tools,
            },
            created_at: Some(now()),
        };
        let headers = headers_of(&body)?;
        account.agents.push(StoredAgent { agent: agent.clone(), headers });
        let answer = json!({ "id": agent.id, "name": agent.name, "configuration": agent.configuration, "visualization": {"nodes": [], "edges": []} });
        Ok((StatusCode::CREATED, Json(answer)).into_response())
    })
}

fn find<'a>(account: &'a mut AccountData, id: &str) -> Result<&'a mut StoredAgent, ApiError> {
    account
        .agents
        .iter_mut()
        .find(|s| s.agent.id == id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Agent not found or does not belong to you"))
}

async fn update_agent(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    e.with_account(&key, |account| {
        let stored = find(account, &id)?;
        if let Some(name) = text(&body, "name")? {
            if name.trim().is_empty() {
                return Err(error(StatusCode::BAD_REQUEST, "name cannot be empty"));
            }
            stored.agent.name = name.to_string();
        }
        if body.contains_key("description") {
            stored.agent.description = text(&body, "description")?.map(str::to_string);
        }
        Ok(Json(json!({"status": "ok"})).into_response())
    })
}

async fn delete_agent(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        find(account, &id)?;
        account.agents.retain(|s| s.agent.id != id);
        account.api_keys.retain(|k| k.key.agent_id != id);
        Ok(Json(json!({"status": "deleted"})).into_response())
    })
}

async fn get_headers(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        let stored = find(account, &id)?;
        let names: Vec<&String> = stored.headers.keys().collect();
        Ok(Json(json!({"has_headers": !names.is_empty(), "header_names": names})).into_response())
    })
}

async fn put_headers(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    if !body.get("headers").is_some_and(Value::is_object) {
        return Err(error(StatusCode::BAD_REQUEST, "headers is required"));
    }
    let headers = headers_of(&body)?;
    e.with_account(&key, |account| {
        let stored = find(account, &id)?;
        stored.headers = headers;
        let names: Vec<&String> = stored.headers.keys().collect();
        Ok(Json(json!({"ok": true, "header_names": names})).into_response())
    })
}

async fn delete_headers(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        find(account, &id)?.headers.clear();
        Ok(Json(json!({"ok": true})).into_response())
    })
}

async fn default_tools() -> Response {
    let tools: Vec<Value> =
        DefaultTool::ALL.iter().map(|t| json!({"name": t.name(), "description": description(*t)})).collect();
    Json(json!({ "tools": tools })).into_response()
}

async fn add_tool(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    let tool =
        text(&body, "tool_name")?.ok_or_else(|| error(StatusCode::BAD_REQUEST, "tool_name is required"))?.to_string();
    if !DefaultTool::ALL.iter().any(|t| t.name() == tool) {
        return Err(error(StatusCode::BAD_REQUEST, format!("Unknown tool name: {tool}")));
    }
    e.with_account(&key, |account| {
        let stored = find(account, &id)?;
        let tools = &mut stored.agent.configuration.default_tools;
        if !tools.contains(&tool) {
            tools.push(tool);
        }
        Ok(Json(json!({"status": "ok", "default_tools": tools, "visualization": {"nodes": [], "edges": []}}))
            .into_response())
    })
}

async fn remove_tool(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((id, tool)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| {
        let stored = find(account, &id)?;
        let tools = &mut stored.agent.configuration.default_tools;
        let before = tools.len();
        tools.retain(|t| *t != tool);
        if tools.len() == before {
            return Err(error(StatusCode::NOT_FOUND, format!("Tool {tool} is not on this agent")));
        }
        Ok(Json(json!({"status": "ok", "default_tools": tools})).into_response())
    })
}

async fn user_plan(State(e): State<Arc<OrqisEmulator>>, Extension(key): Extension<AccountKey>) -> Response {
    let answer = e.with_account(&key, |account| {
        let free = account.free;
        json!({
            "plan": if free { "free" } else { "pro" },
            "limits": {"agents": agent_limit(free), "runs_per_month": if free { 50 } else { 1000 }, "api_access": !free},
            "usage": {"agents": account.agents.len(), "runs_this_month": 0},
            "cancel_at_period_end": false, "cancel_at": null,
        })
    });
    Json(answer).into_response()
}

#[derive(Deserialize)]
struct ProviderQuery {
    provider: Option<String>,
}

fn provider_of(query: &ProviderQuery) -> Result<String, ApiError> {
    let provider = query.provider.clone().unwrap_or_else(|| "google".into());
    if LLM_PROVIDERS.contains(&provider.as_str()) {
        Ok(provider)
    } else {
        Err(error(StatusCode::BAD_REQUEST, format!("provider must be one of {}", LLM_PROVIDERS.join(", "))))
    }
}

async fn get_llm_key(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Query(q): Query<ProviderQuery>,
) -> Answer {
    let provider = provider_of(&q)?;
    let has_key = e.with_account(&key, |account| account.llm_keys.contains_key(&provider));
    Ok(Json(json!({"has_key": has_key, "provider": provider})).into_response())
}

async fn put_llm_key(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    let provider = provider_of(&ProviderQuery { provider: text(&body, "provider")?.map(str::to_string) })?;
    if body.get("provider").is_none() {
        return Err(error(StatusCode::BAD_REQUEST, "provider is required"));
    }
    let value = text(&body, "api_key")?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "api_key is required"))?;
    e.with_account(&key, |account| account.llm_keys.insert(provider.clone(), digest(value)));
    Ok(Json(json!({"status": "ok", "provider": provider})).into_response())
}

async fn delete_llm_key(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Query(q): Query<ProviderQuery>,
) -> Answer {
    let provider = provider_of(&q)?;
    e.with_account(&key, |account| account.llm_keys.remove(&provider));
    Ok(Json(json!({"status": "deleted", "provider": provider})).into_response())
}

async fn list_api_keys(State(e): State<Arc<OrqisEmulator>>, Extension(key): Extension<AccountKey>) -> Response {
    Json(e.with_account(&key, |account| account.api_keys.iter().map(|k| k.key.clone()).collect::<Vec<_>>()))
        .into_response()
}

async fn create_api_key(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    body: Bytes,
) -> Answer {
    let body = parse_body(&body)?;
    let name = text(&body, "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "name is required"))?;
    let agent_id = text(&body, "agent_id")?.ok_or_else(|| error(StatusCode::BAD_REQUEST, "agent_id is required"))?;
    e.with_account(&key, |account| {
        if account.free {
            return Err(error(StatusCode::FORBIDDEN, "API access requires the Pro plan"));
        }
        if !account.agents.iter().any(|s| s.agent.id == agent_id) {
            return Err(error(StatusCode::NOT_FOUND, "Agent not found or does not belong to you"));
        }
        if account.api_keys.iter().any(|k| k.key.agent_id == agent_id) {
            return Err(error(StatusCode::CONFLICT, "An active API key already exists for this agent"));
        }
        let secret = format!("oq_{}", uuid::Uuid::new_v4().simple());
        let prefix: String = secret.chars().take(16).collect();
        let created = now();
        let stored = wire::ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            prefix: prefix.clone(),
            agent_id: agent_id.to_string(),
            created_at: Some(created.clone()),
            last_used_at: None,
        };
        account.api_keys.push(StoredApiKey { key: stored, digest: digest(&secret) });
        let answer = json!({"key": secret, "prefix": prefix, "agent_id": agent_id, "created_at": created});
        Ok((StatusCode::CREATED, Json(answer)).into_response())
    })
}

async fn revoke_api_key(
    State(e): State<Arc<OrqisEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        let before = account.api_keys.len();
        account.api_keys.retain(|k| k.key.id != id);
        if account.api_keys.len() == before {
            return Err(error(StatusCode::NOT_FOUND, "Key not found or does not belong to you"));
        }
        Ok(Json(json!({"status": "revoked"})).into_response())
    })
}

impl Emulator for OrqisEmulator {
    fn id(&self) -> &'static str {
        "orqis"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v3/agents", get(list_agents).post(create_agent))
            .route("/agents/default-tools", get(default_tools))
            .route("/agents/{id}", put(update_agent).delete(delete_agent))
            .route("/agents/{id}/headers", get(get_headers).put(put_headers).delete(delete_headers))
            .route("/agents/{id}/tools", post(add_tool))
            .route("/v3/agents/{id}/tools/{tool}", delete(remove_tool))
            .route("/users/me/plan", get(user_plan))
            .route("/users/me/llm-key", get(get_llm_key).put(put_llm_key).delete(delete_llm_key))
            .route("/users/me/api-keys", get(list_api_keys).post(create_api_key))
            .route("/users/me/api-keys/{id}", delete(revoke_api_key))
            .layer(middleware::from_fn_with_state(self.clone(), Self::gate))
            .with_state(self)
    }

    fn snapshot(&self) -> Value {
        crate::sandbox::snapshot_of(&self.data)
    }

    fn restore(&self, snapshot: Value) -> Result<(), String> {
        crate::sandbox::restore_into(&self.data, snapshot)
    }
}
