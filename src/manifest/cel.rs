//! The rules each kind declares on its spec type as CEL (`#[x_kube(validation
//! = …)]`, written into its CRD as `x-kubernetes-validations`), evaluated on
//! every manifest seqops loads, as the API server evaluates them on every
//! object it admits: one set of rules, refused with the same words by both.
//!
//! Each rule is evaluated by kube-cel where it stands, one at a time, on the
//! least of the value it can read: a rule that reads only `self.a` and
//! `self.b` sees an object of those two fields, and a rule that begins
//! `!has(self.a) ||` is not run where `a` is absent (it holds there, as CEL's
//! `||` says). A spec of thirty fields is then not turned into CEL values
//! for each of its rules, which is what made the loader half as slow again.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use kube::core::cel::{compile_schema, CompiledSchema, ErrorKind, Validator};
use regex::Regex;
use serde_json::{Map, Value};

use super::kind::KindSpec;
use crate::manifest::keyword::{Keyword, Keywords};

/// A kind's rules, compiled once.
pub struct Rules {
    rules: Vec<RuleAt>,
}

/// One rule and where it stands in the spec.
struct RuleAt {
    at: Vec<Step>,
    /// The rule alone, over the schema of where it stands without what that
    /// holds (a map keeps its marker: its keys are data, not field names).
    compiled: CompiledSchema,
    /// The fields of `self` it reads, when it reads `self` only through
    /// them.
    reads: Option<Vec<String>>,
    /// A field whose absence makes it hold (`!has(self.field) || …`).
    holds_without: Option<String>,
    /// What it said of each value it was given (a rule is a function of
    /// what it reads): manifests repeat a trigger and profile, a policy, a
    /// phase far more often than they differ.
    said: Mutex<HashMap<String, Said>>,
}

/// What a rule said of one value: `(path from where it stands, message)`.
type Said = Vec<(String, String)>;

/// How many values a rule remembers before it forgets them all: a bound on
/// memory for a run of many distinct values, which gain nothing from it.
const REMEMBERED: usize = 4096;

/// A step from an object to what it holds.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Item,
    Value,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("rules", &self.rules.len()).finish()
    }
}

thread_local! {
    // The CEL functions Kubernetes adds, registered once per thread.
    static VALIDATOR: Validator = Validator::new();
}

impl Rules {
    /// The rules of `kind`, read from the CRD the API server is given.
    pub fn of(kind: &KindSpec) -> Rules {
        Rules::from_schema(&super::crd::spec_schema(kind))
    }

    /// The rules of a spec's schema.
    pub fn from_schema(spec_schema: &Value) -> Rules {
        let mut rules = Vec::new();
        collect(spec_schema, &mut Vec::new(), &mut rules);
        Rules { rules }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `(field path, message)` for each rule `spec` breaks, the path from
    /// `spec` as the API server gives it (`spec.state.pausedUntil`), sorted.
    pub fn broken(&self, spec: &Value) -> Vec<(String, String)> {
        let mut broken = Vec::new();
        for rule in &self.rules {
            let mut found = Vec::new();
            values_at(spec, &rule.at, "spec".to_string(), &mut found);
            for (path, value) in found {
                rule.check(value, &path, &mut broken);
            }
        }
        broken.sort();
        broken
    }
}

impl RuleAt {
    fn check(&self, value: &Value, path: &str, broken: &mut Vec<(String, String)>) {
        if let (Some(field), Value::Object(map)) = (&self.holds_without, value) {
            if !map.contains_key(field) {
                return;
            }
        }
        let key = self.key(value);
        let remembered = self.said.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let said = remembered.unwrap_or_else(|| {
            let said = self.evaluate(value);
            let mut memo = self.said.lock().unwrap_or_else(|e| e.into_inner());
            if memo.len() >= REMEMBERED {
                memo.clear();
            }
            memo.insert(key, said.clone());
            said
        });
        for (at, message) in said {
            broken.push((format!("{path}{at}"), message));
        }
    }

    /// What the rule reads of `value`, as text: the key of what it said.
    /// Two values a rule can tell apart never share a key: a string is
    /// marked apart from the JSON of other values (`5` from `"5"`), and an
    /// absent field from one given as `null`, which `has()` sees.
    fn key(&self, value: &Value) -> String {
        match (&self.reads, value) {
            (_, Value::String(text)) => format!("\u{1e}{text}"),
            (Some(fields), Value::Object(map)) => {
                let mut key = String::new();
                for field in fields {
                    match map.get(field) {
                        Some(inner) => key.push_str(&inner.to_string()),
                        None => key.push('\u{1e}'),
                    }
                    key.push('\u{1f}');
                }
                key
            }
            _ => value.to_string(),
        }
    }

    /// The rule run on `value` (only the fields it reads of it).
    fn evaluate(&self, value: &Value) -> Said {
        let projected;
        let value = match (&self.reads, value) {
            (Some(fields), Value::Object(map)) => {
                projected = Value::Object(
                    fields.iter().filter_map(|f| map.get(f).map(|v| (f.clone(), v.clone()))).collect::<Map<_, _>>(),
                );
                &projected
            }
            _ => value,
        };
        let Err(errors) = VALIDATOR.with(|v| v.validate_compiled(&self.compiled, value, None)) else {
            return Vec::new();
        };
        errors
            .iter()
            .map(|error| {
                let at = match error.field_path.as_str() {
                    p if p.is_empty() || p.starts_with('.') || p.starts_with('[') => p.to_string(),
                    p => format!(".{p}"),
                };
                let message = match error.kind {
                    ErrorKind::ValidationFailure => error.message.clone(),
                    // A rule that cannot run is a defect of seqops, not of
                    // the manifest; said plainly rather than hidden.
                    _ => format!("rule `{}` could not be checked: {}", error.rule, error.message),
                };
                (at, message)
            })
            .collect()
    }
}

/// Every rule under `schema`, with where it stands.
fn collect(schema: &Value, at: &mut Vec<Step>, rules: &mut Vec<RuleAt>) {
    let Some(map) = schema.as_object() else { return };
    for rule in map.keyword(Keyword::KubernetesValidations).and_then(Value::as_array).into_iter().flatten() {
        rules.push(RuleAt::new(map, rule, at.clone()));
    }
    for (name, inner) in map.keyword(Keyword::Properties).and_then(Value::as_object).into_iter().flatten() {
        at.push(Step::Field(name.clone()));
        collect(inner, at, rules);
        at.pop();
    }
    for (key, step) in [("items", Step::Item), ("additionalProperties", Step::Value)] {
        if let Some(inner) = map.get(key) {
            at.push(step);
            collect(inner, at, rules);
            at.pop();
        }
    }
}

impl RuleAt {
    fn new(schema: &Map<String, Value>, rule: &Value, at: Vec<Step>) -> RuleAt {
        let mut alone: Map<String, Value> = schema
            .iter()
            .filter(|(key, _)| {
                !matches!(key.as_str(), "properties" | "items" | "x-kubernetes-validations" | "required")
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if alone.contains_key("additionalProperties") {
            alone.insert("additionalProperties".into(), serde_json::json!({}));
        }
        alone.insert("x-kubernetes-validations".into(), Value::Array(vec![rule.clone()]));
        let text = |key: &str| rule[key].as_str().unwrap_or_default();
        let is_object = schema.contains_key("properties");
        RuleAt {
            at,
            compiled: compile_schema(&Value::Object(alone)),
            reads: is_object.then(|| reads(&[text("rule"), text("messageExpression")])).flatten(),
            holds_without: holds_without(text("rule")),
            said: Mutex::new(HashMap::new()),
        }
    }
}

/// The fields of `self` that `expressions` read, when they read `self`
/// only as `self.field`.
fn reads(expressions: &[&str]) -> Option<Vec<String>> {
    static FIELD: OnceLock<Regex> = OnceLock::new();
    let field = FIELD.get_or_init(|| Regex::new(r"\bself(\.[A-Za-z_][A-Za-z0-9_]*)?").expect("a pattern"));
    let mut fields = Vec::new();
    for expression in expressions {
        for found in field.captures_iter(expression) {
            let name = found.get(1)?.as_str().trim_start_matches('.').to_string();
            // An escaped name (`__dash__`, `a__b`) is not the JSON key.
            if name.contains("__") {
                return None;
            }
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
    }
    Some(fields)
}

/// The field whose absence makes `rule` hold: `!has(self.field)` alone or
/// as the first of its `||`.
fn holds_without(rule: &str) -> Option<String> {
    static GUARD: OnceLock<Regex> = OnceLock::new();
    let guard =
        GUARD.get_or_init(|| Regex::new(r"^\s*!has\(self\.([A-Za-z_][A-Za-z0-9_]*)\)\s*(\|\||$)").expect("a pattern"));
    guard.captures(rule).map(|found| found[1].to_string())
}

/// The values at `at` under `value`, with their paths.
fn values_at<'a>(value: &'a Value, at: &[Step], path: String, found: &mut Vec<(String, &'a Value)>) {
    let Some((step, rest)) = at.split_first() else {
        found.push((path, value));
        return;
    };
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => {
            if let Some(inner) = map.get(name) {
                values_at(inner, rest, format!("{path}.{name}"), found);
            }
        }
        (Step::Item, Value::Array(items)) => {
            for (index, inner) in items.iter().enumerate() {
                values_at(inner, rest, format!("{path}[{index}]"), found);
            }
        }
        (Step::Value, Value::Object(map)) => {
            for (key, inner) in map {
                values_at(inner, rest, format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
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

    #[test]
    fn a_rule_reads_only_the_fields_it_names_and_one_guarded_by_an_absent_field_is_not_run() {
        assert_eq!(reads(&["has(self.a) != has(self.b)", "'x' + self.a"]), Some(vec!["a".into(), "b".into()]));
        assert_eq!(reads(&["size(self) > 0"]), None, "a rule that reads all of self sees all of it");
        assert_eq!(holds_without("!has(self.per) || has(self.requests)").as_deref(), Some("per"));
        assert_eq!(holds_without("!has(self.agentRef)").as_deref(), Some("agentRef"));
        assert_eq!(holds_without("!has(self.a) && has(self.b)"), None);
        assert_eq!(holds_without("has(self.a) || !has(self.b)"), None);
    }

    #[test]
    fn what_a_rule_remembers_of_one_value_is_never_taken_for_another_it_can_tell_apart() {
        let schema = json!({"type": "object", "properties": {
            "state": {"type": "object", "properties": {"until": {"type": "string"}},
                      "x-kubernetes-validations": [{"rule": "has(self.until)", "message": "no end"}]},
            "count": {"x-kubernetes-int-or-string": true,
                      "x-kubernetes-validations": [{"rule": "self == '5'", "message": "not the text 5"}]}}});
        let rules = Rules::from_schema(&schema);
        assert_eq!(rules.broken(&json!({"state": {}})).len(), 1, "absent");
        assert!(rules.broken(&json!({"state": {"until": null}})).is_empty(), "given, as null");
        assert!(rules.broken(&json!({"count": "5"})).is_empty(), "text");
        assert_eq!(rules.broken(&json!({"count": 5})).len(), 1, "a number");
    }

    #[test]
    fn map_keys_reach_a_rule_as_written_not_escaped_as_field_names() {
        let schema = json!({"type": "object", "properties": {"headers": {
            "type": "object", "additionalProperties": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self.all(n, n.matches('^[A-Za-z0-9_-]+$'))", "message": "bad name"}]}}});
        let rules = Rules::from_schema(&schema);
        assert!(rules.broken(&json!({"headers": {"X-Client_Id": "a"}})).is_empty());
        assert_eq!(rules.broken(&json!({"headers": {"X Client": "a"}})).len(), 1);
    }
}
