//! A manifest's spec as it travels from the loader to a provider: the
//! value of its kind's Rust type, and the same value as JSON (what is
//! digested, recorded in state and shown in plans). A provider's client
//! takes its own type out with [`Spec::typed`], as crossplane-runtime's
//! typed external clients assert the managed resource's type; the sources
//! the spec reads (`fromEnv`, `fromFile`, `secretKeyRef`, …) are found
//! once and kept with it.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::sources::Sources;
use super::ProviderError;

type Typed = Arc<dyn Any + Send + Sync>;

/// A spec, typed by its kind, with its JSON.
#[derive(Clone)]
pub struct Spec {
    json: Value,
    /// The value of the kind's type: set by the loader, or read from
    /// `json` the first time a provider asks (a spec from a saved plan or
    /// from state).
    typed: OnceLock<Typed>,
    sources: OnceLock<Arc<Sources>>,
}

impl Spec {
    /// A spec the loader read as `typed`, whose JSON is `json`.
    pub fn of<T: Any + Send + Sync>(typed: T, json: Value) -> Self {
        let spec = Self::from_json(json);
        let _ = spec.typed.set(Arc::new(typed));
        let _ = spec.sources.set(Arc::new(Sources::of(&spec.json)));
        spec
    }

    /// A spec known only as JSON (from a saved plan, state or a cluster
    /// object): its type is read when a provider first asks for it.
    pub fn from_json(json: Value) -> Self {
        Self { json, typed: OnceLock::new(), sources: OnceLock::new() }
    }

    /// The spec as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The spec as its kind's type `T`. A spec of another kind, or JSON
    /// that does not read as `T`, is an invalid spec, never a guess.
    pub fn typed<T: DeserializeOwned + Any + Send + Sync>(&self) -> Result<&T, ProviderError> {
        if self.typed.get().is_none() {
            let value: T = serde_json::from_value(self.json.clone())
                .map_err(|e| ProviderError::Invalid(format!("the spec does not read as its kind: {e}")))?;
            let _ = self.typed.set(Arc::new(value));
        }
        self.typed
            .get()
            .and_then(|typed| typed.downcast_ref::<T>())
            .ok_or_else(|| ProviderError::Invalid(format!("the spec is not a {}", std::any::type_name::<T>())))
    }

    /// The sources the spec reads, found once.
    pub fn sources(&self) -> &Sources {
        self.sources.get_or_init(|| Arc::new(Sources::of(&self.json)))
    }
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl serde::Serialize for Spec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Spec::from_json)
    }
}

impl Default for Spec {
    fn default() -> Self {
        Self::from_json(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Thing {
        name: String,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Other {}

    #[test]
    fn a_spec_known_as_json_is_read_as_its_type_once_asked() {
        let spec = Spec::from_json(json!({"name": "a"}));
        assert_eq!(spec.typed::<Thing>().map(|t| t.name.as_str()).ok(), Some("a"));
        let error = spec.typed::<Other>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("is not a"), "{error}");
    }

    #[test]
    fn the_loaders_value_is_what_a_provider_gets() {
        let spec = Spec::of(Thing { name: "typed".into() }, json!({"name": "json"}));
        assert_eq!(spec.typed::<Thing>().map(|t| t.name.as_str()).ok(), Some("typed"));
        assert_eq!(spec.json()["name"], "json");
    }

    #[test]
    fn sources_are_found_once_with_their_paths() {
        let spec = Spec::from_json(json!({"headers": {"Authorization": {"fromEnv": "TOKEN"}}, "name": "x"}));
        assert_eq!(spec.sources().env_reads(), vec![("headers.Authorization".to_string(), "TOKEN".to_string())]);
        assert!(!Spec::from_json(json!({"name": "x"})).sources().any());
    }
}
