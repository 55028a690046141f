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
mod secret;
pub mod sources;
mod stored;

pub use error::ProviderError;
pub use secret::Secret;
pub use stored::Stored;

use async_trait::async_trait;
use serde_json::Value;

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
    /// Whether the API can create one (a Topo run cannot: adopt-only).
    pub creatable: bool,
    /// Whether the API can change one in place at all. A kind that can be
    /// neither updated nor replaced (created and deleted) makes a change to
    /// it a plan error, never a delete.
    pub updatable: bool,
    /// Whether a create sent again makes nothing new while what it made is
    /// live (Gary's enrollment): a lost answer is recovered by sending it
    /// again, not by a guess from a list.
    pub idempotent_create: bool,
    /// Whether the create is an upsert keyed by the natural key (orchagent's
    /// `PUT /workspaces/{id}/secrets`, Orqis's `PUT /users/me/llm-key`):
    /// sent where an object has the key, it replaces what that object
    /// holds. An unmanaged one is taken over only when the manifest says
    /// `seqops.dev/adopt`, and its value is then rotated knowingly.
    pub create_overwrites: bool,
    /// The fields that identify an object remotely (Gary: sequence and
    /// contact), matched in listings for adoption and recovery; empty when
    /// the kind has none and only its name and created fields can be used.
    pub natural_key: &'static [&'static str],
    /// Fields the vendor moves by itself (an enrollment's step): shown in
    /// plans and status, never drift, never sent.
    pub observations: &'static [&'static str],
    /// The terminal remote state an object is in, if it reached one: such
    /// an object is reported, never created again nor changed.
    pub terminal: fn(&Fields) -> Option<String>,
    /// What an object gone remotely means.
    pub when_gone: WhenGone,
    /// What to do instead of a change the API cannot make, for the plan's
    /// error.
    pub unchangeable_hint: &'static str,
    /// An annotation whose token asks for the object to be made anew: a new
    /// token means one new object (Gary's `gary.seqops.dev/re-enroll`).
    pub renew: Option<Renew>,
    /// Map fields the API merges key by key (Topo's `variables`): only the
    /// keys seqops set are managed, a key removed from the manifest is sent
    /// as `null`, and keys set by others are neither shown nor changed.
    pub merged_maps: &'static [&'static str],
    /// Fields with no documented default: removed from the manifest, they
    /// are left as they are rather than reset (a Topo run's state).
    pub sticky: &'static [&'static str],
    /// The spec field that names an existing object by id (a Topo run's
    /// `spec.id`), for kinds that adopt rather than create.
    pub id_field: Option<&'static str>,
    /// Whether applying the updates (then the desired fields) ends the
    /// object (a Topo stop), and how: such a change is planned like a
    /// delete, and prevent-destroy blocks it.
    pub ends: fn(&Fields, &Fields) -> Option<String>,
    /// Whether a listing shows each object whole (every field `observe`
    /// would): a plan then reads no object one by one.
    pub full_listing: bool,
    /// Fields the create call cannot take (an orchagent Schedule's
    /// `enabled`): an update right after the create sets them, and what a
    /// create whose answer was lost made is looked for without them.
    pub set_after_create: &'static [&'static str],
}

/// A kind's renew annotation: a new token on it asks for one new object
/// (a contact enrolled once more), a token already used for nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renew {
    pub annotation: &'static str,
    /// What the new object is called in a plan: `re-enrollment`.
    pub noun: &'static str,
    /// The reason of the controller's Event once it is made: `ReEnrolled`.
    pub event: &'static str,
}

/// What a plan does with a managed object that is gone remotely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenGone {
    /// Creates it again (Terraform's default).
    Recreate,
    /// Reports it and plans nothing: creating it again would repeat what
    /// should happen once.
    Report,
}

fn no_default(_: &str) -> Value {
    Value::Null
}

fn never_terminal(_: &Fields) -> Option<String> {
    None
}

impl KindFacts {
    /// A kind the API can create, read, update and delete, with no natural
    /// key and nothing the vendor moves: the base others are written from
    /// (`..KindFacts::CRUD`).
    pub const CRUD: KindFacts = KindFacts {
        key_kind: "",
        immutable: &[],
        sets: &[],
        write_only: &[],
        default: no_default,
        summary_fields: &[],
        deletable: true,
        create_before_delete: true,
        creatable: true,
        updatable: true,
        idempotent_create: false,
        create_overwrites: false,
        natural_key: &[],
        observations: &[],
        terminal: never_terminal,
        when_gone: WhenGone::Recreate,
        unchangeable_hint: "",
        renew: None,
        merged_maps: &[],
        sticky: &[],
        id_field: None,
        ends: |_, _| None,
        full_listing: false,
        set_after_create: &[],
    };

    pub fn is_observation(&self, field: &str) -> bool {
        self.observations.contains(&field)
    }

    /// The natural key of fields, when the kind has one and every part of
    /// it is set.
    pub fn natural_key_of(&self, fields: &Fields) -> Option<Vec<Value>> {
        if self.natural_key.is_empty() {
            return None;
        }
        // A part that refers to an object not created yet is not known.
        let known = |v: &&Value| !v.is_null() && v.as_str() != Some(KNOWN_AFTER_APPLY);
        self.natural_key.iter().map(|f| fields.get(*f).filter(known).cloned()).collect()
    }

    /// The desired fields the create call cannot take.
    pub fn after_create(&self, desired: &Fields) -> Fields {
        desired
            .iter()
            .filter(|(f, _)| self.set_after_create.contains(&f.as_str()))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect()
    }

    /// The desired fields the create call itself sends.
    pub fn sent_by_create(&self, desired: &Fields) -> Fields {
        desired
            .iter()
            .filter(|(f, _)| !self.set_after_create.contains(&f.as_str()))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect()
    }

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
    pub fn reusable(&self, spec: &Value, spec_field: &str, field: &str) -> Option<Value> {
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
    pub spec: &'a Value,
    pub previous: Option<(&'a Stored, &'a Stored)>,
}

impl Scoped<'_> {
    /// The value `field` resolved to last time, if the spec's `spec_field`
    /// is written as it was then.
    pub fn reusable(&self, spec_field: &str, field: &str) -> Option<Value> {
        let (previous_spec, previous_fields) = self.previous?;
        (previous_spec.value().get(spec_field) == self.spec.get(spec_field))
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

    /// What a plan should tell about a spec that is no change (a pause
    /// whose time has passed, and so is satisfied).
    fn notes(&self, _spec: &Value) -> Vec<String> {
        Vec::new()
    }

    /// The display name a manifest's spec gives its object: its `name`
    /// unless the kind names objects otherwise.
    fn display_name(&self, spec: &Value) -> String {
        spec["name"].as_str().unwrap_or_default().to_string()
    }

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
