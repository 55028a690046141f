//! Topo sequence runs through the seqops binary, against the Topo emulator
//! served in this process (so a test can count what it is asked and move
//! a run as Topo itself would).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use common::{assert_contains, Workspace};
use seqops::providers::topo::emulator::{TopoEmulator, BASE_PATH};
use seqops::providers::topo::wire::SequenceRun;
use seqops::sandbox::{Emulator, EmulatorConfig};

const TOKEN: &str = "topo_test_workspace";
const READ_ONLY: &str = "topo_read_test_workspace";

/// The Topo emulator on a loopback port, counting reads and writes.
struct Topo {
    origin: String,
    emulator: Arc<TopoEmulator>,
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Topo {
    fn start() -> Topo {
        let emulator = TopoEmulator::new(EmulatorConfig::default());
        let (reads, writes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counted = (reads.clone(), writes.clone());
        let router = axum::Router::new().nest(BASE_PATH, emulator.clone().router()).layer(middleware::from_fn(
            move |request: Request, next: Next| {
                let (reads, writes) = counted.clone();
                async move {
                    let counter = if request.method() == Method::GET { reads } else { writes };
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(request).await
                }
            },
        ));
        let common::InProcess { origin, runtime } = common::InProcess::serve(router);
        Topo { origin, emulator, reads, writes, _runtime: runtime }
    }

    fn run(&self, id: &str) -> SequenceRun {
        self.emulator.runs(TOKEN).into_iter().find(|r| r.id == id).expect("a seeded run")
    }

    fn counts(&self) -> (usize, usize) {
        (self.reads.load(Ordering::SeqCst), self.writes.load(Ordering::SeqCst))
    }
}

fn workspace(topo: &Topo) -> Workspace {
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: topo\nspec:\n  type: topo\n  baseUrl: {}{BASE_PATH}\n  credentials:\n    env: TOPO_API_KEY\n",
            topo.origin
        ),
    );
    work
}

/// A SequenceRun manifest with the given spec lines (indented by two).
fn run_manifest(name: &str, annotations: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    let annotations =
        if annotations.is_empty() { String::new() } else { format!("  annotations:\n    {annotations}\n") };
    format!("apiVersion: topo.seqops.dev/v1alpha1\nkind: SequenceRun\nmetadata:\n  name: {name}\n{annotations}spec:\n{spec}")
}

fn run_with(work: &Workspace, key: &str, args: &[&str]) -> common::Run {
    work.command(args).env("TOPO_API_KEY", key).stdin(std::process::Stdio::null()).output().expect("runs").into()
}

fn plan(work: &Workspace) -> common::Run {
    run_with(work, TOKEN, &["plan", "-f", "manifests", "--detailed-exitcode"])
}

fn apply(work: &Workspace) -> common::Run {
    let applied = run_with(work, TOKEN, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(applied.code, 0, "apply failed:\n{}", applied.all());
    applied
}

#[test]
fn variables_are_merged_and_a_removed_one_is_sent_as_null_once() {
    let topo = Topo::start();
    let work = workspace(&topo);
    work.write(
        "a.yaml",
        &run_manifest(
            "anna",
            "",
            "id: seq_run_0001\nvariables:\n  first_name: Anna\n  meeting_link: https://cal.example.com/anna",
        ),
    );
    apply(&work);
    let run = topo.run("seq_run_0001");
    assert_eq!(run.variables.get("meeting_link").map(String::as_str), Some("https://cal.example.com/anna"));
    work.write("a.yaml", &run_manifest("anna", "", "id: seq_run_0001\nvariables:\n  first_name: Anna"));
    let planned = plan(&work);
    assert_eq!(planned.code, 2, "{}", planned.all());
    assert_contains(&planned.stdout, "variables.meeting_link: \"https://cal.example.com/anna\" -> (absent)");
    let before = topo.counts().1;
    apply(&work);
    assert_eq!(topo.counts().1 - before, 1, "one PATCH");
    assert!(!topo.run("seq_run_0001").variables.contains_key("meeting_link"), "the override is removed");
    let again = plan(&work);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_contains(&again.stdout, "No changes.");
}

#[test]
fn keys_set_outside_seqops_are_neither_drift_nor_changed() {
    let topo = Topo::start();
    let work = workspace(&topo);
    // seq_run_0016 overrides discount and first_name already.
    work.write("a.yaml", &run_manifest("eli", "", "id: seq_run_0016\nvariables:\n  first_name: Eli"));
    let adopted = apply(&work);
    assert_contains(&adopted.stdout, "adopted (id seq_run_0016)");
    let run = topo.run("seq_run_0016");
    assert_eq!(run.variables.get("discount").map(String::as_str), Some("10%"), "left alone");
    let full = run_with(&work, TOKEN, &["plan", "-f", "manifests", "--detailed-exitcode", "--refresh", "full"]);
    assert_eq!(full.code, 0, "{}", full.all());
}

#[test]
fn a_no_op_plan_costs_one_list_request_per_page_not_one_read_per_run() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let manifests: Vec<String> = ["0001", "0003", "0017"]
        .iter()
        .map(|n| run_manifest(&format!("run-{n}"), "", &format!("id: seq_run_{n}\nvariables:\n  owner: sam")))
        .collect();
    work.write("runs.yaml", &manifests.join("---\n"));
    apply(&work);
    let before = topo.counts();
    let again = plan(&work);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(topo.counts(), (before.0 + 1, before.1), "one page of 20 runs, no reads, no writes");
}

#[test]
fn a_selector_is_resolved_once_among_live_runs_and_an_ambiguous_or_empty_one_is_an_error() {
    let topo = Topo::start();
    let work = workspace(&topo);
    work.write(
        "a.yaml",
        &run_manifest(
            "cara",
            "",
            "selector: {templateId: tpl_renewal, contactId: ct_globex_cara}\nvariables:\n  company: Globex",
        ),
    );
    let adopted = apply(&work);
    assert_contains(&adopted.stdout, "adopted (id seq_run_0005)");
    assert_eq!(work.state()["resources"]["SequenceRun/cara"]["id"], "seq_run_0005", "the finished 0006 is not taken");
    work.write("b.yaml", &run_manifest("dan", "", "selector: {templateId: tpl_webinar, contactId: ct_initech_dan}"));
    let ambiguous = plan(&work);
    assert_eq!(ambiguous.code, 1, "{}", ambiguous.all());
    assert_contains(&ambiguous.stderr, "2 live remote objects share the natural key templateId and contactId");
    assert_contains(&ambiguous.stderr, "seq_run_0007 ACTIVE");
    assert_contains(&ambiguous.stderr, "seq_run_0008 WAITING_FOR_USER");
    work.write("b.yaml", &run_manifest("gus", "", "selector: {templateId: tpl_renewal, contactId: ct_initech_gus}"));
    let finished = plan(&work);
    assert_eq!(finished.code, 1, "{}", finished.all());
    assert_contains(
        &finished.stderr,
        "the API cannot create a SequenceRun, and no live one has this templateId and contactId",
    );
    assert_contains(&finished.stderr, "seq_run_0014 (STOPPED_EARLY)");
    assert!(!finished.stdout.contains("+ SequenceRun"), "never a create:\n{}", finished.stdout);
}

#[test]
fn a_pause_that_has_elapsed_is_satisfied_and_sends_nothing() {
    let topo = Topo::start();
    let work = workspace(&topo);
    work.write(
        "a.yaml",
        &run_manifest("anna", "", "id: seq_run_0001\nstate: {phase: Paused, pausedUntil: \"2020-01-06T09:00:00Z\"}"),
    );
    let planned = plan(&work);
    assert_contains(
        &planned.all(),
        "the pause until 2020-01-06T09:00:00Z has passed, so it is satisfied; nothing is sent",
    );
    let before = topo.counts().1;
    apply(&work);
    assert_eq!(topo.counts().1, before, "no pause in the past is sent");
    assert_eq!(topo.run("seq_run_0001").status, "ACTIVE");
}

#[test]
fn a_pause_then_a_resume_are_planned_with_the_status_before_and_after() {
    let topo = Topo::start();
    let work = workspace(&topo);
    work.write(
        "a.yaml",
        &run_manifest("anna", "", "id: seq_run_0001\nstate: {phase: Paused, pausedUntil: \"2099-01-04T09:00:00Z\"}"),
    );
    let planned = plan(&work);
    assert_contains(&planned.stdout, "~ state.phase: \"Active\" -> \"Paused\" (pause until 2099-01-04T09:00:00Z)");
    assert_contains(&planned.stdout, "remotely: status ACTIVE");
    apply(&work);
    assert_eq!(topo.run("seq_run_0001").status, "WAITING_FOR_LEAD");
    assert_contains(&plan(&work).stdout, "No changes.");
    work.write("a.yaml", &run_manifest("anna", "", "id: seq_run_0001\nstate: {phase: Active}"));
    let resume = plan(&work);
    assert_contains(&resume.stdout, "~ state.phase: \"Paused\" -> \"Active\" (resume)");
    assert_contains(&resume.stdout, "remotely: status WAITING_FOR_LEAD");
    apply(&work);
    assert_eq!(topo.run("seq_run_0001").status, "ACTIVE");
}

#[test]
fn a_company_stop_needs_its_confirmation_and_then_stops_the_companys_other_runs() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let stop = "id: seq_run_0001\nstate: {phase: Stopped, reason: WIN, scope: COMPANY}";
    work.write("a.yaml", &run_manifest("anna", "", stop));
    let refused = plan(&work);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "spec.state.scope: a COMPANY stop also stops every other live run");
    assert_contains(&refused.stderr, "topo.seqops.dev/confirm-company-stop: \"true\"");
    work.write("a.yaml", &run_manifest("anna", "topo.seqops.dev/confirm-company-stop: \"true\"", stop));
    let planned = plan(&work);
    assert_contains(&planned.stdout, "this ends it: stop (WIN, COMPANY): every other live run of this template");
    apply(&work);
    for stopped in ["seq_run_0001", "seq_run_0002", "seq_run_0009"] {
        assert_eq!(topo.run(stopped).status, "STOPPED_EARLY", "{stopped}");
    }
    for untouched in ["seq_run_0003", "seq_run_0004", "seq_run_0018"] {
        assert_ne!(topo.run(untouched).status, "STOPPED_EARLY", "{untouched} is another company or template");
    }
    assert_contains(&plan(&work).stdout, "No changes.");
}

#[test]
fn prevent_destroy_blocks_a_stop() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let stop = "id: seq_run_0001\nstate: {phase: Stopped, reason: LOSE, scope: CONTACT}";
    work.write("a.yaml", &run_manifest("anna", "seqops.dev/prevent-destroy: \"true\"", stop));
    let refused = plan(&work);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "ends it (stop (LOSE, CONTACT)), but it has seqops.dev/prevent-destroy");
}

#[test]
fn a_run_that_finished_by_itself_is_reported_and_only_an_edit_asking_out_of_it_is_an_error() {
    let topo = Topo::start();
    let work = workspace(&topo);
    work.write("a.yaml", &run_manifest("anna", "", "id: seq_run_0001\nstate: {phase: Active}"));
    apply(&work);
    assert!(topo.emulator.set_status(TOKEN, "seq_run_0001", "SUCCEEDED"));
    let reported = run_with(&work, TOKEN, &["plan", "-f", "manifests", "--detailed-exitcode", "--refresh", "full"]);
    assert_eq!(reported.code, 0, "{}", reported.all());
    assert_contains(&reported.all(), "seq_run_0001 is SUCCEEDED remotely, which is final; nothing is planned for it");
    work.write(
        "a.yaml",
        &run_manifest("anna", "", "id: seq_run_0001\nstate: {phase: Paused, pausedUntil: \"2099-01-01T00:00:00Z\"}"),
    );
    let refused = plan(&work);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "is SUCCEEDED remotely, which is final");
}

#[test]
fn a_read_only_key_plans_and_its_apply_stops_at_the_first_write_naming_the_scope() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let manifests: Vec<String> = ["0001", "0003", "0017"]
        .iter()
        .map(|n| run_manifest(&format!("run-{n}"), "", &format!("id: seq_run_{n}\nvariables:\n  owner: sam")))
        .collect();
    work.write("runs.yaml", &manifests.join("---\n"));
    let planned = run_with(&work, READ_ONLY, &["plan", "-f", "manifests", "--detailed-exitcode"]);
    assert_eq!(planned.code, 2, "a read-only key plans:\n{}", planned.all());
    let before = topo.counts().1;
    let applied = run_with(&work, READ_ONLY, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(applied.code, 1, "{}", applied.all());
    assert_contains(&applied.all(), "missing scope: sequences:write");
    assert_contains(&applied.all(), "request_id req_");
    assert_eq!(topo.counts().1 - before, 1, "one write tried, the others not:\n{}", applied.all());
    assert_contains(&applied.all(), "not tried, since topo/topo refused PATCH");
    let runs = topo.emulator.runs(READ_ONLY);
    assert!(runs.iter().all(|r| !r.variables.contains_key("owner")), "nothing changed");
}

#[test]
fn export_writes_a_manifest_per_run_the_filters_select_and_the_next_plan_has_no_changes() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let args = [
        "export",
        "--provider",
        "topo",
        "-f",
        "manifests",
        "--out",
        "onboarded",
        "--template",
        "tpl_renewal",
        "--status",
        "ACTIVE",
    ];
    let exported = run_with(&work, TOKEN, &args);
    assert_eq!(exported.code, 0, "{}", exported.all());
    assert_contains(&exported.stdout, "Exported 2 objects of topo");
    let replanned = run_with(&work, TOKEN, &["plan", "-f", "onboarded", "--detailed-exitcode"]);
    assert_eq!(replanned.code, 0, "{}", replanned.all());
    assert_contains(&replanned.stdout, "No changes.");
}

#[test]
fn the_emulator_is_served_under_topo_in_the_sandbox() {
    let sandbox = seqops::providers::emulators(EmulatorConfig::default());
    assert!(sandbox.iter().any(|e| e.id() == "topo" && e.base_path() == BASE_PATH));
}

#[test]
fn a_stop_needs_the_delete_policy_since_it_ends_the_run() {
    let topo = Topo::start();
    let work = workspace(&topo);
    let stop = "id: seq_run_0001\nmanagementPolicies: [Observe, Create, Update]\nstate: {phase: Stopped, reason: WIN, scope: CONTACT}";
    work.write("a.yaml", &run_manifest("anna", "", stop));
    let planned = plan(&work);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert_contains(&planned.all(), "SequenceRun/anna has managementPolicies without Delete");
    apply(&work);
    assert_eq!(topo.run("seq_run_0001").status, "ACTIVE", "not stopped");
}
