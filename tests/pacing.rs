//! Pacing to a vendor's limit, proven on the virtual clock: waits move the
//! clock instead of passing, while every request is still sent for real
//! over loopback to the sandbox, whose own limit counts on the same clock.

use std::sync::Arc;

use seqops::engine::apply::StateWriter;
use seqops::engine::state::{State, StateStore};
use seqops::engine::{self, ApplyOptions, Connections, PlanOptions, Refresh};
use seqops::manifest::provider::{ProviderType, Rate};
use seqops::providers::{self, Account, AccountSettings, Secret};
use seqops::sandbox::{EmulatorConfig, Sandbox};

const ENROLLMENTS: usize = 150;

fn manifests(dir: &std::path::Path, count: usize) {
    let mut text = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: gary\nspec:\n  type: gary\n  credentials:\n    env: GARY_API_KEY\n".to_string();
    for n in 1..=count {
        text.push_str(&format!(
            "---\napiVersion: gary.seqops.dev/v1alpha1\nkind: Enrollment\nmetadata:\n  name: lead-{n}\nspec:\n  sequence: {{id: seq_EXAMPLE_aaaa}}\n  contactId: con_sandbox_{n:04}\n"
        ));
    }
    std::fs::write(dir.join("all.yaml"), text).expect("manifests written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_150_enrollments_under_60_a_minute_gets_no_429_and_takes_no_longer_than_the_rate_allows() {
    seqops::clock::use_virtual_time();
    // The sandbox enforces Gary's 60 requests per minute.
    let sandbox = Sandbox::new(providers::emulators(EmulatorConfig::default()), None).expect("a sandbox");
    let (addr, _server) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    let settings = AccountSettings {
        name: "gary".into(),
        provider_type: ProviderType::Gary,
        base_url: providers::sandbox_base_url(ProviderType::Gary, &format!("http://{addr}")),
        credential: Secret::new("gc_live_pacing_test"),
        credential_source: "the test".into(),
        rate: Some(Rate::per_minute(60)),
        headers: Default::default(),
        budget_file: None,
    };
    let account = Account::connect(settings, providers::dialect(ProviderType::Gary), Arc::new(|_| {}));
    let connections = Connections::new(providers::Accounts::new([account.clone()]));
    let dir = tempfile::tempdir().expect("a folder");
    manifests(dir.path(), ENROLLMENTS);
    let loaded = seqops::manifest::load(&[dir.path().to_path_buf()], &providers::kinds()).expect("valid manifests");

    let started = seqops::clock::now_ms();
    let state = State::new(true);
    let plan = engine::plan(&loaded, &state, &connections, &PlanOptions::new(Refresh::Full)).await.expect("a plan");
    assert_eq!(plan.changes.len(), ENROLLMENTS);
    let writer = StateWriter::new(StateStore::in_memory(), state);
    let options = ApplyOptions {
        parallelism: 4,
        verify_observed: false,
        sandbox: true,
        outputs_to_files: true,
        digests: Default::default(),
        provenance: Default::default(),
        plan_id: None,
        stop: Default::default(),
        rescue_dir: None,
    };
    let report = engine::apply(&plan, &connections, &writer, options, &|_| {}).await.expect("applied");
    let elapsed_ms = seqops::clock::now_ms() - started;

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let requests = account.usage.made();
    assert_eq!(requests as usize, ENROLLMENTS + 1, "one list, then one POST per enrollment");
    let answers = account.usage.answers();
    assert_eq!(answers.get("429"), None, "no request was refused: {answers:?}");
    let allowed_ms = requests as f64 / 60.0 * 60_000.0 * 1.02;
    println!(
        "{requests} requests paced to 60/min in {:.1} s of sandbox time (bound {:.1} s)",
        elapsed_ms as f64 / 1000.0,
        allowed_ms / 1000.0
    );
    assert!((elapsed_ms as f64) <= allowed_ms, "{elapsed_ms} ms for {requests} requests at 60 a minute");
    assert!(elapsed_ms >= 120_000, "151 requests at 60 a minute need two full windows of waiting, not {elapsed_ms} ms");
    assert_eq!(sandbox.request_counts()["gary"] as usize, ENROLLMENTS + 1);
}
