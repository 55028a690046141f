//! `/metrics` (Prometheus text format), `/healthz` and `/readyz` on one port.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;

use crate::providers::Account;

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Reconciles by kind and result, their durations, and each account's API
/// requests and budget.
#[derive(Default)]
pub struct Metrics {
    reconciles: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Failed reconciles by kind and [`super::ReconcileError::metric_label`].
    errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// Accounts by label (`namespace/provider`).
    accounts: Mutex<BTreeMap<String, Arc<Account>>>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn record(&self, kind: &str, result: &'static str) {
        *self.reconciles.lock().unwrap_or_else(|e| e.into_inner()).entry((kind.to_string(), result)).or_default() += 1;
    }

    pub fn record_error(&self, kind: &str, reason: &'static str) {
        *self.errors.lock().unwrap_or_else(|e| e.into_inner()).entry((kind.to_string(), reason)).or_default() += 1;
    }

    pub fn record_duration(&self, kind: &str, took: Duration) {
        let mut durations = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = durations.entry(kind.to_string()).or_default();
        let seconds = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Makes an account's requests and budget part of the metrics.
    pub fn watch_account(&self, label: &str, account: Arc<Account>) {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(label.to_string(), account);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP seqops_reconciles_total Reconciles by kind and result.\n");
        out.push_str("# TYPE seqops_reconciles_total counter\n");
        for ((kind, result), count) in self.reconciles.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "seqops_reconciles_total{{kind=\"{kind}\",result=\"{result}\"}} {count}");
        }
        out.push_str("# HELP seqops_reconcile_errors_total Reconciles that did not end in sync, by kind and reason.\n");
        out.push_str("# TYPE seqops_reconcile_errors_total counter\n");
        for ((kind, reason), count) in self.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "seqops_reconcile_errors_total{{kind=\"{kind}\",reason=\"{reason}\"}} {count}");
        }
        out.push_str("# HELP seqops_reconcile_duration_seconds How long reconciles took, by kind.\n");
        out.push_str("# TYPE seqops_reconcile_duration_seconds histogram\n");
        for (kind, histogram) in self.durations.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter()) {
                let _ =
                    writeln!(out, "seqops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {count}");
            }
            let count = histogram.count;
            let _ = writeln!(out, "seqops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "seqops_reconcile_duration_seconds_sum{{kind=\"{kind}\"}} {}", histogram.sum);
            let _ = writeln!(out, "seqops_reconcile_duration_seconds_count{{kind=\"{kind}\"}} {count}");
        }
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(
            "# HELP seqops_api_requests_total Requests to vendor APIs by provider, account and status code.\n",
        );
        out.push_str("# TYPE seqops_api_requests_total counter\n");
        for (label, account) in accounts.iter() {
            let provider = account.settings.provider_type.as_str();
            for (code, count) in account.usage.answers() {
                let _ = writeln!(
                    out,
                    "seqops_api_requests_total{{provider=\"{provider}\",account=\"{label}\",code=\"{code}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP seqops_budget_remaining Requests an account may still make in the rolling hour.\n");
        out.push_str("# TYPE seqops_budget_remaining gauge\n");
        for (label, account) in accounts.iter() {
            if let Some(remaining) = account.limiter.remaining() {
                let provider = account.settings.provider_type.as_str();
                let _ =
                    writeln!(out, "seqops_budget_remaining{{provider=\"{provider}\",account=\"{label}\"}} {remaining}");
            }
        }
        out
    }
}

/// Serves the health and metrics endpoints until the process stops.
pub async fn serve(addr: &str, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { metrics.render() }));
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_are_exposed_as_a_prometheus_counter() {
        let metrics = Metrics::default();
        metrics.record("Sequence", "success");
        metrics.record("Sequence", "success");
        metrics.record("Sequence", "error");
        let text = metrics.render();
        assert!(text.contains("seqops_reconciles_total{kind=\"Sequence\",result=\"success\"} 2\n"), "{text}");
        assert!(text.contains("seqops_reconciles_total{kind=\"Sequence\",result=\"error\"} 1\n"), "{text}");
    }

    #[test]
    fn reconcile_durations_fill_every_bucket_at_or_above_them() {
        let metrics = Metrics::default();
        metrics.record_duration("Agent", Duration::from_millis(300));
        metrics.record_duration("Agent", Duration::from_secs(20));
        let text = metrics.render();
        assert!(text.contains("seqops_reconcile_duration_seconds_bucket{kind=\"Agent\",le=\"0.25\"} 0\n"), "{text}");
        assert!(text.contains("seqops_reconcile_duration_seconds_bucket{kind=\"Agent\",le=\"0.5\"} 1\n"), "{text}");
        assert!(text.contains("seqops_reconcile_duration_seconds_bucket{kind=\"Agent\",le=\"30\"} 2\n"), "{text}");
        assert!(text.contains("seqops_reconcile_duration_seconds_bucket{kind=\"Agent\",le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("seqops_reconcile_duration_seconds_count{kind=\"Agent\"} 2\n"), "{text}");
    }
}
