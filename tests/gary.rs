//! Gary Club enrollments through the seqops binary, against the Gary
//! emulator served in this process (so a test can lose an answer on the way
//! back, or move an enrollment as Gary's worker and dashboard would).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use common::{assert_contains, Workspace};
use seqops::providers::gary::emulator::{GaryEmulator, BASE_PATH};
use seqops::sandbox::{Emulator, EmulatorConfig};

const TOKEN: &str = "gc_live_test_agency";
const NURTURE: &str = "seq_EXAMPLE_aaaa";

/// The Gary emulator on a loopback port, counting what it is asked.
struct Gary {
    origin: String,
    emulator: Arc<GaryEmulator>,
    posts: Arc<AtomicUsize>,
    gets: Arc<AtomicUsize>,
    /// The next enrollment is made, and its answer replaced by a gateway's
    /// 502 page.
    lose_next_answer: Arc<AtomicBool>,
    /// This many enrollments are refused with a 503 before Gary makes them.
    refuse_next: Arc<AtomicUsize>,
    runtime: tokio::runtime::Runtime,
}

impl Gary {
    fn start() -> Gary {
        let emulator = GaryEmulator::new(EmulatorConfig { requests_per_hour: 0, ..Default::default() });
        let (posts, gets, lose) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let refuse = Arc::new(AtomicUsize::new(0));
        let counted = (posts.clone(), gets.clone(), lose.clone(), refuse.clone());
        let router = axum::Router::new().nest(BASE_PATH, emulator.clone().router()).layer(middleware::from_fn(
            move |request: Request, next: Next| {
                let (posts, gets, lose, refuse) = counted.clone();
                async move {
                    let post = request.method() == Method::POST;
                    if post {
                        posts.fetch_add(1, Ordering::SeqCst)
                    } else {
                        gets.fetch_add(1, Ordering::SeqCst)
                    };
                    let refused =
                        post && refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    if refused {
                        return (StatusCode::SERVICE_UNAVAILABLE, "<html>503 Service Unavailable</html>")
                            .into_response();
                    }
                    let response = next.run(request).await;
                    if post && lose.swap(false, Ordering::SeqCst) {
                        return (StatusCode::BAD_GATEWAY, "<html><body>502 Bad Gateway</body></html>").into_response();
                    }
                    response
                }
            },
        ));
        let common::InProcess { origin, runtime } = common::InProcess::serve(router);
        Gary { origin, emulator, posts, gets, lose_next_answer: lose, refuse_next: refuse, runtime }
    }

    fn rows(&self, contact: &str) -> Vec<seqops::providers::gary::wire::Enrollment> {
        self.emulator.enrollments_of(TOKEN, NURTURE).into_iter().filter(|e| e.contact_id == contact).collect()
    }

    fn requests(&self) -> (usize, usize) {
        (self.gets.load(Ordering::SeqCst), self.posts.load(Ordering::SeqCst))
    }
}

fn workspace(gary: &Gary) -> Workspace {
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: gary\nspec:\n  type: gary\n  baseUrl: {}{BASE_PATH}\n  credentials:\n    env: GARY_API_KEY\n",
            gary.origin
        ),
    );
    work
}

fn enrollment(name: &str, contact: &str, metadata: &str) -> String {
    format!(
        "apiVersion: gary.seqops.dev/v1alpha1\nkind: Enrollment\nmetadata:\n  name: {name}\nspec:\n  sequence: {{lookup: Post-call nurture}}\n  contactId: {contact}\n  metadata: {metadata}\n"
    )
}

fn run(work: &Workspace, args: &[&str]) -> common::Run {
    work.command(args).env("GARY_API_KEY", TOKEN).stdin(std::process::Stdio::null()).output().expect("runs").into()
}

fn plan(work: &Workspace) -> common::Run {
    run(work, &["plan", "-f", "manifests", "--detailed-exitcode"])
}

fn apply(work: &Workspace) -> common::Run {
    let applied = run(work, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(applied.code, 0, "apply failed:\n{}", applied.all());
    applied
}

#[test]
fn an_enrollment_is_made_once_and_the_next_plan_costs_one_list_per_sequence() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    let applied = apply(&work);
    assert_contains(&applied.stdout, "Enrollment/lead-b: created (id seq_EXAMPLE_aaaa/enr_");
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 1);
    assert_eq!(gary.rows("con_EXAMPLE_bbbb")[0].metadata, serde_json::json!({"source": "call"}));
    let before = gary.requests();
    let again = plan(&work);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_contains(&again.stdout, "No changes.");
    assert_eq!(gary.requests(), (before.0 + 1, before.1), "one list of the one sequence named, no lookup, no POST");
    assert_contains(&again.stdout, "gary/gary made 1 request, ");
    assert_contains(&again.stdout, " of 60 left (per minute)");
}

#[test]
fn a_second_manifest_for_a_contact_already_enrolled_is_refused_and_gary_holds_one_enrollment() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    apply(&work);
    work.write("b.yaml", &enrollment("lead-b-again", "con_EXAMPLE_bbbb", "{source: call}"));
    let refused = plan(&work);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "is already managed by Enrollment/lead-b");
    work.remove("a.yaml");
    work.write(
        "a.yaml",
        &format!("{}---\n{}", enrollment("x", "con_EXAMPLE_cccc", "{}"), enrollment("y", "con_EXAMPLE_cccc", "{}")),
    );
    let twice = plan(&work);
    assert_eq!(twice.code, 1, "{}", twice.all());
    assert_contains(&twice.stderr, "is already bound to Enrollment/x in this plan");
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 1);
    assert!(gary.rows("con_EXAMPLE_cccc").is_empty());
}

#[test]
fn a_lost_answer_is_recovered_by_sending_the_enrollment_again_without_listing() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    let planned = plan(&work);
    assert_eq!(planned.code, 2, "{}", planned.all());
    gary.lose_next_answer.store(true, Ordering::SeqCst);
    let before = gary.requests();
    let applied = apply(&work);
    assert_contains(&applied.stdout, "already had con_EXAMPLE_bbbb actively enrolled");
    let rows = gary.rows("con_EXAMPLE_bbbb");
    assert_eq!(rows.len(), 1, "one enrollment, not two");
    assert_eq!(work.state()["resources"]["Enrollment/lead-b"]["id"], format!("{NURTURE}/{}", rows[0].id));
    let (gets, posts) = gary.requests();
    assert_eq!(posts - before.1, 2, "the enrollment was sent twice");
    assert_eq!(
        gets - before.0,
        2,
        "the apply's own plan read the sequences and the enrollments once; no crawl after the lost answer"
    );
    assert_contains(&plan(&work).stdout, "No changes.");
}

#[test]
fn an_enrollment_made_outside_seqops_is_adopted_by_sequence_and_contact() {
    let gary = Gary::start();
    let (status, _) = post_enrollment(&gary, "con_EXAMPLE_dddd");
    assert_eq!(status, 201);
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-d", "con_EXAMPLE_dddd", "{source: n8n}"));
    let planned = plan(&work);
    assert_contains(&planned.stdout, "<= Enrollment/lead-d");
    assert_contains(&planned.stdout, "already exists with this sequence and contactId: it is adopted, not made twice");
    apply(&work);
    assert_eq!(gary.rows("con_EXAMPLE_dddd").len(), 1);
}

#[test]
fn a_completed_enrollment_removed_and_added_again_is_not_enrolled_again() {
    let gary = Gary::start();
    let work = workspace(&gary);
    let manifest = enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}");
    work.write("a.yaml", &manifest);
    apply(&work);
    work.remove("a.yaml");
    let forget = plan(&work);
    assert_contains(&forget.stdout, "forget Enrollment/lead-b");
    assert_contains(&forget.stdout, "the API cannot delete it");
    assert_contains(&forget.stdout, "remotely: status active, currentStep ");
    apply(&work);
    let row = gary.rows("con_EXAMPLE_bbbb").remove(0);
    assert_eq!(row.status, "active", "Gary keeps the enrollment running");
    assert!(gary.emulator.set_status(TOKEN, &row.id, "completed", None));
    work.write("a.yaml", &manifest);
    let planned = plan(&work);
    assert_contains(&planned.stdout, "<= Enrollment/lead-b");
    assert_contains(&planned.stdout, "is completed: it is bound as it is and not made again");
    apply(&work);
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 1, "the ladder is not sent a second time");
    assert_contains(&plan(&work).stdout, "No changes.");
}

#[test]
fn an_enrollment_that_finished_or_was_paused_by_a_reply_is_not_drift() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    apply(&work);
    let row = gary.rows("con_EXAMPLE_bbbb").remove(0);
    assert!(gary.emulator.set_status(TOKEN, &row.id, "paused", Some("reply_received")));
    let paused = run(&work, &["plan", "-f", "manifests", "--detailed-exitcode", "--refresh", "full"]);
    assert_eq!(paused.code, 0, "only what Gary moves by itself moved:\n{}", paused.all());
    assert_contains(&paused.stdout, "No changes.");
    apply(&work);
    let shown = run(&work, &["state", "show", "Enrollment/lead-b"]);
    let entry: serde_json::Value = serde_json::from_str(&shown.stdout).expect("an entry as JSON");
    assert_eq!(entry["observed"]["status"], "paused", "state keeps the latest reading: {entry}");
    assert_eq!(entry["observed"]["pausedReason"], "reply_received");
}

#[test]
fn a_changed_contact_or_metadata_is_a_plan_error_naming_the_field_never_a_delete() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    apply(&work);
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: webinar}"));
    let refused = plan(&work);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "Enrollment/lead-b: metadata cannot change");
    assert_contains(&refused.stderr, "Gary can neither change nor cancel an enrollment");
    let row = gary.rows("con_EXAMPLE_bbbb").remove(0);
    assert!(gary.emulator.set_status(TOKEN, &row.id, "completed", None));
    let finished = run(&work, &["plan", "-f", "manifests", "--refresh", "full"]);
    assert_contains(&finished.stderr, "is completed remotely, which is final");
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 1);
}

#[test]
fn gary_errors_say_what_to_do() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write("a.yaml", &enrollment("lead-x", "con_other_tenant", "{}"));
    let refused = run(&work, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.all(), "unprocessable");
    let broke =
        work.command(&["plan", "-f", "manifests"]).env("GARY_API_KEY", "gc_live_nofuel_x").output().expect("runs");
    let broke: common::Run = broke.into();
    assert_contains(&broke.stderr, "fuel_exhausted");
    assert_contains(&broke.stderr, "the account is out of credit");
}

/// Enrolls a contact directly, as n8n would.
fn post_enrollment(gary: &Gary, contact: &str) -> (u16, serde_json::Value) {
    let url = format!("{}{BASE_PATH}/sequences/{NURTURE}/enrollments", gary.origin);
    let body = serde_json::json!({"contact_id": contact, "metadata": {"source": "n8n"}});
    gary.runtime.block_on(async {
        let response = reqwest::Client::new().post(url).bearer_auth(TOKEN).json(&body).send().await.expect("answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    })
}

#[test]
fn the_emulator_is_served_under_gary_in_the_sandbox() {
    let sandbox = seqops::providers::emulators(EmulatorConfig::default());
    assert!(sandbox.iter().any(|e| e.id() == "gary" && e.base_path() == BASE_PATH));
}

#[test]
fn export_writes_an_enrollment_manifest_per_row_selected_and_the_next_plan_has_no_changes() {
    let gary = Gary::start();
    for contact in ["con_EXAMPLE_bbbb", "con_EXAMPLE_cccc", "con_EXAMPLE_dddd"] {
        assert_eq!(post_enrollment(&gary, contact).0, 201);
    }
    let done = gary.rows("con_EXAMPLE_dddd").remove(0);
    assert!(gary.emulator.set_status(TOKEN, &done.id, "completed", None));
    let work = workspace(&gary);
    let exported =
        run(&work, &["export", "--provider", "gary", "-f", "manifests", "--out", "onboarded", "--status", "active"]);
    assert_eq!(exported.code, 0, "{}", exported.all());
    assert_contains(&exported.stdout, "Exported 2 objects of gary");
    let files: Vec<String> = std::fs::read_dir(work.path().join("onboarded"))
        .expect("written")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("a manifest"))
        .collect();
    let enrollments: Vec<&String> = files.iter().filter(|f| f.contains("kind: Enrollment")).collect();
    assert_eq!(enrollments.len(), 2, "{files:?}");
    assert!(
        enrollments.iter().all(|f| f.contains("lookup: Post-call nurture") && f.contains("source: n8n")),
        "{enrollments:?}"
    );
    assert!(!enrollments.iter().any(|f| f.contains("con_EXAMPLE_dddd")), "a completed row is not selected");
    let replanned = run(&work, &["plan", "-f", "onboarded", "--detailed-exitcode"]);
    assert_eq!(replanned.code, 0, "{}", replanned.all());
    assert_contains(&replanned.stdout, "No changes.");
}

#[test]
fn an_export_filter_a_provider_does_not_take_is_refused_before_any_request() {
    let gary = Gary::start();
    let work = workspace(&gary);
    work.write(
        "orsay.yaml",
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  baseUrl: http://127.0.0.1:9/orsay\n  credentials:\n    env: ORSAY_API_KEY\n",
    );
    let refused = run(&work, &["export", "--provider", "orsay", "-f", "manifests", "--status", "active"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(
        &refused.stderr,
        "--status: exports of orsay objects take no such filter; nothing was sent to any API",
    );
}

#[test]
fn clients_of_one_account_share_one_listing_as_the_controllers_reconciles_do() {
    let gary = Gary::start();
    let (status, body) = post_enrollment(&gary, "con_EXAMPLE_bbbb");
    assert_eq!(status, 201);
    let id = format!("{NURTURE}/{}", body["enrollment"]["id"].as_str().expect("an id"));
    let settings = seqops::providers::AccountSettings {
        name: "gary".into(),
        provider_type: seqops::providers::gary::TYPE,
        base_url: format!("{}{BASE_PATH}", gary.origin),
        credential: seqops::providers::Secret::new(TOKEN),
        credential_source: "the test".into(),
        rate: None,
        headers: Default::default(),
        budget_file: None,
    };
    let account = seqops::providers::Account::connect(
        settings,
        seqops::providers::dialect(seqops::providers::gary::TYPE),
        Arc::new(|_| {}),
    );
    let before = gary.requests().0;
    gary.runtime.block_on(async {
        for _ in 0..3 {
            // A client per reconcile, as the controller makes them.
            let client = seqops::providers::client_for(&account, "Enrollment").expect("a Gary client");
            let seen = client.observe(&id).await.expect("observed").expect("the enrollment exists");
            assert_eq!(seen["contactId"], "con_EXAMPLE_bbbb");
        }
    });
    assert_eq!(gary.requests().0 - before, 1, "three reads, one listing");
}

#[test]
fn a_new_re_enroll_token_enrolls_a_finished_contact_once_more_and_only_once() {
    let gary = Gary::start();
    let work = workspace(&gary);
    let manifest = enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}");
    work.write("a.yaml", &manifest);
    apply(&work);
    let first = gary.rows("con_EXAMPLE_bbbb").remove(0);
    assert!(gary.emulator.set_status(TOKEN, &first.id, "completed", None));
    let with_token = |token: &str| {
        manifest.replace(
            "  name: lead-b\n",
            &format!("  name: lead-b\n  annotations:\n    gary.seqops.dev/re-enroll: \"{token}\"\n"),
        )
    };
    work.write("a.yaml", &with_token("2026-12-spring"));
    let planned = plan(&work);
    assert_eq!(planned.code, 2, "{}", planned.all());
    assert_contains(
        &planned.stdout,
        "re-enrollment: gary.seqops.dev/re-enroll is now \"2026-12-spring\": one new Enrollment is made",
    );
    apply(&work);
    let rows = gary.rows("con_EXAMPLE_bbbb");
    assert_eq!(rows.len(), 2, "one new enrollment");
    let newest = rows.iter().find(|r| r.status == "active").expect("the new one is active");
    assert_eq!(work.state()["resources"]["Enrollment/lead-b"]["id"], format!("{NURTURE}/{}", newest.id));
    assert_contains(&plan(&work).stdout, "No changes.");
    work.write("a.yaml", &with_token("typo-fix"));
    apply(&work);
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 2, "a live enrollment is not doubled by a new token");
}

#[test]
fn an_agency_key_acts_for_one_client_through_the_providers_header() {
    let gary = Gary::start();
    let work = workspace(&gary);
    let provider = std::fs::read_to_string(work.manifests().join("provider.yaml")).expect("the provider");
    work.write("provider.yaml", &format!("{provider}  headers:\n    X-Gary-Client-Id: acme-dental\n"));
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    apply(&work);
    assert!(gary.rows("con_EXAMPLE_bbbb").is_empty(), "not in the agency's own data");
    let url = format!("{}{BASE_PATH}/sequences/{NURTURE}/enrollments", gary.origin);
    let rows: serde_json::Value = gary.runtime.block_on(async {
        let response = reqwest::Client::new().get(url).bearer_auth(TOKEN).header("X-Gary-Client-Id", "acme-dental");
        response.send().await.expect("answers").json().await.expect("JSON")
    });
    assert_eq!(rows["total"], 1, "in the client's: {rows}");
}

#[test]
fn a_provider_may_not_set_credentials_or_hop_by_hop_headers() {
    let gary = Gary::start();
    let work = workspace(&gary);
    let provider = std::fs::read_to_string(work.manifests().join("provider.yaml")).expect("the provider");
    work.write(
        "provider.yaml",
        &format!("{provider}  headers:\n    Authorization: Bearer stolen\n    Connection: close\n"),
    );
    let refused = run(&work, &["validate", "-f", "manifests"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "spec.headers: a header here is one seqops sets itself (`Authorization`");
}

#[test]
fn a_re_enrollment_whose_answers_were_lost_is_made_anew_not_taken_for_the_finished_one() {
    let gary = Gary::start();
    let work = workspace(&gary);
    let manifest = enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}");
    work.write("a.yaml", &manifest);
    apply(&work);
    let first = gary.rows("con_EXAMPLE_bbbb").remove(0);
    assert!(gary.emulator.set_status(TOKEN, &first.id, "completed", None));
    let renewed =
        manifest.replace("  name: lead-b\n", "  name: lead-b\n  annotations:\n    gary.seqops.dev/re-enroll: \"2\"\n");
    work.write("a.yaml", &renewed);
    gary.refuse_next.store(3, Ordering::SeqCst);
    let failed = run(&work, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}", failed.all());
    assert_eq!(gary.rows("con_EXAMPLE_bbbb").len(), 1, "Gary made nothing");
    apply(&work);
    let rows = gary.rows("con_EXAMPLE_bbbb");
    assert_eq!(rows.len(), 2, "the contact is enrolled anew");
    let live = rows.iter().find(|r| r.status == "active").expect("a live row");
    assert_eq!(work.state()["resources"]["Enrollment/lead-b"]["id"], format!("{NURTURE}/{}", live.id));
}

/// The sandbox's test clock through the binary: an enrollment applied
/// against `seqops sandbox serve` runs to its end once `seqops sandbox
/// clock advance 3d` moves the vendors' time, and planning again changes
/// nothing.
#[test]
fn an_enrollment_runs_to_its_end_when_the_sandbox_clock_is_moved_on_three_days() {
    let server = common::Server::start(&[]);
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: gary\nspec:\n  type: gary\n  baseUrl: {}{BASE_PATH}\n  credentials:\n    env: GARY_API_KEY\n",
            server.origin
        ),
    );
    work.write("a.yaml", &enrollment("lead-b", "con_EXAMPLE_bbbb", "{source: call}"));
    apply(&work);
    let status = || {
        let url = format!("{}{BASE_PATH}/sequences/{NURTURE}/enrollments", server.origin);
        let (_, body) = server.call("GET", &url, None, TOKEN);
        body["data"][0]["status"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(status(), "active");
    let addr = server.origin.trim_start_matches("http://").to_string();
    let moved = run(&work, &["sandbox", "clock", "advance", "3d", "--addr", &addr]);
    assert_eq!(moved.code, 0, "{}", moved.all());
    assert_contains(&moved.stdout, "(3days ahead of this machine)");
    assert_eq!(status(), "completed", "the ladder ran to its end on the sandbox's time");
    let shown = run(&work, &["sandbox", "clock", "--addr", &addr]);
    assert_contains(&shown.stdout, "(3days ahead of this machine)");
    let planned = plan(&work);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert_contains(&planned.stdout, "No changes.");
    let refused = run(&work, &["sandbox", "clock", "advance", "soon", "--addr", &addr]);
    assert_eq!(refused.code, 2, "a duration that is not one is refused: {}", refused.all());
}
