//! The controller paced to Orsay's 200 requests an hour, proven on the
//! virtual clock (see src/clock.rs): 1,000 Sequences applied to the
//! in-memory Kubernetes API server at once, all under one key, take five
//! hours of sandbox time and seconds of test time. The controller runs in
//! this process, against the sandbox served here too, whose own limit
//! counts on the same clock. Its own binary: the virtual clock is global.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake_cluster::{self, FakeCluster};
use seqops::controller::metrics::Metrics;
use seqops::sandbox::{EmulatorConfig, Sandbox};

const OBJECTS: usize = 1_000;
const RATE: f64 = 200.0;
const NAMESPACE: &str = "paced";
const KEY: &str = "sk_pacing_controller";
/// Test time the controller is given: the paced hours pass on the virtual
/// clock.
const PATIENCE: Duration = Duration::from_secs(240);

fn ready(fake: &FakeCluster, n: usize) -> bool {
    let path = fake_cluster::numbered_sequence_path(NAMESPACE, n);
    fake.condition(&path, "Ready").is_some_and(|c| c["status"] == "True")
}

/// What the controller's `/metrics` says it was answered with `code`.
fn answered(metrics: &Metrics, code: &str) -> u64 {
    let needle = format!("code=\"{code}\"}} ");
    metrics
        .render()
        .lines()
        .filter(|line| line.starts_with("seqops_api_requests_total") && line.contains(&needle))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_controller_reconciling_1000_sequences_under_one_key_gets_no_429_and_takes_no_longer_than_the_rate_allows() {
    seqops::clock::use_virtual_time();
    let fake = FakeCluster::start();
    let work = tempfile::tempdir().expect("a folder");
    let kubeconfig = fake.kubeconfig(work.path(), NAMESPACE);
    fake.put(fake_cluster::secret(NAMESPACE, "orsay-key", "apiKey", KEY));
    fake.put(fake_cluster::orsay_provider(NAMESPACE, RATE as u32));
    for n in 0..OBJECTS {
        fake.put(fake_cluster::numbered_sequence(NAMESPACE, n, "Paced"));
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let sandbox = Sandbox::new(seqops::providers::emulators(EmulatorConfig::default()), None).expect("a sandbox");
    let addr = runtime.block_on(sandbox.serve("127.0.0.1:0")).expect("the sandbox listens").0;
    let client = runtime.block_on(async {
        let config = kube::config::Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig");
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(config, &options).await.expect("a client config");
        kube::Client::try_from(config).expect("a client")
    });
    let metrics = Arc::new(Metrics::default());
    let options = seqops::controller::Options {
        namespace: Some(NAMESPACE.into()),
        base_url_override: Some(format!("http://{addr}")),
        metrics_addr: String::new(),
        drift_interval: None,
        allowed_hosts: Vec::new(),
        lease_namespace: NAMESPACE.into(),
        lease_name: "paced".into(),
        identity: "paced".into(),
        limits: Default::default(),
    };

    let started_ms = seqops::clock::now_ms();
    runtime.spawn(seqops::controller::run(client, options, metrics.clone()));
    let waited = Instant::now();
    while !(0..OBJECTS).all(|n| ready(&fake, n)) {
        let ready_now = (0..OBJECTS).filter(|n| ready(&fake, *n)).count();
        assert!(waited.elapsed() < PATIENCE, "{ready_now} of {OBJECTS} Ready within {PATIENCE:?} of test time");
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed_ms = seqops::clock::now_ms() - started_ms;

    let requests = sandbox.request_counts()["orsay"];
    let hours = elapsed_ms as f64 / 3_600_000.0;
    let bound = requests as f64 / RATE * 1.02;
    println!(
        "{OBJECTS} Sequences Ready after {requests} requests in {hours:.2} h of sandbox time (bound {bound:.2} h)"
    );
    assert_eq!(answered(&metrics, "429"), 0, "no request was refused");
    assert!(hours <= bound, "{hours:.2} h for {requests} requests at 200 an hour");
    let windows_before_the_last = (requests - 1) / RATE as u64;
    assert!(hours >= windows_before_the_last as f64, "no request went before its turn: {requests} in {hours:.2} h");
    assert!(
        requests <= OBJECTS as u64 + 20,
        "{requests} requests: one create per object, and a list now and then (each write amends the one held)"
    );
    runtime.shutdown_background();
}
