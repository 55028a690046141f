//! A local Gary Club, faithful to the vendor's document (shared/apis/gary.md):
//! agency and client keys, each a tenant of its own (an agency key acts for
//! one of its clients with `X-Gary-Client-Id`), seeded with the documented
//! example sequence and contact; paginated lists with an opaque cursor and a
//! total; idempotent enrollment; `{error, message, details}` errors with the
//! documented codes; 60 requests per minute per key (sliding window) with
//! `Retry-After`; and the worker that fires the steps, on a sandbox clock
//! that tests may speed up.
//!
//! Keys reach the documented errors by what follows their prefix:
//! `gc_live_revoked_…` (401 `revoked_api_key`), `gc_live_expired_…` (401
//! `expired_api_key`), `gc_live_nofuel_…` (402 `fuel_exhausted`: the account
//! is out of credit, on every request) and `gc_live_nofeature_…` (403
//! `feature_disabled`), and the same after `cl_live_`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::wire;
use crate::sandbox::{Emulator, EmulatorConfig};

/// Where the emulator answers inside the sandbox: `/gary` stands for the
/// vendor's origin `https://agency.gary.club`.
pub const BASE_PATH: &str = "/gary/api/public/v1";

/// Gary's own limit: requests per key in any minute, every method counted.
const REQUESTS_PER_MINUTE: usize = 60;
const MINUTE_MS: u64 = 60_000;

const SEQUENCE_STATUSES: &[&str] = &["draft", "active", "paused", "archived"];
const ENROLLMENT_STATUSES: &[&str] = &["active", "paused", "completed", "cancelled"];

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

pub struct GaryEmulator {
    config: EmulatorConfig,
    data: Mutex<Data>,
    /// When the emulator started (unix ms): the sandbox clock runs from it.
    started_ms: u64,
    /// How much faster than the wall clock the sandbox clock runs.
    scale: f64,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    /// Tenants by a digest of their key (and, for an agency acting for a
    /// client, that client's id).
    tenants: BTreeMap<String, Tenant>,
    /// When each counted request arrived (unix ms, wall clock), by key
    /// digest: the limit is per key, whichever client it acts for.
    #[serde(default)]
    requests: BTreeMap<String, VecDeque<u64>>,
}

#[derive(Serialize, Deserialize)]
struct Tenant {
    sequences: Vec<wire::Sequence>,
    contacts: Vec<String>,
    /// In the order they were made.
    enrollments: Vec<wire::Enrollment>,
}

impl Tenant {
    /// Every tenant starts with the sequence and contact of the vendor's
    /// example (so the documented curl runs as written), a few more
    /// sequences in every status, and contacts enough to enroll many.
    // The vendor's seed data, listed whole.
    #[allow(clippy::too_many_lines)]
    fn seeded() -> Self {
        let step = |kind: &str, wait_minutes: u64, body: &str| wire::Step {
            kind: kind.into(),
            wait_minutes,
            body: body.into(),
        };
        let sequence =
            |id: &str, name: &str, description: Option<&str>, status: &str, steps, at: (&str, &str)| wire::Sequence {
                id: id.into(),
                name: name.into(),
                description: description.map(str::to_string),
                status: status.into(),
                steps,
                created_at: at.0.into(),
                updated_at: at.1.into(),
            };
        let sequences = vec![
            sequence(
                "seq_EXAMPLE_aaaa",
                "Post-call nurture",
                Some("Sent to leads after their first inbound call"),
                "active",
                vec![step("sms", 60, "Hey {{first_name}}, …"), step("sms", 1440, "Quick follow-up …")],
                ("2026-04-12T17:21:01.000Z", "2026-04-25T18:02:00.000Z"),
            ),
            sequence(
                "seq_sandbox_missed_call",
                "Missed-call recovery",
                Some("Texted when a call goes unanswered"),
                "active",
                vec![
                    step("sms", 5, "Sorry we missed your call, {{first_name}}. How can we help?"),
                    step("sms", 240, "Still need a hand? Reply here or call us back."),
                    step("email", 1440, "We tried to reach you yesterday: book a time that suits you."),
                ],
                ("2026-03-02T09:15:00.000Z", "2026-04-20T11:40:12.000Z"),
            ),
            sequence(
                "seq_sandbox_webinar",
                "Webinar follow-up",
                None,
                "active",
                vec![
                    step("email", 30, "Thanks for joining, {{first_name}}: here is the recording."),
                    step("email", 2880, "Questions after the webinar? Book a call."),
                ],
                ("2026-02-10T15:00:00.000Z", "2026-02-11T08:30:00.000Z"),
            ),
            sequence(
                "seq_sandbox_holiday",
                "Holiday hours",
                Some("Paused until the next holiday"),
                "paused",
                vec![step("sms", 0, "Heads up: we are closed on {{holiday}}.")],
                ("2025-12-01T10:00:00.000Z", "2026-01-05T10:00:00.000Z"),
            ),
            sequence(
                "seq_sandbox_old_promo",
                "Old promo",
                Some("Winter 2025 discount"),
                "archived",
                vec![step("sms", 0, "20% off this week only, {{first_name}}!")],
                ("2025-11-03T12:00:00.000Z", "2026-01-15T12:00:00.000Z"),
            ),
            sequence(
                "seq_sandbox_spring",
                "Spring reactivation",
                Some("Win back leads who went quiet"),
                "draft",
                vec![
                    step("sms", 0, "It's been a while, {{first_name}}! Anything we can help with?"),
                    step("email", 4320, "Spring is here: see what's new."),
                ],
                ("2026-04-26T08:00:00.000Z", "2026-04-26T08:00:00.000Z"),
            ),
        ];
        let mut contacts: Vec<String> =
            ["con_EXAMPLE_bbbb", "con_EXAMPLE_cccc", "con_EXAMPLE_dddd"].iter().map(|c| c.to_string()).collect();
        contacts.extend((1..=200).map(|n| format!("con_sandbox_{n:04}")));
        Tenant { sequences, contacts, enrollments: Vec::new() }
    }

    /// Lets the worker catch up with the sandbox clock.
    fn advance(&mut self, now_ms: u64) {
        let tick = now_ms - now_ms % MINUTE_MS;
        for enrollment in &mut self.enrollments {
            if let Some(sequence) = self.sequences.iter().find(|s| s.id == enrollment.sequence_id) {
                fire_due_steps(enrollment, sequence, tick);
            }
        }
    }
}

/// The worker, run lazily: it ticks every (sandbox) minute and fires each
/// step of an active enrollment in an active sequence whose `next_run_at`
/// has come by the last tick; step `k + 1` is then due `wait_minutes` of
/// that step after step `k` was due. The first step is due at enrollment
/// (the vendor: it "runs on the next cron tick"), so its own `wait_minutes`
/// schedules nothing. After the last step the enrollment is `completed`
/// (with `current_step` = the number of steps, nothing next).
fn fire_due_steps(enrollment: &mut wire::Enrollment, sequence: &wire::Sequence, tick_ms: u64) {
    if enrollment.status != "active" || sequence.status != "active" {
        return;
    }
    loop {
        let step = enrollment.current_step as usize;
        if step >= sequence.steps.len() {
            enrollment.status = "completed".into();
            enrollment.next_run_at = None;
            return;
        }
        let Some(due) = enrollment.next_run_at.as_deref().and_then(parse_ms) else { return };
        if due > tick_ms {
            return;
        }
        enrollment.current_step += 1;
        if let Some(next) = sequence.steps.get(step + 1) {
            enrollment.next_run_at = Some(format_ms(due.saturating_add(next.wait_minutes.saturating_mul(MINUTE_MS))));
        }
    }
}

/// A time as the vendor writes it: `2026-04-28T01:30:00.000Z`.
fn format_ms(ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_default()
}

fn parse_ms(value: &str) -> Option<u64> {
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The tenant a request acts for.
#[derive(Clone)]
struct TenantKey(String);

/// A valid key: its digest, and whether it is an agency's.
struct ApiKey {
    digest: String,
    agency: bool,
    /// What follows the prefix, where the error-producing markers are.
    rest: String,
}

/// An error answer: `{error, message, details}`.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = wire::ErrorBody { error: self.code.into(), message: self.message, details: self.details };
        (self.status, Json(body)).into_response()
    }
}

type Answer = Result<Response, ApiError>;

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { status, code, message: message.into(), details: json!({}) }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError { details: json!({ "field": field }), ..error(StatusCode::BAD_REQUEST, "invalid_request", message) }
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError { details: json!({ "field": field }), ..error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message) }
}

fn sequence_not_found(id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, "not_found", format!("sequence {id} not found"))
}

impl GaryEmulator {
    /// An emulator whose sandbox clock is the wall clock.
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        Self::with_clock_scale(config, 1.0)
    }

    /// An emulator whose sandbox clock runs `scale` times faster than the
    /// wall clock from the moment it is made (60.0: a vendor minute per
    /// real second), so tests can watch a ladder run in seconds. A scale
    /// that is not a positive number means 1.0.
    pub fn with_clock_scale(config: EmulatorConfig, scale: f64) -> Arc<Self> {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        let started_ms = crate::providers::ratelimit::now_ms();
        Arc::new(Self { config, data: Mutex::new(Data::default()), started_ms, scale })
    }

    /// The sandbox clock, in unix ms: the process's time since the
    /// emulator started, `scale` times faster, plus what the sandbox's
    /// test clock was moved forward by.
    fn now_ms(&self) -> u64 {
        let elapsed = crate::providers::ratelimit::now_ms().saturating_sub(self.started_ms);
        let scaled = self.started_ms.saturating_add((elapsed as f64 * self.scale) as u64);
        scaled.saturating_add(self.config.clock.ahead().as_millis() as u64)
    }

    /// Runs `f` on a tenant (seeded on first use), after the worker caught
    /// up, with the sandbox clock's time.
    fn with_tenant<T>(&self, key: &TenantKey, f: impl FnOnce(&mut Tenant, u64) -> T) -> T {
        let now = self.now_ms();
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let tenant = data.tenants.entry(key.0.clone()).or_insert_with(Tenant::seeded);
        tenant.advance(now);
        f(tenant, now)
    }

    /// Test hook: moves an enrollment of the agency's own data (the tenant
    /// of `token`, a raw bearer key, without a client id) to `status`, as the
    /// auto-pause on reply (`paused`, `reply_received`) or a cancel from the
    /// dashboard would. False when there is no such row or the status is
    /// not one of Gary's.
    pub fn set_status(&self, token: &str, enrollment_id: &str, status: &str, paused_reason: Option<&str>) -> bool {
        if !ENROLLMENT_STATUSES.contains(&status) {
            return false;
        }
        let key = TenantKey(key_digest(token));
        let now = self.now_ms();
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tenant) = data.tenants.get_mut(&key.0) else { return false };
        tenant.advance(now);
        let Some(row) = tenant.enrollments.iter_mut().find(|e| e.id == enrollment_id) else { return false };
        row.status = status.into();
        row.paused_reason = paused_reason.map(str::to_string);
        if status == "active" {
            if row.next_run_at.is_none() {
                row.next_run_at = Some(format_ms(now));
            }
        } else {
            row.next_run_at = None;
        }
        true
    }

    /// Test hook: every enrollment of a sequence in the agency's own data
    /// (the tenant of `token`, a raw bearer key), as the worker has them now.
    pub fn enrollments_of(&self, token: &str, sequence_id: &str) -> Vec<wire::Enrollment> {
        let key = TenantKey(key_digest(token));
        let now = self.now_ms();
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tenant) = data.tenants.get_mut(&key.0) else { return Vec::new() };
        tenant.advance(now);
        tenant.enrollments.iter().filter(|e| e.sequence_id == sequence_id).cloned().collect()
    }

    /// Counts a request against its key's minute; the seconds to wait when
    /// the limit is reached.
    fn admit(&self, key: &str) -> Option<u64> {
        if self.config.requests_per_hour == 0 {
            return None;
        }
        let now = crate::providers::ratelimit::now_ms();
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let requests = data.requests.entry(key.to_string()).or_default();
        requests.retain(|t| t.saturating_add(MINUTE_MS) > now && *t <= now);
        if requests.len() >= REQUESTS_PER_MINUTE {
            let oldest = requests[requests.len() - REQUESTS_PER_MINUTE];
            return Some(oldest.saturating_add(MINUTE_MS).saturating_sub(now).div_ceil(1000).max(1));
        }
        requests.push_back(now);
        None
    }

    /// Authenticates, applies the per-minute limit, resolves the tenant,
    /// and adds the configured latency after the work is done (so a client
    /// killed meanwhile has made a change it never heard about).
    async fn gate(State(emulator): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let key = match api_key(request.headers()) {
            Ok(key) => key,
            Err(error) => return error.into_response(),
        };
        if let Some(seconds) = emulator.admit(&key.digest) {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Rate limit exceeded ({REQUESTS_PER_MINUTE} requests per minute); retry in {seconds}s"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
            return response;
        }
        let response = match tenant_of(&key, request.headers()) {
            Ok(tenant) => {
                request.extensions_mut().insert(tenant);
                next.run(request).await
            }
            Err(error) => error.into_response(),
        };
        if !emulator.config.latency.is_zero() {
            tokio::time::sleep(emulator.config.latency).await;
        }
        response
    }
}

/// A key's digest, 24 characters, as sandbox data files name tenants.
fn key_digest(token: &str) -> String {
    crate::sandbox::digest(token)[..24].to_string()
}

/// The bearer key: `gc_live_…` (agency) or `cl_live_…` (client), with
/// something after the prefix; the 401s.
fn api_key(headers: &HeaderMap) -> Result<ApiKey, ApiError> {
    let unauthorized = |code, message: &str| error(StatusCode::UNAUTHORIZED, code, message);
    if headers.get("authorization").is_none() {
        return Err(unauthorized("authentication_required", "Missing Authorization: Bearer <api key> header"));
    }
    let token = crate::sandbox::bearer_token(headers).unwrap_or_default();
    let (agency, rest) = if let Some(rest) = token.strip_prefix("gc_live_") {
        (true, rest)
    } else if let Some(rest) = token.strip_prefix("cl_live_") {
        (false, rest)
    } else {
        (false, "")
    };
    if rest.is_empty() {
        return Err(unauthorized("invalid_api_key", "The API key is not valid"));
    }
    if rest.starts_with("revoked_") {
        return Err(unauthorized("revoked_api_key", "The API key has been revoked"));
    }
    if rest.starts_with("expired_") {
        return Err(unauthorized("expired_api_key", "The API key has expired"));
    }
    Ok(ApiKey { digest: key_digest(token), agency, rest: rest.to_string() })
}

/// Which tenant a valid key acts for; the 402 and 403s.
fn tenant_of(key: &ApiKey, headers: &HeaderMap) -> Result<TenantKey, ApiError> {
    if key.rest.starts_with("nofuel_") {
        return Err(error(StatusCode::PAYMENT_REQUIRED, "fuel_exhausted", "The account is out of credit"));
    }
    if key.rest.starts_with("nofeature_") {
        return Err(error(StatusCode::FORBIDDEN, "feature_disabled", "Sequences are not enabled for this account"));
    }
    let Some(client) = headers.get("x-gary-client-id") else { return Ok(TenantKey(key.digest.clone())) };
    if !key.agency {
        return Err(error(StatusCode::FORBIDDEN, "forbidden", "Client keys cannot act for another client"));
    }
    match client.to_str().map(str::trim) {
        Ok(client) if !client.is_empty() => Ok(TenantKey(format!("{}/{client}", key.digest))),
        _ => Err(invalid("X-Gary-Client-Id", "X-Gary-Client-Id must be a non-empty client id")),
    }
}

/// A list's query: which rows, and which page of them.
struct ListQuery {
    status: Option<String>,
    limit: usize,
    offset: usize,
}

fn list_query(
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    statuses: &[&str],
) -> Result<ListQuery, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", format!("Invalid query string: {e}")))?;
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => return Err(invalid("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let offset = match query.get("page_token").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .strip_prefix("o:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| invalid("page_token", "page_token is not a cursor from a prior page"))?,
    };
    let status = match query.get("status") {
        None => None,
        Some(status) if statuses.contains(&status.as_str()) => Some(status.clone()),
        Some(_) => return Err(invalid("status", format!("status must be one of {}", statuses.join(", ")))),
    };
    Ok(ListQuery { status, limit, offset })
}

/// One page of `rows`, with the cursor of the next (an opaque `o:<offset>`).
fn page<T>(rows: Vec<T>, query: &ListQuery) -> wire::Page<T> {
    let total = rows.len();
    let end = query.offset.saturating_add(query.limit).min(total);
    let next_page_token = (end < total).then(|| format!("o:{end}"));
    let data = rows.into_iter().skip(query.offset).take(query.limit).collect();
    wire::Page { data, next_page_token, total: total as u64 }
}

async fn list_sequences(
    State(emulator): State<Arc<GaryEmulator>>,
    Extension(key): Extension<TenantKey>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let query = match list_query(query, SEQUENCE_STATUSES) {
        Ok(query) => query,
        Err(error) => return error.into_response(),
    };
    let rows: Vec<wire::Sequence> = emulator.with_tenant(&key, |tenant, _| {
        tenant
            .sequences
            .iter()
            .filter(|s| query.status.as_ref().is_none_or(|status| &s.status == status))
            .cloned()
            .collect()
    });
    Json(page(rows, &query)).into_response()
}

async fn get_sequence(
    State(emulator): State<Arc<GaryEmulator>>,
    Extension(key): Extension<TenantKey>,
    Path(id): Path<String>,
) -> Response {
    match emulator.with_tenant(&key, |tenant, _| tenant.sequences.iter().find(|s| s.id == id).cloned()) {
        Some(sequence) => Json(sequence).into_response(),
        None => sequence_not_found(&id).into_response(),
    }
}

async fn list_enrollments(
    State(emulator): State<Arc<GaryEmulator>>,
    Extension(key): Extension<TenantKey>,
    Path(id): Path<String>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let answer: Answer = emulator.with_tenant(&key, |tenant, _| {
        if !tenant.sequences.iter().any(|s| s.id == id) {
            return Err(sequence_not_found(&id));
        }
        let query = list_query(query, ENROLLMENT_STATUSES)?;
        let rows: Vec<wire::Enrollment> = tenant
            .enrollments
            .iter()
            .filter(|e| e.sequence_id == id && query.status.as_ref().is_none_or(|status| &e.status == status))
            .cloned()
            .collect();
        Ok(Json(page(rows, &query)).into_response())
    });
    answer.into_response()
}

/// The contact and metadata of an enrollment request.
fn enroll_request(body: &[u8]) -> Result<wire::EnrollRequest, ApiError> {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return Err(invalid("body", "The request body must be a JSON object")),
        Err(e) => return Err(invalid("body", format!("The request body is not valid JSON: {e}"))),
    };
    let contact_id = match body.get("contact_id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        None | Some(Value::Null) => return Err(invalid("contact_id", "contact_id is required")),
        Some(_) => return Err(invalid("contact_id", "contact_id must be a non-empty string")),
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(metadata)) => Some(Value::Object(metadata.clone())),
        Some(_) => return Err(invalid("metadata", "metadata must be an object")),
    };
    Ok(wire::EnrollRequest { contact_id, metadata })
}

/// The enrollment as the POST answers it: the vendor's example shows no
/// metadata there (lists show it).
fn answered(mut enrollment: wire::Enrollment, idempotent: bool) -> wire::Enrolled {
    enrollment.metadata = Value::Null;
    wire::Enrolled { enrollment, idempotent }
}

async fn enroll(
    State(emulator): State<Arc<GaryEmulator>>,
    Extension(key): Extension<TenantKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let answer: Answer = emulator.with_tenant(&key, |tenant, now| {
        let sequence = tenant.sequences.iter().find(|s| s.id == id).ok_or_else(|| sequence_not_found(&id))?;
        let request = enroll_request(&body)?;
        // Any contact this tenant does not have belongs to another tenant
        // or to none (tests use `con_other_…` for another tenant's).
        if !tenant.contacts.contains(&request.contact_id) {
            return Err(unprocessable(
                "contact_id",
                format!("contact {} does not belong to this tenant", request.contact_id),
            ));
        }
        if sequence.status != "active" {
            return Err(unprocessable("id", format!("sequence {id} is not active (it is {})", sequence.status)));
        }
        // Only an active row makes the enrollment idempotent, as the vendor
        // promises; a paused, completed or cancelled contact is enrolled
        // anew, in a row of its own.
        let existing = tenant
            .enrollments
            .iter()
            .find(|e| e.sequence_id == id && e.contact_id == request.contact_id && e.status == "active");
        if let Some(existing) = existing {
            return Ok((StatusCode::OK, Json(answered(existing.clone(), true))).into_response());
        }
        // The first step runs on the next cron tick: it is due at once, as
        // the vendor's example shows (`next_run_at` = `enrolled_at`).
        let at = format_ms(now);
        let enrollment = wire::Enrollment {
            id: format!("enr_{:016x}", rand::random::<u64>()),
            sequence_id: id.clone(),
            contact_id: request.contact_id,
            current_step: 0,
            status: "active".into(),
            next_run_at: Some(at.clone()),
            enrolled_at: at,
            paused_reason: None,
            metadata: request.metadata.unwrap_or(Value::Null),
        };
        tenant.enrollments.push(enrollment.clone());
        Ok((StatusCode::CREATED, Json(answered(enrollment, false))).into_response())
    });
    answer.into_response()
}

impl Emulator for GaryEmulator {
    fn id(&self) -> &'static str {
        "gary"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/sequences", get(list_sequences))
            .route("/sequences/{id}", get(get_sequence))
            .route("/sequences/{id}/enrollments", get(list_enrollments).post(enroll))
            .layer(middleware::from_fn_with_state(self.clone(), Self::gate))
            .with_state(self)
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
