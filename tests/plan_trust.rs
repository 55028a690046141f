//! The plan a reviewer approves says what will happen, read at a glance:
//! an action for every transition, counted as the summary counts it, what
//! cannot be undone counted apart and held by `--max-deletes`; a Markdown
//! comment that says where it applies; renames that keep the remote
//! object; and field paths a manifest's author knows.

mod common;

use std::path::Path;

use common::{assert_contains, copy_folder, sequence, server_and_workspace, Run, Workspace};
use serde_json::Value;

fn example(name: &str) -> Workspace {
    let work = Workspace::new();
    copy_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name), &work.manifests());
    work
}

fn sandbox_plan(work: &Workspace, extra: &[&str]) -> Run {
    let mut args = vec!["plan", "-f", "manifests", "--sandbox"];
    args.extend_from_slice(extra);
    work.run(&args)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("the plan is JSON ({e}):\n{}", run.all()))
}

#[test]
fn the_topo_examples_first_plan_counts_adoptions_and_moves_apart_in_text_markdown_and_json() {
    let work = example("topo");
    let text = sandbox_plan(&work, &[]);
    assert_eq!(text.code, 0, "{}", text.all());
    assert_contains(
        &text.stdout,
        "Plan: 0 to create, 0 to update. 4 to adopt, 1 to pause. 1 to stop, cannot be undone.",
    );
    assert_contains(
        &text.stdout,
        "SequenceRun/onboarding-bob (topo-sales, id seq_run_0002) will be adopted, then stopped (cannot be undone)",
    );
    assert_contains(&text.stdout, "<= x SequenceRun/onboarding-bob");
    assert!(!text.stdout.contains("updated in place"), "{}", text.stdout);

    let markdown = sandbox_plan(&work, &["--format", "markdown"]).stdout;
    assert_contains(&markdown, "1 to stop, cannot be undone");
    let above_the_fold = &markdown[..markdown.find("<details>").expect("a folded section")];
    assert_contains(above_the_fold, "**Cannot be undone:**");
    assert_contains(above_the_fold, "SequenceRun/onboarding-bob` will be adopted, then stopped (cannot be undone): this ends it: stop (WIN, CONTACT)");
    assert_contains(&markdown, "| topo-sales | 0 | 0 | 4 | 1 | 0 | 0 | **1** |");

    let plan = json(&sandbox_plan(&work, &["--format", "json"]));
    let summary = &plan["summary"];
    assert_eq!(
        (summary["adopt"].as_u64(), summary["pause"].as_u64(), summary["stop"].as_u64()),
        (Some(4), Some(1), Some(1))
    );
    assert_eq!((summary["update"].as_u64(), summary["cannot_be_undone"].as_u64()), (Some(0), Some(1)));
    let bob = plan["changes"].as_array().expect("changes").iter().find(|c| c["key"] == "SequenceRun/onboarding-bob");
    let bob = bob.expect("Bob's run is planned");
    assert_eq!(bob["actions"], serde_json::json!(["adopt", "stop"]));
    assert_eq!(bob["cannot_be_undone"], true);
    assert!(bob["reasons"].as_array().expect("reasons").iter().any(|r| r["code"] == "ends_it"), "{bob}");
}

#[test]
fn max_deletes_zero_refuses_a_stop_in_the_summarys_words() {
    let work = example("topo");
    let refused = sandbox_plan(&work, &["--max-deletes", "0"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "1 change that cannot be undone (1 to stop), more than --max-deletes 0");
    let help = work.run(&["plan", "--help"]).stdout;
    assert_contains(&help, "deletes, replaces and stops");
}

#[test]
fn a_moved_from_rename_keeps_the_remote_object_and_makes_no_write_request() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("welcome", "name: Welcome\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi"));
    work.apply();
    let id = work.state()["resources"]["Sequence/welcome"]["id"].clone();
    work.write(
        "a.yaml",
        &sequence("welcome", "name: Welcome\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi")
            .replace("  name: welcome\n", "  name: hello\n  annotations:\n    seqops.dev/moved-from: welcome\n"),
    );
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "Sequence/hello (main, id ");
    assert_contains(&plan.stdout, "has moved from Sequence/welcome");
    assert_contains(&plan.stdout, "-> Sequence/hello");
    assert_contains(&plan.stdout, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete. 1 moved.");
    let writes = server.writes("orsay");
    let applied = work.apply();
    assert_contains(&applied.stdout, "1 moved.");
    assert_eq!(server.writes("orsay"), writes, "a move sends nothing:\n{}", applied.all());
    let state = work.state();
    assert_eq!(state["resources"]["Sequence/hello"]["id"], id);
    assert!(state["resources"].get("Sequence/welcome").is_none(), "{state}");
    assert_eq!(work.plan().code, 0, "the next plan has nothing to do");
    assert_eq!(server.sequences_named("Welcome").len(), 1);
}

#[test]
fn a_moved_from_naming_a_manifest_still_there_is_an_error_before_any_request() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &sequence("welcome", "name: Welcome\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi"));
    work.apply();
    work.write(
        "b.yaml",
        &sequence("hello", "name: Hello\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi")
            .replace("  name: hello\n", "  name: hello\n  annotations:\n    seqops.dev/moved-from: welcome\n"),
    );
    let before = server.orsay_requests();
    let plan = work.plan();
    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(&plan.stderr, "seqops.dev/moved-from names Sequence/welcome, which still has a manifest");
    assert_eq!(server.orsay_requests(), before);
}

#[test]
fn a_delete_and_a_create_of_the_same_object_warn_that_it_looks_like_a_rename() {
    let (_server, work) = server_and_workspace(&[]);
    let spec = "name: Welcome\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi";
    work.write("a.yaml", &sequence("welcome", spec));
    work.apply();
    work.write("a.yaml", &sequence("hello", spec));
    let plan = work.plan();
    assert_contains(&plan.stdout, "Sequence/welcome is deleted and Sequence/hello created with the same name and spec");
    assert_contains(&plan.stdout, "`seqops.dev/moved-from: welcome`");
}

#[test]
fn state_mv_moves_a_record_and_the_next_plan_changes_nothing() {
    let (server, work) = server_and_workspace(&[]);
    let spec = "name: Welcome\ntrigger: CONTACT_CREATED\nflow:\n  - content: Hi";
    work.write("a.yaml", &sequence("welcome", spec));
    work.apply();
    work.write("a.yaml", &sequence("hello", spec));
    let moved = work.run(&["state", "mv", "Sequence/welcome", "Sequence/hello"]);
    assert_eq!(moved.code, 0, "{}", moved.all());
    assert_contains(&moved.stdout, "Moved Sequence/welcome to Sequence/hello in state");
    assert_eq!(work.plan().code, 0, "nothing to do once the record has its new name");
    let refused = work.run(&["state", "mv", "Sequence/hello", "Schedule/hello"]);
    assert_contains(&refused.stderr, "of different kinds");
    assert_eq!(server.sequences_named("Welcome").len(), 1);
}

fn environments() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/environments")
}

/// The Markdown header of an environment's plan: everything before the
/// summary line.
fn header(work: &Workspace, environment: &str) -> String {
    let rendered = std::fs::read_to_string(environments().join(format!("rendered/{environment}.rendered")))
        .expect("a rendered stream");
    let state = format!("{environment}/state.json");
    let args =
        ["plan", "-f", "-", "--sandbox", "--state", &state, "--format", "markdown", "--environment", environment];
    let run = work.piped(&args, &rendered);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout[..run.stdout.find("**Plan:").expect("a summary")].to_string()
}

#[test]
fn the_staging_and_production_comments_say_where_they_apply() {
    let work = Workspace::new();
    let (staging, production) = (header(&work, "staging"), header(&work, "production"));
    assert_contains(&staging, "### seqops plan: staging");
    assert_contains(&staging, "| state | `staging/state.json` |");
    assert_contains(&staging, "| Provider `orsay` | orsay, key from $ORSAY_STAGING_API_KEY |");
    assert_contains(&production, "### seqops plan: production");
    assert_contains(&production, "| state | `production/state.json` |");
    assert_contains(&production, "| manifests | -f `-` |");
    assert!(!production.contains("STAGING"), "{production}");
    let comment = work.piped(
        &[
            "plan",
            "-f",
            "-",
            "--sandbox",
            "--state",
            "staging/state.json",
            "--format",
            "markdown",
            "--environment",
            "staging",
            "--target",
            "Sequence/welcome",
        ],
        &std::fs::read_to_string(environments().join("rendered/staging.rendered")).expect("a rendered stream"),
    );
    assert_contains(
        &comment.stdout,
        "To apply exactly this: `seqops apply --sandbox --state staging/state.json -f - --target Sequence/welcome --environment staging`, with the same manifests on its standard input",
    );
    assert_ne!(staging, production);
}

#[test]
fn the_comment_ends_with_the_command_that_applies_it_and_charts_only_edges() {
    let work = example("orsay");
    let markdown = sandbox_plan(&work, &["--format", "markdown"]).stdout;
    assert!(
        markdown.trim_end().ends_with("To apply exactly this: `seqops apply --sandbox -f manifests`"),
        "{markdown}"
    );
    assert!(!markdown.contains("```mermaid"), "no edge among the Orsay examples, so no chart:\n{markdown}");
    let work = example("orchagent");
    let markdown = sandbox_plan(&work, &["--format", "markdown"]).stdout;
    assert_contains(&markdown, "```mermaid");
    assert_contains(&markdown, "| commit | ");
}

/// Every path `spec` reaches: `flow[0].content` through arrays and
/// references, a map's keys where the schema takes any.
fn in_schema(schema: &Value, root: &Value, path: &[&str]) -> bool {
    let node = resolve(schema, root);
    let Some((first, rest)) = path.split_first() else { return true };
    let alternatives = ["anyOf", "oneOf", "allOf"].iter().filter_map(|k| node[*k].as_array()).flatten();
    if alternatives.clone().any(|alt| in_schema(alt, root, path)) {
        return true;
    }
    let (name, indexed) = match first.split_once('[') {
        Some((name, _)) => (name, true),
        None => (*first, false),
    };
    let child = match node["properties"].get(name) {
        Some(child) => child,
        None => match &node["additionalProperties"] {
            Value::Bool(true) => return true,
            Value::Object(_) => &node["additionalProperties"],
            _ => return false,
        },
    };
    if !indexed {
        return in_schema(child, root, rest);
    }
    let child = resolve(child, root);
    let items = std::iter::once(child).chain(["anyOf", "oneOf"].iter().filter_map(|k| child[*k].as_array()).flatten());
    items.filter_map(|c| resolve(c, root).get("items")).any(|items| in_schema(items, root, rest))
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        Some(name) => resolve(&root["$defs"][name], root),
        None => schema,
    }
}

#[test]
fn no_field_path_outside_the_kinds_schema_appears_in_any_examples_plan() {
    let schemas: Value = json(&Workspace::new().run(&["schema"]));
    let schema_of = |api_version: &str, kind: &str| -> Value {
        let found = schemas.as_object().expect("schemas by file").values().find(|s| {
            s["properties"]["apiVersion"]["const"] == api_version && s["properties"]["kind"]["const"] == kind
        });
        found.cloned().unwrap_or_else(|| panic!("a schema for {api_version} {kind}"))
    };
    for name in ["orsay", "orqis", "gary", "orchagent", "topo"] {
        let work = example(name);
        let plan = json(&sandbox_plan(&work, &["--format", "json"]));
        for change in plan["changes"].as_array().expect("changes") {
            let kind = change["key"].as_str().and_then(|k| k.split('/').next()).expect("a key");
            let kind = kind.rsplit('.').next().expect("a kind");
            let root = schema_of(change["api_version"].as_str().expect("an apiVersion"), kind);
            for field in change["fields"].as_array().into_iter().chain(change["drift"].as_array()).flatten() {
                let path = field["path"].as_str().expect("a path");
                let parts: Vec<&str> = path.split('.').collect();
                assert!(
                    in_schema(&root["properties"]["spec"], &root, &parts),
                    "{name}: {} shows `{path}`, which is not a field of its spec",
                    change["key"]
                );
            }
        }
    }
}

#[test]
fn every_examples_plan_follows_the_checked_in_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(schema_path).expect("the schema file")).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for name in ["orsay", "orqis", "gary", "orchagent", "topo"] {
        let plan = json(&sandbox_plan(&example(name), &["--format", "json"]));
        assert_eq!(plan["format_version"], "3");
        let errors: Vec<String> =
            validator.iter_errors(&plan).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

#[test]
fn a_plan_saved_in_format_2_is_refused_with_a_way_forward() {
    let work = Workspace::new();
    std::fs::write(work.path().join("old.json"), r#"{"format_version": "2", "changes": []}"#).expect("written");
    let shown = work.run(&["show", "old.json"]);
    assert_eq!(shown.code, 1, "{}", shown.all());
    assert_contains(&shown.stderr, "has format 2, and this seqops reads only format 3: run `seqops plan --out` again");
}

#[test]
fn a_services_secret_names_are_edges_to_the_secrets_of_its_workspace_by_remote_name() {
    let work = example("orchagent");
    let graph = work.run(&["graph", "-f", "manifests", "--format", "dot"]);
    assert_eq!(graph.code, 0, "{}", graph.all());
    assert_contains(&graph.stdout, "\"WorkspaceSecret/anthropic-key\" -> \"Service/followup-service\";");
    let plan = json(&sandbox_plan(&work, &["--format", "json"]));
    let changes = plan["changes"].as_array().expect("changes");
    let position = |key: &str| changes.iter().position(|c| c["key"] == key).expect("planned");
    let service = &changes[position("Service/followup-service")];
    assert!(service["depends_on"].as_array().expect("depends_on").iter().any(|d| d == "WorkspaceSecret/anthropic-key"));
    // A name no manifest gives a secret may be managed elsewhere: no error.
    let path = work.manifests().join("outreach.yaml");
    let text = std::fs::read_to_string(&path).expect("the example");
    std::fs::write(
        &path,
        text.replace("secretNames: [ANTHROPIC_API_KEY]", "secretNames: [ANTHROPIC_API_KEY, SET_ELSEWHERE]"),
    )
    .expect("written");
    let applied = work.run(&["apply", "-f", "manifests", "--sandbox", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let secret = applied.stdout.find("WorkspaceSecret/anthropic-key: created").expect("the secret is made");
    let service = applied.stdout.find("Service/followup-service: created").expect("the service is made");
    assert!(secret < service, "the secret is made before the service that reads it:\n{}", applied.stdout);
}

/// Every field the spec types declare as naming another object, by the
/// key kind of its spec.
fn declared_references() -> Vec<(&'static str, seqops::manifest::ReferenceField)> {
    seqops::providers::kinds()
        .iter()
        .flat_map(|kind| kind.reference_fields.iter().map(move |field| (kind.key_kind.as_str(), *field)))
        .collect()
}

#[test]
fn every_name_reference_in_a_kinds_schema_is_declared_on_its_spec_type_or_refused() {
    let declared = declared_references();
    for kind in seqops::providers::kinds() {
        let schema = serde_json::to_value((kind.schema)()).expect("a schema");
        let text = schema.to_string();
        let spec = resolve(&schema["properties"]["spec"], &schema);
        for (name, property) in spec["properties"].as_object().into_iter().flatten() {
            if name == "providerRef" || !property.to_string().contains("NameRef") {
                continue;
            }
            let field = format!("spec.{name}.name");
            let is_declared = declared.iter().any(|(k, f)| *k == kind.key_kind.as_str() && f.field == field);
            let refused = text.contains(&format!("!has(self.{name})"));
            assert!(
                is_declared || refused,
                "{}: `{field}` names an object but is not declared a reference",
                kind.key_kind
            );
        }
    }
}

#[test]
fn every_declared_reference_orders_the_apply_of_the_examples() {
    let declared = declared_references();
    assert!(declared.iter().any(|(_, f)| f.by_remote_name), "secretNames is declared, by remote name");
    let mut exercised = std::collections::BTreeSet::new();
    for name in ["orsay", "orqis", "gary", "orchagent", "topo"] {
        let work = example(name);
        let plan = json(&sandbox_plan(&work, &["--format", "json"]));
        let args = ["apply", "-f", "manifests", "--sandbox", "--auto-approve", "--parallelism", "1"];
        let applied = work.run(&args);
        assert_eq!(applied.code, 0, "{name}: {}", applied.all());
        let made = |key: &str| -> usize {
            let done = ["created", "adopted", "updated"].map(|word| format!("{key}: {word}"));
            done.iter()
                .filter_map(|line| applied.stdout.find(line.as_str()))
                .min()
                .unwrap_or_else(|| panic!("{name}: {key} is made or adopted:\n{}", applied.stdout))
        };
        for change in plan["changes"].as_array().expect("changes") {
            let key = change["key"].as_str().expect("a key");
            let kind = key.split('/').next().expect("a kind");
            for (_, field) in declared.iter().filter(|(k, _)| *k == kind) {
                let targets = change["depends_on"].as_array().into_iter().flatten().filter_map(Value::as_str);
                let from_field = |target: &str| {
                    field.by_remote_name
                        || change["references"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|r| r["key"] == target && r["field"] == field.field)
                };
                let of_kind = |t: &&str| t.split('/').next() == Some(field.kind.as_str());
                for target in targets.filter(of_kind).filter(|t| from_field(t)) {
                    assert!(
                        made(target) < made(key),
                        "{name}: {target} goes before {key}, which names it at {}",
                        field.field
                    );
                    exercised.insert((kind.to_string(), field.field));
                }
            }
        }
    }
    for (kind, field) in declared {
        assert!(exercised.contains(&(kind.to_string(), field.field)), "no example sets {kind} {}", field.field);
    }
}

#[test]
fn an_enrollment_is_marked_on_its_line_as_a_create_that_cannot_be_undone_but_not_counted_so() {
    let work = example("gary");
    let text = sandbox_plan(&work, &[]);
    assert_eq!(text.code, 0, "{}", text.all());
    assert_contains(&text.stdout, "will be created (cannot be undone: the API cannot delete it)");
    assert!(!text.stdout.contains(", cannot be undone."), "not counted as destructive:\n{}", text.stdout);
    let plan = json(&sandbox_plan(&work, &["--format", "json"]));
    assert_eq!(plan["summary"]["cannot_be_undone"], 0);
    let changes = plan["changes"].as_array().expect("changes");
    assert!(changes.iter().all(|c| c["lasting"] == true && c.get("cannot_be_undone").is_none()), "{plan}");
    let markdown = sandbox_plan(&work, &["--format", "markdown"]).stdout;
    assert_contains(&markdown, "· cannot be undone: the API cannot delete it</summary>");
    assert!(!markdown.contains("**Cannot be undone:**"), "{markdown}");
}

fn welcome(name: &str, moved_from: Option<&str>, active: bool) -> String {
    let spec = format!("name: Welcome\ntrigger: CONTACT_CREATED\nactive: {active}\nflow:\n  - content: Hi");
    let text = sequence(name, &spec);
    match moved_from {
        Some(old) => text.replace(
            &format!("  name: {name}\n"),
            &format!("  name: {name}\n  annotations:\n    seqops.dev/moved-from: {old}\n"),
        ),
        None => text,
    }
}

#[test]
fn a_rename_with_an_edit_is_saved_moved_and_updated_keeping_the_remote_object() {
    let (server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &welcome("welcome", None, true));
    work.apply();
    let id = work.state()["resources"]["Sequence/welcome"]["id"].clone();
    work.write("a.yaml", &welcome("hello", Some("welcome"), false));
    let saved = work.run(&["plan", "-f", "manifests", "--out", "plan.json"]);
    assert_eq!(saved.code, 0, "{}", saved.all());
    assert_contains(&saved.stdout, "Sequence/hello (main, id ");
    assert_contains(&saved.stdout, "has moved from Sequence/welcome, then updated in place");
    assert_contains(&saved.stdout, "-> ~ Sequence/hello");
    let document: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("plan.json")).expect("saved")).expect("JSON");
    let change = &document["changes"][0];
    assert_eq!(
        (change["actions"].clone(), change["previous_key"].clone()),
        (serde_json::json!(["moved", "update"]), serde_json::json!("Sequence/welcome"))
    );
    let writes = server.writes("orsay");
    let applied = work.run(&["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(server.writes("orsay"), writes + 1, "one update, nothing for the move:\n{}", applied.all());
    assert_eq!(work.state()["resources"]["Sequence/hello"]["id"], id);
    let remote = server.sequences_named("Welcome");
    assert_eq!((remote.len(), remote[0]["active"].clone()), (1, serde_json::json!(false)));
}

#[test]
fn two_manifests_moved_from_one_name_are_an_error() {
    let (_server, work) = server_and_workspace(&[]);
    work.write("a.yaml", &welcome("welcome", None, true));
    work.apply();
    work.write("a.yaml", &welcome("hello", Some("welcome"), true));
    work.write("b.yaml", &welcome("hi", Some("welcome"), true).replace("name: Welcome", "name: Hi"));
    let plan = work.plan();
    assert_eq!(plan.code, 1, "{}", plan.all());
    assert_contains(
        &plan.stderr,
        "names Sequence/welcome, as Sequence/hello does: one object can move to one new name only",
    );
}

#[test]
fn a_service_is_deleted_before_the_secret_its_secret_names_name() {
    let work = example("orchagent");
    let applied = work.run(&["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let path = work.manifests().join("outreach.yaml");
    let text = std::fs::read_to_string(&path).expect("the example");
    let kept: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| !doc.contains("kind: Service\n") && !doc.contains("kind: WorkspaceSecret\n"))
        .collect();
    std::fs::write(&path, kept.join("\n---\n")).expect("written");
    let args = ["apply", "-f", "manifests", "--sandbox", "--auto-approve", "--parallelism", "1"];
    let removed = work.run(&args);
    assert_eq!(removed.code, 0, "{}", removed.all());
    let at = |line: &str| removed.stdout.find(line).unwrap_or_else(|| panic!("{line}:\n{}", removed.stdout));
    assert!(at("Service/followup-service: deleted") < at("WorkspaceSecret/anthropic-key: deleted"));
}
