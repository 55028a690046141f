//! CustomResourceDefinitions for every kind: what kube's derive makes, plus
//! the status every seqops object reports, its subresource, and the printer
//! columns `kubectl get seqops` shows.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceSubresourceStatus,
    CustomResourceSubresources, JSONSchemaProps,
};
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::record::Record;
use super::KindSpec;
use crate::manifest::keyword::{Keyword, Keywords};

/// What the controller reports on every object: how its last reconcile
/// went, and beside it the object's record, as a state file keeps it.
// The record is `Record` itself, flattened: the controller plans from the
// record it reads here and writes back the one the engine left in state,
// with no conversion between the two.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The remote object's id, for people and `kubectl get` (the record's
    /// `id`, or what an ObserveOnly object was found as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The remote fields last observed, secrets left out: what people read
    /// (the record's `observed` is kept only where it differs from
    /// `lastApplied`). A Provider's: the requests made and budget left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub at_provider: Option<serde_json::Value>,
    /// Managed fields that changed remotely.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// What seqops knows of the remote object.
    #[serde(flatten)]
    pub record: Record,
    /// The annotations its provider reads (the kind's own, such as
    /// `gary.seqops.dev/re-enroll`) as of the last successful sync: they do
    /// not move `metadata.generation`, so a change to one is told from a
    /// drift check by this.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed_annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl ResourceStatus {
    /// Keeps `record` as what state now holds of the object, or, when state
    /// holds none (a create the API refused), forgets what was remote and
    /// keeps what was applied. What the object itself says (its kind, its
    /// Provider, its deletion and prevent-destroy annotations) is not
    /// repeated: it is read from the object.
    pub fn keep(&mut self, record: Option<&Record>) {
        match record {
            Some(record) => {
                self.record = record.clone();
                self.record.object_says("", "", false, false);
                self.at_provider = Some(serde_json::Value::Object(without_secrets(&record.observed())));
            }
            None => self.record.forget_remote(),
        }
        self.external_id = self.record.id.clone();
    }
}

/// Observed fields without the markers that stand for secrets: a status
/// is read by anyone who may read the object.
fn without_secrets(fields: &crate::external::Fields) -> crate::external::Fields {
    fields
        .iter()
        .filter(|(_, v)| crate::external::sources::marker(v).is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A Kubernetes condition (`Ready`, `Synced`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One managed field that changed remotely, values as text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftEntry {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

/// Free-form JSON an API server keeps as it is.
pub fn preserved_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Any JSON value, kept as it is: an object, or (written by an older
/// seqops) its text.
pub fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

fn column(name: &str, type_: &str, json_path: &str) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.into(),
        type_: type_.into(),
        json_path: json_path.into(),
        ..Default::default()
    }
}

/// The CRD of `kind`, complete: status schema and subresource, printer
/// columns, the `seqops` category.
pub fn crd(kind: &KindSpec) -> CustomResourceDefinition {
    let mut crd = (kind.crd)();
    let status_schema = status_schema();
    for version in &mut crd.spec.versions {
        version.subresources = Some(CustomResourceSubresources {
            status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
            ..Default::default()
        });
        version.additional_printer_columns = Some(vec![
            column("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
            column("Synced", "string", ".status.conditions[?(@.type==\"Synced\")].status"),
            column("External ID", "string", ".status.externalId"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ]);
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            schema.properties.get_or_insert_with(Default::default).insert("status".into(), status_schema.clone());
            let mut value = serde_json::to_value(&*schema).unwrap_or_default();
            // The spec's bounds, as the loader checks them: one declaration.
            if let Some(spec) = value.pointer_mut("/properties/spec") {
                super::limits::bound_schema(spec);
            }
            structural(&mut value);
            if let Ok(fixed) = serde_json::from_value(value) {
                *schema = fixed;
            }
        }
    }
    let categories = crd.spec.names.categories.get_or_insert_with(Vec::new);
    if !categories.iter().any(|c| c == "seqops") {
        categories.push("seqops".into());
    }
    crd
}

fn status_schema() -> JSONSchemaProps {
    let settings = schemars::generate::SchemaSettings::openapi3().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let schema = settings.into_generator().into_root_schema_for::<ResourceStatus>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    // An API server drops what a schema does not name, from objects it
    // already holds too: a status an older seqops wrote keeps its digest
    // under the old name until the controller reads it (as `manifestDigest`)
    // and writes the status anew.
    if let Some(properties) = value.keyword_mut(Keyword::Properties).and_then(|p| p.as_object_mut()) {
        let older = "The digest of the spec last applied, as an older seqops wrote it: read as manifestDigest.";
        properties.insert("lastAppliedDigest".into(), serde_json::json!({"type": "string", "description": older}));
    }
    structural(&mut value);
    serde_json::from_value(value).unwrap_or_default()
}

/// Makes a schema structural, as a Kubernetes API server requires:
/// `nullable` instead of `null` in type lists and optional enums; no `additionalProperties`
/// beside `properties` (unknown fields are pruned by the server anyway);
/// free-form objects marked `x-kubernetes-preserve-unknown-fields`; only
/// the integer formats Kubernetes knows.
fn structural(value: &mut serde_json::Value) {
    use serde_json::Value;
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
        if map.keyword(Keyword::Properties).is_some()
            && map.keyword(Keyword::AdditionalProperties) == Some(&Value::Bool(false))
        {
            map.remove("additionalProperties");
        }
        if map.keyword(Keyword::AdditionalProperties) == Some(&Value::Bool(true)) {
            map.remove("additionalProperties");
            map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        }
        // An optional enum comes as `anyOf: [the enum, null]`: the enum,
        // nullable, keeps the field's own description.
        if let Some(Value::Array(choices)) = map.keyword(Keyword::AnyOf).cloned() {
            let is_null = |c: &Value| c.keyword(Keyword::Enum) == Some(&serde_json::json!([null]));
            if let [choice, null] = choices.as_slice() {
                if is_null(null) {
                    map.remove("anyOf");
                    for (key, value) in choice.as_object().cloned().unwrap_or_default() {
                        map.entry(key).or_insert(value);
                    }
                    map.insert("nullable".into(), Value::Bool(true));
                }
            }
        }
        if let Some(Value::String(format)) = map.keyword(Keyword::Format) {
            if format.starts_with("uint") || format == "int" {
                map.insert("format".into(), Value::String("int64".into()));
            }
        }
        if let Some(serde_json::Value::Array(types)) = map.keyword(Keyword::Type).cloned() {
            let kept: Vec<serde_json::Value> = types.into_iter().filter(|t| t != "null").collect();
            if let [only] = kept.as_slice() {
                map.insert("type".into(), only.clone());
                map.insert("nullable".into(), serde_json::Value::Bool(true));
            }
        }
        for inner in map.values_mut() {
            structural(inner);
        }
    } else if let Some(items) = value.as_array_mut() {
        items.iter_mut().for_each(structural);
    }
}

/// The schema of `kind`'s spec as its CRD gives it to the API server, rules
/// and bounds included: what the loader evaluates the rules over.
pub fn spec_schema(kind: &KindSpec) -> serde_json::Value {
    let schema = crd(kind).spec.versions.into_iter().next().and_then(|v| v.schema?.open_api_v3_schema);
    let spec = schema.and_then(|s| s.properties?.remove("spec"));
    spec.map(|spec| serde_json::to_value(spec).unwrap_or_default()).unwrap_or_default()
}

/// The CRD as YAML, as `seqops crds` prints it and crds/ holds it.
pub fn crd_yaml(kind: &KindSpec) -> String {
    serde_yaml::to_string(&crd(kind)).unwrap_or_default()
}

/// The file in crds/ a kind's CRD lives in: `sequences.orsay.seqops.dev.yaml`.
pub fn crd_file_name(kind: &KindSpec) -> String {
    let crd = crd(kind);
    format!("{}.yaml", crd.metadata.name.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_schema_names_every_field_an_older_seqops_wrote_so_none_is_dropped() {
        // What the controller wrote before state and status kept one record.
        let older = [
            "conditions",
            "externalId",
            "displayName",
            "lastAppliedDigest",
            "atProvider",
            "drift",
            "lastApplied",
            "pendingSince",
            "preexisting",
            "deposedId",
            "appliedSpec",
            "renewToken",
            "dependsOn",
            "observedAnnotations",
            "observedGeneration",
        ];
        let schema = status_schema();
        let properties = schema.properties.unwrap_or_default();
        let dropped: Vec<&str> = older.into_iter().filter(|name| !properties.contains_key(*name)).collect();
        assert!(dropped.is_empty(), "an API server would drop {dropped:?}");
        let applied_spec = properties.get("appliedSpec").cloned().unwrap_or_default();
        assert_eq!(
            (applied_spec.type_, applied_spec.x_kubernetes_preserve_unknown_fields),
            (None, Some(true)),
            "the applied spec is kept as an older seqops wrote it (text) and as it is written now (an object)"
        );
    }
}
