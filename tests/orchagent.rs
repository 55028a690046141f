//! orchagent against its emulator: one apply from nothing in dependency
//! order, replacement on immutable fields, delete-check, secrets and the
//! webhook URL shown once, and every exchange checked against the vendor's
//! OpenAPI document.

mod common;

use common::{assert_contains, Server, Workspace};
use serde_json::{json, Value};

fn provider(work: &Workspace, server: &Server) {
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: oa\nspec:\n  type: orchagent\n  baseUrl: {}/orchagent\n  credentials:\n    env: ORSAY_API_KEY\n",
            server.origin
        ),
    );
}

const WORKSPACE: &str =
    "apiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: team\nspec:\n  name: Team\n";
const SECRET: &str = "---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: WorkspaceSecret\nmetadata:\n  name: llm\nspec:\n  workspaceRef: {name: team}\n  name: LLM_KEY\n  value: {fromFile: llm.txt}\n";
const SCHEDULES: &str = "---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Schedule\nmetadata:\n  name: daily\nspec:\n  workspaceRef: {name: team}\n  agentRef: {name: writer}\n  type: cron\n  cronExpression: \"0 9 * * 1-5\"\n  timezone: Europe/Paris\n  inputData: {limit: 5}\n  alertOnFailureCount: 2\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Schedule\nmetadata:\n  name: hook\nspec:\n  workspaceRef: {name: team}\n  agentRef: {name: writer}\n  type: webhook\n  writeSecretTo: {file: out/hook-url}\n";
const SERVICE: &str = "---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  workspaceRef: {name: team}\n  agentRef: {name: writer}\n  name: writer-service\n  env: {LEVEL: info}\n  secretNames: [LLM_KEY]\n  command: run\n";

fn agent(extra: &str) -> String {
    format!("---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Agent\nmetadata:\n  name: writer\nspec:\n  name: writer\n  version: v1\n  type: agent\n  loop: {{maxTurns: 4}}\n{extra}")
}

fn everything(work: &Workspace, agent_extra: &str) {
    work.write("llm.txt", "first-llm-key\n");
    work.write("all.yaml", &format!("{WORKSPACE}{SECRET}{}{SCHEDULES}{SERVICE}", agent(agent_extra)));
}

fn setup() -> (Server, Workspace, common::Run) {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    everything(&work, "");
    let apply = work.apply();
    (server, work, apply)
}

fn data(server: &Server, path: &str) -> Value {
    server.call("GET", &format!("{}/orchagent{path}", server.origin), None, common::KEY).1["data"].clone()
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

#[test]
fn one_apply_creates_workspace_secret_agent_schedules_and_service_in_dependency_order() {
    let (server, work, apply) = setup();
    let out = &apply.stdout;
    let workspace_done = position(out, "Workspace/team: created");
    for dependent in ["WorkspaceSecret/llm: creating", "Schedule/daily: creating", "Service/svc: creating"] {
        assert!(workspace_done < position(out, dependent), "{dependent} before its workspace:\n{out}");
    }
    let agent_done = position(out, "orchagent.Agent/writer: created");
    for dependent in ["Schedule/daily: creating", "Schedule/hook: creating", "Service/svc: creating"] {
        assert!(agent_done < position(out, dependent), "{dependent} before its agent:\n{out}");
    }
    let workspaces = data(&server, "/workspaces");
    let ws = workspaces[0]["id"].as_str().expect("a workspace").to_string();
    assert_eq!(data(&server, &format!("/workspaces/{ws}/secrets"))[0]["name"], "LLM_KEY");
    let schedules = data(&server, &format!("/workspaces/{ws}/schedules"));
    assert_eq!(schedules.as_array().map(Vec::len), Some(2));
    assert_contains(out, "of 1000 left");
    // The webhook URL went to its file only.
    let url = std::fs::read_to_string(work.manifests().join("out/hook-url")).expect("the URL file").trim().to_string();
    assert!(url.contains("/webhooks/"), "{url}");
    let state = std::fs::read_to_string(work.path().join(".seqops/state.json")).expect("state");
    for (what, text) in [("stdout", &apply.stdout), ("stderr", &apply.stderr), ("state", &state)] {
        assert!(!text.contains(&url), "the webhook URL leaked into {what}");
        assert!(!text.contains("first-llm-key"), "the secret leaked into {what}");
    }
    assert_eq!(work.plan().code, 0);
}

#[test]
fn each_immutable_agent_field_replaces_the_agent() {
    let (server, work, _) = setup();
    for (field, extra) in [
        ("runMode", "  runMode: always_on\n"),
        ("runtime", "  runMode: always_on\n  runtime: {command: python main.py}\n"),
        ("callable", "  runMode: always_on\n  runtime: {command: python main.py}\n  callable: false\n"),
    ] {
        let before = data(&server, "/agents")[0]["id"].clone();
        everything(&work, extra);
        let plan = work.plan();
        assert_contains(&plan.stdout, "-/+ orchagent.Agent/writer");
        assert_contains(&plan.stdout, format!("`{field}` cannot be changed in place"));
        work.apply();
        let agents = data(&server, "/agents");
        assert_eq!(agents.as_array().map(Vec::len), Some(1), "the old agent is gone after replacing {field}");
        assert_ne!(agents[0]["id"], before);
    }
    let before = data(&server, "/agents")[0]["id"].clone();
    work.write(
        "all.yaml",
        &std::fs::read_to_string(work.manifests().join("all.yaml"))
            .expect("manifests")
            .replace("maxTurns: 4", "maxTurns: 9"),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "`loop` cannot be changed in place");
    work.apply();
    let agent = data(&server, "/agents")[0]["id"].clone();
    assert_ne!(agent, before);
    let ws = data(&server, "/workspaces")[0]["id"].as_str().expect("ws").to_string();
    for schedule in data(&server, &format!("/workspaces/{ws}/schedules")).as_array().into_iter().flatten() {
        assert_eq!(schedule["agent_id"], agent, "the schedules follow the new agent");
    }
    assert_eq!(data(&server, &format!("/workspaces/{ws}/services"))[0]["agent_id"], agent);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn deleting_a_starred_agent_passes_the_confirmation_delete_check_asks_for() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("agent.yaml", &agent("  isPublic: true\n"));
    work.apply();
    let id = data(&server, "/agents")[0]["id"].as_str().expect("id").to_string();
    assert_eq!(data(&server, &format!("/agents/{id}/delete-check"))["requires_confirmation"], true);
    work.remove("agent.yaml");
    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve", "--allow-delete-all"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_eq!(data(&server, "/agents"), json!([]));
}

#[test]
fn a_rotated_workspace_secret_is_written_with_one_request_and_removal_deletes_it() {
    let (server, work, _) = setup();
    work.write("llm.txt", "second-llm-key\n");
    let before = server.call("GET", &format!("{}/_sandbox/requests", server.origin), None, common::KEY).1["orchagent"]
        .as_u64()
        .unwrap_or(0);
    let plan = work.plan();
    assert_contains(&plan.stdout, "~ value: (sensitive value changed)");
    let middle = server.call("GET", &format!("{}/_sandbox/requests", server.origin), None, common::KEY).1["orchagent"]
        .as_u64()
        .unwrap_or(0);
    work.apply();
    let after = server.call("GET", &format!("{}/_sandbox/requests", server.origin), None, common::KEY).1["orchagent"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!((after - middle) - (middle - before), 1, "one write on top of the plan's reads");
    work.write("all.yaml", &format!("{WORKSPACE}{}{SCHEDULES}", agent("")));
    work.apply();
    let ws = data(&server, "/workspaces")[0]["id"].as_str().expect("ws").to_string();
    assert_eq!(data(&server, &format!("/workspaces/{ws}/secrets")), json!([]));
    assert_eq!(data(&server, &format!("/workspaces/{ws}/services")), json!([]));
}

#[test]
fn schedules_patch_in_place_and_a_type_change_replaces() {
    let (server, work, _) = setup();
    let text = std::fs::read_to_string(work.manifests().join("all.yaml")).expect("manifests");
    work.write(
        "all.yaml",
        &text.replace("0 9 * * 1-5", "30 8 * * 1-5").replace("alertOnFailureCount: 2", "alertOnFailureCount: 4"),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "~ cronExpression: \"0 9 * * 1-5\" -> \"30 8 * * 1-5\"");
    assert_contains(&plan.stdout, "~ alertOnFailureCount: 2 -> 4");
    work.apply();
    let ws = data(&server, "/workspaces")[0]["id"].as_str().expect("ws").to_string();
    let crons: Vec<Value> =
        data(&server, &format!("/workspaces/{ws}/schedules")).as_array().cloned().unwrap_or_default();
    assert!(crons.iter().any(|s| s["cron_expression"] == "30 8 * * 1-5"));
    let text = std::fs::read_to_string(work.manifests().join("all.yaml")).expect("manifests");
    work.write(
        "all.yaml",
        &text.replace(
            "  type: cron\n  cronExpression: \"30 8 * * 1-5\"\n",
            "  type: webhook\n  writeSecretTo: {file: out/daily-url}\n",
        ),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "`type` cannot be changed in place");
    work.apply();
    assert!(work.manifests().join("out/daily-url").exists());
}

#[test]
fn removing_a_workspace_forgets_it_since_the_api_cannot_delete_it() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("ws.yaml", WORKSPACE);
    work.apply();
    work.remove("ws.yaml");
    let plan = work.plan();
    assert_contains(&plan.stdout, "forget Workspace/team");
    assert_contains(&plan.stdout, "the API cannot delete it");
    work.apply();
    assert_eq!(data(&server, "/workspaces").as_array().map(Vec::len), Some(1));
}

#[test]
fn an_existing_workspace_is_adopted_by_slug() {
    let server = Server::start(&[]);
    server.call(
        "POST",
        &format!("{}/orchagent/workspaces", server.origin),
        Some(json!({"name": "Team", "slug": "team"})),
        common::KEY,
    );
    let work = Workspace::new();
    provider(&work, &server);
    work.write(
        "ws.yaml",
        &WORKSPACE.replace("  name: team\n", "  name: team\n  annotations:\n    seqops.dev/adopt: \"true\"\n"),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "<= Workspace/team");
    work.apply();
    assert_eq!(data(&server, "/workspaces").as_array().map(Vec::len), Some(1));
}

#[test]
fn cron_expressions_and_time_zones_are_checked_when_loading() {
    let work = Workspace::new();
    work.write("s.yaml", &SCHEDULES.replace("0 9 * * 1-5", "0 25 * * *").replace("Europe/Paris", "Mars/Olympus"));
    let run = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(run.code, 1);
    assert_contains(&run.stderr, "spec.cronExpression: hour 25 is out of range 0-23");
    assert_contains(&run.stderr, "spec.timezone: `Mars/Olympus` is not an IANA time zone");
}

/// Every request body seqops sent and every answer's `data` the emulator
/// gave, checked against the vendor's OpenAPI document.
#[test]
fn every_exchange_is_valid_against_the_vendors_openapi_document() {
    let (server, work, _) = setup();
    everything(&work, "  runMode: always_on\n");
    work.write("llm.txt", "rotated\n");
    work.apply();
    work.write("all.yaml", &format!("{WORKSPACE}{}", agent("  runMode: always_on\n")));
    work.apply();
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/apis/orchagent-openapi.json");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(spec_path).expect("the vendor's OpenAPI document")).expect("JSON");
    let exchanges = server.call("GET", &format!("{}/orchagent/_exchanges", server.origin), None, common::KEY).1;
    let exchanges = exchanges.as_array().expect("exchanges");
    let (mut requests, mut responses) = (0, 0);
    let mut problems = Vec::new();
    for exchange in exchanges {
        let method = exchange["method"].as_str().unwrap_or_default().to_lowercase();
        let path = exchange["path"].as_str().unwrap_or_default();
        let Some(operation) = spec["paths"][path].get(&method) else { continue };
        let status = exchange["status"].as_u64().unwrap_or_default().to_string();
        let request_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        if !request_schema.is_null() && !exchange["request"].is_null() {
            requests += 1;
            let what = format!("{method} {path} request");
            problems.extend(validate(&spec, request_schema, &exchange["request"], &what));
            problems.extend(undeclared(&spec, request_schema, &exchange["request"], &what));
        }
        let response_schema = &operation["responses"][&status]["content"]["application/json"]["schema"];
        if !response_schema.is_null() {
            responses += 1;
            problems.extend(validate(
                &spec,
                response_schema,
                &exchange["response"]["data"],
                &format!("{method} {path} {status} answer"),
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(requests >= 8 && responses >= 10, "checked {requests} requests and {responses} answers");
}

/// The fields seqops sends that the document does not name, wherever it
/// names an object's fields: the vendor would ignore them, so what they
/// ask for would silently not happen (the document allows extra fields, so
/// validating alone does not tell).
fn undeclared(spec: &Value, schema: &Value, instance: &Value, what: &str) -> Vec<String> {
    let schema = match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => spec.pointer(&format!("/{pointer}")).unwrap_or(&Value::Null),
        None => schema,
    };
    let (Some(properties), Some(object)) = (schema["properties"].as_object(), instance.as_object()) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (field, value) in object {
        match properties.get(field) {
            Some(declared) => problems.extend(undeclared(spec, declared, value, &format!("{what}.{field}"))),
            None => problems.push(format!("{what}: `{field}` is not a field the document names")),
        }
    }
    problems
}

fn validate(spec: &Value, schema: &Value, instance: &Value, what: &str) -> Vec<String> {
    let mut root = schema.clone();
    if let Some(map) = root.as_object_mut() {
        map.insert("components".into(), spec["components"].clone());
    } else {
        root = json!({ "allOf": [schema], "components": spec["components"] });
    }
    let validator = match jsonschema::validator_for(&root) {
        Ok(validator) => validator,
        Err(error) => return vec![format!("{what}: the schema does not compile: {error}")],
    };
    validator.iter_errors(instance).map(|e| format!("{what}: {e} at {}", e.instance_path())).collect()
}

#[test]
fn each_immutable_service_and_secret_field_replaces_the_object() {
    let (server, work, _) = setup();
    let ws = data(&server, "/workspaces")[0]["id"].as_str().expect("ws").to_string();
    let text = std::fs::read_to_string(work.manifests().join("all.yaml")).expect("manifests");
    for (field, from, to) in [
        ("name", "name: writer-service", "name: writer-service-2"),
        ("maxInstances", "  command: run\n", "  command: run\n  maxInstances: 3\n"),
        ("command", "command: run", "command: serve"),
    ] {
        let current = std::fs::read_to_string(work.manifests().join("all.yaml")).expect("manifests");
        let before = data(&server, &format!("/workspaces/{ws}/services"))[0]["id"].clone();
        work.write("all.yaml", &current.replace(from, to));
        let plan = work.plan();
        assert_contains(&plan.stdout, "-/+ Service/svc");
        assert_contains(&plan.stdout, format!("`{field}` cannot be changed in place"));
        work.apply();
        let services = data(&server, &format!("/workspaces/{ws}/services"));
        assert_eq!(services.as_array().map(Vec::len), Some(1), "the old service is gone after replacing {field}");
        assert_ne!(services[0]["id"], before);
    }
    work.write(
        "all.yaml",
        &text.replace("name: LLM_KEY", "name: MODEL_KEY").replace("secretNames: [LLM_KEY]", "secretNames: [MODEL_KEY]"),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "-/+ WorkspaceSecret/llm");
    work.apply();
    let names: Vec<Value> = data(&server, &format!("/workspaces/{ws}/secrets")).as_array().cloned().unwrap_or_default();
    assert_eq!(names.iter().map(|s| s["name"].clone()).collect::<Vec<_>>(), vec![json!("MODEL_KEY")]);
}

#[test]
fn a_saved_plan_never_holds_the_webhook_url_or_a_secret() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    everything(&work, "");
    let plan = work.run(&["plan", "-f", "manifests", "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let apply = work.run(&["apply", "plan.json", "-f", "manifests"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let url = std::fs::read_to_string(work.manifests().join("out/hook-url")).expect("the URL file").trim().to_string();
    let saved = std::fs::read_to_string(work.path().join("plan.json")).expect("the plan");
    assert!(!saved.contains("first-llm-key") && !saved.contains(&url));
    assert!(!apply.all().contains(&url));
}

#[test]
fn an_observe_only_workspace_is_left_alone_and_so_is_what_needs_its_id() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("llm.txt", "first-llm-key\n");
    let observed = WORKSPACE.replace("  name: Team\n", "  name: Team\n  managementPolicy: ObserveOnly\n");
    work.write("all.yaml", &format!("{observed}{SECRET}"));

    let plan = work.plan();

    assert_eq!(plan.code, 0, "nothing to do:\n{}", plan.all());
    assert_contains(&plan.all(), "Workspace/team is ObserveOnly and does not exist remotely; left alone");
    assert_contains(&plan.all(), "WorkspaceSecret/llm waits for Workspace/team, which is left alone");
    assert_contains(&plan.stdout, "No changes.");
    let apply = work.apply();
    assert_contains(&apply.stdout, "No changes.");
    assert_eq!(data(&server, "/workspaces").as_array().map(Vec::len), Some(0), "nothing was created");
}

#[test]
fn an_alert_url_and_a_service_env_value_come_from_sources_and_never_reach_a_plan_or_state() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("llm.txt", "first-llm-key\n");
    let schedules = SCHEDULES
        .replace("  alertOnFailureCount: 2\n", "  alertOnFailureCount: 2\n  alertWebhookUrl: {fromEnv: ALERT_URL}\n");
    let service =
        SERVICE.replace("  env: {LEVEL: info}\n", "  env:\n    LEVEL: info\n    API_TOKEN: {fromEnv: SERVICE_TOKEN}\n");
    work.write("all.yaml", &format!("{WORKSPACE}{SECRET}{}{schedules}{service}", agent("")));
    let run = |args: &[&str], token: &str| -> common::Run {
        work.command(args)
            .env("ALERT_URL", "https://hooks.example.com/alerts?token=alert-canary")
            .env("SERVICE_TOKEN", token)
            .output()
            .expect("runs")
            .into()
    };

    let applied = run(&["apply", "-f", "manifests", "--auto-approve"], "env-canary-1");

    assert_eq!(applied.code, 0, "{}", applied.all());
    let ws = data(&server, "/workspaces")[0]["id"].as_str().unwrap_or_default().to_string();
    let services = data(&server, &format!("/workspaces/{ws}/services"));
    assert_eq!(services[0]["env"], json!({"LEVEL": "info", "API_TOKEN": "env-canary-1"}), "the value reached the API");
    let state = std::fs::read_to_string(work.path().join(".seqops/state.json")).expect("state");
    let planned = run(&["plan", "-f", "manifests", "--detailed-exitcode", "--format", "json"], "env-canary-1");
    assert_eq!(planned.code, 0, "the service returns its env, and the same value is no change:\n{}", planned.all());
    let rotated = run(&["plan", "-f", "manifests", "--detailed-exitcode"], "env-canary-2");
    assert_eq!(rotated.code, 2, "{}", rotated.all());
    assert_contains(&rotated.stdout, "env.API_TOKEN: (sensitive value changed)");
    for (what, text) in
        [("apply", applied.all()), ("state", state), ("plan", planned.all()), ("rotation", rotated.all())]
    {
        assert!(!text.contains("alert-canary"), "the alert URL leaked into {what}");
        assert!(!text.contains("env-canary"), "the env value leaked into {what}");
    }
}

#[test]
fn an_alert_url_written_in_the_manifest_is_refused_at_its_line() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("llm.txt", "first-llm-key\n");
    let schedules = SCHEDULES.replace(
        "  alertOnFailureCount: 2\n",
        "  alertOnFailureCount: 2\n  alertWebhookUrl: https://hooks.example.com/alerts\n",
    );
    work.write("all.yaml", &format!("{WORKSPACE}{SECRET}{}{schedules}", agent("")));
    let refused = work.plan();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "alertWebhookUrl");
    assert_contains(&refused.stderr, "a value is never written in a manifest");
}

#[test]
fn export_names_files_by_kind_where_two_kinds_share_a_name_and_never_overwrites_a_file() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    let workspace =
        "apiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: team\nspec:\n  name: Writer\n";
    work.write("all.yaml", &format!("{workspace}{}", agent("")));
    work.apply();
    std::fs::remove_file(work.path().join(".seqops/state.json")).expect("state removed");
    let export = |out: &str| work.run(&["export", "--provider", "oa", "-f", "manifests/provider.yaml", "--out", out]);

    let exported = export("exported");

    assert_eq!(exported.code, 0, "{}", exported.all());
    for file in ["workspace-writer.yaml", "agent-writer.yaml", "provider-oa.yaml"] {
        assert!(work.path().join("exported").join(file).exists(), "{file}:\n{}", exported.all());
    }
    let plan = work.run(&["plan", "-f", "exported", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "both objects are exported and planned as they are:\n{}", plan.all());
    let requests = || {
        server.call("GET", &format!("{}/_sandbox/requests", server.origin), None, common::KEY).1["orchagent"].clone()
    };
    let before = requests();
    let again = export("exported");
    assert_eq!(again.code, 1, "{}", again.all());
    assert_contains(&again.stderr, "exported already holds 3 entries: export writes only into a new or empty folder");
    assert_eq!(requests(), before, "refused before any request");
}

/// The digest the emulator keeps of workspace `ws`'s secret `name`, from
/// the sandbox's data file.
fn kept_digest(data: &std::path::Path, ws: &str, name: &str) -> Option<String> {
    let saved: Value = serde_json::from_slice(&std::fs::read(data).ok()?).ok()?;
    let accounts = saved["orchagent"]["accounts"].as_object()?;
    accounts.values().find_map(|a| a["secrets"][ws][name]["digest"].as_str().map(str::to_string))
}

fn put_secret(server: &Server, ws: &str, name: &str, value: &str) {
    let url = format!("{}/orchagent/workspaces/{ws}/secrets", server.origin);
    let (status, _) = server.call("PUT", &url, Some(json!({"name": name, "value": value})), common::KEY);
    assert_eq!(status, 200);
}

#[test]
fn a_workspace_secret_someone_else_set_is_not_overwritten_unless_the_manifest_says_adopt() {
    let data = tempfile::tempdir().expect("a folder");
    let file = data.path().join("sandbox.json");
    let server = Server::start(&["--data", file.to_str().expect("a path")]);
    let work = Workspace::new();
    provider(&work, &server);
    work.write("ws.yaml", WORKSPACE);
    work.apply();
    let ws = data_of_workspaces(&server);
    put_secret(&server, &ws, "LLM_KEY", "their-value");
    let theirs = kept_digest(&file, &ws, "LLM_KEY");
    work.write("llm.txt", "first-llm-key\n");
    work.write("secret.yaml", SECRET);

    let refused = work.run(&["apply", "-f", "manifests", "--auto-approve"]);

    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "already exists and no state entry manages it");
    assert_contains(&refused.stderr, "seqops.dev/adopt");
    assert_eq!(kept_digest(&file, &ws, "LLM_KEY"), theirs, "their value is untouched");

    work.write(
        "secret.yaml",
        &SECRET.replace("  name: llm\n", "  name: llm\n  annotations:\n    seqops.dev/adopt: \"true\"\n"),
    );
    let plan = work.plan();
    assert_contains(&plan.stdout, "<= WorkspaceSecret/llm");
    work.apply();
    assert_eq!(kept_digest(&file, &ws, "LLM_KEY"), Some(seqops::sandbox::digest("first-llm-key")));
    assert_eq!(work.plan().code, 0);
}

fn data_of_workspaces(server: &Server) -> String {
    data(server, "/workspaces")[0]["id"].as_str().expect("a workspace").to_string()
}

#[test]
fn pruning_a_pending_secret_never_deletes_a_same_named_secret_of_another_workspace() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    provider(&work, &server);
    let other = "---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: other\nspec:\n  name: Other\n";
    work.write("llm.txt", "first-llm-key\n");
    work.write("ws.yaml", &format!("{WORKSPACE}{other}"));
    work.write("secret.yaml", SECRET);
    work.apply();
    let state = work.state();
    let team = state["resources"]["Workspace/team"]["id"].as_str().expect("team").to_string();
    let other = state["resources"]["Workspace/other"]["id"].as_str().expect("other").to_string();
    put_secret(&server, &other, "LLM_KEY", "their-value");
    // As if the create in `team` had been sent, made nothing, and its
    // answer never came.
    server.call("DELETE", &format!("{}/orchagent/workspaces/{team}/secrets/LLM_KEY", server.origin), None, common::KEY);
    let mut state = state;
    let entry = state["resources"]["WorkspaceSecret/llm"].as_object_mut().expect("an entry");
    entry.remove("id");
    entry.insert("pendingSince".into(), json!("2026-01-01T00:00:00Z"));
    std::fs::write(work.path().join(".seqops/state.json"), serde_json::to_vec(&state).expect("json")).expect("state");
    work.remove("secret.yaml");

    let plan = work.plan();
    work.apply();

    assert!(!plan.stdout.contains("- WorkspaceSecret/llm"), "nothing is deleted:\n{}", plan.stdout);
    let theirs = data(&server, &format!("/workspaces/{other}/secrets"));
    assert_eq!(theirs.as_array().map(Vec::len), Some(1), "the other workspace's secret is kept: {theirs}");
    assert!(work.state()["resources"].get("WorkspaceSecret/llm").is_none());
}

#[test]
fn import_refuses_an_object_whose_immutable_field_differs_and_records_display_name_and_dependencies() {
    let (server, work, _) = setup();
    let agent_id = data(&server, "/agents")[0]["id"].as_str().expect("an agent").to_string();
    let schedule = work.state()["resources"]["Schedule/daily"]["id"].as_str().expect("a schedule").to_string();
    for key in ["orchagent.Agent/writer", "Schedule/daily"] {
        assert_eq!(work.run(&["state", "rm", key]).code, 0);
    }
    everything(&work, "");
    let text = std::fs::read_to_string(work.manifests().join("all.yaml")).expect("manifests");
    work.write("all.yaml", &text.replace("  version: v1\n", "  version: v2\n"));

    let refused = work.run(&["import", "orchagent.Agent/writer", &agent_id, "-f", "manifests"]);

    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "cannot adopt");
    assert_contains(&refused.stderr, "version");
    assert!(work.state()["resources"].get("orchagent.Agent/writer").is_none(), "nothing is recorded");

    work.write("all.yaml", &text);
    let import = work.run(&["import", "orchagent.Agent/writer", &agent_id, "-f", "manifests"]);
    assert_eq!(import.code, 0, "{}", import.all());
    let import = work.run(&["import", "Schedule/daily", &schedule, "-f", "manifests"]);
    assert_eq!(import.code, 0, "{}", import.all());
    let state = work.state();
    let entry = &state["resources"]["Schedule/daily"];
    assert_eq!(entry["displayName"], "cron 0 9 * * 1-5", "the name schedules are listed by: {entry}");
    let depends = entry["dependsOn"].to_string();
    assert!(depends.contains("Workspace") && depends.contains("team") && depends.contains("writer"), "{entry}");
    assert_eq!(work.plan().code, 0);
}

/// The sandbox's scheduler runs on its test clock: a week on, the weekday
/// 09:00 Paris schedule has run five times, each at 09:00 Paris, the
/// webhook schedule never, and what ran is no change to plan.
#[test]
fn a_cron_schedule_runs_on_the_sandbox_clock_and_its_runs_are_no_change() {
    let (server, work, _) = setup();
    let ws = data(&server, "/workspaces")[0]["id"].as_str().expect("ws").to_string();
    let schedule = |kind: &str| {
        let all = data(&server, &format!("/workspaces/{ws}/schedules"));
        all.as_array().and_then(|s| s.iter().find(|s| s["type"] == kind).cloned()).expect("a schedule")
    };
    assert_eq!(schedule("cron")["total_runs"], 0);
    assert!(schedule("cron")["next_run_at"].is_string(), "{}", schedule("cron"));
    let (code, clock) =
        server.call("POST", &format!("{}/_sandbox/clock", server.origin), Some(json!({"advance": "7d"})), "");
    assert_eq!(code, 200, "{clock}");
    let cron = schedule("cron");
    assert_eq!(cron["total_runs"], 5, "five weekdays in a week: {cron}");
    assert_eq!(cron["last_run_status"], "success");
    let last: chrono::DateTime<chrono_tz::Tz> =
        chrono::DateTime::parse_from_rfc3339(cron["last_run_at"].as_str().expect("a time"))
            .expect("RFC 3339")
            .with_timezone(&chrono_tz::Europe::Paris);
    assert_eq!(last.format("%H:%M").to_string(), "09:00", "in the schedule's time zone");
    assert_eq!(schedule("webhook")["total_runs"], 0, "a webhook schedule runs only when called");
    let plan = work.run(&["plan", "-f", "manifests", "--refresh", "full", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}
