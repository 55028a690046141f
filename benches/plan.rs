//! No-op plan of many Orsay sequences against the in-process sandbox (its
//! rate limit off): time, memory, and requests per refresh mode.
//!
//! `cargo bench --bench plan` (10,000 sequences); `SEQOPS_BENCH_SEQUENCES=N`
//! for another size.

#[allow(dead_code)]
mod measure;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use seqops::engine::export::export;
use seqops::engine::state::State;
use seqops::engine::{plan, Connections, PlanOptions, Refresh};
use seqops::providers::account::Secret;
use seqops::providers::{self, Account, AccountSettings};
use seqops::sandbox::{EmulatorConfig, Sandbox};

const KEY: &str = "sk_bench_seqops";

fn main() {
    let count: usize = std::env::var("SEQOPS_BENCH_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(run(count));
}

async fn run(count: usize) {
    let config = EmulatorConfig { requests_per_hour: 0, ..Default::default() };
    let sandbox = Sandbox::new(seqops::providers::emulators(config), None).expect("a sandbox");
    let (addr, _server) = sandbox.serve("127.0.0.1:0").await.expect("it listens");
    let origin = format!("http://{addr}");
    let base_url = providers::sandbox_base_url(providers::orsay::TYPE, &origin);

    let started = Instant::now();
    seed(&base_url, count).await;
    println!("seeded {count} sequences through the API in {:.1?}", started.elapsed());

    let work = tempfile::tempdir().expect("a temporary folder");
    let connections = connect(&base_url);
    let mut state = State::new(true);
    let mut taken = BTreeSet::new();
    let kind = ("orsay.seqops.dev/v1alpha1", "Sequence", "Sequence");
    let started = Instant::now();
    let exported = export(&connections, "main", kind, &state, &mut taken, 16).await.expect("export");
    println!("exported {} sequences in {:.1?}", exported.len(), started.elapsed());
    write_manifests(work.path(), &base_url, &exported);
    for object in exported {
        state.resources.insert(object.key, object.entry);
    }

    let started = Instant::now();
    let manifests = seqops::manifest::load(&[work.path().to_path_buf()], &providers::kinds()).expect("valid manifests");
    println!("loaded and validated {} manifests in {:.1?}", manifests.resources.len(), started.elapsed());

    println!();
    println!("{:<10} {:>10} {:>14} {:>16}", "refresh", "requests", "no-op plan", "peak RSS growth");
    for (refresh, rounds) in [(Refresh::None, 5), (Refresh::Changed, 5), (Refresh::Full, 1)] {
        let mut times = Vec::new();
        let mut requests = 0;
        let mut growth = 0;
        for _ in 0..rounds {
            // A fresh connection per round: nothing cached between runs, as
            // between two invocations of the CLI.
            let connections = connect(&base_url);
            let before_requests = sandbox.request_counts()["orsay"];
            let rss_before = measure::memory("VmRSS");
            measure::reset_peak();
            let started = Instant::now();
            let options = PlanOptions::new(refresh);
            let planned = plan(&manifests, &state, &connections, &options).await.expect("a plan");
            times.push(started.elapsed());
            assert!(
                planned.changes.is_empty(),
                "a no-op plan found changes: {:?}",
                planned.changes.first().map(|c| &c.key)
            );
            requests = sandbox.request_counts()["orsay"] - before_requests;
            growth = growth.max(measure::memory("VmHWM").saturating_sub(rss_before));
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{:<10} {:>10} {:>14} {:>13} MiB",
            format!("{refresh:?}").to_lowercase(),
            requests,
            format!("{median:.1?}"),
            growth / 1024
        );
    }
    println!();
    println!("process peak RSS (sandbox with {count} sequences included): {} MiB", measure::memory("VmHWM") / 1024);
}

fn connect(base_url: &str) -> Connections {
    let settings = AccountSettings {
        name: "main".into(),
        provider_type: providers::orsay::TYPE,
        base_url: base_url.to_string(),
        credential: Secret::new(KEY),
        credential_source: "the benchmark".into(),
        rate: None,
        headers: Default::default(),
        budget_file: None,
    };
    Connections::new(providers::Accounts::new([Account::connect(
        settings,
        providers::http::DETAIL_DIALECT,
        Arc::new(|_| {}),
    )]))
}

async fn seed(base_url: &str, count: usize) {
    use futures::stream::{self, StreamExt};
    let client = reqwest::Client::new();
    let agents: serde_json::Value = client
        .get(format!("{base_url}/agents"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("agents")
        .json()
        .await
        .expect("json");
    let agent = agents[0]["id"].clone();
    stream::iter(0..count)
        .for_each_concurrent(16, |index| {
            let client = client.clone();
            let agent = agent.clone();
            async move {
                let body = serde_json::json!({
                    "name": format!("Sequence {index}"),
                    "trigger": "INSTAGRAM_MESSAGE",
                    "active": index % 2 == 0,
                    "agent_id": agent,
                    "keywords": ["price", "info"],
                    "flow": [{"delay": 0, "delay_unit": "MINUTES", "content": format!("Hi! This is message {index}.\nHow can we help?"),
                              "followup_delays": [{"delay": 30, "delay_unit": "MINUTES"}]}],
                });
                let response = client.post(format!("{base_url}/sequences")).bearer_auth(KEY).json(&body).send().await.expect("create");
                assert_eq!(response.status().as_u16(), 201);
            }
        })
        .await;
}

fn write_manifests(dir: &std::path::Path, base_url: &str, exported: &[seqops::engine::export::Exported]) {
    let provider = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {base_url}\n  credentials:\n    env: ORSAY_API_KEY\n  rateLimit:\n    requestsPerHour: 0\n"
    );
    std::fs::write(dir.join("provider.yaml"), provider).expect("written");
    for object in exported {
        let doc =
            seqops::manifest::manifest_document(&object.api_version, &object.kind, &object.key.name, &object.spec);
        std::fs::write(dir.join(format!("{}.yaml", object.key.name)), serde_yaml::to_string(&doc).expect("yaml"))
            .expect("written");
    }
}
