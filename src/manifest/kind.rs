//! What the loader needs to know about a kind: its names, how to parse and
//! check its spec, which other manifests it refers to, and its schema.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Metadata;

/// A document parsed by its kind's Rust type.
pub struct ParsedDoc {
    pub metadata: Metadata,
    pub spec: serde_json::Value,
}

pub type ParseError = serde_path_to_error::Error<serde_json::Error>;

/// A reference from one manifest to another by `metadata.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The field that holds the reference, e.g. `spec.agentRef.name`.
    pub field: String,
    /// The key kind of the manifest referred to.
    pub kind: &'static str,
    pub name: String,
}

/// Everything seqops knows about one kind of manifest.
#[derive(Clone, Copy)]
pub struct KindSpec {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The kind as it is written in keys (`Sequence/welcome`): the bare kind
    /// where it is unique, qualified by provider where two providers share it.
    pub key_kind: &'static str,
    /// The provider type whose Provider manages objects of this kind; `None`
    /// for the Provider kind itself.
    pub provider_type: Option<&'static str>,
    pub parse: fn(&serde_json::Value) -> Result<ParsedDoc, ParseError>,
    /// The references a spec makes to other manifests.
    pub references: fn(&serde_json::Value) -> Vec<Reference>,
    /// Checks serde cannot express: `(field path, message)` for each problem.
    pub check: fn(&serde_json::Value) -> Vec<(String, String)>,
    pub crd: fn() -> CustomResourceDefinition,
    pub schema: fn() -> schemars::Schema,
    /// The annotations its provider reads beside the `seqops.dev/` ones
    /// (Gary's `gary.seqops.dev/re-enroll`): the controller passes exactly
    /// these to the engine, and a change to one is a change someone asked
    /// for, not a drift check.
    pub annotations: &'static [&'static str],
}

impl KindSpec {
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }

    /// Whether an annotation reaches the engine: a `seqops.dev/` one, or
    /// one this kind's provider reads.
    pub fn reads_annotation(&self, name: &str) -> bool {
        name.starts_with("seqops.dev/") || self.annotations.contains(&name)
    }
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
pub fn parse_typed<S: DeserializeOwned + Serialize>(document: &serde_json::Value) -> Result<ParsedDoc, ParseError> {
    let envelope: Envelope<S> = serde_path_to_error::deserialize(document)?;
    // Serializing a value that was just deserialized cannot fail for the
    // plain data types specs are made of.
    let spec = serde_json::to_value(&envelope.spec).unwrap_or(serde_json::Value::Null);
    Ok(ParsedDoc { metadata: envelope.metadata, spec })
}

pub fn no_references(_: &serde_json::Value) -> Vec<Reference> {
    Vec::new()
}

pub fn no_checks(_: &serde_json::Value) -> Vec<(String, String)> {
    Vec::new()
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
    let mut definitions = spec.get("$defs").cloned().unwrap_or_else(|| serde_json::json!({}));
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
