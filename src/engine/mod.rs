//! The engine: diff, plan and apply, knowing nothing about any vendor. It
//! sees providers only through [`crate::external::ExternalClient`].

pub mod apply;
pub mod connections;
pub mod diff;
pub mod export;
pub mod graph;
pub mod guard;
pub mod history;
pub mod journal;
pub mod plan;
pub mod planfile;
pub mod state;

pub use apply::{apply, ApplyOptions, ApplyReport, Progress};
pub use connections::Connections;
pub use plan::{plan, Action, Change, Plan, PlanOptions, Refresh};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Problems found while planning, one line each.
    #[error("{}", .0.join("\n"))]
    Plan(Vec<String>),
    #[error("{0}")]
    Connection(String),
}

/// A digest of a JSON value that does not depend on key order.
pub fn digest(value: &serde_json::Value) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(canonical(value).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String((*k).clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}
