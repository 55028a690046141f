//! The Gary Club emulator behaves as the vendor documents it (shared/apis/gary.md),
//! driven over loopback as a client would.

use std::sync::Arc;
use std::time::Duration;

use seqops::providers::gary::emulator::{GaryEmulator, BASE_PATH};
use seqops::providers::gary::wire;
use seqops::sandbox::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

/// The key of the vendor's curl example.
const KEY: &str = "gc_live_EXAMPLE_AbCdEfGhIj0123456789";
const EXAMPLE: &str = "seq_EXAMPLE_aaaa";

struct Gary {
    emulator: Arc<GaryEmulator>,
    base: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Gary {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An answer: status, `Retry-After` if any, and the JSON body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

fn unlimited() -> EmulatorConfig {
    EmulatorConfig { requests_per_hour: 0, ..EmulatorConfig::default() }
}

impl Gary {
    async fn start(config: EmulatorConfig) -> Self {
        Self::serve(GaryEmulator::new(config)).await
    }

    async fn serve(emulator: Arc<GaryEmulator>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let router = axum::Router::new().nest(BASE_PATH, emulator.clone().router());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Gary { emulator, base: format!("http://{addr}{BASE_PATH}"), client: reqwest::Client::new(), server }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        client_id: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(client_id) = client_id {
            request = request.header("X-Gary-Client-Id", client_id);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, retry_after, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, Some(KEY), None, None).await
    }

    async fn enroll(&self, key: &str, sequence: &str, contact: &str) -> Answer {
        let body = json!({"contact_id": contact});
        self.send("POST", &format!("/sequences/{sequence}/enrollments"), Some(key), None, Some(body)).await
    }

    async fn enrollments(&self, key: &str, client_id: Option<&str>, query: &str) -> wire::Page<wire::Enrollment> {
        let answer =
            self.send("GET", &format!("/sequences/{EXAMPLE}/enrollments{query}"), Some(key), client_id, None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_value(answer.body).expect("a page of enrollments")
    }
}

fn enrolled(answer: &Answer) -> wire::Enrolled {
    serde_json::from_value(answer.body.clone()).expect("an enrollment answer")
}

fn error_of(answer: &Answer) -> (u16, String) {
    let body: wire::ErrorBody = serde_json::from_value(answer.body.clone()).expect("an error body");
    assert!(!body.message.is_empty(), "{}", answer.body);
    (answer.status, body.error)
}

#[tokio::test]
async fn the_vendors_curl_example_runs_as_written_but_for_the_host() {
    let gary = Gary::start(unlimited()).await;
    let body = json!({ "contact_id": "con_EXAMPLE_bbbb", "metadata": { "source": "post_inbound_call" } });
    let answer = gary.send("POST", "/sequences/seq_EXAMPLE_aaaa/enrollments", Some(KEY), None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let row = &answer.body["enrollment"];
    assert_eq!(
        (&row["sequence_id"], &row["contact_id"], &row["current_step"], &row["status"], &answer.body["idempotent"]),
        (&json!("seq_EXAMPLE_aaaa"), &json!("con_EXAMPLE_bbbb"), &json!(0), &json!("active"), &json!(false))
    );
    let id = row["id"].as_str().unwrap_or_default();
    assert!(id.starts_with("enr_") && id.len() > 4, "{id}");
    // The first step runs on the next cron tick: due at enrollment, in the
    // vendor's millisecond format.
    assert_eq!(row["next_run_at"], row["enrolled_at"]);
    let at = row["enrolled_at"].as_str().unwrap_or_default();
    assert!(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    assert_eq!(row.as_object().map(|o| o.len()), Some(7), "the documented fields only: {row}");
    // The metadata is stored as-is on the row.
    let listed = gary.enrollments(KEY, None, "").await;
    assert_eq!(listed.data[0].metadata, json!({ "source": "post_inbound_call" }));
}

#[tokio::test]
async fn sequences_are_seeded_with_the_documented_example_and_read_one_by_one() {
    let gary = Gary::start(unlimited()).await;
    let answer = gary.get("/sequences/seq_EXAMPLE_aaaa").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({
            "id": "seq_EXAMPLE_aaaa",
            "name": "Post-call nurture",
            "description": "Sent to leads after their first inbound call",
            "status": "active",
            "steps": [
                { "kind": "sms", "wait_minutes": 60, "body": "Hey {{first_name}}, …" },
                { "kind": "sms", "wait_minutes": 1440, "body": "Quick follow-up …" }
            ],
            "created_at": "2026-04-12T17:21:01.000Z",
            "updated_at": "2026-04-25T18:02:00.000Z"
        })
    );
    let all: wire::Page<wire::Sequence> = serde_json::from_value(gary.get("/sequences").await.body).expect("a page");
    assert_eq!((all.data.len() as u64, all.next_page_token.as_deref()), (all.total, None));
    for status in ["active", "paused", "archived", "draft"] {
        assert!(all.data.iter().any(|s| s.status == status), "a seeded {status} sequence");
    }
    let archived: wire::Page<wire::Sequence> =
        serde_json::from_value(gary.get("/sequences?status=archived").await.body).expect("a page");
    assert_eq!(archived.data.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["Old promo"]);
    assert_eq!(archived.total, 1);
    let missing = gary.get("/sequences/seq_nope").await;
    assert_eq!(error_of(&missing), (404, "not_found".to_string()));
}

#[tokio::test]
async fn enrolling_an_active_contact_again_returns_the_existing_row() {
    let gary = Gary::start(unlimited()).await;
    let first = enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_cccc").await);
    let body = json!({"contact_id": "con_EXAMPLE_cccc", "metadata": {"source": "second try"}});
    let again = gary.send("POST", &format!("/sequences/{EXAMPLE}/enrollments"), Some(KEY), None, Some(body)).await;
    assert_eq!(again.status, 200);
    let again = enrolled(&again);
    assert_eq!((again.idempotent, &again.enrollment.id), (true, &first.enrollment.id));
    let listed = gary.enrollments(KEY, None, "").await;
    assert_eq!((listed.total, listed.data.len()), (1, 1));
    assert_eq!(listed.data[0].metadata, Value::Null, "the metadata is not changed by the second call");
}

#[tokio::test]
async fn a_completed_enrollment_is_enrolled_anew() {
    let gary = Gary::start(unlimited()).await;
    let first = enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_dddd").await).enrollment;
    assert!(gary.emulator.set_status(KEY, &first.id, "completed", None));
    let answer = gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_dddd").await;
    assert_eq!(answer.status, 201);
    let second = enrolled(&answer);
    assert!(!second.idempotent);
    assert_ne!(second.enrollment.id, first.id);
    let rows = gary.emulator.enrollments_of(KEY, EXAMPLE);
    let statuses: Vec<(&str, &str)> = rows.iter().map(|r| (r.id.as_str(), r.status.as_str())).collect();
    assert_eq!(statuses, vec![(first.id.as_str(), "completed"), (second.enrollment.id.as_str(), "active")]);
}

#[tokio::test]
async fn a_paused_contact_is_enrolled_anew_too() {
    let gary = Gary::start(unlimited()).await;
    let first = enrolled(&gary.enroll(KEY, EXAMPLE, "con_sandbox_0001").await).enrollment;
    assert!(gary.emulator.set_status(KEY, &first.id, "paused", Some("reply_received")));
    let paused = gary.enrollments(KEY, None, "?status=paused").await;
    assert_eq!(paused.data.len(), 1);
    assert_eq!(
        (paused.data[0].paused_reason.as_deref(), paused.data[0].next_run_at.as_deref()),
        (Some("reply_received"), None)
    );
    let second = enrolled(&gary.enroll(KEY, EXAMPLE, "con_sandbox_0001").await);
    assert!(!second.idempotent);
    assert_ne!(second.enrollment.id, first.id);
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_counts_the_total() {
    let gary = Gary::start(unlimited()).await;
    for n in 1..=7 {
        assert_eq!(gary.enroll(KEY, EXAMPLE, &format!("con_sandbox_{n:04}")).await.status, 201);
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "?limit=3".to_string();
    loop {
        let page = gary.enrollments(KEY, None, &query).await;
        assert_eq!(page.total, 7);
        sizes.push(page.data.len());
        seen.extend(page.data.into_iter().map(|r| r.contact_id));
        match page.next_page_token {
            Some(token) => query = format!("?limit=3&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    let expected: Vec<String> = (1..=7).map(|n| format!("con_sandbox_{n:04}")).collect();
    assert_eq!(seen, expected, "every row once, in the order enrolled");
    for bad in ["?limit=0", "?limit=201", "?limit=ten", "?page_token=garbage", "?status=finished"] {
        let answer = gary.get(&format!("/sequences/{EXAMPLE}/enrollments{bad}")).await;
        assert_eq!(error_of(&answer), (400, "invalid_request".to_string()), "{bad}");
    }
    let answer = gary.get("/sequences?limit=201").await;
    assert_eq!(error_of(&answer), (400, "invalid_request".to_string()));
    assert_eq!(answer.body["details"], json!({"field": "limit"}));
}

#[tokio::test]
async fn status_filters_select_rows() {
    let gary = Gary::start(unlimited()).await;
    let mut ids = Vec::new();
    for contact in ["con_sandbox_0001", "con_sandbox_0002", "con_sandbox_0003"] {
        ids.push(enrolled(&gary.enroll(KEY, EXAMPLE, contact).await).enrollment.id);
    }
    assert!(gary.emulator.set_status(KEY, &ids[1], "paused", Some("reply_received")));
    assert!(gary.emulator.set_status(KEY, &ids[2], "cancelled", None));
    let contacts = |page: wire::Page<wire::Enrollment>| -> (u64, Vec<String>) {
        (page.total, page.data.into_iter().map(|r| r.contact_id).collect())
    };
    assert_eq!(contacts(gary.enrollments(KEY, None, "?status=active").await), (1, vec!["con_sandbox_0001".into()]));
    assert_eq!(contacts(gary.enrollments(KEY, None, "?status=paused").await), (1, vec!["con_sandbox_0002".into()]));
    assert_eq!(contacts(gary.enrollments(KEY, None, "?status=cancelled").await), (1, vec!["con_sandbox_0003".into()]));
    assert_eq!(contacts(gary.enrollments(KEY, None, "?status=completed").await), (0, vec![]));
    assert_eq!(gary.enrollments(KEY, None, "").await.total, 3);
}

#[tokio::test]
async fn other_tenants_see_nothing() {
    let gary = Gary::start(unlimited()).await;
    let mine = enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_bbbb").await).enrollment;
    let other = "cl_live_someone_else";
    assert_eq!(gary.enrollments(other, None, "").await.total, 0, "another key is another tenant");
    // An agency acting for one of its clients sees that client's data.
    assert_eq!(gary.enrollments(KEY, Some("client_1"), "").await.total, 0);
    let body = json!({"contact_id": "con_EXAMPLE_bbbb"});
    let path = format!("/sequences/{EXAMPLE}/enrollments");
    let theirs = gary.send("POST", &path, Some(KEY), Some("client_1"), Some(body)).await;
    assert_eq!(theirs.status, 201, "the client's contact is not yet enrolled: {}", theirs.body);
    let theirs = enrolled(&theirs).enrollment;
    assert_ne!(theirs.id, mine.id);
    let ids = |page: wire::Page<wire::Enrollment>| page.data.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(gary.enrollments(KEY, Some("client_1"), "").await), vec![theirs.id]);
    assert_eq!(ids(gary.enrollments(KEY, Some("client_2"), "").await), Vec::<String>::new());
    assert_eq!(ids(gary.enrollments(KEY, None, "").await), vec![mine.id]);
    // A client key cannot act for another client.
    let answer = gary.send("GET", "/sequences", Some(other), Some("client_1"), None).await;
    assert_eq!(error_of(&answer), (403, "forbidden".to_string()));
}

#[tokio::test]
async fn a_contact_of_another_tenant_is_unprocessable() {
    let gary = Gary::start(unlimited()).await;
    let answer = gary.enroll(KEY, EXAMPLE, "con_other_zzzz").await;
    assert_eq!(error_of(&answer), (422, "unprocessable".to_string()));
    assert!(answer.body["message"].as_str().is_some_and(|m| m.contains("con_other_zzzz")), "{}", answer.body);
    assert_eq!(gary.enrollments(KEY, None, "").await.total, 0, "nothing was enrolled");
}

#[tokio::test]
async fn bad_enrollment_requests_are_refused_saying_why() {
    let gary = Gary::start(unlimited()).await;
    let path = format!("/sequences/{EXAMPLE}/enrollments");
    for (body, field) in [
        (json!({}), "contact_id"),
        (json!({"contact_id": ""}), "contact_id"),
        (json!({"contact_id": 7}), "contact_id"),
        (json!({"contact_id": "con_EXAMPLE_bbbb", "metadata": "x"}), "metadata"),
        (json!(["con_EXAMPLE_bbbb"]), "body"),
    ] {
        let answer = gary.send("POST", &path, Some(KEY), None, Some(body.clone())).await;
        assert_eq!(error_of(&answer), (400, "invalid_request".to_string()), "{body}");
        assert_eq!(answer.body["details"]["field"], field, "{body}");
    }
    let answer = gary.enroll(KEY, "seq_nope", "con_EXAMPLE_bbbb").await;
    assert_eq!(error_of(&answer), (404, "not_found".to_string()));
    for inactive in ["seq_sandbox_spring", "seq_sandbox_old_promo", "seq_sandbox_holiday"] {
        let answer = gary.enroll(KEY, inactive, "con_EXAMPLE_bbbb").await;
        assert_eq!(error_of(&answer), (422, "unprocessable".to_string()), "{inactive}");
        assert!(answer.body["message"].as_str().is_some_and(|m| m.contains("not active")), "{}", answer.body);
    }
    let answer = gary.get("/sequences/seq_nope/enrollments").await;
    assert_eq!(error_of(&answer), (404, "not_found".to_string()));
}

#[tokio::test]
async fn keys_report_the_documented_errors() {
    let gary = Gary::start(unlimited()).await;
    let cases = [
        (None, 401, "authentication_required"),
        (Some("bogus"), 401, "invalid_api_key"),
        (Some("gc_live_"), 401, "invalid_api_key"),
        (Some("gc_live_revoked_x"), 401, "revoked_api_key"),
        (Some("cl_live_revoked_x"), 401, "revoked_api_key"),
        (Some("gc_live_expired_x"), 401, "expired_api_key"),
        (Some("gc_live_nofuel_x"), 402, "fuel_exhausted"),
        (Some("cl_live_nofeature_x"), 403, "feature_disabled"),
    ];
    for (key, status, code) in cases {
        let answer = gary.send("GET", "/sequences", key, None, None).await;
        assert_eq!(error_of(&answer), (status, code.to_string()), "{key:?}");
        assert_eq!(answer.body["details"], json!({}), "{key:?}");
    }
    let answer = gary.enroll("gc_live_nofuel_x", EXAMPLE, "con_EXAMPLE_bbbb").await;
    assert_eq!(error_of(&answer), (402, "fuel_exhausted".to_string()));
    assert_eq!(gary.send("GET", "/sequences", Some("cl_live_fine"), None, None).await.status, 200);
}

#[tokio::test]
async fn the_sixty_first_request_in_a_minute_is_refused_with_retry_after() {
    let gary = Gary::start(EmulatorConfig::default()).await;
    for n in 1..=60 {
        assert_eq!(gary.get("/sequences?limit=1").await.status, 200, "request {n}");
    }
    let refused = gary.get("/sequences?limit=1").await;
    assert_eq!(error_of(&refused), (429, "rate_limited".to_string()));
    assert_eq!(refused.body["details"], json!({}));
    let seconds: u64 = refused.retry_after.as_deref().and_then(|s| s.parse().ok()).expect("a Retry-After in seconds");
    assert!((1..=60).contains(&seconds), "{seconds}");
    // The limit is per key, whichever client it acts for.
    let for_client = gary.send("GET", "/sequences", Some(KEY), Some("client_1"), None).await;
    assert_eq!(for_client.status, 429);
    assert_eq!(gary.send("GET", "/sequences", Some("gc_live_another"), None, None).await.status, 200);
}

#[tokio::test]
async fn the_worker_advances_enrollments_on_the_sandbox_clock() {
    // 100,000 times the wall clock: a vendor minute every 0.6 ms, a day in
    // 0.864 s.
    let gary = Gary::serve(GaryEmulator::with_clock_scale(unlimited(), 100_000.0)).await;
    let row = enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_bbbb").await).enrollment;
    assert_eq!((row.current_step, row.status.as_str()), (0, "active"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = &gary.enrollments(KEY, None, "").await.data[0];
    assert_eq!((now.current_step, now.status.as_str()), (1, "active"), "the first step fired on the next tick");
    let first = time::OffsetDateTime::parse(&row.enrolled_at, &time::format_description::well_known::Rfc3339);
    let next = time::OffsetDateTime::parse(
        now.next_run_at.as_deref().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    );
    assert_eq!(
        next.ok().zip(first.ok()).map(|(next, first)| (next - first).whole_minutes()),
        Some(1440),
        "the second step is due its wait after the first"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let done = &gary.enrollments(KEY, None, "").await.data[0];
    assert_eq!((done.current_step, done.status.as_str(), done.next_run_at.as_deref()), (2, "completed", None));
    // A completed contact is no longer actively enrolled.
    assert!(!enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_bbbb").await).idempotent);
}

#[tokio::test]
async fn a_snapshot_restores_every_tenants_rows() {
    let gary = Gary::start(unlimited()).await;
    let row = enrolled(&gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_bbbb").await).enrollment;
    let snapshot = gary.emulator.snapshot();
    let restored = GaryEmulator::new(unlimited());
    restored.restore(snapshot).expect("a restored emulator");
    let rows = restored.enrollments_of(KEY, EXAMPLE);
    assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![row.id.as_str()]);
    assert!(restored.restore(json!({"tenants": 7})).is_err());
}

#[tokio::test]
async fn latency_is_added_after_the_work() {
    let config = EmulatorConfig { latency: Duration::from_millis(150), ..unlimited() };
    let gary = Gary::start(config).await;
    let started = std::time::Instant::now();
    assert_eq!(gary.enroll(KEY, EXAMPLE, "con_EXAMPLE_bbbb").await.status, 201);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = std::time::Instant::now();
    assert_eq!(error_of(&gary.send("GET", "/sequences", None, None, None).await).0, 401);
    assert!(started.elapsed() < Duration::from_millis(150), "no latency for a 401");
}
