//! A local orchagent, following its OpenAPI document: `{data, metadata}` and
//! `{error: {code, message, is_retryable}}` bodies, `X-RateLimit-*` headers
//! on every answer (1,000 calls a day per key), agents with delete-check
//! (public agents are starred, so deleting one needs its name), workspaces,
//! write-only secrets (kept as digests), schedules whose webhook URL is
//! shown once, and services.
//!
//! It records every exchange (`GET /orchagent/_exchanges`) so that tests can
//! check requests and answers against the vendor's OpenAPI document.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::mapping::slugify;
use crate::sandbox::{digest, Emulator, EmulatorConfig};

pub const BASE_PATH: &str = "/orchagent";

/// Exchanges kept for `/_exchanges`, the oldest dropped first.
const MAX_EXCHANGES: usize = 2000;

/// Secret values in a recorded body, replaced by a same-typed stand-in so
/// the record still validates against the vendor's schemas.
fn redacted(mut body: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if ["value", "service_key", "webhook_url"].contains(&key.as_str()) && inner.is_string() {
                        *inner = json!("(redacted)");
                    } else {
                        walk(inner);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut body);
    body
}

/// Calls a key may make per day, as the free tier allows.
const DAILY_CALLS: usize = 1000;

pub struct OrchagentEmulator {
    config: EmulatorConfig,
    data: Mutex<Data>,
    exchanges: Mutex<Vec<Value>>,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    accounts: BTreeMap<String, AccountData>,
}

#[derive(Default, Serialize, Deserialize)]
struct AccountData {
    workspaces: Vec<Value>,
    agents: Vec<Value>,
    /// Secret names and value digests, by workspace.
    secrets: BTreeMap<String, BTreeMap<String, Value>>,
    schedules: Vec<Value>,
    services: Vec<Value>,
    #[serde(default)]
    calls: Vec<u64>,
}

#[derive(Clone)]
struct AccountKey(String);

struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retryable: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"code": self.code, "message": self.message, "is_retryable": self.retryable},
            "metadata": {"request_id": request_id()},
        });
        (self.status, Json(body)).into_response()
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { status, code, message: message.into(), retryable: false }
}

fn not_found(what: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what} not found"))
}

fn bad(message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

fn request_id() -> String {
    format!("req_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn ok(status: StatusCode, mut data: Value) -> Response {
    without_nulls(&mut data);
    (status, Json(json!({ "data": data, "metadata": {"request_id": request_id()} }))).into_response()
}

/// The API leaves out what has no value (its schemas have no nullable
/// fields).
fn without_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

type Answer = Result<Response, ApiError>;

fn now() -> String {
    crate::clock::now_rfc3339()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

impl OrchagentEmulator {
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Self { config, data: Mutex::new(Data::default()), exchanges: Mutex::new(Vec::new()) })
    }

    /// Runs `f` on an account, after its schedules fired what was due by
    /// the sandbox's clock.
    fn with_account<T>(&self, key: &AccountKey, f: impl FnOnce(&mut AccountData) -> T) -> T {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let account = data.accounts.entry(key.0.clone()).or_default();
        run_due_schedules(&mut account.schedules, self.config.clock.now_ms());
        f(account)
    }

    /// Authenticates, counts the call against the day's budget, adds the
    /// rate-limit headers, and records the exchange.
    // Every gate a request passes, in the order the vendor applies them.
    #[allow(clippy::too_many_lines)]
    async fn gate(State(emulator): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let Some(key) = bearer(request.headers()) else {
            return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Missing or invalid API key").into_response();
        };
        let now = crate::providers::ratelimit::now_ms();
        let day = 86_400_000u64;
        let reset = (now / day + 1) * day / 1000;
        let limited = emulator.config.requests_per_hour > 0;
        let (allowed, remaining) = emulator.with_account(&key, |account| {
            account.calls.retain(|t| now / day == t / day);
            let allowed = !limited || account.calls.len() < DAILY_CALLS;
            if allowed {
                account.calls.push(now);
            }
            (allowed, DAILY_CALLS.saturating_sub(account.calls.len()))
        });
        let mut response = if allowed {
            request.extensions_mut().insert(key);
            let method = request.method().to_string();
            let template =
                request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            let request_body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let (parts, body) = response.into_parts();
            let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
            let response_body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let exchange = json!({
                "method": method, "path": template.trim_start_matches(BASE_PATH),
                "request": redacted(request_body), "status": parts.status.as_u16(), "response": redacted(response_body),
            });
            let mut exchanges = emulator.exchanges.lock().unwrap_or_else(|e| e.into_inner());
            if exchanges.len() >= MAX_EXCHANGES {
                exchanges.remove(0);
            }
            exchanges.push(exchange);
            Response::from_parts(parts, Body::from(bytes))
        } else {
            let mut response = ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "RATE_LIMITED",
                message: format!("Daily limit of {DAILY_CALLS} calls reached"),
                retryable: true,
            }
            .into_response();
            let wait = reset.saturating_sub(now / 1000).max(1);
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        };
        let headers = response.headers_mut();
        // Without a limit (`--sandbox-limits off`) there is no budget to tell.
        let budget = [
            ("x-ratelimit-limit", DAILY_CALLS as u64),
            ("x-ratelimit-remaining", remaining as u64),
            ("x-ratelimit-reset", reset),
        ];
        for (name, value) in budget.into_iter().filter(|_| limited) {
            if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                headers.insert(name, value);
            }
        }
        if !emulator.config.latency.is_zero() {
            tokio::time::sleep(emulator.config.latency).await;
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Option<AccountKey> {
    let token = crate::sandbox::bearer_token(headers)?;
    (token.starts_with("sk_") && token.len() >= 6).then(|| AccountKey(digest(token)))
}

fn body_of(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad("Request body must be a JSON object")),
    }
}

fn string<'a>(body: &'a Map<String, Value>, field: &str, required: bool) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) if required => Err(bad(format!("{field} is required"))),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{field} must be a string"))),
    }
}

fn one_of(value: Option<&str>, field: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(bad(format!("{field} must be one of {}", allowed.join(", ")))),
        _ => Ok(()),
    }
}

// ---- agents

async fn list_agents(State(e): State<Arc<OrchagentEmulator>>, Extension(key): Extension<AccountKey>) -> Response {
    ok(StatusCode::OK, Value::Array(e.with_account(&key, |a| a.agents.iter().map(public_agent).collect())))
}

/// The agent as the API shows it: without what it keeps to itself.
fn public_agent(stored: &Value) -> Value {
    without(stored, &["runtime", "loop", "tags", "supported_providers", "default_endpoint", "timeout_seconds"])
}

/// A stored object as the API shows it: without the fields it keeps to
/// itself.
fn without(stored: &Value, hidden: &[&str]) -> Value {
    let mut shown = stored.as_object().cloned().unwrap_or_default();
    for field in hidden {
        shown.remove(*field);
    }
    Value::Object(shown)
}

/// The objects of one workspace, as the API shows them.
fn in_workspace(items: &[Value], ws: &str, public: fn(&Value) -> Value) -> Value {
    Value::Array(items.iter().filter(|item| item["workspace_id"] == ws).map(public).collect())
}

/// One object of a workspace, by id.
fn find_in<'a>(items: &'a mut [Value], ws: &str, id: &str, what: &str) -> Result<&'a mut Value, ApiError> {
    items.iter_mut().find(|item| item["id"] == id && item["workspace_id"] == ws).ok_or_else(|| not_found(what))
}

/// Applies a PATCH body, refusing fields the API does not change.
fn patch(item: &mut Value, body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    for (field, value) in body {
        if !allowed.contains(&field.as_str()) {
            return Err(bad(format!("{field} cannot be changed")));
        }
        item[field.as_str()] = value.clone();
    }
    Ok(())
}

async fn create_agent(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    let name = string(&body, "name", true)?.unwrap_or_default().to_string();
    let version = string(&body, "version", true)?.unwrap_or_default().to_string();
    let kind = string(&body, "type", true)?;
    one_of(kind, "type", &["prompt", "tool", "agent", "skill"])?;
    let run_mode = string(&body, "run_mode", false)?.unwrap_or("on_demand");
    one_of(Some(run_mode), "run_mode", &["on_demand", "always_on"])?;
    let engine = match (body.get("runtime").is_some(), body.get("loop").is_some()) {
        (true, _) => "code_runtime",
        (_, true) => "managed_loop",
        _ => "direct_llm",
    };
    let now = now();
    let mut agent = json!({
        "id": new_id("agt"), "name": name, "version": version, "type": kind, "run_mode": run_mode,
        "execution_engine": engine, "callable": body.get("callable").cloned().unwrap_or(json!(true)),
        "description": body.get("description").cloned().unwrap_or(json!("")),
        "is_public": body.get("is_public").cloned().unwrap_or(json!(false)),
        "created_at": now, "updated_at": now,
    });
    for kept in ["runtime", "loop", "tags", "supported_providers", "default_endpoint", "timeout_seconds"] {
        if let Some(value) = body.get(kept) {
            agent[kept] = value.clone();
        }
    }
    let secret = format!("sk_svc_{}", uuid::Uuid::new_v4().simple());
    let prefix: String = secret.chars().take(14).collect();
    let shown = public_agent(&agent);
    e.with_account(&key, |account| account.agents.push(agent));
    Ok(ok(StatusCode::CREATED, json!({ "agent": shown, "service_key": secret, "service_key_prefix": prefix })))
}

async fn update_agent(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    for immutable in ["run_mode", "runtime", "loop", "callable", "name", "version", "type"] {
        if body.contains_key(immutable) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "IMMUTABLE_FIELD",
                format!("{immutable} cannot be changed; publish a new version"),
            ));
        }
    }
    e.with_account(&key, |account| {
        let agent = account.agents.iter_mut().find(|a| a["id"] == id).ok_or_else(|| not_found("Agent"))?;
        for (field, value) in &body {
            agent[field.as_str()] = value.clone();
        }
        agent["updated_at"] = json!(now());
        Ok(ok(StatusCode::OK, public_agent(agent)))
    })
}

fn stars(agent: &Value) -> u64 {
    // Public agents get starred: deleting one asks for its name.
    if agent["is_public"] == true {
        12
    } else {
        0
    }
}

async fn delete_check(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        let agent = account.agents.iter().find(|a| a["id"] == id).ok_or_else(|| not_found("Agent"))?;
        let stars = stars(agent);
        Ok(ok(
            StatusCode::OK,
            json!({"agent_id": id, "agent_name": agent["name"], "stars_count": stars, "fork_count": 0,
                   "requires_confirmation": stars >= 10, "version_count": 1}),
        ))
    })
}

#[derive(Deserialize)]
struct DeleteQuery {
    confirmation_name: Option<String>,
}

async fn delete_agent(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Answer {
    e.with_account(&key, |account| {
        let index = account.agents.iter().position(|a| a["id"] == id).ok_or_else(|| not_found("Agent"))?;
        let agent = &account.agents[index];
        if stars(agent) >= 10 && query.confirmation_name.as_deref() != agent["name"].as_str() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "CONFIRMATION_REQUIRED",
                "This agent has 10+ stars or forks: pass confirmation_name matching its name",
            ));
        }
        let name = agent["name"].clone();
        account.agents.remove(index);
        Ok(ok(StatusCode::OK, json!({"deleted": true, "agent_id": id, "agent_name": name, "version_count": 1})))
    })
}

// ---- workspaces and secrets

async fn list_workspaces(State(e): State<Arc<OrchagentEmulator>>, Extension(key): Extension<AccountKey>) -> Response {
    ok(StatusCode::OK, Value::Array(e.with_account(&key, |a| a.workspaces.clone())))
}

async fn create_workspace(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    let name = string(&body, "name", true)?.unwrap_or_default().to_string();
    let slug = string(&body, "slug", false)?.map_or_else(|| slugify(&name), str::to_string);
    e.with_account(&key, |account| {
        if account.workspaces.iter().any(|w| w["slug"] == slug.as_str()) {
            return Err(error(StatusCode::CONFLICT, "CONFLICT", format!("A workspace with slug {slug} already exists")));
        }
        let workspace = json!({"id": new_id("ws"), "name": name, "slug": slug, "owner_user_id": "usr_sandbox", "member_count": 1, "created_at": now()});
        account.workspaces.push(workspace.clone());
        Ok(ok(StatusCode::CREATED, workspace))
    })
}

fn has_workspace(account: &AccountData, id: &str) -> Result<(), ApiError> {
    account.workspaces.iter().any(|w| w["id"] == id).then_some(()).ok_or_else(|| not_found("Workspace"))
}

async fn list_secrets(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        let secrets = account
            .secrets
            .get(&ws)
            .map(|s| {
                s.values()
                    .map(|v| json!({"name": v["name"], "created_at": v["created_at"], "updated_at": v["updated_at"]}))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ok(StatusCode::OK, Value::Array(secrets)))
    })
}

async fn put_secret(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    let name = string(&body, "name", true)?.unwrap_or_default().to_string();
    let value = string(&body, "value", true)?.unwrap_or_default().to_string();
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        let secrets = account.secrets.entry(ws.clone()).or_default();
        let created = secrets.get(&name).map(|s| s["created_at"].clone()).unwrap_or_else(|| json!(now()));
        secrets.insert(
            name.clone(),
            json!({"name": name, "digest": digest(&value), "created_at": created, "updated_at": now()}),
        );
        Ok(ok(StatusCode::OK, json!({"name": name})))
    })
}

async fn delete_secret(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, name)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        account.secrets.get_mut(&ws).and_then(|s| s.remove(&name)).ok_or_else(|| not_found("Secret"))?;
        Ok(ok(StatusCode::OK, json!({"deleted": true})))
    })
}

// ---- schedules

const SCHEDULE_PATCH: [&str; 7] = [
    "cron_expression",
    "timezone",
    "input_data",
    "enabled",
    "pin_version",
    "alert_webhook_url",
    "alert_on_failure_count",
];

/// The most runs one schedule makes in one catch-up: a minutely schedule
/// over a clock moved on a month and more.
const MOST_RUNS_AT_ONCE: u32 = 50_000;

/// The sandbox's scheduler, run lazily: every enabled cron schedule whose
/// `next_run_at` has come runs (successfully: the sandbox runs no agent),
/// once for each time its expression names up to `now_ms`, in its time
/// zone; `total_runs`, `last_run_at` and `last_run_status` say so.
fn run_due_schedules(schedules: &mut [Value], now_ms: u64) {
    for schedule in schedules.iter_mut() {
        let mut due = schedule["next_run_at"].as_str().and_then(parse_time);
        let mut runs = 0;
        while let Some(at) = due.filter(|at| at.timestamp_millis() <= now_ms as i64 && runs < MOST_RUNS_AT_ONCE) {
            runs += 1;
            schedule["total_runs"] = json!(schedule["total_runs"].as_u64().unwrap_or_default() + 1);
            schedule["last_run_at"] = json!(format_time(at));
            schedule["last_run_status"] = json!("success");
            due = next_run(schedule, at);
        }
        if runs > 0 {
            schedule["next_run_at"] = due.map_or(Value::Null, |at| json!(format_time(at)));
        }
    }
}

/// Sets when an enabled cron schedule runs next after `now_ms` (none for a
/// disabled or webhook one).
fn plan_next_run(schedule: &mut Value, now_ms: u64) {
    let now = chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    schedule["next_run_at"] = next_run(schedule, now).map_or(Value::Null, |at| json!(format_time(at)));
}

/// The first time after `after` that the schedule's expression names, in
/// its time zone.
fn next_run(schedule: &Value, after: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    if schedule["enabled"] == false || schedule["type"] != "cron" {
        return None;
    }
    let cron: croner::Cron = schedule["cron_expression"].as_str()?.parse().ok()?;
    let zone: chrono_tz::Tz = schedule["timezone"].as_str().and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
    let next = cron.find_next_occurrence(&after.with_timezone(&zone), false).ok()?;
    Some(next.with_timezone(&chrono::Utc))
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn public_schedule(stored: &Value) -> Value {
    without(stored, &["alert_webhook_url", "alert_on_failure_count"])
}

async fn list_schedules(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        Ok(ok(StatusCode::OK, in_workspace(&account.schedules, &ws, public_schedule)))
    })
}

async fn create_schedule(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    let agent_id = string(&body, "agent_id", true)?.unwrap_or_default().to_string();
    let kind = string(&body, "type", true)?;
    one_of(kind, "type", &["cron", "webhook"])?;
    let cron = string(&body, "cron_expression", false)?;
    if kind == Some("cron") && cron.is_none() {
        return Err(bad("cron_expression is required for cron schedules"));
    }
    if let Some(expression) = cron {
        super::spec::check_cron(expression).map_err(bad)?;
    }
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string();
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        let agent = account.agents.iter().find(|a| a["id"] == agent_id.as_str()).ok_or_else(|| not_found("Agent"))?;
        let id = new_id("sch");
        let schedule = json!({
            "id": id, "workspace_id": ws, "agent_id": agent_id, "agent_name": agent["name"], "agent_version": agent["version"],
            "type": kind, "cron_expression": cron, "timezone": body.get("timezone").cloned().unwrap_or(json!("UTC")),
            "input_data": body.get("input_data").cloned().unwrap_or(json!({})), "enabled": true,
            "pin_version": body.get("pin_version").cloned().unwrap_or(json!(false)),
            "consecutive_failures": 0, "max_consecutive_failures": 5, "total_runs": 0, "created_at": now(),
        });
        account.schedules.push(schedule);
        let now = e.config.clock.now_ms();
        let schedule = account.schedules.last_mut().ok_or_else(|| not_found("Schedule"))?;
        plan_next_run(schedule, now);
        let mut shown = public_schedule(schedule);
        if kind == Some("webhook") {
            shown["webhook_url"] = json!(format!("http://{host}{BASE_PATH}/webhooks/{id}/{}", uuid::Uuid::new_v4().simple()));
        }
        Ok(ok(StatusCode::CREATED, shown))
    })
}

fn find_schedule<'a>(account: &'a mut AccountData, ws: &str, id: &str) -> Result<&'a mut Value, ApiError> {
    has_workspace(account, ws)?;
    find_in(&mut account.schedules, ws, id, "Schedule")
}

async fn get_schedule(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| Ok(ok(StatusCode::OK, public_schedule(find_schedule(account, &ws, &id)?))))
}

async fn update_schedule(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    if let Some(expression) = string(&body, "cron_expression", false)? {
        super::spec::check_cron(expression).map_err(bad)?;
    }
    let now = e.config.clock.now_ms();
    e.with_account(&key, |account| {
        let schedule = find_schedule(account, &ws, &id)?;
        patch(schedule, &body, &SCHEDULE_PATCH)?;
        plan_next_run(schedule, now);
        Ok(ok(StatusCode::OK, public_schedule(schedule)))
    })
}

async fn delete_schedule(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| {
        find_schedule(account, &ws, &id)?;
        account.schedules.retain(|s| s["id"] != id.as_str());
        Ok(ok(StatusCode::OK, json!({"deleted": true})))
    })
}

// ---- services

const SERVICE_PATCH: [&str; 4] = ["env", "secret_names", "alert_webhook_url", "max_restart_failures"];

fn public_service(stored: &Value) -> Value {
    without(stored, &["command", "args", "alert_webhook_url"])
}

async fn list_services(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
) -> Answer {
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        Ok(ok(StatusCode::OK, in_workspace(&account.services, &ws, public_service)))
    })
}

async fn deploy_service(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path(ws): Path<String>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    let agent_id = string(&body, "agent_id", true)?.unwrap_or_default().to_string();
    e.with_account(&key, |account| {
        has_workspace(account, &ws)?;
        let agent = account.agents.iter().find(|a| a["id"] == agent_id.as_str()).ok_or_else(|| not_found("Agent"))?;
        let mut service = json!({
            "id": new_id("svc"), "workspace_id": ws, "agent_id": agent_id, "agent_name": agent["name"],
            "name": body.get("name").cloned().unwrap_or_else(|| agent["name"].clone()),
            "state": "running", "health": "healthy", "restart_count": 0, "consecutive_restart_failures": 0,
            "max_restart_failures": 3, "env": body.get("env").cloned().unwrap_or(json!({})),
            "secret_names": body.get("secret_names").cloned().unwrap_or(json!([])),
            "min_instances": body.get("min_instances").cloned().unwrap_or(json!(1)),
            "max_instances": body.get("max_instances").cloned().unwrap_or(json!(1)),
            "deployed_at": now(),
        });
        for kept in ["command", "args"] {
            if let Some(value) = body.get(kept) {
                service[kept] = value.clone();
            }
        }
        account.services.push(service.clone());
        Ok(ok(StatusCode::CREATED, public_service(&service)))
    })
}

fn find_service<'a>(account: &'a mut AccountData, ws: &str, id: &str) -> Result<&'a mut Value, ApiError> {
    has_workspace(account, ws)?;
    find_in(&mut account.services, ws, id, "Service")
}

async fn get_service(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| Ok(ok(StatusCode::OK, public_service(find_service(account, &ws, &id)?))))
}

async fn update_service(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Answer {
    let body = body_of(&bytes)?;
    e.with_account(&key, |account| {
        let service = find_service(account, &ws, &id)?;
        patch(service, &body, &SERVICE_PATCH)?;
        Ok(ok(StatusCode::OK, public_service(service)))
    })
}

async fn delete_service(
    State(e): State<Arc<OrchagentEmulator>>,
    Extension(key): Extension<AccountKey>,
    Path((ws, id)): Path<(String, String)>,
) -> Answer {
    e.with_account(&key, |account| {
        find_service(account, &ws, &id)?;
        account.services.retain(|s| s["id"] != id.as_str());
        Ok(ok(StatusCode::OK, json!({"deleted": true})))
    })
}

async fn exchanges(State(e): State<Arc<OrchagentEmulator>>) -> Response {
    Json(Value::Array(e.exchanges.lock().unwrap_or_else(|e| e.into_inner()).clone())).into_response()
}

impl Emulator for OrchagentEmulator {
    fn id(&self) -> &'static str {
        "orchagent"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        let api = Router::new()
            .route("/agents", get(list_agents).post(create_agent))
            .route("/agents/{id}", axum::routing::patch(update_agent).delete(delete_agent))
            .route("/agents/{id}/delete-check", get(delete_check))
            .route("/workspaces", get(list_workspaces).post(create_workspace))
            .route("/workspaces/{id}/secrets", get(list_secrets).put(put_secret))
            .route("/workspaces/{id}/secrets/{name}", axum::routing::delete(delete_secret))
            .route("/workspaces/{id}/schedules", get(list_schedules).post(create_schedule))
            .route(
                "/workspaces/{id}/schedules/{schedule_id}",
                get(get_schedule).patch(update_schedule).delete(delete_schedule),
            )
            .route("/workspaces/{id}/services", get(list_services).post(deploy_service))
            .route(
                "/workspaces/{id}/services/{service_id}",
                get(get_service).patch(update_service).delete(delete_service),
            )
            .route_layer(middleware::from_fn_with_state(self.clone(), Self::gate));
        Router::new().route("/_exchanges", get(exchanges)).merge(api).with_state(self)
    }

    fn snapshot(&self) -> Value {
        crate::sandbox::snapshot_of(&self.data)
    }

    fn restore(&self, snapshot: Value) -> Result<(), String> {
        crate::sandbox::restore_into(&self.data, snapshot)
    }

    fn clock(&self) -> Option<&crate::sandbox::SandboxClock> {
        Some(&self.config.clock)
    }
}
