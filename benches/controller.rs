//! The controller at 1,000 objects, as it runs: the `seqops controller`
//! process against the in-memory Kubernetes API server
//! (tests/common/fake_cluster.rs) and the served sandbox, 1,000 Orsay
//! Sequences under one key.
//!
//! 1. With the key's budget off: the time from the objects' creation to all
//!    Ready, vendor requests per object, and the controller's peak RSS.
//! 2. A second controller, the key's budget now 600 an hour: every object
//!    is in sync, so each reconcile is a drift check, and checks may spend
//!    four fifths of the budget. The requests it makes are counted, then one
//!    object is edited: the time until that change is at the vendor and its
//!    status says so, while the other objects wait for budget.
//!
//! `cargo bench --bench controller` (`SEQOPS_BENCH_OBJECTS=N` for another
//! size).

#[path = "../tests/common/fake_cluster.rs"]
#[allow(dead_code)]
mod fake_cluster;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_cluster::FakeCluster;
use serde_json::{json, Value};

const SEQOPS: &str = env!("CARGO_BIN_EXE_seqops");
const NAMESPACE: &str = "bench";
const KEY: &str = "sk_bench_controller";
const BUDGET: u32 = 600;
const PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    let count: usize = std::env::var("SEQOPS_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let (mut sandbox, origin, _stdout) = sandbox();
    let fake = FakeCluster::start();
    let work = tempfile::tempdir().expect("a folder");
    let kubeconfig = fake.kubeconfig(work.path(), NAMESPACE);
    let namespaced = format!("namespaces/{NAMESPACE}");
    let secret = fake_cluster::secret(NAMESPACE, "orsay-key", "apiKey", KEY);
    send(&fake, reqwest::Method::POST, &format!("/api/v1/{namespaced}/secrets"), &secret);
    let providers = format!("/apis/seqops.dev/v1alpha1/{namespaced}/providers");
    send(&fake, reqwest::Method::POST, &providers, &provider(0));
    let created = Instant::now();
    for n in 0..count {
        send(
            &fake,
            reqwest::Method::POST,
            &format!("/apis/orsay.seqops.dev/v1alpha1/{namespaced}/sequences"),
            &sequence(n),
        );
    }

    let mut first = controller(&kubeconfig, &origin, "one", work.path());
    let logs = work.path().to_path_buf();
    let wait_until = |what: &str, done: &dyn Fn() -> bool| wait_until(what, done, &logs);
    wait_until("every object Ready", &|| (0..count).all(|n| ready(&fake, n)));
    let all_ready = created.elapsed();
    let requests = vendor_requests(&fake, &origin);
    let peak_mib = peak_rss_kib(&first) / 1024;
    stop(&mut first);
    println!("{count} Sequences under one key, budget off:");
    println!("  all Ready after        {:>8.1} s", all_ready.as_secs_f64());
    println!("  vendor requests        {requests:>8} ({:.2} per object)", requests as f64 / count as f64);
    println!("  controller peak RSS    {peak_mib:>8} MiB");

    send(&fake, reqwest::Method::PUT, &format!("{providers}/orsay"), &provider(BUDGET));
    let before = vendor_requests(&fake, &origin);
    let mut second = controller(&kubeconfig, &origin, "two", work.path());
    // Checks stop at four fifths of the budget, and stay stopped.
    let checks_share = u64::from(BUDGET - BUDGET / 5);
    // Each object is checked once at start: fewer than the share spend less.
    let expected = checks_share.min(count as u64);
    wait_until("the checks' share spent", &|| vendor_requests(&fake, &origin) - before >= expected);
    std::thread::sleep(Duration::from_secs(3));
    let checked = vendor_requests(&fake, &origin) - before;
    let edited = Instant::now();
    edit(&fake, 0);
    wait_until("the edit reconciled", &|| synced_generation(&fake, 0) == Some(2));
    let edit_took = edited.elapsed();
    let total = vendor_requests(&fake, &origin) - before;
    let peak_mib = peak_rss_kib(&second) / 1024;
    stop(&mut second);
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    println!("The same objects in sync, a budget of {BUDGET} an hour, every reconcile a drift check:");
    println!("  requests by checks     {checked:>8} (their share: {checks_share})");
    println!("  one edit reconciled in {:>8.2} s, while the others wait for budget", edit_took.as_secs_f64());
    println!("  requests this hour     {total:>8} (budget {BUDGET})");
    println!("  controller peak RSS    {peak_mib:>8} MiB");
}

fn sandbox() -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(SEQOPS)
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--requests-per-hour", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    // Kept open while the server runs: it must not write to a closed pipe.
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("its address");
    let origin = line.trim().rsplit(' ').next().expect("an address").to_string();
    (child, origin, stdout)
}

fn controller(kubeconfig: &std::path::Path, origin: &str, name: &str, dir: &std::path::Path) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
    let metrics = format!("127.0.0.1:{}", port.expect("a free port"));
    Command::new(SEQOPS)
        .args(["controller", "--namespace", NAMESPACE, "--sandbox-origin", origin, "--metrics-addr", &metrics])
        .args(["--lease-namespace", NAMESPACE, "--lease-name", &format!("bench-{name}")])
        .env("KUBECONFIG", kubeconfig)
        .env("SEQOPS_LOG", "info")
        .env("POD_NAME", format!("controller-{name}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("controller-{name}.log"))).expect("a log file"))
        .spawn()
        .expect("the controller starts")
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn provider(requests_per_hour: u32) -> Value {
    fake_cluster::orsay_provider(NAMESPACE, requests_per_hour)
}

fn sequence(n: usize) -> Value {
    fake_cluster::numbered_sequence(NAMESPACE, n, "Bench")
}

fn path(n: usize) -> String {
    fake_cluster::numbered_sequence_path(NAMESPACE, n)
}

fn condition(fake: &FakeCluster, n: usize, kind: &str) -> Option<Value> {
    fake.condition(&path(n), kind)
}

fn ready(fake: &FakeCluster, n: usize) -> bool {
    condition(fake, n, "Ready").is_some_and(|c| c["status"] == "True")
}

/// The generation the object's status says is synced, once it is.
fn synced_generation(fake: &FakeCluster, n: usize) -> Option<i64> {
    let synced = condition(fake, n, "Synced").filter(|c| c["status"] == "True")?;
    let object = fake.get(&path(n))?;
    (synced["observedGeneration"].as_i64() == object["status"]["observedGeneration"].as_i64())
        .then(|| object["status"]["observedGeneration"].as_i64())
        .flatten()
}

/// A merge patch of the object's spec, as `kubectl edit` sends: the API
/// server bumps its generation.
fn edit(fake: &FakeCluster, n: usize) {
    let patch = json!({"spec": {"name": format!("Bench {n}, edited")}});
    send(fake, reqwest::Method::PATCH, &path(n), &patch);
}

/// Sends `body` to the API server, as kubectl does.
fn send(fake: &FakeCluster, method: reqwest::Method, path: &str, body: &Value) {
    let url = format!("{}{path}", fake.origin);
    let kind = if method == reqwest::Method::PATCH { "application/merge-patch+json" } else { "application/json" };
    fake.runtime().block_on(async {
        let answer = reqwest::Client::new()
            .request(method.clone(), &url)
            .header("content-type", kind)
            .body(body.to_string())
            .send()
            .await
            .expect("the API server answers");
        assert!(answer.status().is_success(), "{method} {path} was refused: {}", answer.status());
    });
}

fn vendor_requests(fake: &FakeCluster, origin: &str) -> u64 {
    let url = format!("{origin}/_sandbox/requests");
    let counts: Value = fake.runtime().block_on(async {
        let answer = reqwest::Client::new().get(&url).bearer_auth(KEY).send().await.expect("the sandbox answers");
        answer.json().await.expect("counts")
    });
    counts["orsay"].as_u64().unwrap_or(0)
}

fn peak_rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Waits until `done`, failing with the controllers' logs in `logs`.
fn wait_until(what: &str, done: &dyn Fn() -> bool, logs: &std::path::Path) {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > PATIENCE {
            for name in ["one", "two"] {
                let log = std::fs::read_to_string(logs.join(format!("controller-{name}.log"))).unwrap_or_default();
                eprintln!("controller {name}:\n{}", &log[log.len().saturating_sub(4000)..]);
            }
            panic!("{what}: not within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
