//! `/metrics` (Prometheus text format), `/healthz` and `/readyz` on one port.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;

/// Reconciles counted by kind and result.
#[derive(Default)]
pub struct Metrics {
    reconciles: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Metrics {
    pub fn record(&self, kind: &str, result: &'static str) {
        *self.reconciles.lock().unwrap_or_else(|e| e.into_inner()).entry((kind.to_string(), result)).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP seqops_reconciles_total Reconciles by kind and result.\n# TYPE seqops_reconciles_total counter\n",
        );
        for ((kind, result), count) in self.reconciles.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push_str(&format!("seqops_reconciles_total{{kind=\"{kind}\",result=\"{result}\"}} {count}\n"));
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
}
