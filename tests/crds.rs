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
        .collect();
    checked_in.sort();
    assert_eq!(generated, checked_in, "run `seqops crds --out crds`");
    for name in generated {
        let fresh = std::fs::read_to_string(work.path().join("generated").join(&name)).expect("generated file");
        let kept = std::fs::read_to_string(crds_dir().join(&name)).expect("crds/ file");
        assert_eq!(fresh, kept, "crds/{name} is stale: run `seqops crds --out crds`");
    }
    let printed = work.run(&["crds"]);
    let crd_files = checked_in.iter().filter(|n| applied_by_kubectl(n)).count();
    assert_eq!(printed.stdout.matches("kind: CustomResourceDefinition").count(), crd_files);
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
        if !applied_by_kubectl(&name) {
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

/// Whether `kubectl apply -f DIR` reads a file of this name.
fn applied_by_kubectl(name: &str) -> bool {
    [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext))
}

#[test]
fn kubectl_apply_f_crds_reads_only_crds_and_manifests_installs_exactly_what_seqops_crds_prints() {
    let mut applied = Vec::new();
    for entry in std::fs::read_dir(crds_dir()).expect("crds/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if applied_by_kubectl(&name) {
            let crd = &yaml_documents(&format!("crds/{name}"))[0];
            assert_eq!(crd["kind"], "CustomResourceDefinition", "kubectl apply -f crds/ would fail on {name}");
            applied.push(name);
        }
    }
    applied.sort();
    // manifests/ → base → ../../crds → its Kustomization's resources.
    assert_eq!(yaml_documents("manifests/kustomization.yaml")[0]["resources"], serde_json::json!(["base"]));
    let base = &yaml_documents("manifests/base/kustomization.yaml")[0];
    assert!(base["resources"].as_array().is_some_and(|r| r.iter().any(|r| r == "../../crds")), "{base}");
    let installed = &yaml_documents("crds/Kustomization")[0]["resources"];
    let mut installed: Vec<String> =
        installed.as_array().expect("resources").iter().filter_map(|r| r.as_str().map(String::from)).collect();
    installed.sort();
    assert_eq!(installed, applied, "manifests/ installs every CRD in crds/, and only those");
    let printed = Workspace::new().run(&["crds"]);
    let names: Vec<String> = printed
        .stdout
        .split("\n---\n")
        .filter_map(|d| serde_yaml::from_str::<serde_json::Value>(d).ok())
        .filter_map(|d| d["metadata"]["name"].as_str().map(|n| format!("{n}.yaml")))
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, installed, "what `seqops crds` prints is what manifests/ installs");
}

fn yaml_documents(path: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path);
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| serde_json::Value::deserialize(document).expect("a YAML document"))
        .collect()
}

fn rules_of(documents: &[serde_json::Value], kind: &str, name: &str) -> serde_json::Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .map(|d| d["rules"].clone())
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_controllers_rbac_covers_the_group_of_every_kind() {
    let cluster = rules_of(&yaml_documents("manifests/base/rbac.yaml"), "ClusterRole", "seqops-controller");
    let groups: Vec<&serde_json::Value> =
        cluster.as_array().expect("rules").iter().filter(|r| r["apiGroups"][0] == "seqops.dev").collect();
    assert_eq!(groups.len(), 2, "one rule for the objects, one for their status: {cluster}");
    for kind in seqops::providers::kinds() {
        let group = kind.api_version.split('/').next().unwrap_or_default();
        for rule in &groups {
            let listed = rule["apiGroups"].as_array().is_some_and(|g| g.iter().any(|g| g == group));
            assert!(listed, "manifests/base/rbac.yaml does not grant {group} (kind {}): {rule}", kind.kind);
        }
    }
}

#[test]
fn the_namespaced_install_grants_the_same_rules_in_one_namespace_and_nothing_cluster_wide() {
    let cluster = rules_of(&yaml_documents("manifests/base/rbac.yaml"), "ClusterRole", "seqops-controller");
    let namespaced = yaml_documents("manifests/namespaced/rbac.yaml");
    assert_eq!(rules_of(&namespaced, "Role", "seqops-controller"), cluster, "the Role mirrors the ClusterRole");
    assert!(namespaced.iter().all(|d| !d["kind"].as_str().unwrap_or_default().starts_with("Cluster")));
    let key = rules_of(&namespaced, "Role", "seqops-controller-digest-key");
    assert_eq!(key[0]["resourceNames"], serde_json::json!([seqops::controller::digest_key::SECRET_NAME]));
    let overlay = &yaml_documents("manifests/namespaced/kustomization.yaml")[0];
    let patches: Vec<&str> =
        overlay["patches"].as_array().expect("patches").iter().filter_map(|p| p["patch"].as_str()).collect();
    for removed in ["ClusterRoleBinding", "ClusterRole"] {
        let deleted =
            patches.iter().any(|p| p.contains("$patch: delete") && p.lines().any(|l| l == format!("kind: {removed}")));
        assert!(deleted, "the overlay deletes the {removed}: {patches:?}");
    }
    let watched = namespaced.iter().find(|d| d["kind"] == "Namespace").map(|d| d["metadata"]["name"].clone());
    let watched = watched.and_then(|n| n.as_str().map(String::from)).expect("the watched namespace");
    let flag = format!("--namespace={watched}");
    assert!(patches.iter().any(|p| p.contains(&flag)), "the controller watches {watched}: {patches:?}");
}

/// The `crate::…` modules a source file names.
fn crate_modules_used(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("a source file");
    let mut used = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        used.push(name);
    }
    used
}

fn sources_under(folder: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut queue = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder)];
    while let Some(dir) = queue.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                queue.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn the_engine_names_no_provider_and_no_provider_names_the_engine() {
    let rules = [
        ("engine", &["providers", "sandbox", "controller", "cli"][..]),
        ("external", &["engine", "providers", "sandbox", "controller"][..]),
        ("providers", &["engine", "controller"][..]),
        ("sandbox", &["engine", "providers", "controller"][..]),
        ("manifest", &["engine", "providers", "sandbox", "controller"][..]),
    ];
    let mut problems = Vec::new();
    for (folder, forbidden) in rules {
        for file in sources_under(folder) {
            for used in crate_modules_used(&file) {
                if forbidden.contains(&used.as_str()) {
                    problems.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "module boundaries crossed:\n{}", problems.join("\n"));
}

/// The identifiers of a source file's code, comments left out.
fn identifiers(text: &str) -> Vec<String> {
    let code = text.lines().filter(|line| !line.trim_start().starts_with("//"));
    let code = code.map(|line| line.split("//").next().unwrap_or_default());
    code.flat_map(|line| {
        line.split(|c: char| !(c.is_alphanumeric() || c == '_')).map(str::to_string).collect::<Vec<_>>()
    })
    .filter(|word| !word.is_empty())
    .collect()
}

#[test]
fn no_providers_spec_names_its_emulator() {
    let specs: Vec<_> = sources_under("providers").into_iter().filter(|f| f.ends_with("spec.rs")).collect();
    assert!(specs.len() >= 5, "every provider has a spec.rs: {specs:?}");
    let mut problems = Vec::new();
    for file in specs {
        let text = std::fs::read_to_string(&file).expect("a source file");
        if identifiers(&text).iter().any(|word| word == "emulator") {
            problems.push(file.display().to_string());
        }
    }
    assert!(
        problems.is_empty(),
        "a spec reads what its emulator keeps; put the vendor's facts in spec or wire:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_kind_says_what_it_allows_without_an_account() {
    for kind in seqops::providers::kinds().iter().filter(|k| k.provider_type.is_some()) {
        let facts = seqops::providers::facts_for(kind.key_kind.as_str());
        assert!(facts.is_some(), "{} has no facts in its provider's table", kind.key_kind);
    }
    assert!(seqops::providers::facts_for("Enrollment").is_some_and(|f| !f.deletable() && f.idempotent_create()));
    assert!(seqops::providers::facts_for("SequenceRun").is_some_and(|f| !f.creatable() && !f.deletable()));
}

/// A kind is declared once, by its spec type: the names its `Kind` impl
/// gives are the ones kube's derive gives its custom resource, so the CRD,
/// the loader and the keys cannot disagree.
#[test]
fn each_kind_is_named_as_its_custom_resource_is() {
    for kind in seqops::providers::kinds() {
        let crd = (kind.crd)();
        let version = crd.spec.versions.first().map(|v| v.name.clone()).unwrap_or_default();
        assert_eq!(kind.api_version, format!("{}/{version}", crd.spec.group), "{}", kind.key_kind);
        assert_eq!(kind.kind, crd.spec.names.kind, "{}", kind.key_kind);
        assert_eq!(kind.facts.is_some(), kind.provider_type.is_some(), "{}: facts go with a provider", kind.key_kind);
    }
}

/// No two kinds share a key kind: keys, state and the controller's triggers
/// name a kind by it.
#[test]
fn no_two_kinds_share_a_key_kind() {
    let kinds = seqops::providers::kinds();
    let ids: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.key_kind).collect();
    assert_eq!(ids.len(), kinds.len());
}
