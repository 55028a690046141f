//! The contract between the engine and the providers, which belongs to
//! neither: the fields the engine compares, what a kind allows, the
//! [`ExternalClient`] trait every provider implements, its errors, secrets
//! and secret sources. The engine imports this and no provider; providers
//! import this and not the engine.
//!
//! The engine compares and applies [`Fields`]: a provider-neutral JSON
//! object keyed by the spec's camelCase field names, with references already
//! resolved to remote ids and durations in canonical form. Each provider maps
//! between its API's wire format and these fields.

pub mod digest;
pub mod error;
mod facts;
mod secret;
pub mod sources;
mod spec;
mod stored;

pub use error::{Cause, ProviderError};
pub use facts::{
    Birth, Change, End, Field, Gone, Json, KindFacts, KindId, Lifecycle, Listing, Move, Mutability, Read, Renew,
    ReplaceOrder, Sent, Shape, Shown, Transition, Unset, CRUD,
};
pub use secret::Secret;
pub use spec::Spec;
pub use stored::Stored;

use async_trait::async_trait;
use serde_json::Value;

/// A kind's fields, as compared and applied by the engine.
pub type Fields = serde_json::Map<String, Value>;

/// One remote object as a collection listing shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSummary {
    pub id: String,
    pub display_name: String,
    /// The fields a listing shows of the object.
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
    pub previous: Option<(&'a Stored, &'a Stored)>,
    /// The values of the spec's sources (`fromEnv`, `fromFile`), in memory.
    pub sources: sources::SourceValues,
    /// How secret values become digests.
    pub digests: digest::Digests,
    /// The manifest's annotations (a confirmation a kind asks for).
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl DesiredContext<'_> {
    /// The value `field` resolved to last time, if the spec's `spec_field`
    /// is written as it was then.
    pub fn reusable(&self, spec: &Spec, spec_field: &str, field: &str) -> Option<Value> {
        Scoped { spec, previous: self.previous }.reusable(spec_field, field)
    }

    /// The marker standing for the secret at `path` (e.g. `value`).
    pub fn secret(&self, path: &str) -> Result<Value, ProviderError> {
        self.sources
            .get(path)
            .map(|value| self.digests.marker(value))
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

/// What a listing must cover.
pub enum ListScope<'a> {
    /// Every object of the kind in the account.
    All,
    /// What `seqops export` selects: filters by name (`sequence`,
    /// `status`), each with the values asked for. Only the filters a
    /// provider declares reach it.
    Export(&'a std::collections::BTreeMap<String, Vec<String>>),
    /// What these specs can touch: a kind whose objects live under parents
    /// (Gary's enrollments under sequences) lists only the parents they
    /// name; other kinds list their one collection.
    Specs(Vec<Scoped<'a>>),
}

/// A spec a listing must cover, with what it resolved to when last applied
/// (a parent named by lookup need not be looked up again).
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
    pub spec: &'a Spec,
    pub previous: Option<(&'a Stored, &'a Stored)>,
}

impl Scoped<'_> {
    /// The value `field` resolved to last time, if the spec's `spec_field`
    /// is written as it was then.
    pub fn reusable(&self, spec_field: &str, field: &str) -> Option<Value> {
        let (previous_spec, previous_fields) = self.previous?;
        (previous_spec.value().get(spec_field) == self.spec.json().get(spec_field))
            .then(|| previous_fields.fields().remove(field))
            .flatten()
    }
}

/// What a create made.
#[derive(Debug, Default)]
pub struct Created {
    pub id: String,
    /// Values the API returns only once (an API key, a webhook URL): they go
    /// where the spec's `writeSecretTo` says, never to state.
    pub outputs: std::collections::BTreeMap<String, Secret>,
    /// Fields the create call could not set; the engine records the object
    /// and then sets them with an update.
    pub unapplied: Fields,
    /// What the create turned out to be, when not a plain create (Gary
    /// answering with a live enrollment it already had).
    pub note: Option<String>,
    /// What the answer showed of the object beyond what was sent (the
    /// fields the vendor moves by itself), for state.
    pub observed: Fields,
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

/// A write a plan expects the apply to make, for its estimate of the
/// requests an apply costs.
pub enum Write<'a> {
    Create { desired: &'a Fields },
    Update { changes: &'a Fields, observed: &'a Fields },
    Delete,
}

/// The engine's view of one kind in one account, shaped after
/// crossplane-runtime's ExternalClient. Every call is idempotent: deleting
/// what is gone succeeds, and observing what is gone says so.
#[async_trait]
pub trait ExternalClient: Send + Sync {
    fn facts(&self) -> &'static KindFacts;

    /// The fields a manifest's spec asks for, with lookups and references
    /// resolved to remote ids.
    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError>;

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
    fn labels(&self, _spec: &Spec) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::new()
    }

    /// What a plan should tell about a spec that is no change (a pause
    /// whose time has passed, and so is satisfied).
    fn notes(&self, _spec: &Spec) -> Vec<String> {
        Vec::new()
    }

    /// The display name a manifest's spec gives its object: its `name`
    /// unless the kind names objects otherwise.
    fn display_name(&self, spec: &Spec) -> String;

    /// The objects of this kind in the account that `scope` can touch, as
    /// summaries: one request per page where the API allows it.
    /// The requests one write costs, for the plan's estimate of the apply:
    /// one call each, unless the client makes more (a follow-up call for
    /// what a create cannot set, a check before a delete).
    fn requests(&self, _write: Write<'_>) -> u64 {
        1
    }

    async fn list(&self, scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError>;

    /// The object's current fields, or `None` when it no longer exists.
    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError>;

    /// Creates the object; `sources` holds the values behind its secret
    /// markers.
    async fn create(&self, desired: &Fields, sources: &sources::SourceValues) -> Result<Created, ProviderError>;

    /// Changes the given fields in place.
    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError>;

    async fn delete(&self, id: &str) -> Result<(), ProviderError>;
}

/// The accounts of a run as the engine reaches them: a client per account
/// and kind, and what each account spent. The providers' registry
/// implements it; the engine is handed it as a value.
pub trait Clients: Send + Sync {
    /// The client of `key_kind` in the account a Provider manifest named
    /// `account` configures, or why there is none.
    fn client(&self, account: &str, key_kind: &str) -> Result<std::sync::Arc<dyn ExternalClient>, String>;

    /// What each account spent in this run.
    fn usage(&self) -> Vec<AccountUsage>;

    /// Why `account` refused a write in this run (its key may not write),
    /// if it did: its other writes are not tried.
    fn refusal(&self, _account: &str) -> Option<String> {
        None
    }
}

/// What one account spent in this run, and what it has left.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct AccountUsage {
    pub account: String,
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// What `limit` counts in: `per hour`, `per minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The same, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
}
