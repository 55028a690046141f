//! `seqops explain` through the built binary: kubectl's layout, read from
//! the schema `seqops schema` prints, for every field of every kind.

mod common;

use std::process::{Command, Stdio};

use common::{assert_contains, Run};
use serde_json::Value;

fn seqops(args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_seqops"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("seqops runs")
        .into()
}

/// `seqops explain ARGS`, which must succeed: its page.
#[track_caller]
fn explain(args: &[&str]) -> String {
    let run = seqops(&[&["explain"], args].concat());
    assert_eq!(run.code, 0, "explain {args:?}: {}", run.all());
    assert_eq!(run.stderr, "", "explain {args:?}");
    run.stdout
}

/// The schema `seqops schema` prints for a kind.
fn schema_of(file: &str) -> Value {
    let all: Value = serde_json::from_str(&seqops(&["schema"]).stdout).expect("the schemas");
    all[file].clone()
}

#[test]
fn explain_sequence_spec_flow_prints_kubectls_layout_with_the_descriptions_seqops_schema_holds() {
    let page = explain(&["sequence.spec.flow"]);
    let schema = schema_of("orsay.seqops.dev_Sequence.json");
    let flow = schema["$defs"]["Spec"]["properties"]["flow"]["description"].as_str().expect("flow's description");
    let delay = schema["$defs"]["FlowStep"]["properties"]["delay"]["description"].as_str().expect("delay's");
    let expected_top = format!(
        "KIND:     Sequence\nVERSION:  orsay.seqops.dev/v1alpha1\n\nFIELD: flow <[]Object>\n\nDESCRIPTION:\n    {flow}\n"
    );
    assert!(page.starts_with(&expected_top), "{page}");
    assert_contains(&page, format!("\nFIELDS:\n  delay\t<string>\n    {delay}\n\n  content\t<string>\n"));
    assert_contains(&page, "\nEXAMPLE:\n    flow:\n    - delay: 0m\n");
}

#[test]
fn explain_marks_required_fields_and_lists_the_values_a_field_takes() {
    let spec = explain(&["Sequence.spec"]);
    assert_contains(&spec, "FIELD: spec <Object>\n\nDESCRIPTION:\n    An Orsay DM sequence.\n");
    assert_contains(&spec, "\n  name\t<string> -required-\n    The sequence's display name in Orsay.\n");
    assert_contains(&spec, "\n  trigger\t<string> -required-\n  enum: INSTAGRAM_MESSAGE, INSTAGRAM_COMMENT,");
    assert_contains(&spec, "\n  active\t<boolean>\n");
    let trigger = explain(&["Sequence.spec.trigger"]);
    let schema = schema_of("orsay.seqops.dev_Sequence.json");
    let values = schema["$defs"]["Trigger"]["enum"].as_array().expect("the triggers");
    let listed: String = values.iter().map(|v| format!("    {}\n", v.as_str().expect("a name"))).collect();
    assert_contains(&trigger, format!("FIELD: trigger <string>\nENUM:\n{listed}\nDESCRIPTION:\n"));
    assert_contains(&trigger, "\nEXAMPLE:\n    trigger: INSTAGRAM_MESSAGE\n");
}

#[test]
fn explain_shows_a_fields_default_and_its_value_in_the_sample() {
    let delay = explain(&["sequence.spec.flow.delay"]);
    assert_contains(&delay, "FIELD: delay <string>\n");
    assert_contains(&delay, "\nDEFAULT:\n    0m\n");
    assert_contains(&delay, "\nEXAMPLE:\n    delay: 0m\n");
}

#[test]
fn a_kind_two_providers_share_is_refused_naming_both_and_each_is_reached_through_its_provider() {
    let shared = seqops(&["explain", "agent.spec"]);
    assert_eq!(shared.code, 1, "{}", shared.all());
    assert_contains(&shared.stderr, "`agent` names 2 kinds: `orqis.Agent` (orqis.seqops.dev/v1alpha1) and `orchagent.Agent` (orchagent.seqops.dev/v1alpha1)");
    let orqis = explain(&["orqis.Agent.spec.openapiSpec"]);
    assert!(
        orqis.starts_with("KIND:     Agent\nVERSION:  orqis.seqops.dev/v1alpha1\n\nFIELD: openapiSpec <Object>\n"),
        "{orqis}"
    );
    assert_contains(&orqis, "  fromFile\t<string>\n");
    let orchagent = explain(&["orchagent.agent"]);
    assert!(orchagent.starts_with("KIND:     Agent\nVERSION:  orchagent.seqops.dev/v1alpha1\n"), "{orchagent}");
}

#[test]
fn kinds_are_found_in_any_case_by_plural_short_name_and_crd_name() {
    for given in ["SEQUENCES.spec.name", "sequences.orsay.seqops.dev.spec.name", "orsay.sequence.spec.name"] {
        let page = explain(&[given]);
        assert!(page.starts_with("KIND:     Sequence\n") && page.contains("FIELD: name <string>\n"), "{given}: {page}");
    }
    assert_contains(&explain(&["sqprov.spec.type"]), "FIELD: type <string>\nENUM:\n    orsay\n");
}

#[test]
fn an_unknown_field_or_kind_exits_1_naming_the_nearest() {
    let field = seqops(&["explain", "Sequence.spec.flw"]);
    assert_eq!(field.code, 1, "{}", field.all());
    assert_eq!(field.stderr, "error: field `flw` does not exist in Sequence.spec; did you mean `flow`?\n");
    assert_eq!(field.stdout, "");
    let deeper = seqops(&["explain", "Sequence.spec.flow.dealy"]);
    assert_contains(&deeper.stderr, "field `dealy` does not exist in Sequence.spec.flow; did you mean `delay`?");
    let kind = seqops(&["explain", "sequense"]);
    assert_eq!(kind.code, 1, "{}", kind.all());
    assert_contains(&kind.stderr, "no kind is called `sequense`; did you mean `Sequence`?");
}

#[test]
fn recursive_prints_the_tree_of_field_names_and_types() {
    let page = explain(&["sequence", "--recursive"]);
    assert!(
        page.starts_with(
            "KIND:     Sequence\nVERSION:  orsay.seqops.dev/v1alpha1\n\nDESCRIPTION:\n    An Orsay DM sequence.\n"
        ),
        "{page}"
    );
    assert_contains(&page, "\nFIELDS:\n  apiVersion\t<string> -required-\n  kind\t<string> -required-\n  metadata\t<Object> -required-\n    name\t<string> -required-\n");
    assert_contains(&page, "  spec\t<Object> -required-\n    providerRef\t<Object>\n      name\t<string> -required-\n");
    assert_contains(&page, "    flow\t<[]Object>\n      delay\t<string>\n      content\t<string>\n");
}

/// The paths and types a `--recursive` page lists: `spec.flow.delay`.
fn tree(page: &str) -> Vec<(String, String)> {
    let mut path: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    for line in page.split("\nFIELDS:\n").nth(1).unwrap_or_default().lines() {
        let name = line.trim_start();
        let depth = (line.len() - name.len()) / 2;
        let (name, rest) = name.split_once('\t').expect("a name and a type");
        let kind = rest.trim_end_matches(" -required-").to_string();
        path.truncate(depth - 1);
        path.push(name.to_string());
        fields.push((path.join("."), kind));
    }
    fields
}

#[test]
fn every_field_of_every_kind_is_explained_with_the_type_its_tree_gives() {
    let mut explained = 0;
    // The fields every kind has (metadata, providerRef) are asked of the first.
    let mut asked = std::collections::HashSet::new();
    for kind in seqops::providers::kinds() {
        let page = explain(&[kind.key_kind.as_str(), "--recursive"]);
        for (path, kind_type) in tree(&page) {
            if !asked.insert((path.clone(), kind_type.clone())) {
                continue;
            }
            let field = explain(&[&format!("{}.{path}", kind.key_kind)]);
            let name = path.rsplit('.').next().expect("a name");
            assert_contains(&field, format!("FIELD: {name} {kind_type}\n"));
            explained += 1;
        }
    }
    assert!(explained > 100, "only {explained} fields");
}
