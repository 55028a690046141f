//! Three-way diff, as `kubectl apply` does it: the manifest against the
//! remote object, with the last-applied fields deciding what a missing field
//! means.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reason::Reason;
use crate::external::{sources, Fields, KindFacts};

/// One field's change, for people: `path` may reach into lists and objects
/// (`flow[0].content`). `None` means absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    pub path: String,
    /// A secret: its values are never shown (`before` and `after` read
    /// `(sensitive)`), only that it changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// For a secret, that its value changes: always true where it appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    /// What the new value stands for, when it is an id: `lookup "Sales
    /// Agent"`, `Agent/writer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

impl FieldChange {
    /// A change of a value that is no secret.
    pub fn plain(path: &str, before: Option<Value>, after: Option<Value>) -> Self {
        Self { path: path.to_string(), sensitive: false, changed: None, note: None, before, after }
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// Top-level fields to send, with their new values.
    pub updates: Fields,
    /// What changes, field by field, for the plan.
    pub changes: Vec<FieldChange>,
    /// Why the object must be replaced rather than updated.
    pub replace_reasons: Vec<Reason>,
    /// Managed fields that changed remotely since seqops last wrote them.
    pub drift: Vec<FieldChange>,
}

/// Compares what the manifest asks for with what is there.
///
/// - a field in `desired` is compared with its remote value;
/// - a field in `last_applied` but no longer in `desired` is reset to the
///   API's default;
/// - any other remote field is not managed and left alone.
pub fn diff(desired: &Fields, last_applied: Option<&Fields>, observed: &Fields, facts: &KindFacts) -> Diff {
    let observed = &only_managed_keys(observed, desired, last_applied, facts);
    let mut result = Diff::default();
    // A value the API keeps but never returns is taken to be what seqops
    // last wrote: drift in it cannot be seen.
    // A field the API never returns is taken to be what seqops last wrote,
    // or, when it never wrote it (an adopted object), what is asked for.
    let remote = |field: &str| {
        let unseen = facts.is_write_only(field) && !observed.contains_key(field);
        let assumed = match last_applied {
            Some(applied) => applied.get(field),
            None => desired.get(field),
        }
        .filter(|_| unseen)
        .cloned();
        let mut value = assumed.or_else(|| observed.get(field).cloned()).unwrap_or_else(|| facts.default_of(field));
        sources::fill_unknown(&mut value, last_applied.and_then(|l| l.get(field)));
        value
    };
    for (field, wanted) in desired {
        let current = remote(field);
        if !same(facts, field, wanted, &current) {
            result.updates.insert(field.clone(), wanted.clone());
            describe(field, Some(&current), Some(wanted), &mut result.changes);
            if facts.is_immutable(field) {
                result.replace_reasons.push(Reason::FieldImmutable { field: field.clone() });
            }
        }
    }
    if let Some(last_applied) = last_applied {
        for (field, applied) in last_applied {
            let current = remote(field);
            if !desired.contains_key(field) && !facts.is_kept(field) {
                let default = facts.default_of(field);
                if !same(facts, field, &default, &current) {
                    result.updates.insert(field.clone(), default.clone());
                    describe(field, Some(&current), Some(&default), &mut result.changes);
                    if facts.is_immutable(field) {
                        result.replace_reasons.push(Reason::FieldRemovedCannotReset { field: field.clone() });
                    }
                }
            }
            if !same(facts, field, applied, &current) {
                describe(field, Some(applied), Some(&current), &mut result.drift);
            }
        }
    }
    for field in facts.merged_maps() {
        if let Some(update) = result.updates.get_mut(field) {
            *update = merge_patch(desired.get(field), observed.get(field));
        }
    }
    result
}

/// The observed fields with each merged map cut down to the keys seqops
/// manages: those the manifest asks for and those it set before.
fn only_managed_keys(observed: &Fields, desired: &Fields, last_applied: Option<&Fields>, facts: &KindFacts) -> Fields {
    let mut observed = observed.clone();
    for field in facts.merged_maps() {
        let managed: std::collections::BTreeSet<String> = [Some(desired), last_applied]
            .into_iter()
            .flatten()
            .filter_map(|fields| fields.get(field).and_then(Value::as_object))
            .flat_map(|map| map.keys().cloned())
            .collect();
        if let Some(Value::Object(map)) = observed.get_mut(field) {
            map.retain(|key, _| managed.contains(key));
        }
    }
    observed
}

/// What a merged map's update sends: the keys whose value changes, and
/// `null` for each managed key the manifest no longer has.
fn merge_patch(wanted: Option<&Value>, current: Option<&Value>) -> Value {
    let empty = serde_json::Map::new();
    let wanted = wanted.and_then(Value::as_object).unwrap_or(&empty);
    let current = current.and_then(Value::as_object).unwrap_or(&empty);
    let mut patch = serde_json::Map::new();
    for (key, value) in wanted {
        if current.get(key) != Some(value) {
            patch.insert(key.clone(), value.clone());
        }
    }
    for key in current.keys().filter(|k| !wanted.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    Value::Object(patch)
}

/// Every field of a new object, as additions; lists of objects are spelled
/// out element by element (`flow[0].content`).
pub fn creation(desired: &Fields) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (field, value) in desired {
        added(field, value, &mut out);
    }
    out
}

fn added(path: &str, value: &Value, out: &mut Vec<FieldChange>) {
    match value {
        _ if sources::marker(value).is_some() => describe(path, None, Some(value), out),
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                added(&format!("{path}.{key}"), inner, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for (index, item) in items.iter().enumerate() {
                added(&format!("{path}[{index}]"), item, out);
            }
        }
        _ => out.push(FieldChange::plain(path, None, Some(value.clone()))),
    }
}

/// Whether two values of `field` are the same, as the API sees them: sets
/// ignore order, and for them an empty list is the same as none.
pub fn same(facts: &KindFacts, field: &str, a: &Value, b: &Value) -> bool {
    if facts.is_set(field) {
        return sorted_items(a) == sorted_items(b);
    }
    a == b || crate::external::digest::matches(a, b)
}

fn sorted_items(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value.as_array().map(|a| a.iter().map(Value::to_string).collect()).unwrap_or_default();
    items.sort();
    items.dedup();
    items
}

fn sensitive_text(value: &Value) -> &'static str {
    if crate::external::digest::not_comparable(value) {
        "(sensitive: not comparable)"
    } else {
        "(sensitive)"
    }
}

/// Breaks a change down to the fields that differ inside objects and
/// equal-length lists, so a plan shows `flow[1].content`, not all of `flow`.
fn describe(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    let secret = |v: Option<&Value>| v.and_then(sources::marker).is_some_and(|(kind, _)| kind == sources::SENSITIVE);
    if secret(before) || secret(after) {
        out.push(FieldChange {
            path: path.to_string(),
            sensitive: true,
            changed: Some(true),
            note: None,
            before: before.map(|_| Value::String("(sensitive)".into())),
            // A new value is simply sent; only one that replaces another
            // could have been compared.
            after: after
                .map(|v| Value::String(if before.is_some() { sensitive_text(v) } else { "(sensitive)" }.into())),
        });
        return;
    }
    let marker = |v: Option<&Value>| v.and_then(sources::marker).is_some();
    match (before, after) {
        _ if marker(before) || marker(after) => out.push(FieldChange::plain(path, before.cloned(), after.cloned())),
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.dedup();
            let mut seen = std::collections::BTreeSet::new();
            for key in keys {
                if seen.insert(key) && a.get(key) != b.get(key) {
                    describe(&format!("{path}.{key}"), a.get(key), b.get(key), out);
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() && !a.is_empty() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    describe(&format!("{path}[{index}]"), Some(x), Some(y), out);
                }
            }
        }
        _ => out.push(FieldChange::plain(path, before.cloned(), after.cloned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::external::{Change, Field, Json, Lifecycle, Listing, ReplaceOrder, CRUD};
    use serde_json::json;

    static FACTS: KindFacts = KindFacts::new(
        Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
        &[Field::new("runtime").fixed(), Field::new("tags").set(), Field::new("active").default(Json::Bool(false))],
        Listing::Summary,
    );

    static MERGED: KindFacts = KindFacts::new(CRUD, &[Field::new("variables").merged_map()], Listing::Summary);

    #[test]
    fn a_merged_map_manages_only_the_keys_seqops_set_and_clears_one_it_no_longer_asks_for() {
        let desired = fields(json!({"variables": {"first_name": "Amélie"}}));
        let applied = fields(json!({"variables": {"first_name": "Ana", "company": "Acme"}}));
        let observed = fields(json!({"variables": {"first_name": "Ana", "company": "Acme", "set_by_rep": "x"}}));
        let found = diff(&desired, Some(&applied), &observed, &MERGED);
        assert_eq!(found.updates["variables"], json!({"first_name": "Amélie", "company": null}));
        let paths: Vec<&str> = found.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["variables.first_name", "variables.company"]);
        assert!(found.drift.is_empty(), "a key set by someone else is not drift: {:?}", found.drift);
        let same = diff(&applied, Some(&applied), &observed, &MERGED);
        assert!(same.updates.is_empty(), "{:?}", same.updates);
    }

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_field_in_the_manifest_that_differs_remotely_is_updated() {
        let d = diff(&fields(json!({"name": "b"})), None, &fields(json!({"name": "a", "other": 1})), &FACTS);
        assert_eq!(d.updates, fields(json!({"name": "b"})));
        assert_eq!(
            d.changes,
            vec![FieldChange {
                path: "name".into(),
                sensitive: false,
                changed: None,
                note: None,
                before: Some(json!("a")),
                after: Some(json!("b"))
            }]
        );
    }

    #[test]
    fn a_field_removed_from_the_manifest_is_reset_to_its_default() {
        let last = fields(json!({"active": true}));
        let d = diff(&Fields::new(), Some(&last), &fields(json!({"active": true})), &FACTS);
        assert_eq!(d.updates, fields(json!({"active": false})));
        assert!(d.drift.is_empty());
    }

    #[test]
    fn a_field_seqops_never_wrote_is_left_alone() {
        let d = diff(
            &fields(json!({"name": "a"})),
            Some(&fields(json!({"name": "a"}))),
            &fields(json!({"name": "a", "active": true})),
            &FACTS,
        );
        assert_eq!(d, Diff::default());
    }

    #[test]
    fn a_managed_field_changed_remotely_is_drift_and_is_restored() {
        let wanted = fields(json!({"active": true}));
        let d = diff(&wanted, Some(&wanted), &fields(json!({"active": false})), &FACTS);
        assert_eq!(
            d.drift,
            vec![FieldChange {
                path: "active".into(),
                sensitive: false,
                changed: None,
                note: None,
                before: Some(json!(true)),
                after: Some(json!(false))
            }]
        );
        assert_eq!(d.updates, wanted);
    }

    #[test]
    fn sets_ignore_order_and_immutable_fields_force_replacement() {
        let d = diff(
            &fields(json!({"tags": ["b", "a"], "runtime": "py"})),
            None,
            &fields(json!({"tags": ["a", "b"], "runtime": "js"})),
            &FACTS,
        );
        assert_eq!(d.updates.keys().collect::<Vec<_>>(), vec!["runtime"]);
        assert_eq!(d.replace_reasons, vec![Reason::FieldImmutable { field: "runtime".into() }]);
    }

    #[test]
    fn changes_inside_lists_name_the_element_and_field() {
        let before = fields(json!({"flow": [{"delay": "0m", "content": "Hi"}, {"delay": "1h"}]}));
        let after = fields(json!({"flow": [{"delay": "0m", "content": "Hello"}, {"delay": "1h"}]}));
        let d = diff(&after, None, &before, &FACTS);
        assert_eq!(d.changes[0].path, "flow[0].content");
    }
}

/// Properties of the diff over random fields: what it plans, once made,
/// leaves nothing to plan.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::external::{Field, Json, Listing, CRUD};
    use proptest::prelude::*;
    use serde_json::json;

    static PLAIN: KindFacts = KindFacts::new(CRUD, &[], Listing::Summary);
    /// A set, defaults for removed fields, and a map merged key by key.
    static SHAPED: KindFacts = KindFacts::new(
        CRUD,
        &[
            Field::new("tags").set().default(Json::EmptyList),
            Field::new("count").default(Json::Int(1)),
            Field::new("vars").merged_map(),
        ],
        Listing::Summary,
    );

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..4).prop_map(|n| json!(n)),
            "[ab]{0,2}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[xy]", inner, 0..3).prop_map(|m| json!(m)),
            ]
        })
    }

    fn field(name: &'static str) -> BoxedStrategy<Value> {
        match name {
            "tags" => prop::collection::vec("[abc]".prop_map(Value::String), 0..3).prop_map(Value::Array).boxed(),
            "vars" => prop::collection::btree_map("[pqr]", "[ab]{1}", 0..3).prop_map(|m| json!(m)).boxed(),
            _ => value().boxed(),
        }
    }

    fn fields() -> impl Strategy<Value = Fields> {
        let names = ["name", "count", "flow", "tags", "vars"];
        let each: Vec<_> = names.iter().map(|n| prop::option::of(field(n))).collect();
        each.prop_map(move |values| {
            names.iter().zip(values).filter_map(|(n, v)| v.map(|v| (n.to_string(), v))).collect()
        })
    }

    /// What the remote object holds once `updates` are made: each field set
    /// whole, a merged map key by key (`null` removes a key).
    fn made(observed: &Fields, updates: &Fields, facts: &KindFacts) -> Fields {
        let mut after = observed.clone();
        for (field, value) in updates {
            if facts.is_merged_map(field) {
                let mut map = after.get(field).and_then(Value::as_object).cloned().unwrap_or_default();
                for (key, inner) in value.as_object().into_iter().flatten() {
                    match inner {
                        Value::Null => map.remove(key),
                        _ => map.insert(key.clone(), inner.clone()),
                    };
                }
                after.insert(field.clone(), Value::Object(map));
            } else {
                after.insert(field.clone(), value.clone());
            }
        }
        after
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn what_a_diff_plans_once_made_leaves_nothing_to_plan(
            desired in fields(),
            applied in prop::option::of(fields()),
            observed in fields(),
            shaped in any::<bool>(),
        ) {
            let facts = if shaped { &SHAPED } else { &PLAIN };
            let planned = diff(&desired, applied.as_ref(), &observed, facts);
            let after = made(&observed, &planned.updates, facts);
            let again = diff(&desired, Some(&desired), &after, facts);
            prop_assert!(again.updates.is_empty(), "left to change: {:?}", again.updates);
            prop_assert!(again.drift.is_empty(), "seen as drift: {:?}", again.drift);
        }

        #[test]
        fn fields_as_asked_are_no_change(desired in fields(), shaped in any::<bool>()) {
            let facts = if shaped { &SHAPED } else { &PLAIN };
            prop_assert_eq!(diff(&desired, Some(&desired), &desired, facts), Diff::default());
            prop_assert!(diff(&desired, None, &desired, facts).updates.is_empty());
        }
    }
}
