//! Every rule a kind declares as CEL, tried on its fixture in
//! `tests/fixtures/rules/`: seqops refuses the bad document at its line and
//! column with the rule's message, the CRD that `crds/` holds refuses it
//! with the same message, and both accept the good one beside it.

mod common;

use std::path::{Path, PathBuf};

use kube::core::cel::{compile_schema, estimate_rule_cost, CompiledSchema, Validator};
use seqops::manifest::KindSpec;
use serde::Deserialize;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules");

/// One fixture: what seqops says of its bad document (`LINE:COL: path:
/// message`, from its second comment line), and its two documents.
struct Fixture {
    name: String,
    file: PathBuf,
    at: String,
    refused: String,
    bad: Value,
    good: Value,
}

fn fixtures() -> Vec<Fixture> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("the fixtures")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.into_iter().map(|file| fixture(&file)).collect()
}

fn fixture(file: &Path) -> Fixture {
    let text = std::fs::read_to_string(file).expect("a fixture");
    let said = text
        .lines()
        .find_map(|line| line.strip_prefix("# refused at "))
        .unwrap_or_else(|| panic!("{}: no `# refused at` line", file.display()));
    let (at, refused) = said.split_once(": ").expect("LINE:COL: what is said");
    let mut documents = serde_yaml::Deserializer::from_str(&text).map(|d| Value::deserialize(d).expect("YAML"));
    let (bad, good) = (documents.next().expect("a bad document"), documents.next().expect("a good one"));
    Fixture {
        name: file.file_name().expect("a name").to_string_lossy().into_owned(),
        file: file.to_path_buf(),
        at: at.to_string(),
        refused: refused.to_string(),
        bad,
        good,
    }
}

/// The `openAPIV3Schema` of the CRD in `crds/` that defines `document`'s kind.
fn crd_schema(document: &Value) -> Value {
    let group = document["apiVersion"].as_str().and_then(|v| v.split_once('/')).map(|(g, _)| g).expect("a group");
    let kind = document["kind"].as_str().expect("a kind");
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    for entry in std::fs::read_dir(crds).expect("crds/") {
        let path = entry.expect("an entry").path();
        let Ok(crd) = serde_yaml::from_str::<Value>(&std::fs::read_to_string(&path).unwrap_or_default()) else {
            continue;
        };
        if crd["spec"]["group"] == group && crd["spec"]["names"]["kind"] == kind {
            return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
        }
    }
    panic!("no CRD in crds/ for {group}/{kind}");
}

/// What the CRD's rules say of `document`, as `path: message` lines.
fn cel_says(document: &Value) -> Vec<String> {
    match Validator::new().validate(&crd_schema(document), document, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| format!("{}: {}", e.field_path, e.message)).collect(),
    }
}

#[test]
fn every_fixture_names_where_seqops_refuses_it() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 30, "{} fixtures", fixtures.len());
    for fixture in &fixtures {
        assert!(!fixture.at.contains("LINE"), "{}: no line and column yet", fixture.name);
    }
}

#[test]
fn seqops_refuses_each_bad_document_at_its_line_and_column_with_the_rule_s_message_and_accepts_the_good_one() {
    let context = Path::new(FIXTURES).join("context/context.yaml");
    for fixture in fixtures() {
        let work = common::Workspace::new();
        work.write("context.yaml", &std::fs::read_to_string(&context).expect("the context"));
        work.write(&fixture.name, &std::fs::read_to_string(&fixture.file).expect("the fixture"));
        let run = work.run(&["validate", "-f", "manifests"]);
        assert_eq!(run.code, 1, "{}: {}", fixture.name, run.all());
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        let expected = format!("error: manifests/{}:{}: {}", fixture.name, fixture.at, fixture.refused);
        assert_eq!(errors.len(), 1, "{}: one error, of the bad document: {}", fixture.name, run.stderr);
        assert!(errors[0].starts_with(&expected), "{}:\n  said: {}\n  want: {expected}", fixture.name, errors[0]);
    }
}

#[test]
fn the_crds_rules_refuse_each_bad_document_with_the_same_message_and_accept_the_good_one() {
    for fixture in fixtures() {
        let said = cel_says(&fixture.bad);
        assert!(
            said.iter().any(|line| line.starts_with(&fixture.refused)),
            "{}: the CRD says {said:?}, seqops says {:?}",
            fixture.name,
            fixture.refused
        );
        assert_eq!(cel_says(&fixture.good), Vec::<String>::new(), "{}: the good document", fixture.name);
    }
}

#[test]
fn every_rule_of_every_kind_compiles() {
    fn failures(schema: &CompiledSchema, path: &str, found: &mut Vec<String>) {
        for result in &schema.validations {
            if let Err(error) = result {
                found.push(format!("{path}: {error}"));
            }
        }
        for (name, child) in &schema.properties {
            failures(child, &format!("{path}.{name}"), found);
        }
        if let Some(items) = &schema.items {
            failures(items, &format!("{path}[]"), found);
        }
    }
    for kind in seqops::providers::kinds() {
        let mut found = Vec::new();
        failures(&compile_schema(&crd_spec(&kind)), kind.kind, &mut found);
        assert!(found.is_empty(), "{found:#?}");
    }
}

/// The spec schema of `kind`'s CRD, as the API server gets it.
fn crd_spec(kind: &KindSpec) -> Value {
    seqops::manifest::crd::spec_schema(kind)
}

/// Every list, string and map at or under a node that carries rules
/// has a bound (a string may instead have a format or an enum): an
/// unbounded one is what makes a rule's cost unbounded.
fn unbounded(schema: &Value, path: &str, under_rule: bool, found: &mut Vec<String>) {
    let Some(map) = schema.as_object() else { return };
    let under_rule = under_rule || map.contains_key("x-kubernetes-validations");
    let has = |key: &str| map.contains_key(key);
    if under_rule {
        let bounded = match map.get("type").and_then(Value::as_str) {
            Some("array") => has("maxItems"),
            Some("string") => has("maxLength") || has("format") || has("enum"),
            Some("object") if has("additionalProperties") => has("maxProperties"),
            _ => true,
        };
        if !bounded {
            found.push(path.to_string());
        }
    }
    for (name, child) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
        unbounded(child, &format!("{path}.{name}"), under_rule, found);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            unbounded(child, &format!("{path}[]"), under_rule, found);
        }
    }
}

/// A message that iterates costs what its rule costs again, and the API
/// server counts it against the same budget: messages name values, never
/// walk lists or maps.
#[test]
fn no_rule_s_message_walks_a_list_or_a_map() {
    fn walking(schema: &Value, found: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                for rule in map.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten() {
                    let message = rule["messageExpression"].as_str().unwrap_or_default();
                    if [".all(", ".exists(", ".filter(", ".map(", ".exists_one("].iter().any(|m| message.contains(m)) {
                        found.push(message.to_string());
                    }
                }
                map.values().for_each(|inner| walking(inner, found));
            }
            Value::Array(items) => items.iter().for_each(|inner| walking(inner, found)),
            _ => {}
        }
    }
    for kind in seqops::providers::kinds() {
        let mut found = Vec::new();
        walking(&crd_spec(&kind), &mut found);
        assert!(found.is_empty(), "{}: {found:?}", kind.kind);
    }
}

#[test]
fn every_list_string_and_map_a_rule_reads_is_bounded() {
    for kind in seqops::providers::kinds() {
        let mut found = Vec::new();
        unbounded(&crd_spec(&kind), "spec", false, &mut found);
        assert!(found.is_empty(), "{}: unbounded under a rule: {found:?}", kind.kind);
    }
}

#[test]
fn every_rule_is_within_the_api_server_s_cost_budget_by_kube_cel_s_estimate() {
    fn over(schema: &CompiledSchema, path: &str, found: &mut Vec<String>) {
        for rule in schema.validations.iter().flatten() {
            for warning in estimate_rule_cost(&rule.rule.rule, schema) {
                found.push(format!("{path}: {}: {}", rule.rule.rule, warning.message));
            }
        }
        for (name, child) in &schema.properties {
            over(child, &format!("{path}.{name}"), found);
        }
        for inner in schema.items.iter().chain(&schema.additional_properties) {
            over(inner, &format!("{path}[]"), found);
        }
    }
    for kind in seqops::providers::kinds() {
        let mut found = Vec::new();
        over(&compile_schema(&crd_spec(&kind)), kind.kind, &mut found);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn every_kind_but_provider_carries_the_two_policy_rules() {
    for kind in seqops::providers::kinds() {
        let rules: Vec<String> = crd_spec(&kind)["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rule| rule["rule"].as_str().map(String::from))
            .collect();
        let carries = [seqops::manifest::policy::one_spelling(), seqops::manifest::policy::reads_first()]
            .iter()
            .all(|policy| rules.contains(&policy.rule));
        assert_eq!(carries, kind.provider_type.is_some(), "{}: {rules:?}", kind.kind);
    }
}

/// With `--ignored` and `KUBECONFIG` naming a cluster (and `kubectl` on
/// the PATH): `crds/` installed, `kubectl apply` of each fixture refuses
/// its bad document with the rule's message and creates the good one.
#[test]
#[ignore = "needs a Kubernetes cluster and kubectl: KUBECONFIG=... cargo test --test rules -- --ignored"]
fn a_real_api_server_refuses_each_bad_document_with_the_rule_s_message_and_creates_the_good_one() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, DeleteParams, PostParams};

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let namespace = format!("seqops-rules-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let client = runtime.block_on(async {
        let client = kube::Client::try_default().await.expect("a client for KUBECONFIG");
        common::real_cluster::install_crds(&client).await;
        let object = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).expect("a namespace");
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &object).await.expect("a namespace");
        client
    });
    let mut refused_otherwise = Vec::new();
    for fixture in fixtures() {
        let applied = std::process::Command::new("kubectl")
            .args(["apply", "-n", &namespace, "-f"])
            .arg(&fixture.file)
            .output()
            .expect("kubectl runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&applied.stdout), String::from_utf8_lossy(&applied.stderr));
        let (path, message) = fixture.refused.split_once(": ").expect("path: message");
        let refused = !applied.status.success()
            && stderr.contains(&format!("\"{}-bad\" is invalid", fixture.name.trim_end_matches(".yaml")))
            && stderr.contains(path)
            && stderr.contains(message);
        let created = stdout.contains(&format!("/{}-good created", fixture.name.trim_end_matches(".yaml")));
        if !(refused && created) {
            refused_otherwise.push(format!("{}:\n{stdout}{stderr}", fixture.name));
        }
    }
    runtime.block_on(async {
        let _ = Api::<Namespace>::all(client).delete(&namespace, &DeleteParams::default()).await;
    });
    assert!(refused_otherwise.is_empty(), "{}", refused_otherwise.join("\n"));
}
