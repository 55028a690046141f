//! The JSON plan's bytes, pinned: `seqops plan --out` and `--format json`
//! write what the golden files under `tests/fixtures/plan-json/` hold (made
//! by seqops before the public plan type was separated from the planner's
//! working `Change`), once the values that differ from run to run are
//! replaced by placeholders. Set `SEQOPS_BLESS=1` to write the golden files
//! anew, only when a format change is meant.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{sequence, server_and_workspace, Run, Workspace};
use serde_json::{json, Value};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-json").join(name)
}

/// Fails unless `raw` is, once normalised, the golden file `name`.
#[track_caller]
fn assert_golden(name: &str, raw: &str, origin: Option<&str>) {
    let document: Value = serde_json::from_str(raw).expect("the plan is JSON");
    // The bytes are serde_json's pretty form: comparing the normalised
    // value's pretty form compares the bytes.
    assert_eq!(serde_json::to_string_pretty(&document).expect("JSON"), raw, "the plan is pretty-printed JSON");
    let normalised = normalise(document, origin);
    let text = serde_json::to_string_pretty(&normalised).expect("JSON") + "\n";
    let path = golden_path(name);
    if std::env::var_os("SEQOPS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the fixtures folder");
        std::fs::write(&path, &text).expect("the golden file is written");
    }
    let golden = std::fs::read_to_string(&path).expect("the golden file (SEQOPS_BLESS=1 writes it)");
    assert!(text == golden, "{} differs from the plan written:\n{text}", path.display());
}

/// Placeholders for what differs from run to run: random ids (numbered by
/// first appearance, so that the same id stays the same placeholder), the
/// time, the digest key's MACs, the rate budget left, and the sandbox's port.
fn normalise(document: Value, origin: Option<&str>) -> Value {
    let mut ids = BTreeMap::new();
    walk(document, None, origin, &mut ids)
}

fn walk(value: Value, key: Option<&str>, origin: Option<&str>, ids: &mut BTreeMap<String, usize>) -> Value {
    match (key, value) {
        (Some("created_at"), Value::String(_)) => json!("<time>"),
        (Some("remaining"), Value::Number(_)) => json!("<remaining>"),
        (Some("manifests_digest"), Value::String(_)) if origin.is_some() => json!("<manifests digest>"),
        (_, Value::String(text)) => Value::String(normal_string(text, origin, ids)),
        (_, Value::Array(items)) => Value::Array(items.into_iter().map(|v| walk(v, None, origin, ids)).collect()),
        (_, Value::Object(map)) => {
            Value::Object(map.into_iter().map(|(k, v)| (k.clone(), walk(v, Some(&k), origin, ids))).collect())
        }
        (_, other) => other,
    }
}

fn normal_string(text: String, origin: Option<&str>, ids: &mut BTreeMap<String, usize>) -> String {
    if let Some(rest) = text.strip_prefix("hmac-sha256:") {
        return format!("hmac-sha256:<{} chars>", rest.len());
    }
    if is_random_uuid(&text) {
        let next = ids.len();
        return format!("<uuid {}>", ids.entry(text).or_insert(next));
    }
    match origin {
        Some(origin) => text.replace(origin, "<origin>"),
        None => text,
    }
}

/// A version 4 UUID: a plan id, a lineage, an id the emulators draw.
fn is_random_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes[14] == b'4'
        && text.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

fn seqops(dir: &Path, args: &[&str]) -> Run {
    common::newcomer(dir, args).output().expect("seqops runs").into()
}

/// As [`seqops`], with the test account's Orsay key.
fn with_key(dir: &Path, args: &[&str]) -> Run {
    common::newcomer(dir, args).env("ORSAY_API_KEY", common::KEY).output().expect("seqops runs").into()
}

/// `plan --out plan.json --format json`: the file, checked to be what was
/// printed.
fn saved_and_printed(run: Run, dir: &Path) -> String {
    assert_eq!(run.code, 0, "{}", run.all());
    let saved = std::fs::read_to_string(dir.join("plan.json")).expect("the plan is saved");
    assert_eq!(run.stdout, format!("{saved}\n"), "--format json prints the saved document");
    saved
}

#[test]
fn the_plan_of_every_example_is_the_golden_one() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let run = seqops(work.path(), &["plan", "-f", "manifests", "--sandbox", "--out", "plan.json", "--format", "json"]);
    assert_golden("examples-create.json", &saved_and_printed(run, work.path()), None);
}

#[test]
fn a_plan_against_applied_examples_is_the_golden_one() {
    let work = Workspace::new();
    common::copy_examples(&work);
    let applied = seqops(work.path(), &["apply", "-f", "manifests", "--sandbox", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    std::fs::remove_file(work.manifests().join("orsay/story-reply.yaml")).expect("removed");
    let whatsapp = work.manifests().join("orsay/whatsapp.yaml");
    let text = std::fs::read_to_string(&whatsapp).expect("the manifest");
    std::fs::write(&whatsapp, text.replacen("active: true", "active: false", 1)).expect("written");
    let args = ["plan", "-f", "manifests", "--sandbox", "--out", "plan.json", "--format", "json", "-m", "golden"];
    let run = seqops(work.path(), &args);
    assert_golden("examples-changed.json", &saved_and_printed(run, work.path()), None);
}

#[test]
fn a_plan_with_drift_syncs_and_targets_is_the_golden_one() {
    let (server, work) = server_and_workspace(&[]);
    for name in ["a", "b", "d", "e"] {
        let upper = name.to_uppercase();
        work.write(&format!("{name}.yaml"), &sequence(name, &format!("name: {upper}\ntrigger: WHATSAPP_MESSAGE")));
    }
    work.apply();
    let id_of = |name: &str| server.sequences_named(name)[0]["id"].as_str().expect("an id").to_string();
    server.orsay("PUT", &format!("/sequences/{}", id_of("D")), Some(json!({"name": "D remotely"})));
    server.orsay("PUT", &format!("/sequences/{}", id_of("E")), Some(json!({"name": "E2"})));
    work.write("e.yaml", &sequence("e", "name: E2\ntrigger: WHATSAPP_MESSAGE"));
    work.write("a.yaml", &sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE\nactive: false\nkeywords: [hi]"));
    work.remove("b.yaml");
    work.write(
        "c.yaml",
        &sequence("c", "name: C\ntrigger: CONTACT_CREATED\nflow:\n  - content: |\n      one\n      two"),
    );
    let run = with_key(work.path(), &["plan", "-f", "manifests", "--refresh", "full", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_golden("orsay-all.json", run.stdout.trim_end(), Some(&server.origin));
    let run = with_key(work.path(), &["plan", "-f", "manifests", "--target", "Sequence/a", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_golden("orsay-target.json", run.stdout.trim_end(), Some(&server.origin));
}

/// A change with every field set, by an exhaustive literal: a field added
/// to `Change` fails to compile here until the test says how it is written.
fn every_field() -> seqops::engine::Change {
    use seqops::engine::diff::FieldChange;
    use seqops::engine::plan::ReferenceTo;
    use seqops::manifest::ResourceKey;
    let fields = |pairs: Value| pairs.as_object().cloned().expect("an object");
    seqops::engine::Change {
        key: ResourceKey::new("Sequence", "welcome"),
        api_version: "orsay.seqops.dev/v1alpha1".into(),
        provider: "main".into(),
        action: seqops::engine::Action::Replace,
        id: Some("seq-1".into()),
        display_name: "Welcome".into(),
        fields: vec![FieldChange::plain("name", Some(json!("Hi")), Some(json!("Welcome")))],
        drift: vec![FieldChange {
            path: "token".into(),
            sensitive: true,
            changed: Some(true),
            note: Some("lookup \"Sales Agent\"".into()),
            before: Some(json!("(sensitive)")),
            after: Some(json!("(sensitive)")),
        }],
        reasons: vec![seqops::engine::Reason::Saved {
            code: "field_immutable".into(),
            words: "trigger cannot change in place".into(),
        }],
        desired: fields(json!({"name": "Welcome", "active": true})),
        updates: fields(json!({"name": "Welcome"})),
        manifest_digest: "sha256:abc".into(),
        spec: seqops::external::Spec::from_json(json!({"name": "Welcome", "flow": [{"content": "Hi\nthere\n"}]})),
        source_dir: "manifests/orsay".into(),
        observed: fields(json!({"name": "Hi", "ratio": 0.5})),
        depends_on: vec![ResourceKey::new("Agent", "sales")],
        references: vec![ReferenceTo { field: "spec.agentRef.name".into(), key: ResourceKey::new("Agent", "sales") }],
        preexisting: vec!["seq-0".into()],
        orphan_on_delete: true,
        prevent_destroy: true,
        renew_token: Some("2026-01".into()),
        renews: true,
        annotations: BTreeMap::from([("seqops.dev/confirm".to_string(), "yes".to_string())]),
        steps: seqops::engine::plan::Steps {
            moved_from: Some(ResourceKey::new("Sequence", "hello")),
            create_first: true,
            ..Default::default()
        },
        requests: 3,
    }
}

fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a value of its type")
}

fn every_field_document() -> seqops::engine::planfile::PlanDocument {
    use seqops::engine::planfile::{PlanDocument, Summary};
    let change = every_field();
    let fields = |pairs: Value| pairs.as_object().cloned().expect("an object");
    PlanDocument {
        seqops_version: "0.0.0-golden".into(),
        plan_id: "plan-1".into(),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        state_lineage: Some("lineage-1".into()),
        state_serial: Some(7),
        sandbox: true,
        manifests_digest: "sha256:def".into(),
        refresh: seqops::engine::Refresh::Changed,
        targets: vec![seqops::manifest::ResourceKey::new("Sequence", "welcome")],
        summary: Summary::of([&change]),
        changes: vec![change],
        syncs: vec![seqops::engine::plan::StateSync {
            key: seqops::manifest::ResourceKey::new("Sequence", "other"),
            manifest_digest: "sha256:1".into(),
            applied_spec: json!({"name": "Other"}),
            last_applied: fields(json!({"name": "Other"})),
            observed: fields(json!({"name": "Other"})),
        }],
        warnings: vec!["a warning".into()],
        requests: from(json!([{"account": "orsay/main", "requests": 3, "remaining": 177, "limit": 180,
            "window": "per hour", "window_seconds": 3600}])),
        provenance: seqops::engine::history::Provenance {
            commit: Some("abc123".into()),
            author: Some("Ada <ada@example.com>".into()),
            dirty: true,
            ci_run: Some("https://ci.example.com/1".into()),
            message: Some("why".into()),
        },
        applies_to: seqops::engine::planfile::AppliesTo {
            environment: Some("staging".into()),
            state: "k8s://team/seqops-state".into(),
            providers: vec![seqops::engine::planfile::ProviderSource {
                name: "main".into(),
                provider_type: "orsay".into(),
                credentials: "$ORSAY_API_KEY".into(),
            }],
        },
        files: vec!["manifests".into()],
        signature: Some("hmac-sha256:key:00".into()),
    }
}

#[test]
fn every_field_of_a_change_is_written_as_the_golden_file_says_and_read_back_the_same() {
    use seqops::engine::planfile::PlanDocument;
    let written = every_field_document().to_json().expect("JSON");
    assert_golden("every-field.json", &written, None);
    let read = PlanDocument::parse(written.as_bytes(), "every-field.json".into()).expect("read back");
    assert_eq!(read.to_json().expect("JSON"), written, "what is read back is written the same");
}

#[test]
fn a_plan_with_only_the_required_fields_reads_with_defaults_and_writes_as_the_golden_file_says() {
    use seqops::engine::planfile::PlanDocument;
    let minimal = json!({
        "format_version": "3", "seqops_version": "0.1.0", "plan_id": "plan-1",
        "created_at": "2026-01-01T00:00:00.000Z", "state_lineage": null, "state_serial": null, "sandbox": false,
        "manifests_digest": "sha256:def", "refresh": "full", "targets": [],
        "summary": {"create": 1, "update": 0, "adopt": 0, "moved": 0, "forget": 0, "pause": 0, "resume": 0,
            "replace": 0, "delete": 0, "stop": 0, "cannot_be_undone": 0},
        "changes": [{"key": "Sequence/a", "api_version": "orsay.seqops.dev/v1alpha1", "provider": "main",
            "action": "create", "actions": ["create"], "display_name": "A", "fields": []}],
        "warnings": [], "requests": [],
    });
    let bytes = serde_json::to_vec(&minimal).expect("JSON");
    let read = PlanDocument::parse(&bytes, "minimal.json".into()).expect("a plan made before the optional fields");
    assert_golden("minimal.json", &read.to_json().expect("JSON"), None);
}
