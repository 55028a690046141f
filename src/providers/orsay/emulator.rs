//! A local Orsay, faithful to the vendor's document: bearer keys (each its
//! own organization), validation errors, 404s, defaults, derived channel and
//! type, summaries in lists, partial PUT, and the hourly limit with
//! Retry-After.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::spec::{channel_and_type, TRIGGERS};
use super::wire;
use crate::sandbox::{Emulator, EmulatorConfig};

/// Where the emulator answers inside the sandbox, mirroring the vendor's
/// `/api/v1` base.
pub const BASE_PATH: &str = "/orsay/api/v1";

pub struct OrsayEmulator {
    config: EmulatorConfig,
    data: Mutex<Data>,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    /// Organizations by a digest of their API key.
    organizations: BTreeMap<String, Organization>,
}

#[derive(Serialize, Deserialize)]
struct Organization {
    agents: Vec<wire::Agent>,
    profiles: wire::Profiles,
    sequences: Vec<wire::Sequence>,
    /// When each counted request arrived (unix ms), for the hourly limit.
    #[serde(default)]
    requests: VecDeque<u64>,
}

impl Organization {
    /// Every organization starts with the agent and profiles the vendor's
    /// document shows, so lookups work. Their ids come from the
    /// organization's key: a sandbox whose data was not saved after a
    /// lookup (a plan reads, and writes nothing) seeds the same ids again,
    /// so a saved plan applies in a later run.
    fn seeded(key: &str) -> Self {
        let id = |what: &str| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{key}/{what}").as_bytes());
        let instagram = 10_000_000 + u128::from_be_bytes(*id("instagram").as_bytes()) % 90_000_000;
        Organization {
            agents: vec![wire::Agent { id: id("agent").to_string(), name: "Sales Agent".into(), is_published: true }],
            profiles: wire::Profiles {
                instagram: vec![wire::InstagramProfile {
                    id: instagram.to_string(),
                    username: "mybusiness".into(),
                    status: "CONNECTED".into(),
                }],
                whatsapp: vec![wire::WhatsappProfile {
                    id: id("whatsapp").to_string(),
                    name: "My WhatsApp".into(),
                    status: "CONNECTED".into(),
                }],
            },
            sequences: Vec::new(),
            requests: VecDeque::new(),
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The organization a request acts for.
#[derive(Clone)]
struct OrgKey(String);

/// An error answer in Orsay's `{"detail": "..."}` form.
struct ApiError {
    status: StatusCode,
    detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

type Answer = Result<Response, ApiError>;

fn error(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError { status, detail: detail.into() }
}

impl OrsayEmulator {
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Self { config, data: Mutex::new(Data::default()) })
    }

    fn with_org<T>(&self, key: &OrgKey, f: impl FnOnce(&mut Organization) -> T) -> T {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let org = data.organizations.entry(key.0.clone()).or_insert_with(|| Organization::seeded(&key.0));
        f(org)
    }

    /// Authenticates, applies the hourly limit, and adds the configured
    /// latency after the work is done (so a client killed meanwhile has made
    /// a change it never heard about).
    async fn gate(State(emulator): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let Some(key) = api_key(request.headers()) else {
            return error(StatusCode::UNAUTHORIZED, "Invalid or missing API key").into_response();
        };
        let now = crate::providers::ratelimit::now_ms();
        let limit = emulator.config.requests_per_hour;
        let window = emulator.config.window.as_millis() as u64;
        let retry_after = emulator.with_org(&key, |org| {
            org.requests.retain(|t| t.saturating_add(window) > now && *t <= now);
            if limit > 0 && org.requests.len() >= limit as usize {
                let oldest = org.requests[org.requests.len() - limit as usize];
                return Some(oldest.saturating_add(window).saturating_sub(now).div_ceil(1000).max(1));
            }
            org.requests.push_back(now);
            None
        });
        if let Some(seconds) = retry_after {
            let mut response =
                error(StatusCode::TOO_MANY_REQUESTS, format!("Rate limit exceeded ({limit} requests per hour)"))
                    .into_response();
            if let Ok(value) = seconds.to_string().parse() {
                response.headers_mut().insert("retry-after", value);
            }
            return response;
        }
        request.extensions_mut().insert(key);
        let response = next.run(request).await;
        if !emulator.config.latency.is_zero() {
            tokio::time::sleep(emulator.config.latency).await;
        }
        response
    }
}

/// Any `sk_…` bearer key is an organization of its own.
fn api_key(headers: &HeaderMap) -> Option<OrgKey> {
    let token = crate::sandbox::bearer_token(headers)?;
    if !token.starts_with("sk_") || token.len() < 6 {
        return None;
    }
    // 24 characters, as sandbox data files already name organizations.
    Some(OrgKey(crate::sandbox::digest(token)[..24].to_string()))
}

async fn list_agents(State(emulator): State<Arc<OrsayEmulator>>, Extension(key): Extension<OrgKey>) -> Response {
    Json(emulator.with_org(&key, |org| org.agents.clone())).into_response()
}

async fn list_profiles(State(emulator): State<Arc<OrsayEmulator>>, Extension(key): Extension<OrgKey>) -> Response {
    Json(emulator.with_org(&key, |org| org.profiles.clone())).into_response()
}

async fn list_sequences(State(emulator): State<Arc<OrsayEmulator>>, Extension(key): Extension<OrgKey>) -> Response {
    let summaries: Vec<wire::SequenceSummary> = emulator.with_org(&key, |org| {
        org.sequences
            .iter()
            .map(|s| wire::SequenceSummary {
                id: s.id.clone(),
                name: s.name.clone(),
                trigger: s.trigger.clone(),
                channel: s.channel.clone(),
                active: s.active,
            })
            .collect()
    });
    Json(summaries).into_response()
}

async fn get_sequence(
    State(emulator): State<Arc<OrsayEmulator>>,
    Extension(key): Extension<OrgKey>,
    Path(id): Path<String>,
) -> Response {
    match emulator.with_org(&key, |org| org.sequences.iter().find(|s| s.id == id).cloned()) {
        Some(sequence) => Json(sequence).into_response(),
        None => error(StatusCode::NOT_FOUND, "Sequence not found").into_response(),
    }
}

async fn create_sequence(
    State(emulator): State<Arc<OrsayEmulator>>,
    Extension(key): Extension<OrgKey>,
    body: Bytes,
) -> Response {
    let answer: Answer = emulator.with_org(&key, |org| {
        let body = parse_body(&body)?;
        for required in ["name", "trigger"] {
            if body.get(required).is_none_or(Value::is_null) {
                return Err(error(StatusCode::BAD_REQUEST, format!("Missing required field: {required}")));
            }
        }
        let id = new_id();
        let base = json!({
            "id": id, "name": "", "trigger": "", "active": false,
            "agent_id": null, "profile_id": null,
            "inbound_response_delay": 5, "inbound_response_delay_unit": "MINUTES",
            "flow": [], "filtering_agent": null, "should_continue_existing_conversations": false,
            "keywords": null, "target_accounts": null, "enable_agent_on_conversation": true,
            "require_manual_approval": false,
        });
        let sequence = merge(org, base, &body)?;
        org.sequences.push(sequence);
        Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
    });
    answer.into_response()
}

async fn update_sequence(
    State(emulator): State<Arc<OrsayEmulator>>,
    Extension(key): Extension<OrgKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let answer: Answer = emulator.with_org(&key, |org| {
        let body = parse_body(&body)?;
        let index = org
            .sequences
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "Sequence not found"))?;
        let current = serde_json::to_value(&org.sequences[index])
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        org.sequences[index] = merge(org, current, &body)?;
        Ok(Json(json!({ "id": id, "status": "updated" })).into_response())
    });
    answer.into_response()
}

async fn delete_sequence(
    State(emulator): State<Arc<OrsayEmulator>>,
    Extension(key): Extension<OrgKey>,
    Path(id): Path<String>,
) -> Response {
    emulator.with_org(&key, |org| match org.sequences.iter().position(|s| s.id == id) {
        Some(index) => {
            org.sequences.remove(index);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Sequence not found").into_response(),
    })
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(StatusCode::BAD_REQUEST, "Request body must be a JSON object")),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}"))),
    }
}

const UNITS: [&str; 3] = ["SECONDS", "MINUTES", "HOURS"];

/// Applies the writable fields of `body` over `base`, validating each, and
/// derives the read-only channel and type from the trigger.
// One arm per writable field, each the vendor's own check, read in one place.
#[allow(clippy::too_many_lines)]
fn merge(org: &Organization, base: Value, body: &Map<String, Value>) -> Result<wire::Sequence, ApiError> {
    let bad = |detail: String| error(StatusCode::BAD_REQUEST, detail);
    let mut sequence = base.as_object().cloned().unwrap_or_default();
    for (field, value) in body {
        match field.as_str() {
            "name" => match value.as_str() {
                Some(name) if !name.trim().is_empty() => {}
                _ => return Err(bad("name must be a non-empty string".into())),
            },
            "trigger" => {
                let trigger = value.as_str().unwrap_or_default();
                if channel_and_type(trigger).is_none() {
                    let valid: Vec<&str> = TRIGGERS.iter().map(|t| t.0).collect();
                    return Err(bad(format!("Invalid trigger '{trigger}'. Must be one of: {}", valid.join(", "))));
                }
            }
            "active"
            | "should_continue_existing_conversations"
            | "enable_agent_on_conversation"
            | "require_manual_approval" => {
                if !value.is_boolean() {
                    return Err(bad(format!("{field} must be a boolean")));
                }
            }
            "inbound_response_delay" => {
                if value.as_u64().is_none() {
                    return Err(bad("inbound_response_delay must be a non-negative integer".into()));
                }
            }
            "inbound_response_delay_unit" => {
                if !value.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(bad(format!("inbound_response_delay_unit must be one of {}", UNITS.join(", "))));
                }
            }
            "agent_id" | "filtering_agent" => {
                if let Some(id) = nullable_string(value, field).map_err(bad)? {
                    if !org.agents.iter().any(|a| a.id == id) {
                        return Err(bad(format!("{field}: agent '{id}' not found")));
                    }
                }
            }
            "profile_id" => {
                if let Some(id) = nullable_string(value, field).map_err(bad)? {
                    let known = org.profiles.instagram.iter().any(|p| p.id == id)
                        || org.profiles.whatsapp.iter().any(|p| p.id == id);
                    if !known {
                        return Err(bad(format!("profile_id: profile '{id}' not found")));
                    }
                }
            }
            "keywords" | "target_accounts" => {
                let valid = value.is_null() || value.as_array().is_some_and(|items| items.iter().all(Value::is_string));
                if !valid {
                    return Err(bad(format!("{field} must be a list of strings or null")));
                }
            }
            "flow" => check_flow(value).map_err(bad)?,
            // Read-only or unknown fields are ignored, as the vendor does.
            _ => continue,
        }
        sequence.insert(field.clone(), value.clone());
    }
    let trigger = sequence.get("trigger").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some((channel, kind)) = channel_and_type(&trigger) {
        sequence.insert("channel".into(), json!(channel));
        sequence.insert("type".into(), json!(kind));
    }
    serde_json::from_value(Value::Object(sequence)).map_err(|e| bad(format!("Invalid sequence: {e}")))
}

fn nullable_string(value: &Value, field: &str) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("{field} must be a string or null")),
    }
}

fn check_flow(flow: &Value) -> Result<(), String> {
    let steps = flow.as_array().ok_or("flow must be a list of steps")?;
    let check_delay = |value: &Value, at: &str| -> Result<(), String> {
        if value.get("delay").is_some_and(|d| d.as_u64().is_none()) {
            return Err(format!("{at}.delay must be a non-negative integer"));
        }
        if value.get("delay_unit").is_some_and(|u| !u.as_str().is_some_and(|u| UNITS.contains(&u))) {
            return Err(format!("{at}.delay_unit must be one of {}", UNITS.join(", ")));
        }
        Ok(())
    };
    for (index, step) in steps.iter().enumerate() {
        let at = format!("flow[{index}]");
        if !step.is_object() {
            return Err(format!("{at} must be an object"));
        }
        check_delay(step, &at)?;
        if let Some(delays) = step.get("followup_delays").filter(|d| !d.is_null()) {
            let delays = delays.as_array().ok_or(format!("{at}.followup_delays must be a list"))?;
            for (i, delay) in delays.iter().enumerate() {
                check_delay(delay, &format!("{at}.followup_delays[{i}]"))?;
            }
        }
    }
    Ok(())
}

impl Emulator for OrsayEmulator {
    fn id(&self) -> &'static str {
        "orsay"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/agents", get(list_agents))
            .route("/profiles", get(list_profiles))
            .route("/sequences", get(list_sequences).post(create_sequence))
            .route("/sequences/{id}", get(get_sequence).put(update_sequence).delete(delete_sequence))
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
