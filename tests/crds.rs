//! The CustomResourceDefinitions: crds/ is what `seqops crds` prints, and
//! every schema is structural, as a Kubernetes API server requires.

mod common;

use common::Workspace;
use serde_json::Value;

fn crds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds")
}

#[test]
fn crds_folder_is_what_seqops_crds_writes() {
    let work = Workspace::new();
    let run = work.run(&["crds", "--out", "generated"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let mut generated: Vec<String> = std::fs::read_dir(work.path().join("generated"))
        .expect("generated")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    let mut checked_in: Vec<String> = std::fs::read_dir(crds_dir())
        .expect("crds/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "kustomization.yaml")
        .collect();
    checked_in.sort();
    let kustomization =
        std::fs::read_to_string(crds_dir().join("kustomization.yaml")).expect("crds/kustomization.yaml");
    for name in &checked_in {
        assert!(kustomization.contains(&format!("  - {name}\n")), "crds/kustomization.yaml does not list {name}");
    }
    assert_eq!(generated, checked_in, "run `seqops crds --out crds`");
    for name in generated {
        let fresh = std::fs::read_to_string(work.path().join("generated").join(&name)).expect("generated file");
        let kept = std::fs::read_to_string(crds_dir().join(&name)).expect("crds/ file");
        assert_eq!(fresh, kept, "crds/{name} is stale: run `seqops crds --out crds`");
    }
    let printed = work.run(&["crds"]);
    assert_eq!(printed.stdout.matches("kind: CustomResourceDefinition").count(), checked_in.len());
}

const FORMATS: [&str; 8] = ["int32", "int64", "float", "double", "byte", "date", "date-time", "password"];

/// Problems that would make an API server refuse the schema.
fn structural_problems(schema: &Value, at: &str, out: &mut Vec<String>) {
    let Some(map) = schema.as_object() else { return };
    for forbidden in ["$ref", "anyOf", "oneOf", "allOf", "$schema", "definitions", "$defs"] {
        if map.contains_key(forbidden) {
            out.push(format!("{at}: has {forbidden}"));
        }
    }
    let preserved = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if map.get("type").is_none_or(|t| !t.is_string()) && !preserved {
        out.push(format!("{at}: has no single type"));
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        out.push(format!("{at}: has both properties and additionalProperties"));
    }
    if map.get("additionalProperties").is_some_and(Value::is_boolean) {
        out.push(format!("{at}: additionalProperties is a boolean"));
    }
    if let Some(format) = map.get("format").and_then(Value::as_str) {
        if !FORMATS.contains(&format) {
            out.push(format!("{at}: format {format} is unknown to Kubernetes"));
        }
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for (name, inner) in properties {
            structural_problems(inner, &format!("{at}.{name}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = map.get(key).filter(|v| v.is_object()) {
            structural_problems(inner, &format!("{at}[{key}]"), out);
        }
    }
}

#[test]
fn every_crd_is_structural_with_status_columns_short_names_and_the_seqops_category() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(crds_dir()).expect("crds/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "kustomization.yaml" {
            continue;
        }
        let crd: Value = serde_yaml::from_str(&std::fs::read_to_string(entry.path()).expect("readable")).expect("YAML");
        let names = &crd["spec"]["names"];
        if !names["categories"].as_array().is_some_and(|c| c.iter().any(|c| c == "seqops")) {
            problems.push(format!("{name}: not in the seqops category"));
        }
        if names["shortNames"].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("{name}: no short name"));
        }
        for version in crd["spec"]["versions"].as_array().expect("versions") {
            if !version["subresources"]["status"].is_object() {
                problems.push(format!("{name}: no status subresource"));
            }
            let columns: Vec<&str> = version["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str())
                .collect();
            if columns != ["Ready", "Synced", "External ID", "Age"] {
                problems.push(format!("{name}: printer columns are {columns:?}"));
            }
            let schema = &version["schema"]["openAPIV3Schema"];
            structural_problems(schema, &name, &mut problems);
            if !schema["properties"]["status"]["properties"]["conditions"].is_object() {
                problems.push(format!("{name}: status has no conditions"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
