//! An apply paced to a vendor's limit on the virtual clock: waits move the
//! clock instead of passing, while every request is still sent for real
//! over loopback to the sandbox, whose own limit counts on the same clock.
//! The clock is global to a process: one paced test per test binary.

use std::sync::Arc;

use seqops::engine::apply::StateWriter;
use seqops::engine::state::{State, StateStore};
use seqops::engine::{self, ApplyOptions, Connections, PlanOptions, Refresh};
use seqops::manifest::provider::{ProviderType, Rate};
use seqops::providers::{self, Account, AccountSettings, Secret};
use seqops::sandbox::{EmulatorConfig, Sandbox};

/// What a paced apply cost.
pub struct Paced {
    pub changes: usize,
    pub requests: u64,
    pub refused_with_429: Option<u64>,
    pub elapsed_ms: u64,
    /// Requests the sandbox itself counted.
    pub served: u64,
}

/// Plans `manifests` (a stream with its Provider, named `name`) from empty
/// state and applies it, 4 at once, to a sandbox enforcing the vendors'
/// documented limits, with seqops pacing to `rate`.
pub async fn apply(provider_type: ProviderType, name: &str, key: &str, rate: Rate, manifests: &str) -> Paced {
    seqops::clock::use_virtual_time();
    let sandbox = Sandbox::new(providers::emulators(EmulatorConfig::default()), None).expect("a sandbox");
    let (addr, _server) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    let settings = AccountSettings {
        name: name.into(),
        provider_type,
        base_url: providers::sandbox_base_url(provider_type, &format!("http://{addr}")),
        credential: Secret::new(key),
        credential_source: "the test".into(),
        rate: Some(rate),
        headers: Default::default(),
        budget_file: None,
    };
    let account = Account::connect(settings, providers::dialect(provider_type), Arc::new(|_| {}));
    let connections = Connections::new(providers::Accounts::new([account.clone()]));
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("all.yaml"), manifests).expect("manifests written");
    let loaded = seqops::manifest::load(&[dir.path().to_path_buf()], &providers::kinds()).expect("valid manifests");

    let started = seqops::clock::now_ms();
    let state = State::new(true);
    let plan = engine::plan(&loaded, &state, &connections, &PlanOptions::new(Refresh::Full)).await.expect("a plan");
    let writer = StateWriter::new(StateStore::in_memory(), state);
    let options = ApplyOptions { parallelism: 4, sandbox: true, ..ApplyOptions::default() };
    let report = engine::apply(&plan, &connections, &writer, options, &|_| {}).await.expect("applied");
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    Paced {
        changes: plan.changes.len(),
        requests: account.usage.made(),
        refused_with_429: account.usage.answers().get("429").copied(),
        elapsed_ms: seqops::clock::now_ms() - started,
        served: sandbox.request_counts()[provider_type.as_str()],
    }
}
