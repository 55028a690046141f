//! The Topo emulator behaves as the vendor documents it (shared/apis/topo.md),
//! driven over loopback as a client would.

use std::sync::Arc;
use std::time::Duration;

use seqops::providers::topo::emulator::{TopoEmulator, BASE_PATH};
use seqops::providers::topo::wire;
use seqops::sandbox::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

const KEY: &str = "topo_sandbox_0123456789";
const READ_KEY: &str = "topo_read_sandbox_0123456789";
const OTHER_KEY: &str = "topo_other_workspace";

struct Topo {
    emulator: Arc<TopoEmulator>,
    base: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An answer: status, `x-request-id`, and the JSON body.
struct Answer {
    status: u16,
    request_id: Option<String>,
    body: Value,
}

impl Answer {
    fn run(&self) -> wire::SequenceRun {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_value(self.body.clone()).expect("a sequence run")
    }

    fn page(&self) -> wire::RunPage {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_value(self.body.clone()).expect("a page of runs")
    }

    /// The status and type of an error answer, after checking its body.
    fn error(&self) -> (u16, String) {
        let body: wire::ErrorBody = serde_json::from_value(self.body.clone()).expect("an error body");
        assert!(!body.message.is_empty(), "{}", self.body);
        assert_eq!(body.status_code, self.status, "{}", self.body);
        assert!(body.request_id.starts_with("req_") && body.request_id.len() > 4, "{}", self.body);
        assert_eq!(self.request_id.as_deref(), Some(body.request_id.as_str()), "the header names the same request");
        (self.status, body.kind)
    }
}

fn unlimited() -> EmulatorConfig {
    EmulatorConfig { requests_per_hour: 0, ..EmulatorConfig::default() }
}

impl Topo {
    async fn start() -> Self {
        Self::serve(TopoEmulator::new(unlimited())).await
    }

    async fn serve(emulator: Arc<TopoEmulator>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let router = axum::Router::new().nest(BASE_PATH, emulator.clone().router());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Topo { emulator, base: format!("http://{addr}{BASE_PATH}"), client: reqwest::Client::new(), server }
    }

    async fn send(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, request_id, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, Some(KEY), None).await
    }

    async fn list(&self, query: &str) -> wire::RunPage {
        self.get(&format!("/v1/sequences{query}")).await.page()
    }

    /// The ids of every matching run, in the list's order, on one page.
    async fn ids(&self, query: &str) -> Vec<String> {
        let sep = if query.is_empty() { "?" } else { "&" };
        let page = self.list(&format!("{query}{sep}size=100")).await;
        assert_eq!(page.items.len() as u64, page.total_count);
        page.items.into_iter().map(|r| r.id).collect()
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(KEY), Some(body)).await
    }

    /// The status of every run of the workspace of `KEY`, by id.
    fn statuses(&self) -> std::collections::BTreeMap<String, String> {
        self.emulator.runs(KEY).into_iter().map(|r| (r.id, r.status)).collect()
    }
}

fn ids(numbers: &[u32]) -> Vec<String> {
    numbers.iter().map(|n| format!("seq_run_{n:04}")).collect()
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).expect("a formatted time")
}

fn parse(at: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).expect("an RFC 3339 time")
}

#[tokio::test]
async fn listing_pages_through_the_seeded_runs_with_counts() {
    let topo = Topo::start().await;
    let first = topo.list("").await;
    assert_eq!((first.items.len(), first.total_count, first.total_pages, first.has_more), (10, 20, 2, true));
    let second = topo.list("?page=2").await;
    assert_eq!((second.items.len(), second.total_count, second.total_pages, second.has_more), (10, 20, 2, false));
    let beyond = topo.list("?page=3").await;
    assert_eq!((beyond.items.len(), beyond.total_count, beyond.has_more), (0, 20, false));
    let sevens = topo.list("?size=7&page=3").await;
    assert_eq!((sevens.items.len(), sevens.total_pages, sevens.has_more), (6, 3, false));
    // The default order is created_at ascending; the pages do not overlap.
    let mut all: Vec<String> = first.items.iter().chain(&second.items).map(|r| r.id.clone()).collect();
    assert_eq!(all[..3], ids(&[6, 1, 2])[..]);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
    // Every answer is the documented object: overrides only, and no
    // paused_until or company.
    let answer = topo.get("/v1/sequences?size=1").await;
    let row = &answer.body["items"][0];
    let mut fields: Vec<&str> = row.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec![
            "contact_id",
            "contact_list_id",
            "created_at",
            "id",
            "last_step_at",
            "sequence_template_id",
            "status",
            "updated_at",
            "variables",
            "workspace_id"
        ]
    );
    assert!(answer.request_id.as_deref().is_some_and(|id| id.starts_with("req_")));
}

#[tokio::test]
async fn each_filter_narrows_the_list() {
    let topo = Topo::start().await;
    assert_eq!(topo.ids("?status=ACTIVE").await, ids(&[1, 2, 3, 4, 5, 7, 17, 18, 20]));
    assert_eq!(topo.ids("?status=WAITING_FOR_LEAD").await, ids(&[9, 16]));
    assert_eq!(topo.ids("?status=COMPLETED").await, ids(&[6, 15]));
    for status in wire::STATUSES {
        assert!(!topo.ids(&format!("?status={status}")).await.is_empty(), "a seeded {status} run");
    }
    assert_eq!(topo.ids("?sequence_template_id=tpl_webinar").await, ids(&[7, 8, 11, 12, 15, 18]));
    assert_eq!(topo.ids("?sequence_template_id=tpl_nope").await, Vec::<String>::new());
    // Strictly after and strictly before: the run created at the bound is out.
    assert_eq!(topo.ids("?created_after=2026-11-10T10:10:00Z").await, ids(&[11, 12, 13, 14, 15, 16, 17, 18, 19, 20]));
    assert_eq!(topo.ids("?created_before=2026-11-05T16:20:00.000Z").await, ids(&[6, 1, 2, 3, 4]));
    assert_eq!(
        topo.ids("?created_after=2026-11-02T09:00:00%2B00:00&created_before=2026-11-05T16:20:00Z").await,
        ids(&[2, 3, 4])
    );
    assert_eq!(
        topo.ids("?status=ACTIVE&sequence_template_id=tpl_onboarding&created_after=2026-11-03T00:00:00Z").await,
        ids(&[3, 17, 20])
    );
}

#[tokio::test]
async fn each_sort_orders_the_list() {
    let topo = Topo::start().await;
    let created = topo.ids("").await;
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(topo.ids("?sort_order=desc").await, reversed);
    assert_eq!(topo.ids("?sort_by=created_at&sort_order=asc").await, created);
    let updated = topo.list("?sort_by=updated_at&size=100").await.items;
    assert!(updated.windows(2).all(|w| parse(&w[0].updated_at) <= parse(&w[1].updated_at)));
    assert_eq!(updated[0].id, "seq_run_0011");
    let by_status = topo.list("?sort_by=status&sort_order=desc&size=100").await.items;
    let statuses: Vec<&str> = by_status.iter().map(|r| r.status.as_str()).collect();
    let mut expected = statuses.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(statuses, expected);
    assert_eq!((statuses[0], statuses[19]), ("WAITING_FOR_USER", "ACTIVE"));
    // Ties go by id, in the same direction.
    assert_eq!(by_status[..2].iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids(&[19, 8]));
    let page = topo.list("?sort_by=status&size=3&page=2").await;
    assert_eq!(page.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids(&[4, 5, 7]));
}

#[tokio::test]
async fn bad_query_values_are_validation_issues() {
    let topo = Topo::start().await;
    for query in [
        "size=0",
        "size=101",
        "size=ten",
        "page=0",
        "page=-1",
        "status=active",
        "status=PAUSED",
        "sort_by=id",
        "sort_order=DESC",
        "created_after=yesterday",
        "created_before=2026-11-02",
        "created_after=2026-11-02T09:00:00",
        "sequence_template_id=",
    ] {
        let answer = topo.get(&format!("/v1/sequences?{query}")).await;
        assert_eq!(answer.error(), (400, "ValidationIssue".to_string()), "{query}: {}", answer.body);
        let field = query.split('=').next().unwrap_or_default();
        assert_eq!(answer.body["data"]["field"], json!(field), "{query}");
    }
    assert_eq!(topo.list("?size=100").await.items.len(), 20);
    assert_eq!(topo.list("?size=1").await.total_pages, 20);
}

#[tokio::test]
async fn a_run_is_got_by_id_and_an_unknown_id_is_not_found() {
    let topo = Topo::start().await;
    let answer = topo.get("/v1/sequences/seq_run_0001").await;
    let workspace = answer.run().workspace_id;
    assert!(workspace.starts_with("ws_"), "{workspace}");
    assert_eq!(
        answer.body,
        json!({
            "id": "seq_run_0001",
            "workspace_id": workspace,
            "contact_id": "ct_acme_anna",
            "sequence_template_id": "tpl_onboarding",
            "status": "ACTIVE",
            "variables": {"first_name": "Anna"},
            "contact_list_id": "cl_q4_pipeline",
            "last_step_at": "2026-11-20T10:15:00.000Z",
            "created_at": "2026-11-02T09:00:00.000Z",
            "updated_at": "2026-11-20T10:15:00.000Z"
        })
    );
    let deleted = topo.get("/v1/sequences/seq_run_0015").await.run();
    assert_eq!((deleted.contact_id, deleted.status.as_str()), (None, "COMPLETED"));
    let missing = topo.get("/v1/sequences/seq_run_9999").await;
    assert_eq!(missing.error(), (404, "NotFoundIssue".to_string()));
    for (method, path) in [("GET", "/v1/nothing"), ("DELETE", "/v1/sequences/seq_run_0001")] {
        assert_eq!(topo.send(method, path, Some(KEY), None).await.error(), (404, "NotFoundIssue".to_string()));
    }
}

#[tokio::test]
async fn variables_merge_and_null_removes_an_override() {
    let topo = Topo::start().await;
    let path = "/v1/sequences/seq_run_0020";
    let before = topo.get(path).await.run();
    let body = json!({"variables": {"first_name": null, "company": "Globex Corp", "plan": "gold"}});
    let after = topo.send("PATCH", path, Some(KEY), Some(body)).await.run();
    let expected: std::collections::BTreeMap<String, String> =
        [("company", "Globex Corp"), ("plan", "gold")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(after.variables, expected);
    assert!(parse(&after.updated_at) > parse(&before.updated_at), "the change moves updated_at");
    assert_eq!((&after.created_at, &after.status), (&before.created_at, &before.status));
    assert_eq!(topo.get(path).await.run(), after);
    // Removing what is not there, or setting what is, changes nothing.
    let same = topo.send("PATCH", path, Some(KEY), Some(json!({"variables": {"first_name": null}}))).await.run();
    assert_eq!(same, after);
    // The template's defaults never show.
    let plain = topo.get("/v1/sequences/seq_run_0002").await.run();
    assert!(plain.variables.is_empty());
    for body in [
        json!({"variables": {"plan": 3}}),
        json!({"variables": {"plan": ["gold"]}}),
        json!({"variables": ["plan"]}),
        json!({"vars": {"plan": "gold"}}),
        json!("plan"),
    ] {
        let answer = topo.send("PATCH", path, Some(KEY), Some(body.clone())).await;
        assert_eq!(answer.error(), (400, "ValidationIssue".to_string()), "{body}");
    }
    assert_eq!(topo.get(path).await.run(), after, "a refused change changes nothing");
    let ended =
        topo.send("PATCH", "/v1/sequences/seq_run_0010", Some(KEY), Some(json!({"variables": {"a": "b"}}))).await;
    assert_eq!(ended.error(), (422, "BusinessIssue".to_string()));
    let missing = topo.send("PATCH", "/v1/sequences/seq_run_0999", Some(KEY), Some(json!({"variables": {}}))).await;
    assert_eq!(missing.error(), (404, "NotFoundIssue".to_string()));
}

#[tokio::test]
async fn a_pause_must_end_in_the_future_and_a_paused_run_resumes() {
    let topo = Topo::start().await;
    let path = "/v1/sequences/seq_run_0003";
    let past = rfc3339(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    for body in [json!({"paused_until": past}), json!({"paused_until": "next monday"}), json!({})] {
        let answer = topo.post(&format!("{path}/pause"), body.clone()).await;
        assert_eq!(answer.error(), (400, "ValidationIssue".to_string()), "{body}");
        assert_eq!(answer.body["data"]["field"], json!("paused_until"));
    }
    assert_eq!(topo.get(path).await.run().status, "ACTIVE");
    let until = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(2));
    let paused = topo.post(&format!("{path}/pause"), json!({"paused_until": until})).await;
    assert_eq!(paused.run().status, "WAITING_FOR_LEAD");
    assert!(paused.body.get("paused_until").is_none(), "{}", paused.body);
    // A paused run may be paused again, to another time.
    let later = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(5));
    assert_eq!(
        topo.post(&format!("{path}/pause"), json!({"paused_until": later})).await.run().status,
        "WAITING_FOR_LEAD"
    );
    let resumed = topo.post(&format!("{path}/resume"), json!({})).await.run();
    assert_eq!(resumed.status, "ACTIVE");
    assert!(parse(&resumed.updated_at) >= parse(&paused.run().updated_at));
    let again = topo.post(&format!("{path}/resume"), json!({})).await;
    assert_eq!(again.error(), (409, "CommitIssue".to_string()));
    // A manual step pending, or a lead being found, may be paused too; an
    // ended run may not.
    for (id, status) in [("seq_run_0008", 200), ("seq_run_0011", 200), ("seq_run_0010", 409), ("seq_run_0012", 409)] {
        let answer = topo.post(&format!("/v1/sequences/{id}/pause"), json!({"paused_until": until})).await;
        assert_eq!(answer.status, status, "{id}: {}", answer.body);
    }
    let ended = topo.post("/v1/sequences/seq_run_0013/pause", json!({"paused_until": until})).await;
    assert_eq!(ended.error(), (409, "CommitIssue".to_string()));
    assert_eq!(topo.statuses()["seq_run_0013"], "FAILED");
}

#[tokio::test]
async fn a_pause_elapses_by_itself_on_the_sandbox_clock() {
    // 100,000 times the wall clock: a vendor hour in 36 ms.
    let topo = Topo::serve(TopoEmulator::with_clock_scale(unlimited(), 100_000.0)).await;
    let path = "/v1/sequences/seq_run_0017";
    // The answer to a change tells the sandbox clock's time.
    let touched = topo.send("PATCH", path, Some(KEY), Some(json!({"variables": {"k": "v"}}))).await.run();
    let until = parse(&touched.updated_at) + time::Duration::hours(10);
    let paused = topo.post(&format!("{path}/pause"), json!({"paused_until": rfc3339(until)})).await.run();
    assert_eq!(paused.status, "WAITING_FOR_LEAD");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resumed = topo.get(path).await.run();
    assert_eq!(resumed.status, "ACTIVE");
    assert_eq!(parse(&resumed.updated_at), until, "it resumed when its pause ended");
    assert!(!topo.ids("?status=WAITING_FOR_LEAD").await.contains(&resumed.id));
}

#[tokio::test]
async fn stopping_with_the_contact_scope_stops_only_that_run() {
    let topo = Topo::start().await;
    let before = topo.statuses();
    let stopped = topo.post("/v1/sequences/seq_run_0001/stop", json!({"reason": "WIN", "scope": "CONTACT"})).await;
    assert_eq!(stopped.run().status, "STOPPED_EARLY");
    let after = topo.statuses();
    let changed: Vec<&String> = after.iter().filter(|(id, s)| before.get(*id) != Some(s)).map(|(id, _)| id).collect();
    assert_eq!(changed, vec!["seq_run_0001"]);
}

#[tokio::test]
async fn stopping_with_the_company_scope_stops_the_templates_other_runs_at_that_company() {
    let topo = Topo::start().await;
    let before = topo.statuses();
    let stopped = topo.post("/v1/sequences/seq_run_0001/stop", json!({"reason": "LOSE", "scope": "COMPANY"})).await;
    assert_eq!(stopped.run().status, "STOPPED_EARLY");
    let after = topo.statuses();
    let changed: Vec<&str> =
        after.iter().filter(|(id, s)| before.get(*id) != Some(s)).map(|(id, _)| id.as_str()).collect();
    // Anna's, Bob's and Chen's (paused) onboarding at Acme; not Dora's,
    // which had succeeded, nor Acme's renewal and webinar runs, nor
    // onboarding at Globex or Initech.
    assert_eq!(changed, vec!["seq_run_0001", "seq_run_0002", "seq_run_0009"]);
    assert!(changed.iter().all(|id| after[*id] == "STOPPED_EARLY"));
    assert_eq!(
        ["seq_run_0010", "seq_run_0004", "seq_run_0018", "seq_run_0003", "seq_run_0017"].map(|id| after[id].as_str()),
        ["SUCCEEDED", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE"]
    );
}

#[tokio::test]
async fn an_ended_run_cannot_be_stopped_and_a_stop_needs_a_reason_and_scope() {
    let topo = Topo::start().await;
    for id in ["seq_run_0006", "seq_run_0014"] {
        let answer = topo.post(&format!("/v1/sequences/{id}/stop"), json!({"reason": "WIN", "scope": "CONTACT"})).await;
        assert_eq!(answer.error(), (409, "CommitIssue".to_string()), "{id}");
    }
    for body in [
        json!({"reason": "WIN"}),
        json!({"scope": "CONTACT"}),
        json!({"reason": "DRAW", "scope": "CONTACT"}),
        json!({"reason": "WIN", "scope": "contact"}),
    ] {
        let answer = topo.post("/v1/sequences/seq_run_0005/stop", body.clone()).await;
        assert_eq!(answer.error(), (400, "ValidationIssue".to_string()), "{body}");
    }
    let missing = topo.post("/v1/sequences/seq_run_0999/stop", json!({"reason": "WIN", "scope": "CONTACT"})).await;
    assert_eq!(missing.error(), (404, "NotFoundIssue".to_string()));
    assert_eq!(topo.statuses()["seq_run_0005"], "ACTIVE");
    // A stopped run can be stopped no more.
    let stop = json!({"reason": "WIN", "scope": "COMPANY"});
    assert_eq!(topo.post("/v1/sequences/seq_run_0005/stop", stop.clone()).await.status, 200);
    assert_eq!(topo.post("/v1/sequences/seq_run_0005/stop", stop).await.error(), (409, "CommitIssue".to_string()));
}

#[tokio::test]
async fn a_read_only_key_lists_but_may_not_write() {
    let topo = Topo::start().await;
    assert_eq!(topo.send("GET", "/v1/sequences", Some(READ_KEY), None).await.page().total_count, 20);
    assert_eq!(topo.send("GET", "/v1/sequences/seq_run_0001", Some(READ_KEY), None).await.run().status, "ACTIVE");
    let before = topo.emulator.runs(READ_KEY);
    let until = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(2));
    for (method, path, body) in [
        ("PATCH", "/v1/sequences/seq_run_0001", json!({"variables": {"first_name": "Ann"}})),
        ("POST", "/v1/sequences/seq_run_0001/pause", json!({"paused_until": until})),
        ("POST", "/v1/sequences/seq_run_0009/resume", json!({})),
        ("POST", "/v1/sequences/seq_run_0001/stop", json!({"reason": "WIN", "scope": "COMPANY"})),
    ] {
        let answer = topo.send(method, path, Some(READ_KEY), Some(body)).await;
        assert_eq!(answer.error(), (403, "UnauthorizedIssue".to_string()), "{method} {path}");
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("sequences:write"), "{message}");
    }
    assert_eq!(topo.emulator.runs(READ_KEY), before, "nothing changed");
}

#[tokio::test]
async fn a_request_without_a_topo_key_is_unauthorized() {
    let topo = Topo::start().await;
    for key in [None, Some("sk_live_123"), Some("topo_"), Some("")] {
        let answer = topo.send("GET", "/v1/sequences", key, None).await;
        assert_eq!(answer.error(), (401, "UnauthorizedIssue".to_string()), "{key:?}");
    }
    let answer = topo.send("PATCH", "/v1/sequences/seq_run_0001", None, Some(json!({"variables": {}}))).await;
    assert_eq!(answer.error(), (401, "UnauthorizedIssue".to_string()));
}

#[tokio::test]
async fn another_key_is_another_workspace() {
    let topo = Topo::start().await;
    let mine = topo.get("/v1/sequences/seq_run_0001").await.run();
    let theirs = topo.send("GET", "/v1/sequences/seq_run_0001", Some(OTHER_KEY), None).await.run();
    assert_ne!(mine.workspace_id, theirs.workspace_id);
    assert_eq!(wire::SequenceRun { workspace_id: mine.workspace_id.clone(), ..theirs.clone() }, mine, "the same seed");
    let stop = json!({"reason": "WIN", "scope": "COMPANY"});
    assert_eq!(topo.post("/v1/sequences/seq_run_0001/stop", stop).await.run().status, "STOPPED_EARLY");
    let still = topo.send("GET", "/v1/sequences/seq_run_0001", Some(OTHER_KEY), None).await.run();
    assert_eq!(still, theirs, "unchanged for the other key");
    assert_eq!(topo.emulator.runs(OTHER_KEY).iter().filter(|r| r.status == "STOPPED_EARLY").count(), 1);
}

#[tokio::test]
async fn the_status_hook_moves_a_run_as_topo_would() {
    let topo = Topo::start().await;
    assert!(topo.emulator.set_status(KEY, "seq_run_0002", "FAILED"));
    assert!(!topo.emulator.set_status(KEY, "seq_run_0002", "PAUSED"));
    assert!(!topo.emulator.set_status(KEY, "seq_run_0999", "FAILED"));
    assert_eq!(topo.get("/v1/sequences/seq_run_0002").await.run().status, "FAILED");
    assert_eq!(topo.ids("?status=FAILED").await, ids(&[2, 13]));
}

#[tokio::test]
async fn a_snapshot_restores_every_workspace() {
    let topo = Topo::start().await;
    let body = json!({"variables": {"plan": "gold"}});
    let changed = topo.send("PATCH", "/v1/sequences/seq_run_0002", Some(KEY), Some(body)).await.run();
    let restored = TopoEmulator::new(unlimited());
    restored.restore(topo.emulator.snapshot()).expect("a restored emulator");
    let runs = restored.runs(KEY);
    assert_eq!(runs.iter().find(|r| r.id == "seq_run_0002"), Some(&changed));
    assert_eq!(runs, topo.emulator.runs(KEY));
    assert!(restored.restore(json!({"workspaces": 7})).is_err());
    assert_eq!(restored.id(), "topo");
    assert_eq!(restored.base_path(), "/topo");
}

#[tokio::test]
async fn latency_is_added_after_the_work() {
    let config = EmulatorConfig { latency: Duration::from_millis(150), ..unlimited() };
    let topo = Topo::serve(TopoEmulator::new(config)).await;
    let started = std::time::Instant::now();
    assert_eq!(topo.get("/v1/sequences/seq_run_0001").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
