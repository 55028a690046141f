//! What the loader needs to know about a kind: its names, how to parse and
//! check its spec, which other manifests it refers to, and its schema.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::provider::ProviderType;
use super::Metadata;
pub use crate::external::KindId;
use crate::external::{KindFacts, Spec};
use crate::manifest::keyword::{Keyword, Keywords};

/// A document parsed by its kind's Rust type.
pub struct ParsedDoc {
    pub metadata: Metadata,
    pub spec: Spec,
}

pub type ParseError = serde_path_to_error::Error<serde_json::Error>;

/// A reference from one manifest to another by `metadata.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The field that holds the reference, e.g. `spec.agentRef.name`.
    pub field: String,
    /// The key kind of the manifest referred to.
    pub kind: KindId,
    pub name: String,
    /// What `name` is: the manifest's name, or the remote name its spec
    /// gives the object.
    pub by: Naming,
}

/// How a reference names what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Naming {
    /// The manifest's `metadata.name`: a manifest must define it, and the
    /// field's value is that object's remote id once made.
    Manifest,
    /// The remote name a manifest's spec gives the object at `field`, a
    /// JSON pointer into the spec (orchagent's `secretNames` hold secrets'
    /// `/name`), among those whose spec holds `same.1` at the pointer
    /// `same.0` (the same workspace). It is an edge of the graph when such a
    /// manifest exists, and nothing when none does: the object may be
    /// managed elsewhere.
    Remote { field: &'static str, same: Option<(&'static str, String)> },
}

/// A field of a kind's spec that names another object: declared on the
/// spec type (`Kind::REFERENCES`), so the fields that order an apply can be
/// listed from the types themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceField {
    /// `spec.workspaceRef.name`; `spec.secretNames[]` for each item of a
    /// list.
    pub field: &'static str,
    /// The key kind of what it names.
    pub kind: KindId,
    /// It names the object by the remote name its spec gives it, and need
    /// not have a manifest.
    pub by_remote_name: bool,
}

impl ReferenceField {
    /// A field naming a manifest of `kind` by its name.
    pub const fn to(field: &'static str, kind: KindId) -> Self {
        ReferenceField { field, kind, by_remote_name: false }
    }

    /// A field naming an object of `kind` by its remote name.
    pub const fn by_remote_name(field: &'static str, kind: KindId) -> Self {
        ReferenceField { field, kind, by_remote_name: true }
    }
}

impl Reference {
    /// A reference to the manifest `kind/name`.
    pub fn to(field: impl Into<String>, kind: KindId, name: impl Into<String>) -> Reference {
        Reference { field: field.into(), kind, name: name.into(), by: Naming::Manifest }
    }
}

/// A kind's spec type, and with it everything seqops knows of the kind:
/// implemented once per kind (in its provider's `mod.rs`, which sees both
/// the spec and the mapping) and read by [`KindSpec::of`].
pub trait Kind: DeserializeOwned + Serialize + schemars::JsonSchema + Send + Sync + 'static {
    /// The custom resource the spec belongs to, for its CRD.
    type Resource: kube::CustomResourceExt;
    const API_VERSION: &'static str;
    const KIND: &'static str;
    /// The kind as keys write it; the bare kind unless two providers share
    /// it.
    const ID: KindId = KindId::new(Self::KIND);
    /// The provider whose Provider manages it; `None` for the Provider kind.
    const PROVIDER: Option<ProviderType>;
    /// What the API allows of it; `None` for the Provider kind.
    const FACTS: Option<&'static KindFacts>;
    /// The annotations its provider reads beside the `seqops.dev/` ones.
    const ANNOTATIONS: &'static [&'static str] = &[];

    /// The fields of the spec that name other objects; `references`
    /// reads exactly these.
    const REFERENCES: &'static [ReferenceField] = &[];

    /// The references the spec makes to other manifests.
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }

    /// Checks serde cannot express: `(field path, message)` for each problem.
    fn check(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Everything seqops knows about one kind of manifest, as values a table
/// of kinds can hold: made from the kind's type by [`KindSpec::of`].
#[derive(Clone, Copy)]
pub struct KindSpec {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The kind as it is written in keys (`Sequence/welcome`): the bare kind
    /// where it is unique, qualified by provider where two providers share it.
    pub key_kind: KindId,
    /// The provider type whose Provider manages objects of this kind; `None`
    /// for the Provider kind itself.
    pub provider_type: Option<ProviderType>,
    /// What the API allows of it; `None` for the Provider kind.
    pub facts: Option<&'static KindFacts>,
    pub parse: fn(&serde_json::Value) -> Result<ParsedDoc, ParseError>,
    /// The fields of its spec that name other objects.
    pub reference_fields: &'static [ReferenceField],
    /// The references a spec makes to other manifests.
    pub references: fn(&Spec) -> Vec<Reference>,
    /// Checks serde cannot express: `(field path, message)` for each problem.
    pub check: fn(&Spec) -> Vec<(String, String)>,
    pub crd: fn() -> CustomResourceDefinition,
    pub schema: fn() -> schemars::Schema,
    /// The annotations its provider reads beside the `seqops.dev/` ones
    /// (Gary's `gary.seqops.dev/re-enroll`): the controller passes exactly
    /// these to the engine, and a change to one is a change someone asked
    /// for, not a drift check.
    pub annotations: &'static [&'static str],
}

impl KindSpec {
    /// The kind whose spec type is `T`.
    pub const fn of<T: Kind>() -> KindSpec {
        KindSpec {
            api_version: T::API_VERSION,
            kind: T::KIND,
            key_kind: T::ID,
            provider_type: T::PROVIDER,
            facts: T::FACTS,
            parse: parse_typed::<T>,
            reference_fields: T::REFERENCES,
            references: references_of::<T>,
            check: check_of::<T>,
            crd: <T::Resource as kube::CustomResourceExt>::crd,
            schema: schema_of::<T>,
            annotations: T::ANNOTATIONS,
        }
    }

    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }

    /// Whether an annotation reaches the engine: a `seqops.dev/` one, or
    /// one this kind's provider reads.
    pub fn reads_annotation(&self, name: &str) -> bool {
        name.starts_with("seqops.dev/") || self.annotations.contains(&name)
    }
}

/// The references of a spec of kind `T`; none when it is of another kind.
fn references_of<T: Kind>(spec: &Spec) -> Vec<Reference> {
    spec.typed::<T>().map(T::references).unwrap_or_default()
}

/// The checks of a spec of kind `T`; one that is of another kind is said so.
fn check_of<T: Kind>(spec: &Spec) -> Vec<(String, String)> {
    spec.typed::<T>().map_or_else(|e| vec![("spec".into(), e.to_string())], T::check)
}

fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope<S> {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    spec: S,
}

/// Reads a whole document (as JSON, the shape YAML was read to) with `S`
/// as its spec type. An error names the path of the field at fault.
pub fn parse_typed<S: Kind>(document: &serde_json::Value) -> Result<ParsedDoc, ParseError> {
    let envelope: Envelope<S> = serde_path_to_error::deserialize(document)?;
    // Serializing a value that was just deserialized cannot fail for the
    // plain data types specs are made of.
    let json = serde_json::to_value(&envelope.spec).unwrap_or(serde_json::Value::Null);
    Ok(ParsedDoc { metadata: envelope.metadata, spec: Spec::of(envelope.spec, json) })
}

/// The JSON Schema of a kind's spec with the default bounds on every list,
/// string and map that has none (see [`super::limits::bound_schema`]):
/// what `seqops schema` prints, what the loader checks a spec against,
/// and what the CRDs carry.
pub fn bounded_schema(kind: &KindSpec) -> serde_json::Value {
    let mut schema = serde_json::to_value((kind.schema)()).unwrap_or_default();
    super::limits::bound_schema(&mut schema);
    schema
}

/// A kind's whole manifest (apiVersion, kind, metadata, spec) as a schema.
pub fn manifest_schema(kind: &KindSpec) -> serde_json::Value {
    let spec = bounded_schema(kind);
    let mut definitions = spec.keyword(Keyword::Defs).cloned().unwrap_or_else(|| serde_json::json!({}));
    let mut spec_body = spec.clone();
    if let Some(map) = spec_body.as_object_mut() {
        map.remove("$defs");
        map.remove("$schema");
    }
    if let Some(defs) = definitions.as_object_mut() {
        defs.insert("Spec".into(), spec_body);
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{} ({})", kind.kind, kind.api_version),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": { "const": kind.api_version },
            "kind": { "const": kind.kind },
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": { "type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" },
                    "namespace": { "type": "string" },
                    "annotations": { "type": "object", "additionalProperties": { "type": "string" } },
                    "labels": { "type": "object", "additionalProperties": { "type": "string" } }
                },
                "additionalProperties": false
            },
            "spec": { "$ref": "#/$defs/Spec" }
        },
        "$defs": definitions,
    })
}
