//! Pacing to Orsay's 200 requests an hour, proven on the virtual clock:
//! 1,000 creates take five hours of sandbox time and no test time, every
//! request still sent over loopback to the sandbox, which counts its own
//! limit on the same clock. (Its own process: the virtual clock is global.)

use std::sync::Arc;

use seqops::engine::apply::StateWriter;
use seqops::engine::state::{State, StateStore};
use seqops::engine::{self, ApplyOptions, Connections, PlanOptions, Refresh};
use seqops::manifest::provider::{ProviderType, Rate};
use seqops::providers::{self, Account, AccountSettings, Secret};
use seqops::sandbox::{EmulatorConfig, Sandbox};

const CREATES: usize = 1_000;

fn manifests(dir: &std::path::Path, count: usize) {
    let mut text = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  credentials:\n    env: ORSAY_API_KEY\n".to_string();
    for n in 0..count {
        text.push_str(&format!(
            "---\napiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s{n}\nspec:\n  name: Paced {n}\n  trigger: WHATSAPP_MESSAGE\n"
        ));
    }
    std::fs::write(dir.join("all.yaml"), text).expect("manifests written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_1000_orsay_creates_under_200_an_hour_gets_no_429_and_takes_no_longer_than_the_rate_allows() {
    seqops::clock::use_virtual_time();
    // The sandbox enforces Orsay's 200 requests per hour.
    let sandbox = Sandbox::new(providers::emulators(EmulatorConfig::default()), None).expect("a sandbox");
    let (addr, _server) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    let settings = AccountSettings {
        name: "orsay".into(),
        provider_type: ProviderType::Orsay,
        base_url: providers::sandbox_base_url(ProviderType::Orsay, &format!("http://{addr}")),
        credential: Secret::new("sk_pacing_test"),
        credential_source: "the test".into(),
        rate: Some(Rate::per_hour(200)),
        headers: Default::default(),
        budget_file: None,
    };
    let account = Account::connect(settings, providers::dialect(ProviderType::Orsay), Arc::new(|_| {}));
    let connections = Connections::new(providers::Accounts::new([account.clone()]));
    let dir = tempfile::tempdir().expect("a folder");
    manifests(dir.path(), CREATES);
    let loaded = seqops::manifest::load(&[dir.path().to_path_buf()], &providers::kinds()).expect("valid manifests");

    let started = seqops::clock::now_ms();
    let state = State::new(true);
    let plan = engine::plan(&loaded, &state, &connections, &PlanOptions::new(Refresh::Full)).await.expect("a plan");
    assert_eq!(plan.changes.len(), CREATES);
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

    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    let requests = account.usage.made();
    assert_eq!(requests as usize, CREATES + 1, "one list, then one POST per sequence");
    let answers = account.usage.answers();
    assert_eq!(answers.get("429"), None, "no request was refused: {answers:?}");
    let allowed_ms = requests as f64 / 200.0 * 3_600_000.0 * 1.02;
    println!(
        "{requests} requests paced to 200/h in {:.2} h of sandbox time (bound {:.2} h)",
        elapsed_ms as f64 / 3_600_000.0,
        allowed_ms / 3_600_000.0
    );
    assert!((elapsed_ms as f64) <= allowed_ms, "{elapsed_ms} ms for {requests} requests at 200 an hour");
    assert!(elapsed_ms >= 4 * 3_600_000, "1,001 requests at 200 an hour need five windows, not {elapsed_ms} ms");
    assert_eq!(sandbox.request_counts()["orsay"] as usize, CREATES + 1);
}
