//! A document checked against its kind's schema: every mistake found at
//! once, each in the words of the mistake.

use seqops::manifest::conform::tables_of;
use serde_json::{json, Value};

fn problems(document: Value) -> Vec<(String, String)> {
    let kind = seqops::providers::kinds().into_iter().find(|k| k.key_kind == "Sequence").expect("Sequence");
    tables_of(&kind).problems(&document).into_iter().map(|p| (p.path, p.message)).collect()
}

fn sequence(spec: Value) -> Value {
    json!({"apiVersion": "orsay.seqops.dev/v1alpha1", "kind": "Sequence", "metadata": {"name": "a"}, "spec": spec})
}

#[test]
fn every_kind_s_schema_finds_an_empty_manifest_wanting() {
    for kind in seqops::providers::kinds() {
        let found = tables_of(&kind).problems(&json!({}));
        assert!(found.iter().any(|p| p.message == "missing field `spec`"), "{}: {found:?}", kind.key_kind);
    }
}

#[test]
fn a_field_one_level_off_says_where_it_belongs() {
    let found = problems(sequence(
        json!({"name": "A", "trigger": "WHATSAPP_MESSAGE", "flow": [{"delay": "0m"}], "content": "hi"}),
    ));
    assert_eq!(
        found,
        [("spec.content".to_string(), "`content` belongs under `flow[]`, not directly under `spec`".to_string())]
    );
}

#[test]
fn a_field_placed_one_level_too_deep_says_where_it_belongs() {
    let found = problems(sequence(json!({"trigger": "WHATSAPP_MESSAGE", "flow": [{"delay": "0m", "name": "A"}]})));
    assert_eq!(
        found,
        [("spec.flow[0].name".to_string(), "`name` belongs under `spec`, not directly under `flow[]`".to_string())]
    );
}

#[test]
fn fields_left_out_of_an_empty_spec_belong_under_it() {
    let mut document = sequence(Value::Null);
    document["name"] = "A".into();
    document["trigger"] = "WHATSAPP_MESSAGE".into();
    let found = problems(document);
    assert!(
        found.contains(&("name".into(), "`name` belongs under `spec`, not at the top of the document".into())),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(path, message)| path == "spec" && message.starts_with("`spec` has no value")),
        "{found:?}"
    );
}

#[test]
fn every_mistake_of_a_document_is_found_and_a_misspelt_field_is_not_also_missing() {
    let found = problems(sequence(json!({"name": 42, "triger": "WHATSAPP_MESSAGE", "active": "maybe"})));
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths.len(), 3, "{found:?}");
    for path in ["spec.name", "spec.triger", "spec.active"] {
        assert!(paths.contains(&path), "{found:?}");
    }
    assert!(found.iter().any(|(_, m)| m == "`42` is not a string here: write \"42\" in quotes"), "{found:?}");
    assert!(found.iter().any(|(_, m)| m == "`maybe` is text, but `active` takes true or false"), "{found:?}");
}

#[test]
fn an_unknown_value_names_the_nearest_choice() {
    let found = problems(sequence(json!({"name": "A", "trigger": "WHATSAP_MESSAGE"})));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.starts_with("unknown value `WHATSAP_MESSAGE`; did you mean `WHATSAPP_MESSAGE`?"), "{found:?}");
}

#[test]
fn a_value_of_the_wrong_shape_for_a_choice_of_shapes_says_the_shapes_it_may_take() {
    let found = problems(sequence(json!({"name": "A", "trigger": "WHATSAPP_MESSAGE", "agent": "Sales Agent"})));
    assert_eq!(
        found,
        [("spec.agent".to_string(), "`Sales Agent` is text, but `agent` takes a mapping of fields".to_string())]
    );
}
