//! Providers: the small trait the engine talks to, the shared HTTP layer,
//! and one folder per vendor API.
//!
//! The engine compares and applies [`Fields`]: a provider-neutral JSON
//! object keyed by the spec's camelCase field names, with references already
//! resolved to remote ids and durations in canonical form. Each provider maps
//! between its API's wire format and these fields.

pub mod account;
pub mod error;
pub mod http;
pub mod orchagent;
pub mod orqis;
pub mod orsay;
pub mod ratelimit;
pub mod sources;

use async_trait::async_trait;
use serde_json::Value;

pub use account::{Account, AccountSettings, Usage};
pub use error::ProviderError;

use crate::manifest::{self, KindSpec};

/// A kind's fields, as compared and applied by the engine.
pub type Fields = serde_json::Map<String, Value>;

/// What the engine must know about a kind's fields to diff and apply it.
pub struct KindFacts {
    pub key_kind: &'static str,
    /// Fields whose change cannot be made in place: the object is replaced.
    pub immutable: &'static [&'static str],
    /// List fields whose order does not matter.
    pub sets: &'static [&'static str],
    /// Fields the API takes but never returns (not secrets): taken to be
    /// what seqops last wrote.
    pub write_only: &'static [&'static str],
    /// The value the API gives a field that is not set: what a field removed
    /// from the manifest is reset to.
    pub default: fn(&str) -> Value,
    /// The fields a `list` call returns for each object.
    pub summary_fields: &'static [&'static str],
    /// Whether the API can delete the object at all.
    pub deletable: bool,
    /// Whether the old and the new object may exist at once during a
    /// replace (create first), or the old must go first.
    pub create_before_delete: bool,
}

impl KindFacts {
    pub fn is_set(&self, field: &str) -> bool {
        self.sets.contains(&field)
    }

    pub fn is_immutable(&self, field: &str) -> bool {
        self.immutable.contains(&field)
    }
}

/// One remote object as a collection listing shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSummary {
    pub id: String,
    pub display_name: String,
    /// The [`KindFacts::summary_fields`] of the object.
    pub fields: Fields,
}

/// Remote ids of the manifests a spec refers to, by reference field
/// (`spec.agentRef.name`); `None` when the object referred to does not exist
/// yet.
pub type ResolvedRefs = std::collections::BTreeMap<String, Option<String>>;

/// What a field that refers to an object not created yet shows in a plan.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// What a provider may use to turn a spec into fields.
#[derive(Default)]
pub struct DesiredContext<'a> {
    pub refs: ResolvedRefs,
    /// The spec as last applied and the fields it resolved to: a lookup
    /// whose selector has not changed may reuse its id and save a request.
    pub previous: Option<(&'a Value, &'a Fields)>,
    /// The values of the spec's sources (`fromEnv`, `fromFile`), in memory.
    pub sources: sources::SourceValues,
    /// The state's salt for secret digests.
    pub salt: String,
}

impl DesiredContext<'_> {
    /// The value `field` resolved to last time, if the spec's `spec_field`
    /// is written as it was then.
    pub fn reusable(&self, spec: &Value, spec_field: &str, field: &str) -> Option<Value> {
        let (previous_spec, previous_fields) = self.previous?;
        (previous_spec.get(spec_field) == spec.get(spec_field)).then(|| previous_fields.get(field).cloned()).flatten()
    }

    /// The marker standing for the secret at `path` (e.g. `value`).
    pub fn secret(&self, path: &str) -> Result<Value, ProviderError> {
        self.sources
            .get(path)
            .map(|value| sources::sensitive(value, &self.salt))
            .ok_or_else(|| ProviderError::Invalid(format!("spec.{path}: no value was read for this secret")))
    }

    /// The remote id a reference field resolves to, or
    /// [`KNOWN_AFTER_APPLY`] while the object referred to is still to be
    /// created.
    pub fn reference(&self, field: &str) -> Value {
        match self.refs.get(field) {
            Some(Some(id)) => Value::String(id.clone()),
            _ => Value::String(KNOWN_AFTER_APPLY.into()),
        }
    }
}

/// What a create made.
#[derive(Debug, Default)]
pub struct Created {
    pub id: String,
    /// Values the API returns only once (an API key, a webhook URL): they go
    /// where the spec's `writeSecretTo` says, never to state.
    pub outputs: std::collections::BTreeMap<String, account::Secret>,
    /// Fields the create call could not set; the engine records the object
    /// and then sets them with an update.
    pub unapplied: Fields,
}

impl Created {
    pub fn id(id: impl Into<String>) -> Self {
        Self { id: id.into(), ..Default::default() }
    }
}

/// An in-place change: the fields to change, and what a provider may need
/// to make it (the whole desired object, what was observed, source values).
pub struct UpdateRequest<'a> {
    pub id: &'a str,
    pub changes: &'a Fields,
    pub desired: &'a Fields,
    pub observed: &'a Fields,
    pub sources: &'a sources::SourceValues,
}

/// The engine's view of one kind in one account, shaped after
/// crossplane-runtime's ExternalClient. Every call is idempotent: deleting
/// what is gone succeeds, and observing what is gone says so.
#[async_trait]
pub trait ExternalClient: Send + Sync {
    fn facts(&self) -> &'static KindFacts;

    /// The fields a manifest's spec asks for, with lookups and references
    /// resolved to remote ids.
    async fn desired(&self, spec: &Value, context: &DesiredContext<'_>) -> Result<Fields, ProviderError>;

    /// A spec that asks for exactly the observed object, naming what it
    /// refers to by display name where that is unambiguous: `seqops export`.
    /// `None` when the API does not return enough to write one (write-only
    /// values), which is what a kind says unless it knows better.
    async fn export(&self, _observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(None)
    }

    /// Checks, before anything is applied, that the account can hold
    /// `creates` more objects of this kind (a plan's limits).
    async fn check_capacity(&self, _creates: usize) -> Result<(), ProviderError> {
        Ok(())
    }

    /// What the ids a spec resolves stand for, by field: the lookups it was
    /// written with (`agent` → `lookup "Sales Agent"`), for plans.
    fn labels(&self, _spec: &Value) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::new()
    }

    /// The display name a manifest's spec gives its object: its `name`
    /// unless the kind names objects otherwise.
    fn display_name(&self, spec: &Value) -> String {
        spec["name"].as_str().unwrap_or_default().to_string()
    }

    /// Every object of this kind in the account, as summaries: one request
    /// where the API allows it.
    async fn list(&self) -> Result<Vec<RemoteSummary>, ProviderError>;

    /// The object's current fields, or `None` when it no longer exists.
    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError>;

    /// Creates the object; `sources` holds the values behind its secret
    /// markers.
    async fn create(&self, desired: &Fields, sources: &sources::SourceValues) -> Result<Created, ProviderError>;

    /// Changes the given fields in place.
    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError>;

    async fn delete(&self, id: &str) -> Result<(), ProviderError>;
}

/// Every kind seqops knows, the Provider kind first.
pub fn kinds() -> Vec<KindSpec> {
    vec![
        manifest::PROVIDER_KIND,
        orsay::SEQUENCE_KIND,
        orqis::AGENT_KIND,
        orqis::LLM_KEY_KIND,
        orqis::API_KEY_KIND,
        orchagent::WORKSPACE_KIND,
        orchagent::SECRET_KIND,
        orchagent::AGENT_KIND,
        orchagent::SCHEDULE_KIND,
        orchagent::SERVICE_KIND,
    ]
}

/// The client for `key_kind` in `account`, when its provider manages it.
pub fn client_for(account: &std::sync::Arc<Account>, key_kind: &str) -> Option<std::sync::Arc<dyn ExternalClient>> {
    match account.settings.provider_type {
        manifest::provider::ProviderType::Orsay => orsay::client_for(account, key_kind),
        manifest::provider::ProviderType::Orqis => orqis::client_for(account, key_kind),
        manifest::provider::ProviderType::Orchagent => orchagent::client_for(account, key_kind),
        _ => None,
    }
}

/// Where a provider's emulator answers inside a sandbox at `origin`
/// (`http://127.0.0.1:PORT`).
pub fn sandbox_base_url(provider_type: manifest::provider::ProviderType, origin: &str) -> String {
    match provider_type {
        manifest::provider::ProviderType::Orsay => {
            format!("{origin}{}", orsay::emulator::BASE_PATH)
        }
        other => format!("{origin}/{}", other.as_str()),
    }
}

/// How a provider's API speaks beyond HTTP.
pub fn dialect(provider_type: manifest::provider::ProviderType) -> http::Dialect {
    match provider_type {
        manifest::provider::ProviderType::Orchagent => orchagent::DIALECT,
        manifest::provider::ProviderType::Orqis => http::ORQIS_DIALECT,
        _ => http::DETAIL_DIALECT,
    }
}

/// Where an account's API is and how many requests an hour seqops allows
/// itself there: the sandbox's emulator when an origin is given, else the
/// Provider's base URL, else the vendor's; the Provider's pacing, else the
/// vendor's documented budget.
pub fn endpoint(
    provider_type: manifest::provider::ProviderType,
    base_url: Option<&str>,
    requests_per_hour: Option<u32>,
    sandbox_origin: Option<&str>,
) -> (String, Option<u32>) {
    let (vendor_url, vendor_limit) = vendor_defaults(provider_type);
    let url = match sandbox_origin {
        Some(origin) => sandbox_base_url(provider_type, origin),
        None => base_url.unwrap_or(vendor_url).to_string(),
    };
    (url, requests_per_hour.or(vendor_limit))
}

/// The vendor's documented base URL and request budget.
fn vendor_defaults(provider_type: manifest::provider::ProviderType) -> (&'static str, Option<u32>) {
    match provider_type {
        manifest::provider::ProviderType::Orsay => (orsay::BASE_URL, Some(orsay::REQUESTS_PER_HOUR)),
        manifest::provider::ProviderType::Orqis => (orqis::BASE_URL, None),
        manifest::provider::ProviderType::Gary => ("https://agency.gary.club/api/public/v1", Some(3600)),
        manifest::provider::ProviderType::Orchagent => (orchagent::BASE_URL, None),
        manifest::provider::ProviderType::Topo => ("https://api.topo.io", None),
    }
}
