//! The engine: diff, plan and apply, knowing nothing about any vendor. It
//! sees providers only through [`crate::external::ExternalClient`].

pub mod apply;
pub mod connections;
pub mod diff;
pub mod export;
pub mod failure;
pub mod graph;
pub mod guard;
pub mod history;
pub mod journal;
pub mod lost;
pub mod plan;
pub mod planfile;
pub mod reason;
pub mod state;

pub use apply::{apply, ApplyOptions, ApplyReport, Progress};
pub use connections::Connections;
pub use failure::Failure;
pub use plan::{plan, Action, Change, Plan, PlanOptions, Refresh, Verb};
pub use reason::Reason;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Problems found while planning, one line each.
    #[error("{}", .0.join("\n"))]
    Plan(Vec<String>),
    /// Objects that could not be planned, one line each, with what caused
    /// it: what the API answered, or seqops's own checks.
    #[error("{}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("\n"))]
    Failed(Vec<Failure>),
    #[error("{0}")]
    Connection(String),
}

/// A digest of a JSON value that does not depend on key order.
pub fn digest(value: &serde_json::Value) -> String {
    let mut hasher = Canonical::default();
    hasher.value(value);
    hasher.finish()
}

/// The canonical JSON of values (compact, object keys sorted), fed
/// straight into SHA-256 without building the text: digests of thousands
/// of manifests cost no allocation per value.
#[derive(Default)]
pub struct Canonical(sha2::Sha256);

impl Canonical {
    pub fn bytes(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }

    /// A value as `serde_json` writes it compactly; objects sorted by key.
    pub fn value(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                self.bytes(b"{");
                for (index, (key, value)) in entries.into_iter().enumerate() {
                    if index > 0 {
                        self.bytes(b",");
                    }
                    self.scalar(key);
                    self.bytes(b":");
                    self.value(value);
                }
                self.bytes(b"}");
            }
            serde_json::Value::Array(items) => {
                self.bytes(b"[");
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        self.bytes(b",");
                    }
                    self.value(item);
                }
                self.bytes(b"]");
            }
            other => self.scalar(other),
        }
    }

    /// A string, number, boolean or null, as `serde_json` writes it.
    pub fn scalar(&mut self, value: &(impl serde::Serialize + ?Sized)) {
        // Writing to a hasher cannot fail, and these values always serialize.
        let _ = serde_json::to_writer(&mut *self, value);
    }

    /// The first 16 bytes of the digest, in hex.
    pub fn finish(self) -> String {
        let digest = sha2::Digest::finalize(self.0);
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

impl std::io::Write for Canonical {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod digest_tests {
    use serde_json::json;

    /// The canonical text digests were first made from: a digest must not
    /// change, or every object in an existing state would look edited.
    fn canonical_text(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}:{}", serde_json::Value::String((*k).clone()), canonical_text(v)))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            serde_json::Value::Array(items) => {
                format!("[{}]", items.iter().map(canonical_text).collect::<Vec<_>>().join(","))
            }
            other => other.to_string(),
        }
    }

    #[test]
    fn a_streamed_digest_is_the_digest_of_the_canonical_text() {
        use sha2::Digest;
        let value = json!({"z": [1, 2.5, null, true], "a": {"é\"\n": "x\u{1}", "b": {}}, "m": [], "n": -3});
        let text = sha2::Sha256::digest(canonical_text(&value).as_bytes());
        let expected: String = text.iter().take(16).map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::digest(&value), expected);
    }
}
