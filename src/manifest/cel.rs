//! The rules each kind declares on its spec type as CEL (`#[x_kube(validation
//! = …)]`, written into its CRD as `x-kubernetes-validations`), evaluated on
//! every manifest seqops loads, as the API server evaluates them on every
//! object it admits: one set of rules, refused with the same words by both.

use kube::core::cel::{compile_schema, CompiledSchema, ErrorKind, Validator};
use serde_json::Value;

use super::kind::KindSpec;

/// A kind's rules, compiled once.
pub struct Rules {
    compiled: CompiledSchema,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("rules", &self.len()).finish()
    }
}

thread_local! {
    // The CEL functions Kubernetes adds, registered once per thread.
    static VALIDATOR: Validator = Validator::new();
}

impl Rules {
    /// The rules of `kind`, read from the CRD the API server is given.
    pub fn of(kind: &KindSpec) -> Rules {
        let crd = super::crd::crd(kind);
        let spec = crd
            .spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| s.properties.as_ref())
            .and_then(|p| p.get("spec"))
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_default();
        Rules::from_schema(&spec)
    }

    /// The rules of a spec's schema. Branches that hold no rule are cut
    /// away: the walk then visits only what some rule reads, and the value
    /// a rule sees is the same (a field with no schema is read as it is).
    pub fn from_schema(spec_schema: &Value) -> Rules {
        let mut compiled = compile_schema(spec_schema);
        prune(&mut compiled);
        Rules { compiled }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        count(&self.compiled)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(field path, message)` for each rule `spec` breaks, the path from
    /// `spec` as the API server gives it (`spec.state.pausedUntil`).
    pub fn broken(&self, spec: &Value) -> Vec<(String, String)> {
        if self.is_empty() {
            return Vec::new();
        }
        let Err(errors) = VALIDATOR.with(|v| v.validate_compiled(&self.compiled, spec, None)) else {
            return Vec::new();
        };
        // The walk's order is a hash map's: sorted, a run says the same twice.
        let mut broken: Vec<(String, String)> = errors
            .iter()
            .map(|error| {
                let path = match error.field_path.as_str() {
                    "" => "spec".to_string(),
                    p if p.starts_with('.') || p.starts_with('[') => format!("spec{p}"),
                    p => format!("spec.{p}"),
                };
                let message = match error.kind {
                    ErrorKind::ValidationFailure => error.message.clone(),
                    // A rule that cannot run is a defect of seqops, not of
                    // the manifest; said plainly rather than hidden.
                    _ => format!("rule `{}` could not be checked: {}", error.rule, error.message),
                };
                (path, message)
            })
            .collect();
        broken.sort();
        broken
    }
}

/// Keeps only the branches that hold a rule; says whether `schema` holds one.
fn prune(schema: &mut CompiledSchema) -> bool {
    schema.properties.retain(|_, child| prune(child));
    if schema.items.as_mut().is_some_and(|items| !prune(items)) {
        schema.items = None;
    }
    if schema.additional_properties.as_mut().is_some_and(|inner| !prune(inner)) {
        schema.additional_properties = None;
    }
    for branches in [&mut schema.all_of, &mut schema.one_of, &mut schema.any_of] {
        branches.retain_mut(prune);
    }
    !schema.validations.is_empty()
        || !schema.properties.is_empty()
        || schema.items.is_some()
        || schema.additional_properties.is_some()
        || !schema.all_of.is_empty()
        || !schema.one_of.is_empty()
        || !schema.any_of.is_empty()
}

fn count(schema: &CompiledSchema) -> usize {
    schema.validations.len()
        + schema.properties.values().map(count).sum::<usize>()
        + schema.items.as_deref().map_or(0, count)
        + schema.additional_properties.as_deref().map_or(0, count)
        + schema.all_of.iter().chain(&schema.one_of).chain(&schema.any_of).map(count).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_broken_rule_is_said_at_the_field_it_names_from_spec() {
        let schema = json!({"type": "object", "properties": {
            "state": {"type": "object", "properties": {"phase": {"type": "string"}, "until": {"type": "string"}},
                      "x-kubernetes-validations": [{"rule": "self.phase != 'Paused' || has(self.until)",
                                                    "message": "a pause needs the time it ends", "fieldPath": ".until"}]},
            "flow": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}},
                     "x-kubernetes-validations": [{"rule": "has(self.text)", "message": "say something"}]}},
            "other": {"type": "string"},
        }});
        let rules = Rules::from_schema(&schema);
        assert_eq!(rules.len(), 2);
        let spec = json!({"state": {"phase": "Paused"}, "flow": [{"text": "hi"}, {}], "other": "x"});
        assert_eq!(
            rules.broken(&spec),
            [
                ("spec.flow[1]".to_string(), "say something".to_string()),
                ("spec.state.until".to_string(), "a pause needs the time it ends".to_string())
            ]
        );
        assert!(rules.broken(&json!({"state": {"phase": "Active"}})).is_empty());
    }
}
