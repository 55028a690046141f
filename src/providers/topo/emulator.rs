//! A local Topo, faithful to the vendor's document (shared/apis/topo.md):
//! every `topo_…` key a workspace of its own, seeded with templates,
//! companies, contacts and sequence runs in every status (runs are made by
//! Topo itself; the API only changes them); a filtered, sorted, paged list;
//! variable overrides merged and removed; pause (until a time, after which
//! the run resumes by itself on a sandbox clock that tests may speed up),
//! resume and stop (of one contact's run or of the template's runs at the
//! contact's company); and `{status_code, type, message, data, request_id}`
//! errors. The vendor documents no rate limit, so none is applied.
//!
//! Scopes come from the key's text, in the sandbox only: `topo_read_…` has
//! `sequences:read`; any other `topo_…` key has `sequences:read` and
//! `sequences:write`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::wire;
use crate::sandbox::{Emulator, EmulatorConfig};

/// Where the emulator answers inside the sandbox: `/topo` stands for the
/// vendor's origin `https://api.topo.io`, so `GET /topo/v1/sequences` lists.
pub const BASE_PATH: &str = "/topo";

const READ_SCOPE: &str = "sequences:read";
const WRITE_SCOPE: &str = "sequences:write";

const DEFAULT_SIZE: u64 = 10;
const SIZES: RangeInclusive<u64> = 1..=100;
const SORT_FIELDS: &[&str] = &["created_at", "updated_at", "status"];
const SORT_ORDERS: &[&str] = &["asc", "desc"];
const REASONS: &[&str] = &["WIN", "LOSE"];
const SCOPES: &[&str] = &["CONTACT", "COMPANY"];

const WAITING_FOR_LEAD: &str = "WAITING_FOR_LEAD";
const DAY_MS: u64 = 86_400_000;

pub struct TopoEmulator {
    config: EmulatorConfig,
    data: Mutex<Data>,
    /// When the emulator started (unix ms): the sandbox clock runs from it.
    started_ms: u64,
    /// How much faster than the wall clock the sandbox clock runs.
    scale: f64,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    /// Workspaces by a digest of their key.
    workspaces: BTreeMap<String, Workspace>,
}

#[derive(Serialize, Deserialize)]
struct Workspace {
    id: String,
    /// Templates by id.
    templates: BTreeMap<String, Template>,
    /// Company names by id.
    companies: BTreeMap<String, String>,
    /// The company of each contact, by contact id.
    contacts: BTreeMap<String, String>,
    /// In the order Topo made them.
    runs: Vec<Run>,
}

#[derive(Serialize, Deserialize)]
struct Template {
    name: String,
    /// The defaults a run's overrides are merged on (never answered).
    variables: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Run {
    /// The run as answers show it.
    run: wire::SequenceRun,
    /// When a paused run resumes by itself (unix ms on the sandbox clock);
    /// none when it is not paused, or paused with no end.
    #[serde(default)]
    paused_until_ms: Option<u64>,
    /// Why it was stopped through the API (`WIN`, `LOSE`).
    #[serde(default)]
    stop_reason: Option<String>,
}

impl Run {
    fn terminal(&self) -> bool {
        wire::TERMINAL.contains(&self.run.status.as_str())
    }

    /// Moves the run to `status` at `now_ms`.
    fn transition(&mut self, status: &str, now_ms: u64) {
        self.run.status = status.to_string();
        self.run.updated_at = format_ms(now_ms);
        if status != WAITING_FOR_LEAD {
            self.paused_until_ms = None;
        }
    }
}

/// One seeded run; its id is `seq_run_` and its place in [`SEEDS`], from 1.
struct Seed {
    template: &'static str,
    contact: Option<&'static str>,
    status: &'static str,
    variables: Pairs,
    list: Option<&'static str>,
    created: &'static str,
    updated: &'static str,
    last_step: Option<&'static str>,
    /// For a paused run: the days from seeding until it resumes by itself.
    paused_days: Option<u64>,
}

const ONBOARDING: &str = "tpl_onboarding";
const RENEWAL: &str = "tpl_renewal";
const WEBINAR: &str = "tpl_webinar";
const PIPELINE: Option<&str> = Some("cl_q4_pipeline");
const RENEWALS: Option<&str> = Some("cl_renewals_2027");
const ATTENDEES: Option<&str> = Some("cl_webinar_attendees");

const fn seed(template: &'static str, contact: &'static str, status: &'static str) -> Seed {
    Seed {
        template,
        contact: Some(contact),
        status,
        variables: &[],
        list: None,
        created: "",
        updated: "",
        last_step: None,
        paused_days: None,
    }
}

#[rustfmt::skip]
const SEEDS: &[Seed] = &[
    // 0001
    Seed { variables: &[("first_name", "Anna")], list: PIPELINE, created: "2026-11-02T09:00:00.000Z",
        updated: "2026-11-20T10:15:00.000Z", last_step: Some("2026-11-20T10:15:00.000Z"),
        ..seed(ONBOARDING, "ct_acme_anna", "ACTIVE") },
    // 0002
    Seed { list: PIPELINE, created: "2026-11-02T09:05:00.000Z", updated: "2026-11-18T08:00:00.000Z",
        last_step: Some("2026-11-18T08:00:00.000Z"), ..seed(ONBOARDING, "ct_acme_bob", "ACTIVE") },
    // 0003
    Seed { created: "2026-11-03T14:30:00.000Z", updated: "2026-11-19T14:30:00.000Z",
        last_step: Some("2026-11-19T14:30:00.000Z"), ..seed(ONBOARDING, "ct_globex_eli", "ACTIVE") },
    // 0004
    Seed { variables: &[("company", "Acme Corp")], list: RENEWALS, created: "2026-11-04T11:00:00.000Z",
        updated: "2026-11-21T11:00:00.000Z", last_step: Some("2026-11-21T11:00:00.000Z"),
        ..seed(RENEWAL, "ct_acme_anna", "ACTIVE") },
    // 0005
    Seed { list: RENEWALS, created: "2026-11-05T16:20:00.000Z", updated: "2026-11-22T09:45:00.000Z",
        last_step: Some("2026-11-22T09:45:00.000Z"), ..seed(RENEWAL, "ct_globex_cara", "ACTIVE") },
    // 0006
    Seed { created: "2026-11-01T08:00:00.000Z", updated: "2026-11-15T12:00:00.000Z",
        last_step: Some("2026-11-15T12:00:00.000Z"), ..seed(RENEWAL, "ct_globex_cara", "COMPLETED") },
    // 0007
    Seed { variables: &[("webinar_date", "2026-12-10")], list: ATTENDEES, created: "2026-11-07T13:00:00.000Z",
        updated: "2026-11-23T13:00:00.000Z", last_step: Some("2026-11-23T13:00:00.000Z"),
        ..seed(WEBINAR, "ct_initech_dan", "ACTIVE") },
    // 0008
    Seed { list: ATTENDEES, created: "2026-11-08T13:00:00.000Z", updated: "2026-11-24T15:30:00.000Z",
        last_step: Some("2026-11-24T15:30:00.000Z"), ..seed(WEBINAR, "ct_initech_dan", "WAITING_FOR_USER") },
    // 0009
    Seed { list: PIPELINE, created: "2026-11-09T09:30:00.000Z", updated: "2026-11-25T17:00:00.000Z",
        last_step: Some("2026-11-24T09:30:00.000Z"), paused_days: Some(3),
        ..seed(ONBOARDING, "ct_acme_chen", WAITING_FOR_LEAD) },
    // 0010
    Seed { created: "2026-11-10T10:10:00.000Z", updated: "2026-11-26T10:10:00.000Z",
        last_step: Some("2026-11-26T10:10:00.000Z"), ..seed(ONBOARDING, "ct_acme_dora", "SUCCEEDED") },
    // 0011
    Seed { list: ATTENDEES, created: "2026-11-11T12:00:00.000Z", updated: "2026-11-11T12:00:00.000Z",
        ..seed(WEBINAR, "ct_globex_finn", "FOUND") },
    // 0012
    Seed { list: ATTENDEES, created: "2026-11-12T12:00:00.000Z", updated: "2026-11-12T12:05:00.000Z",
        ..seed(WEBINAR, "ct_initech_gus", "REFUSED") },
    // 0013
    Seed { created: "2026-11-13T08:45:00.000Z", updated: "2026-11-16T08:45:00.000Z",
        last_step: Some("2026-11-16T08:45:00.000Z"), ..seed(ONBOARDING, "ct_initech_hana", "FAILED") },
    // 0014
    Seed { created: "2026-11-14T15:00:00.000Z", updated: "2026-11-17T09:00:00.000Z",
        last_step: Some("2026-11-16T15:00:00.000Z"), ..seed(RENEWAL, "ct_initech_gus", "STOPPED_EARLY") },
    // 0015: its contact has been deleted.
    Seed { contact: None, created: "2026-11-15T10:00:00.000Z", updated: "2026-11-27T10:00:00.000Z",
        last_step: Some("2026-11-27T10:00:00.000Z"), ..seed(WEBINAR, "", "COMPLETED") },
    // 0016
    Seed { variables: &[("discount", "10%"), ("first_name", "Eli")], list: RENEWALS,
        created: "2026-11-16T11:30:00.000Z", updated: "2026-11-28T11:30:00.000Z",
        last_step: Some("2026-11-27T11:30:00.000Z"), paused_days: Some(14),
        ..seed(RENEWAL, "ct_globex_eli", WAITING_FOR_LEAD) },
    // 0017
    Seed { created: "2026-11-17T09:15:00.000Z", updated: "2026-11-29T09:15:00.000Z",
        last_step: Some("2026-11-29T09:15:00.000Z"), ..seed(ONBOARDING, "ct_initech_dan", "ACTIVE") },
    // 0018
    Seed { variables: &[("webinar_date", "2026-12-10")], list: ATTENDEES, created: "2026-11-18T13:00:00.000Z",
        updated: "2026-11-30T13:00:00.000Z", last_step: Some("2026-11-30T13:00:00.000Z"),
        ..seed(WEBINAR, "ct_acme_bob", "ACTIVE") },
    // 0019
    Seed { list: RENEWALS, created: "2026-11-19T10:00:00.000Z", updated: "2026-11-30T16:00:00.000Z",
        last_step: Some("2026-11-30T16:00:00.000Z"), ..seed(RENEWAL, "ct_acme_chen", "WAITING_FOR_USER") },
    // 0020
    Seed { variables: &[("company", "Globex"), ("first_name", "Cara")], created: "2026-11-20T09:00:00.000Z",
        updated: "2026-12-01T09:00:00.000Z", last_step: Some("2026-12-01T09:00:00.000Z"),
        ..seed(ONBOARDING, "ct_globex_cara", "ACTIVE") },
];

/// Companies (id, name) and the contacts at each.
const COMPANIES: &[(&str, &str, &[&str])] = &[
    ("acme", "Acme Corp", &["ct_acme_anna", "ct_acme_bob", "ct_acme_chen", "ct_acme_dora"]),
    ("globex", "Globex", &["ct_globex_cara", "ct_globex_eli", "ct_globex_finn"]),
    ("initech", "Initech", &["ct_initech_dan", "ct_initech_gus", "ct_initech_hana"]),
];

/// Name/value pairs, as the seed writes variables.
type Pairs = &'static [(&'static str, &'static str)];

/// Templates (id, name) and their default variables.
const TEMPLATES: &[(&str, &str, Pairs)] = &[
    (ONBOARDING, "Onboarding", &[("company", "your team"), ("first_name", "there")]),
    (RENEWAL, "Renewal", &[("company", "your company"), ("discount", "0%"), ("first_name", "there")]),
    (WEBINAR, "Webinar follow-up", &[("first_name", "there"), ("webinar_date", "soon")]),
];

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Workspace {
    /// Every workspace starts with the same templates, companies, contacts
    /// and runs; its paused runs resume some days after `now_ms`.
    fn seeded(id: String, now_ms: u64) -> Self {
        let templates = TEMPLATES
            .iter()
            .map(|(tid, name, defaults)| {
                (tid.to_string(), Template { name: name.to_string(), variables: strings(defaults) })
            })
            .collect();
        let companies = COMPANIES.iter().map(|(cid, name, _)| (cid.to_string(), name.to_string())).collect();
        let contacts = COMPANIES
            .iter()
            .flat_map(|(cid, _, contacts)| contacts.iter().map(move |c| (c.to_string(), cid.to_string())))
            .collect();
        let runs = SEEDS
            .iter()
            .enumerate()
            .map(|(n, seed)| Run {
                run: wire::SequenceRun {
                    id: format!("seq_run_{:04}", n + 1),
                    workspace_id: id.clone(),
                    contact_id: seed.contact.map(str::to_string),
                    sequence_template_id: seed.template.to_string(),
                    status: seed.status.to_string(),
                    variables: strings(seed.variables),
                    contact_list_id: seed.list.map(str::to_string),
                    last_step_at: seed.last_step.map(str::to_string),
                    created_at: seed.created.to_string(),
                    updated_at: seed.updated.to_string(),
                },
                paused_until_ms: seed.paused_days.map(|days| now_ms.saturating_add(days.saturating_mul(DAY_MS))),
                stop_reason: None,
            })
            .collect();
        Workspace { id, templates, companies, contacts, runs }
    }

    /// Paused runs whose time has come are running again (as of that time).
    fn advance(&mut self, now_ms: u64) {
        for run in &mut self.runs {
            if run.run.status != WAITING_FOR_LEAD {
                continue;
            }
            if let Some(until) = run.paused_until_ms.filter(|until| *until <= now_ms) {
                run.transition("ACTIVE", until);
            }
        }
    }

    fn run_mut(&mut self, id: &str) -> Result<&mut Run, ApiError> {
        self.runs.iter_mut().find(|r| r.run.id == id).ok_or_else(|| run_not_found(id))
    }

    /// The company of a run's contact, if it has one the workspace knows.
    fn company_of(&self, run: &Run) -> Option<&str> {
        run.run.contact_id.as_ref().and_then(|c| self.contacts.get(c)).map(String::as_str)
    }
}

/// A time as the emulator writes it: `2026-11-02T09:00:00.000Z`.
fn format_ms(ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_default()
}

/// An RFC 3339 time, in unix nanoseconds.
fn parse_ns(value: &str) -> Option<i128> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|at| at.unix_timestamp_nanos())
}

/// The workspace a request acts for: a digest of its key.
#[derive(Clone)]
struct WorkspaceKey(String);

fn workspace_key(token: &str) -> WorkspaceKey {
    WorkspaceKey(crate::sandbox::digest(token)[..24].to_string())
}

/// A fresh request id: `req_` and 16 hex digits.
fn request_id() -> String {
    format!("req_{:016x}", rand::random::<u64>())
}

/// An error answer: `{status_code, type, message, data, request_id}`.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    data: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id();
        let header = HeaderValue::from_str(&request_id).ok();
        let body = wire::ErrorBody {
            status_code: self.status.as_u16(),
            kind: self.kind.into(),
            message: self.message,
            data: self.data,
            request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(header) = header {
            response.headers_mut().insert("x-request-id", header);
        }
        response
    }
}

type Answer = Result<Response, ApiError>;

fn error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { status, kind, message: message.into(), data: json!({}) }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError { data: json!({ "field": field }), ..error(StatusCode::BAD_REQUEST, "ValidationIssue", message) }
}

fn conflict(run: &Run, message: impl Into<String>) -> ApiError {
    ApiError {
        data: json!({ "id": run.run.id, "status": run.run.status }),
        ..error(StatusCode::CONFLICT, "CommitIssue", message)
    }
}

fn run_not_found(id: &str) -> ApiError {
    ApiError {
        data: json!({ "id": id }),
        ..error(StatusCode::NOT_FOUND, "NotFoundIssue", format!("sequence {id} not found"))
    }
}

impl TopoEmulator {
    /// An emulator whose sandbox clock is the wall clock.
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        Self::with_clock_scale(config, 1.0)
    }

    /// An emulator whose sandbox clock runs `scale` times faster than the
    /// wall clock from the moment it is made (3600.0: a vendor hour per real
    /// second), so tests can watch a pause end. A scale that is not a
    /// positive number means 1.0.
    pub fn with_clock_scale(config: EmulatorConfig, scale: f64) -> Arc<Self> {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        let started_ms = crate::clock::now_ms();
        Arc::new(Self { config, data: Mutex::new(Data::default()), started_ms, scale })
    }

    /// The sandbox clock, in unix ms: the process's time since the
    /// emulator started, `scale` times faster, plus what the sandbox's
    /// test clock was moved forward by.
    fn now_ms(&self) -> u64 {
        let elapsed = crate::clock::now_ms().saturating_sub(self.started_ms);
        let scaled = self.started_ms.saturating_add((elapsed as f64 * self.scale) as u64);
        scaled.saturating_add(self.config.clock.ahead().as_millis() as u64)
    }

    /// Runs `f` on a workspace (seeded on first use), after its paused runs
    /// caught up with the sandbox clock, with the sandbox clock's time.
    fn with_workspace<T>(&self, key: &WorkspaceKey, f: impl FnOnce(&mut Workspace, u64) -> T) -> T {
        let now = self.now_ms();
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let workspace = data
            .workspaces
            .entry(key.0.clone())
            .or_insert_with(|| Workspace::seeded(format!("ws_{}", &key.0[..12]), now));
        workspace.advance(now);
        f(workspace, now)
    }

    /// Test hook: every run of the workspace of `token` (a raw bearer key),
    /// as answers would show them now.
    pub fn runs(&self, token: &str) -> Vec<wire::SequenceRun> {
        self.with_workspace(&workspace_key(token), |workspace, _| {
            workspace.runs.iter().map(|r| r.run.clone()).collect()
        })
    }

    /// Test hook: moves a run of the workspace of `token` (a raw bearer key)
    /// to `status`, as Topo itself would (a step failing, the last step
    /// done). A run moved to `WAITING_FOR_LEAD` this way stays paused until
    /// resumed. False when there is no such run or the status is not one of
    /// Topo's.
    pub fn set_status(&self, token: &str, id: &str, status: &str) -> bool {
        if !wire::STATUSES.contains(&status) {
            return false;
        }
        self.with_workspace(&workspace_key(token), |workspace, now| match workspace.run_mut(id) {
            Ok(run) => {
                run.transition(status, now);
                run.paused_until_ms = None;
                true
            }
            Err(_) => false,
        })
    }

    /// Authenticates and checks the scope, then adds the configured latency
    /// after the work is done (so a client killed meanwhile has made a
    /// change it never heard about); every answer gets an `x-request-id`.
    async fn gate(State(emulator): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let mut response = match authorize(request.headers(), request.method()) {
            Ok(key) => {
                request.extensions_mut().insert(key);
                next.run(request).await
            }
            Err(error) => error.into_response(),
        };
        if !response.headers().contains_key("x-request-id") {
            if let Ok(value) = HeaderValue::from_str(&request_id()) {
                response.headers_mut().insert("x-request-id", value);
            }
        }
        if !emulator.config.latency.is_zero() {
            tokio::time::sleep(emulator.config.latency).await;
        }
        response
    }
}

/// The workspace of a `topo_…` key that holds the scope the method needs;
/// the 401s and 403s.
fn authorize(headers: &HeaderMap, method: &Method) -> Result<WorkspaceKey, ApiError> {
    let unauthorized = |message: &str| error(StatusCode::UNAUTHORIZED, "UnauthorizedIssue", message);
    if headers.get("authorization").is_none() {
        return Err(unauthorized("missing Authorization: Bearer <api key> header"));
    }
    let token = crate::sandbox::bearer_token(headers).unwrap_or_default();
    if token.strip_prefix("topo_").is_none_or(str::is_empty) {
        return Err(unauthorized("the API key is not valid"));
    }
    let scopes: &[&str] = if token.starts_with("topo_read_") { &[READ_SCOPE] } else { &[READ_SCOPE, WRITE_SCOPE] };
    let needed = if method == Method::GET || method == Method::HEAD { READ_SCOPE } else { WRITE_SCOPE };
    if !scopes.contains(&needed) {
        return Err(ApiError {
            data: json!({ "missing_scope": needed }),
            ..error(StatusCode::FORBIDDEN, "UnauthorizedIssue", format!("missing scope: {needed}"))
        });
    }
    Ok(workspace_key(token))
}

/// How a list is sorted.
#[derive(Clone, Copy)]
enum SortBy {
    Created,
    Updated,
    Status,
}

/// A list's query: which runs, in what order, which page of them.
struct ListQuery {
    status: Option<String>,
    template: Option<String>,
    created_after: Option<i128>,
    created_before: Option<i128>,
    sort_by: SortBy,
    descending: bool,
    page: u64,
    size: u64,
}

impl ListQuery {
    fn matches(&self, run: &wire::SequenceRun) -> bool {
        let created = parse_ns(&run.created_at);
        self.status.as_ref().is_none_or(|s| &run.status == s)
            && self.template.as_ref().is_none_or(|t| &run.sequence_template_id == t)
            && self.created_after.is_none_or(|after| created.is_some_and(|c| c > after))
            && self.created_before.is_none_or(|before| created.is_some_and(|c| c < before))
    }

    /// The order of the list; ties go by id, in the same direction.
    fn compare(&self, a: &wire::SequenceRun, b: &wire::SequenceRun) -> Ordering {
        let by = match self.sort_by {
            SortBy::Created => parse_ns(&a.created_at).cmp(&parse_ns(&b.created_at)),
            SortBy::Updated => parse_ns(&a.updated_at).cmp(&parse_ns(&b.updated_at)),
            SortBy::Status => a.status.cmp(&b.status),
        };
        let ordering = by.then_with(|| a.id.cmp(&b.id));
        if self.descending {
            ordering.reverse()
        } else {
            ordering
        }
    }
}

/// A parameter that must be one of `allowed`.
fn one_of(query: &BTreeMap<String, String>, field: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match query.get(field) {
        None => Ok(None),
        Some(value) if allowed.contains(&value.as_str()) => Ok(Some(value.clone())),
        Some(_) => Err(invalid(field, format!("{field} must be one of {}", allowed.join(", ")))),
    }
}

/// A whole-number parameter within `range`.
fn number(
    query: &BTreeMap<String, String>,
    field: &str,
    range: RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ApiError> {
    match query.get(field) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(field, format!("{field} must be an integer from {} to {}", range.start(), range.end()))),
        },
    }
}

/// An RFC 3339 time parameter.
fn instant(query: &BTreeMap<String, String>, field: &str) -> Result<Option<i128>, ApiError> {
    match query.get(field) {
        None => Ok(None),
        Some(raw) => parse_ns(raw).map(Some).ok_or_else(|| {
            invalid(field, format!("{field} must be an RFC 3339 timestamp, such as 2026-11-02T09:00:00Z"))
        }),
    }
}

fn list_query(query: Result<Query<BTreeMap<String, String>>, QueryRejection>) -> Result<ListQuery, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", format!("invalid query string: {e}")))?;
    let template = match query.get("sequence_template_id") {
        Some(id) if id.is_empty() => return Err(invalid("sequence_template_id", "sequence_template_id is empty")),
        other => other.cloned(),
    };
    let sort_by = match one_of(&query, "sort_by", SORT_FIELDS)?.as_deref() {
        Some("updated_at") => SortBy::Updated,
        Some("status") => SortBy::Status,
        _ => SortBy::Created,
    };
    Ok(ListQuery {
        status: one_of(&query, "status", wire::STATUSES)?,
        template,
        created_after: instant(&query, "created_after")?,
        created_before: instant(&query, "created_before")?,
        sort_by,
        descending: one_of(&query, "sort_order", SORT_ORDERS)?.as_deref() == Some("desc"),
        page: number(&query, "page", 1..=u64::MAX, 1)?,
        size: number(&query, "size", SIZES, DEFAULT_SIZE)?,
    })
}

/// A request body that must be a JSON object.
fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(invalid("body", "the request body must be a JSON object")),
        Err(e) => Err(invalid("body", format!("the request body is not valid JSON: {e}"))),
    }
}

/// A string field of a body that must be one of `allowed`.
fn body_one_of(body: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => Ok(value.clone()),
        None | Some(Value::Null) => Err(invalid(field, format!("{field} is required"))),
        Some(_) => Err(invalid(field, format!("{field} must be one of {}", allowed.join(", ")))),
    }
}

fn update_request(body: &[u8]) -> Result<wire::UpdateRequest, ApiError> {
    let body = object(body)?;
    let Some(Value::Object(variables)) = body.get("variables") else {
        return Err(invalid("variables", "variables must be an object of string values (or null to remove one)"));
    };
    let mut changes = BTreeMap::new();
    for (name, value) in variables {
        if name.is_empty() {
            return Err(invalid("variables", "a variable's name must not be empty"));
        }
        let value = match value {
            Value::String(value) => Some(value.clone()),
            Value::Null => None,
            _ => {
                return Err(invalid(
                    &format!("variables.{name}"),
                    format!("variable {name} must be a string, or null to remove its override"),
                ))
            }
        };
        changes.insert(name.clone(), value);
    }
    Ok(wire::UpdateRequest { variables: changes })
}

/// When a pause ends (unix ms), if it is in the future of `now_ms`.
fn pause_end(body: &[u8], now_ms: u64) -> Result<u64, ApiError> {
    let body = object(body)?;
    let field = "paused_until";
    let raw = match body.get(field) {
        Some(Value::String(raw)) => raw,
        None | Some(Value::Null) => return Err(invalid(field, "paused_until is required")),
        Some(_) => return Err(invalid(field, "paused_until must be an RFC 3339 timestamp")),
    };
    let at = parse_ns(raw).ok_or_else(|| invalid(field, "paused_until must be an RFC 3339 timestamp"))?;
    if at <= i128::from(now_ms) * 1_000_000 {
        return Err(invalid(field, format!("paused_until must be in the future (it is now {})", format_ms(now_ms))));
    }
    u64::try_from(at / 1_000_000).map_err(|_| invalid(field, "paused_until is out of range"))
}

async fn list_runs(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Answer {
    let query = list_query(query)?;
    let page = emulator.with_workspace(&key, |workspace, _| {
        let mut rows: Vec<&wire::SequenceRun> =
            workspace.runs.iter().map(|r| &r.run).filter(|r| query.matches(r)).collect();
        rows.sort_by(|a, b| query.compare(a, b));
        let total_count = rows.len() as u64;
        let total_pages = total_count.div_ceil(query.size);
        let skip = usize::try_from((query.page - 1).saturating_mul(query.size)).unwrap_or(usize::MAX);
        let take = usize::try_from(query.size).unwrap_or(usize::MAX);
        let items = rows.into_iter().skip(skip).take(take).cloned().collect();
        wire::RunPage { items, total_count, total_pages, has_more: query.page < total_pages }
    });
    Ok(Json(page).into_response())
}

async fn get_run(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    Path(id): Path<String>,
) -> Answer {
    emulator.with_workspace(&key, |workspace, _| Ok(Json(workspace.run_mut(&id)?.run.clone()).into_response()))
}

/// Merges overrides into a run's; a null removes one. The run's
/// `updated_at` moves only when its overrides change.
async fn update_run(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let request = update_request(&body)?;
    emulator.with_workspace(&key, |workspace, now| {
        let run = workspace.run_mut(&id)?;
        if run.terminal() {
            return Err(ApiError {
                data: json!({ "id": id, "status": run.run.status }),
                ..error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "BusinessIssue",
                    format!("the sequence has ended ({}); its variables cannot change", run.run.status),
                )
            });
        }
        let before = run.run.variables.clone();
        for (name, value) in request.variables {
            match value {
                Some(value) => run.run.variables.insert(name, value),
                None => run.run.variables.remove(&name),
            };
        }
        if run.run.variables != before {
            run.run.updated_at = format_ms(now);
        }
        Ok(Json(run.run.clone()).into_response())
    })
}

/// Pauses a run that has not ended until a time in the future (a paused
/// run's pause is moved).
async fn pause_run(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    emulator.with_workspace(&key, |workspace, now| {
        let until = pause_end(&body, now)?;
        let run = workspace.run_mut(&id)?;
        if run.terminal() {
            let message = format!("sequence {id} has ended ({}); it cannot be paused", run.run.status);
            return Err(conflict(run, message));
        }
        run.transition(WAITING_FOR_LEAD, now);
        run.paused_until_ms = Some(until);
        Ok(Json(run.run.clone()).into_response())
    })
}

async fn resume_run(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    Path(id): Path<String>,
) -> Answer {
    emulator.with_workspace(&key, |workspace, now| {
        let run = workspace.run_mut(&id)?;
        if run.run.status != WAITING_FOR_LEAD {
            let message =
                format!("sequence {id} is not paused (it is {}); only WAITING_FOR_LEAD resumes", run.run.status);
            return Err(conflict(run, message));
        }
        run.transition("ACTIVE", now);
        Ok(Json(run.run.clone()).into_response())
    })
}

/// Stops a run that has not ended; with the `COMPANY` scope also every
/// other run of its template, not ended, whose contact is at the same
/// company.
async fn stop_run(
    State(emulator): State<Arc<TopoEmulator>>,
    Extension(key): Extension<WorkspaceKey>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let reason = body_one_of(&body, "reason", REASONS)?;
    let scope = body_one_of(&body, "scope", SCOPES)?;
    emulator.with_workspace(&key, |workspace, now| {
        let index = workspace.runs.iter().position(|r| r.run.id == id).ok_or_else(|| run_not_found(&id))?;
        let run = &workspace.runs[index];
        if run.terminal() {
            let message = format!("sequence {id} has ended ({}); it cannot be stopped", run.run.status);
            return Err(conflict(run, message));
        }
        let company = workspace.company_of(run).filter(|_| scope == "COMPANY");
        let targets: Vec<usize> = workspace
            .runs
            .iter()
            .enumerate()
            .filter(|(n, other)| {
                *n == index
                    || company.is_some()
                        && !other.terminal()
                        && other.run.sequence_template_id == run.run.sequence_template_id
                        && workspace.company_of(other) == company
            })
            .map(|(n, _)| n)
            .collect();
        for n in targets {
            let target = &mut workspace.runs[n];
            target.transition("STOPPED_EARLY", now);
            target.stop_reason = Some(reason.clone());
        }
        Ok(Json(workspace.runs[index].run.clone()).into_response())
    })
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    error(StatusCode::NOT_FOUND, "NotFoundIssue", format!("no endpoint {method} {}", uri.path()))
}

impl Emulator for TopoEmulator {
    fn id(&self) -> &'static str {
        "topo"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/sequences", get(list_runs))
            .route("/v1/sequences/{id}", get(get_run).patch(update_run))
            .route("/v1/sequences/{id}/pause", post(pause_run))
            .route("/v1/sequences/{id}/resume", post(resume_run))
            .route("/v1/sequences/{id}/stop", post(stop_run))
            .fallback(no_route)
            .method_not_allowed_fallback(no_route)
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
