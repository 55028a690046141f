//! What a kind allows, as types the engine branches on: how an object comes
//! to exist, how it changes, what its absence means, how it ends, and what
//! each of its fields is. Each is one enum, so a new behaviour is one
//! variant handled where the compiler points; a combination the enums
//! still allow but the API cannot (a replace of what cannot be deleted) is
//! refused by [`KindFacts::new`], a `const fn` every kind is declared with,
//! so it fails the build, not a run.

use serde_json::Value;

use super::{Fields, KNOWN_AFTER_APPLY};

/// A kind as keys write it (`Sequence`, `orqis.Agent`): the bare kind where
/// it is unique, qualified by provider where two providers share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KindId(&'static str);

impl KindId {
    pub const fn new(name: &'static str) -> Self {
        KindId(name)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for KindId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<str> for KindId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for KindId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for KindId {
    fn eq(&self, other: &String) -> bool {
        self.0 == other
    }
}

impl PartialEq<KindId> for String {
    fn eq(&self, other: &KindId) -> bool {
        self == other.0
    }
}

impl From<KindId> for String {
    fn from(id: KindId) -> String {
        id.0.to_string()
    }
}

/// What the engine must know about a kind to plan and apply it.
#[derive(Debug)]
pub struct KindFacts {
    pub lifecycle: Lifecycle,
    /// The fields that are more than a value changed in place and reset to
    /// `null` when the manifest drops them; any other field is that.
    pub fields: &'static [Field],
    pub listing: Listing,
}

/// The four questions of an object's life.
#[derive(Clone, Copy, Debug)]
pub struct Lifecycle {
    pub birth: Birth,
    pub change: Change,
    pub gone: Gone,
    pub end: End,
}

/// The fields that identify an object remotely (Gary: sequence and
/// contact), matched in listings for adoption and recovery.
pub type NaturalKey = &'static [&'static str];

/// How an object comes to exist.
#[derive(Clone, Copy, Debug)]
pub enum Birth {
    /// Each create makes a new object; an answer lost is looked for in a
    /// listing by what was sent.
    Create,
    /// A create sent again makes nothing new while what it made is live
    /// (Gary's enrollment): a lost answer is recovered by sending it again,
    /// not by a guess from a listing. `renew` is the annotation whose new
    /// token asks for one new object.
    Idempotent { key: NaturalKey, renew: Option<Renew> },
    /// The create is an upsert keyed by the natural key (orchagent's
    /// `PUT /workspaces/{id}/secrets`, Orqis's `PUT /users/me/llm-key`):
    /// sent where an object has the key, it replaces what that object
    /// holds. An unmanaged one is taken over only when the manifest says
    /// `seqops.dev/adopt`, and its value is then rotated knowingly.
    Upsert { key: NaturalKey },
    /// The API cannot create one (a Topo run): a manifest names an existing
    /// object by the spec field `id_field`, or by its natural key.
    AdoptOnly { key: NaturalKey, id_field: &'static str },
}

/// How an object changes.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    /// Every field changes in place; no field is [`Field::fixed`].
    InPlace,
    /// Changed in place, but a change to a fixed field replaces the object,
    /// in this order.
    InPlaceOrReplace(ReplaceOrder),
    /// Changed in place; a change to a fixed field cannot be made at all,
    /// and the plan's error says what to do instead (`hint`).
    InPlaceOrRefuse { hint: &'static str },
    /// Never changed, in place or by a replace: a change is a plan error
    /// with `hint`, never a delete.
    Never { hint: &'static str },
}

/// Which of the old and the new object exists first during a replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceOrder {
    /// Both may exist at once: the new one is made first.
    CreateFirst,
    /// Only one may exist (one active key per agent): the old one goes first.
    DeleteFirst,
}

/// What an object gone remotely means.
#[derive(Clone, Copy, Debug)]
pub enum Gone {
    /// It is created again (Terraform's default).
    Recreate,
    /// It is reported and nothing is planned: creating it again would
    /// repeat what should happen once. `terminal` names the end state an
    /// object still listed has reached, if any (a finished ladder), which is
    /// reported the same way, never created again nor changed.
    Report { terminal: fn(&Fields) -> Option<String> },
}

/// How an object ends.
#[derive(Clone, Copy, Debug)]
pub enum End {
    /// The API deletes it.
    Delete,
    /// It moves between states by calls of its own (a Topo pause, resume
    /// or stop), and a stop ends it for good: `moves` says which move the
    /// updates (then the desired fields) make, if any, and how. A move
    /// that ends it is planned like a delete, and prevent-destroy blocks
    /// it. The API cannot delete it.
    Transition { moves: fn(&Fields, &Fields) -> Option<Move> },
    /// It cannot end: removed from the manifests, it is left as it is.
    Never,
}

/// A move between states a kind makes by a call of its own, not by a
/// field's update: each is an action of its own in a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transition {
    Pause,
    Resume,
    /// Ends the object for good.
    Stop,
}

impl Transition {
    /// Whether it cannot be undone.
    pub fn ends(self) -> bool {
        matches!(self, Transition::Stop)
    }
}

/// The move an update makes: which, how (`stop (WIN, CONTACT)`), and the
/// fields its call sends, which are not a field update of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub transition: Transition,
    pub how: String,
    pub fields: &'static [&'static str],
}

/// What a listing shows of each object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Some fields: a plan reads an object one by one to compare it.
    Summary,
    /// Every field `observe` would: a plan reads no object one by one.
    Whole,
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

/// What seqops knows of one field, beyond its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub mutability: Mutability,
    pub read: Read,
    pub shape: Shape,
    pub unset: Unset,
    pub sent: Sent,
    pub shown: Shown,
}

/// Where a plan shows a field: every path a plan shows is one of the
/// kind's schema, so a field named otherwise in the manifest says where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Under its own name.
    AsIs,
    /// At this path of the spec (Topo's `phase` is `state.phase`).
    At(&'static str),
    /// At this path, but not on a line of its own where the line of the
    /// other field is shown, whose note says it (a stop's reason and
    /// scope, in the note of its phase's line).
    AtUnless(&'static str, &'static str),
}

/// Whether a field can change without the object being made anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    /// A change replaces the object or is refused, as its kind's
    /// [`Change`] says.
    Fixed,
}

/// What the API shows of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Returned,
    /// Taken but never returned (not a secret): taken to be what seqops
    /// last wrote.
    WriteOnly,
    /// Moved by the vendor (an enrollment's step): shown in plans and
    /// status, never drift, never sent.
    Observed,
}

/// How two values of a field are compared and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Value,
    /// A list whose order does not matter.
    Set,
    /// A map the API merges key by key (Topo's `variables`): only the keys
    /// seqops set are managed, a key removed from the manifest is sent as
    /// `null`, and keys set by others are neither shown nor changed.
    MergedMap,
}

/// What a field dropped from the manifest becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unset {
    /// The API's documented default, which a dropped field is reset to.
    Default(Json),
    /// No documented default: it is left as it is (a Topo run's state).
    Kept,
}

/// A default value, written where a `const` can hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Text(&'static str),
    EmptyList,
    EmptyMap,
}

/// Which call sends a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    ByCreate,
    /// The create call cannot take it (an orchagent Schedule's `enabled`):
    /// an update right after the create sets it, and what a create whose
    /// answer was lost made is looked for without it.
    AfterCreate,
}

impl Json {
    pub fn value(self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(n) => Value::from(n),
            Json::Text(text) => Value::String(text.to_string()),
            Json::EmptyList => Value::Array(Vec::new()),
            Json::EmptyMap => Value::Object(Fields::new()),
        }
    }
}

impl Field {
    /// A field changed in place, returned by the API, reset to `null`.
    pub const fn new(name: &'static str) -> Field {
        Field {
            name,
            mutability: Mutability::Mutable,
            read: Read::Returned,
            shape: Shape::Value,
            unset: Unset::Default(Json::Null),
            sent: Sent::ByCreate,
            shown: Shown::AsIs,
        }
    }

    pub const fn fixed(self) -> Field {
        Field { mutability: Mutability::Fixed, ..self }
    }

    pub const fn write_only(self) -> Field {
        Field { read: Read::WriteOnly, ..self }
    }

    pub const fn observed(self) -> Field {
        Field { read: Read::Observed, ..self }
    }

    pub const fn set(self) -> Field {
        Field { shape: Shape::Set, ..self }
    }

    pub const fn merged_map(self) -> Field {
        Field { shape: Shape::MergedMap, ..self }
    }

    pub const fn default(self, value: Json) -> Field {
        Field { unset: Unset::Default(value), ..self }
    }

    pub const fn kept(self) -> Field {
        Field { unset: Unset::Kept, ..self }
    }

    pub const fn after_create(self) -> Field {
        Field { sent: Sent::AfterCreate, ..self }
    }

    /// Shown at `path` of the spec.
    pub const fn shown_at(self, path: &'static str) -> Field {
        Field { shown: Shown::At(path), ..self }
    }

    /// Not on a line of its own where `other`'s line is shown: its note
    /// says this field.
    pub const fn said_by(self, other: &'static str) -> Field {
        let path = match self.shown {
            Shown::At(path) | Shown::AtUnless(path, _) => path,
            Shown::AsIs => self.name,
        };
        Field { shown: Shown::AtUnless(path, other), ..self }
    }
}

impl KindFacts {
    /// A kind's facts, checked where it is declared (in a `static`, so at
    /// compile time): a replace needs a kind that can be both created and
    /// deleted, a kind changed wholly in place has no fixed field, and a
    /// field the vendor moves is never sent.
    ///
    /// A kind replaced new-first that the API can delete compiles:
    ///
    /// ```
    /// use seqops::external::{Change, End, KindFacts, Lifecycle, Listing, ReplaceOrder, CRUD};
    /// static AGENT: KindFacts = KindFacts::new(
    ///     Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), end: End::Delete, ..CRUD },
    ///     &[],
    ///     Listing::Summary,
    /// );
    /// ```
    ///
    /// The same kind, when the API cannot delete it, does not:
    ///
    /// ```compile_fail
    /// use seqops::external::{Change, End, KindFacts, Lifecycle, Listing, ReplaceOrder, CRUD};
    /// static AGENT: KindFacts = KindFacts::new(
    ///     Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), end: End::Never, ..CRUD },
    ///     &[],
    ///     Listing::Summary,
    /// );
    /// ```
    pub const fn new(lifecycle: Lifecycle, fields: &'static [Field], listing: Listing) -> Self {
        if let Change::InPlaceOrReplace(_) = lifecycle.change {
            assert!(
                !matches!(lifecycle.birth, Birth::AdoptOnly { .. }) && matches!(lifecycle.end, End::Delete),
                "a replace needs a kind the API can both create and delete"
            );
        }
        if let End::Transition { .. } = lifecycle.end {
            assert!(!matches!(lifecycle.change, Change::Never { .. }), "a transition is a change");
        }
        let mut i = 0;
        while i < fields.len() {
            let field = fields[i];
            assert!(
                !(matches!(lifecycle.change, Change::InPlace) && matches!(field.mutability, Mutability::Fixed)),
                "a kind whose every field changes in place has no fixed field"
            );
            assert!(
                !(matches!(field.read, Read::Observed) && matches!(field.sent, Sent::AfterCreate)),
                "a field the vendor moves is never sent"
            );
            i += 1;
        }
        KindFacts { lifecycle, fields, listing }
    }

    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn names(&self, wanted: fn(&Field) -> bool) -> impl Iterator<Item = &'static str> {
        self.fields.iter().filter(move |f| wanted(f)).map(|f| f.name)
    }

    pub fn creatable(&self) -> bool {
        !matches!(self.lifecycle.birth, Birth::AdoptOnly { .. })
    }

    pub fn deletable(&self) -> bool {
        matches!(self.lifecycle.end, End::Delete)
    }

    /// Whether the API can change one in place at all.
    pub fn updatable(&self) -> bool {
        !matches!(self.lifecycle.change, Change::Never { .. })
    }

    /// Whether a change to a fixed field is made by a replace.
    pub fn replaceable(&self) -> bool {
        matches!(self.lifecycle.change, Change::InPlaceOrReplace(_))
    }

    /// Whether a replace makes the new object before the old one goes.
    pub fn create_before_delete(&self) -> bool {
        matches!(self.lifecycle.change, Change::InPlaceOrReplace(ReplaceOrder::CreateFirst))
    }

    /// What to do instead of a change the API cannot make, for the plan's
    /// error.
    pub fn unchangeable_hint(&self) -> &'static str {
        match self.lifecycle.change {
            Change::InPlaceOrRefuse { hint } | Change::Never { hint } => hint,
            Change::InPlace | Change::InPlaceOrReplace(_) => "",
        }
    }

    /// Whether a create sent again makes nothing new.
    pub fn idempotent_create(&self) -> bool {
        matches!(self.lifecycle.birth, Birth::Idempotent { .. } | Birth::Upsert { .. })
    }

    /// Whether a create replaces what an object with the same key holds.
    pub fn create_overwrites(&self) -> bool {
        matches!(self.lifecycle.birth, Birth::Upsert { .. })
    }

    /// The fields that identify an object remotely; empty when the kind has
    /// none and only its name and created fields can be used.
    pub fn natural_key(&self) -> NaturalKey {
        match self.lifecycle.birth {
            Birth::Create => &[],
            Birth::Idempotent { key, .. } | Birth::Upsert { key } | Birth::AdoptOnly { key, .. } => key,
        }
    }

    pub fn renew(&self) -> Option<Renew> {
        match self.lifecycle.birth {
            Birth::Idempotent { renew, .. } => renew,
            _ => None,
        }
    }

    /// The spec field that names an existing object by id, for kinds that
    /// adopt rather than create.
    pub fn id_field(&self) -> Option<&'static str> {
        match self.lifecycle.birth {
            Birth::AdoptOnly { id_field, .. } => Some(id_field),
            _ => None,
        }
    }

    /// Whether a managed object gone remotely is reported rather than
    /// created again.
    pub fn reports_gone(&self) -> bool {
        matches!(self.lifecycle.gone, Gone::Report { .. })
    }

    /// The terminal remote state an object is in, if it reached one.
    pub fn terminal(&self, fields: &Fields) -> Option<String> {
        match self.lifecycle.gone {
            Gone::Report { terminal } => terminal(fields),
            Gone::Recreate => None,
        }
    }

    /// The move making `updates` (then `desired`) makes, if any.
    pub fn moves(&self, updates: &Fields, desired: &Fields) -> Option<Move> {
        match self.lifecycle.end {
            End::Transition { moves } => moves(updates, desired),
            End::Delete | End::Never => None,
        }
    }

    /// Where a plan shows `field`, given whether a field has a line of
    /// its own (`shown`): `None` when another line says it.
    pub fn shown_path<'a>(&self, field: &'a str, shown: impl Fn(&str) -> bool) -> Option<&'a str> {
        match self.field(field).map(|f| f.shown) {
            Some(Shown::At(path)) => Some(path),
            Some(Shown::AtUnless(_, other)) if shown(other) => None,
            Some(Shown::AtUnless(path, _)) => Some(path),
            Some(Shown::AsIs) | None => Some(field),
        }
    }

    pub fn full_listing(&self) -> bool {
        self.listing == Listing::Whole
    }

    pub fn is_immutable(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.mutability == Mutability::Fixed)
    }

    pub fn is_set(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.shape == Shape::Set)
    }

    pub fn is_write_only(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.read == Read::WriteOnly)
    }

    pub fn is_merged_map(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.shape == Shape::MergedMap)
    }

    /// Whether a field dropped from the manifest is left as it is.
    pub fn is_kept(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.unset == Unset::Kept)
    }

    /// The value the API gives a field that is not set: what a field
    /// dropped from the manifest is reset to.
    pub fn default_of(&self, field: &str) -> Value {
        match self.field(field).map(|f| f.unset) {
            Some(Unset::Default(value)) => value.value(),
            Some(Unset::Kept) | None => Value::Null,
        }
    }

    /// The fields the vendor moves by itself, in the order plans show them.
    pub fn observations(&self) -> impl Iterator<Item = &'static str> {
        self.names(|f| f.read == Read::Observed)
    }

    pub fn merged_maps(&self) -> impl Iterator<Item = &'static str> {
        self.names(|f| f.shape == Shape::MergedMap)
    }

    /// Where an object stands as the vendor moved it: its first observed
    /// field (an enrollment's or a run's `status`), `null` for a kind the
    /// vendor moves nothing of.
    pub fn state_of(&self, fields: &Fields) -> Value {
        self.observations().next().and_then(|f| fields.get(f)).cloned().unwrap_or(Value::Null)
    }

    pub fn is_observation(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.read == Read::Observed)
    }

    /// The natural key of fields, when the kind has one and every part of
    /// it is set.
    pub fn natural_key_of(&self, fields: &Fields) -> Option<Vec<Value>> {
        let key = self.natural_key();
        if key.is_empty() {
            return None;
        }
        // A part that refers to an object not created yet is not known.
        let known = |v: &&Value| !v.is_null() && v.as_str() != Some(KNOWN_AFTER_APPLY);
        key.iter().map(|f| fields.get(*f).filter(known).cloned()).collect()
    }

    fn sent_after_create(&self, field: &str) -> bool {
        self.field(field).is_some_and(|f| f.sent == Sent::AfterCreate)
    }

    /// The desired fields the create call cannot take.
    pub fn after_create(&self, desired: &Fields) -> Fields {
        desired.iter().filter(|(f, _)| self.sent_after_create(f)).map(|(f, v)| (f.clone(), v.clone())).collect()
    }

    /// The desired fields the create call itself sends.
    pub fn sent_by_create(&self, desired: &Fields) -> Fields {
        desired.iter().filter(|(f, _)| !self.sent_after_create(f)).map(|(f, v)| (f.clone(), v.clone())).collect()
    }
}

/// A kind the API can create, read, update in place and delete, with no
/// natural key and nothing the vendor moves: what most kinds are.
pub const CRUD: Lifecycle =
    Lifecycle { birth: Birth::Create, change: Change::InPlace, gone: Gone::Recreate, end: End::Delete };

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static ENROLLMENT_LIKE: KindFacts = KindFacts::new(
        Lifecycle {
            birth: Birth::Idempotent { key: &["a", "b"], renew: None },
            change: Change::Never { hint: "put it back" },
            gone: Gone::Report { terminal: |f| f.get("status").and_then(Value::as_str).map(String::from) },
            end: End::Never,
        },
        &[Field::new("a").fixed(), Field::new("status").observed(), Field::new("on").default(Json::Bool(true))],
        Listing::Whole,
    );

    #[test]
    fn a_kind_that_never_changes_refuses_with_its_hint_and_cannot_be_replaced() {
        assert!(!ENROLLMENT_LIKE.updatable() && !ENROLLMENT_LIKE.replaceable() && !ENROLLMENT_LIKE.deletable());
        assert_eq!(ENROLLMENT_LIKE.unchangeable_hint(), "put it back");
        assert!(ENROLLMENT_LIKE.idempotent_create() && !ENROLLMENT_LIKE.create_overwrites());
    }

    #[test]
    fn field_facts_answer_by_name_and_an_undeclared_field_is_a_plain_one() {
        assert!(ENROLLMENT_LIKE.is_immutable("a") && !ENROLLMENT_LIKE.is_immutable("other"));
        assert_eq!(ENROLLMENT_LIKE.observations().collect::<Vec<_>>(), ["status"]);
        assert_eq!(ENROLLMENT_LIKE.default_of("on"), json!(true));
        assert_eq!(ENROLLMENT_LIKE.default_of("other"), Value::Null);
    }

    #[test]
    fn the_natural_key_is_known_only_when_every_part_is() {
        let whole = json!({"a": "x", "b": 1}).as_object().cloned().unwrap_or_default();
        assert_eq!(ENROLLMENT_LIKE.natural_key_of(&whole), Some(vec![json!("x"), json!(1)]));
        let pending = json!({"a": KNOWN_AFTER_APPLY, "b": 1}).as_object().cloned().unwrap_or_default();
        assert_eq!(ENROLLMENT_LIKE.natural_key_of(&pending), None);
    }
}
