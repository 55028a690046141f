//! Orqis against its emulator: fields that force replacement, write-only
//! secrets, default tools as a set, keys shown once, the plan's limit, and a
//! canary that no secret value ever leaves seqops.

mod common;

use common::{assert_contains, Server, Workspace, ORQIS_TOKEN};
use serde_json::{json, Value};

const SPEC_V1: &str =
    "openapi: 3.0.3\ninfo: {title: Store, version: '1'}\npaths:\n  /products:\n    get: {operationId: list_products}\n";

/// An Orqis agent manifest with `extra` spec lines, its OpenAPI document and
/// header files beside it.
fn agent(work: &Workspace, extra: &str) {
    work.write("api.yaml", SPEC_V1);
    work.write("secrets/token.txt", "Bearer first-token\n");
    work.write("secrets/tenant.txt", "tenant-7\n");
    let manifest = format!(
        "apiVersion: orqis.seqops.dev/v1alpha1\nkind: Agent\nmetadata:\n  name: store\nspec:\n  name: Store Agent\n  openapiSpec: {{fromFile: api.yaml}}\n  headers:\n    Authorization: {{fromFile: secrets/token.txt}}\n    X-Tenant-ID: {{fromFile: secrets/tenant.txt}}\n{extra}"
    );
    work.write("agent.yaml", &manifest);
}

fn setup(extra: &str) -> (Server, Workspace) {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, extra);
    work.apply();
    (server, work)
}

fn remote_agents(server: &Server) -> Vec<Value> {
    server.orqis("GET", "/v3/agents", None).1.as_array().cloned().unwrap_or_default()
}

fn header_names(server: &Server, id: &str) -> Value {
    server.orqis("GET", &format!("/agents/{id}/headers"), None).1["header_names"].clone()
}

/// Requests one seqops run made to the Orqis emulator.
fn requests(server: &Server, work: &Workspace, args: &[&str]) -> (u64, common::Run) {
    let before = server.orqis_requests();
    let run = work.run(args);
    (server.orqis_requests() - before, run)
}

#[test]
fn an_agent_is_created_with_its_headers_and_tools_and_then_plans_no_changes() {
    let (server, work) = setup("  defaultTools: [google_search, github]\n");
    let agents = remote_agents(&server);
    assert_eq!(agents.len(), 1);
    let id = agents[0]["id"].as_str().expect("an id");
    assert_eq!(header_names(&server, id), json!(["Authorization", "X-Tenant-ID"]));
    let mut tools: Vec<String> =
        serde_json::from_value(agents[0]["configuration"]["default_tools"].clone()).unwrap_or_default();
    tools.sort();
    assert_eq!(tools, vec!["github", "google_search"]);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn each_immutable_field_replaces_the_agent() {
    let (server, work) = setup("");
    let changes = [
        ("apiProvider", "  apiProvider: openai\n"),
        ("model", "  apiProvider: openai\n  model: gpt-4o\n"),
        ("baseUrl", "  apiProvider: openai\n  model: gpt-4o\n  baseUrl: https://staging.example.com\n"),
    ];
    for (field, extra) in changes {
        let before = remote_agents(&server)[0]["id"].clone();
        agent(&work, extra);
        let plan = work.plan();
        assert_eq!(plan.code, 2, "{}", plan.all());
        assert_contains(&plan.stdout, "-/+ orqis.Agent/store");
        assert_contains(&plan.stdout, format!("`{field}` cannot be changed in place"));
        work.apply();
        let agents = remote_agents(&server);
        assert_eq!(agents.len(), 1, "the old agent is gone after replacing {field}");
        assert_ne!(agents[0]["id"], before, "{field} made a new agent");
    }
    // The OpenAPI document is compared by its content's digest.
    let before = remote_agents(&server)[0]["id"].clone();
    work.write("api.yaml", &SPEC_V1.replace("list_products", "search_products"));
    let plan = work.plan();
    assert_contains(&plan.stdout, "`openapiSpec` cannot be changed in place");
    assert_contains(&plan.stdout, "~ openapiSpec: (content sha256:");
    work.apply();
    let agents = remote_agents(&server);
    assert_eq!(agents.len(), 1);
    assert_ne!(agents[0]["id"], before);
    assert_eq!(agents[0]["configuration"]["tools"][0]["name"], "search_products");
}

#[test]
fn a_secret_rotated_at_its_source_is_detected_and_written_with_one_request() {
    let (server, work) = setup("");
    work.write("secrets/token.txt", "Bearer second-token\n");
    let (plan_requests, plan) = requests(&server, &work, &["plan", "-f", "manifests", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "~ headers.Authorization: (sensitive value changed)");
    assert!(!plan.stdout.contains("X-Tenant-ID: (sensitive value changed)"), "{}", plan.stdout);
    let (apply_requests, apply) = requests(&server, &work, &["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_eq!(apply_requests - plan_requests, 1, "exactly one write: the headers");
    assert_eq!(work.plan().code, 0);
}

#[test]
fn rotate_writes_a_secret_whose_source_did_not_change() {
    let (server, work) = setup("");
    let plan = work.run(&["plan", "-f", "manifests", "--detailed-exitcode", "--rotate", "orqis.Agent/store"]);
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert_contains(&plan.stdout, "~ headers.Authorization: (sensitive value changed)");
    let id = remote_agents(&server)[0]["id"].as_str().expect("id").to_string();
    let applied = work.run(&["apply", "-f", "manifests", "--auto-approve", "--rotate", "orqis.Agent/store"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(header_names(&server, &id), json!(["Authorization", "X-Tenant-ID"]));
}

#[test]
fn removing_one_header_leaves_the_others() {
    let (server, work) = setup("");
    let manifest = std::fs::read_to_string(work.manifests().join("agent.yaml")).expect("manifest");
    work.write("agent.yaml", &manifest.replace("    X-Tenant-ID: {fromFile: secrets/tenant.txt}\n", ""));
    let plan = work.plan();
    assert_contains(&plan.stdout, "- headers.X-Tenant-ID: (sensitive) -> (absent)");
    work.apply();
    let id = remote_agents(&server)[0]["id"].as_str().expect("id").to_string();
    assert_eq!(header_names(&server, &id), json!(["Authorization"]));
    assert_eq!(work.plan().code, 0);
}

#[test]
fn default_tools_are_reconciled_as_a_set() {
    let (server, work) = setup("  defaultTools: [google_search, slack]\n");
    agent(&work, "  defaultTools: [github, google_search]\n");
    let plan = work.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    work.apply();
    let mut tools: Vec<String> =
        serde_json::from_value(remote_agents(&server)[0]["configuration"]["default_tools"].clone()).unwrap_or_default();
    tools.sort();
    assert_eq!(tools, vec!["github", "google_search"]);
    agent(&work, "  defaultTools: [google_search, github]\n");
    assert_eq!(work.plan().code, 0, "order does not matter");
}

const API_KEY: &str = "---\napiVersion: orqis.seqops.dev/v1alpha1\nkind: ApiKey\nmetadata:\n  name: widget\nspec:\n  name: widget\n  agentRef: {name: store}\n  writeSecretTo: {file: out/widget.key}\n";

#[test]
fn an_api_key_is_created_after_its_agent_and_written_once_to_its_file_only() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    work.write("key.yaml", API_KEY);
    let plan = work.run(&["plan", "-f", "manifests", "--out", "plan.json", "--format", "markdown"]);
    assert_contains(&plan.stdout, "agentRef: \"(known after apply)\"");
    let apply = work.run(&["apply", "plan.json", "-f", "manifests"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let agent_created = apply.stdout.find("orqis.Agent/store: created").expect("the agent is created");
    let key_started = apply.stdout.find("ApiKey/widget: creating").expect("the key is created");
    assert!(agent_created < key_started, "{}", apply.stdout);
    let file = work.manifests().join("out/widget.key");
    let key = std::fs::read_to_string(&file).expect("the key file").trim().to_string();
    assert!(key.starts_with("oq_"), "{key}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777, 0o600);
    let state = std::fs::read_to_string(work.path().join(".seqops/state.json")).expect("state");
    let plan_file = std::fs::read_to_string(work.path().join("plan.json")).expect("plan");
    for (what, text) in [
        ("stdout", &apply.stdout),
        ("stderr", &apply.stderr),
        ("state", &state),
        ("plan", &plan_file),
        ("markdown", &plan.stdout),
    ] {
        assert!(!text.contains(&key), "the key leaked into {what}");
    }
    let keys = server.orqis("GET", "/users/me/api-keys", None).1;
    assert_eq!(keys[0]["agent_id"], remote_agents(&server)[0]["id"]);
    assert_eq!(work.plan().code, 0);
}

#[test]
fn a_second_key_for_the_same_agent_is_explained() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    work.write("key.yaml", API_KEY);
    work.apply();
    work.write("key2.yaml", &API_KEY.replace("name: widget", "name: other").replace("widget.key", "other.key"));
    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert_contains(&apply.stderr, "already has an active API key, and Orqis allows one per agent");
}

#[test]
fn the_plans_agent_limit_is_a_plan_time_error_naming_it() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    let second = std::fs::read_to_string(work.manifests().join("agent.yaml")).expect("manifest");
    work.write("agent2.yaml", &second.replace("name: store", "name: store-two").replace("Store Agent", "Second"));
    let before = server.orqis_requests();
    let run: common::Run = work
        .command(&["plan", "-f", "manifests"])
        .env("ORQIS_TOKEN", "orqis_free_account")
        .output()
        .expect("runs")
        .into();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_contains(
        &run.stderr,
        "the Orqis `free` plan allows 1 agent(s) and the account has 0; this plan creates 2 more",
    );
    assert!(server.orqis_requests() - before <= 3, "only reads were made");
}

#[test]
fn a_canary_secret_never_leaves_seqops() {
    const CANARY: &str = "canary-7f3a9c-do-not-leak";
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    work.write("secrets/token.txt", &format!("Bearer {CANARY}\n"));
    work.write(
        "llm.yaml",
        "apiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value: {fromEnv: CANARY_KEY}\n",
    );
    // The same value as an orchagent workspace secret.
    work.write(
        "orchagent.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: oa\nspec:\n  type: orchagent\n  baseUrl: {}/orchagent\n  credentials: {{env: ORSAY_API_KEY}}\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: team\nspec:\n  name: Team\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: WorkspaceSecret\nmetadata:\n  name: llm\nspec:\n  workspaceRef: {{name: team}}\n  name: LLM_KEY\n  value: {{fromEnv: CANARY_KEY}}\n",
            server.origin
        ),
    );
    let run = |args: &[&str]| -> common::Run {
        work.command(args).env("CANARY_KEY", CANARY).env("SEQOPS_LOG", "trace").output().expect("runs").into()
    };
    let mut outputs = Vec::new();
    let plan = run(&["plan", "-f", "manifests", "--out", "plan.json"]);
    outputs.push(("plan", plan.all()));
    outputs.push(("json", run(&["plan", "-f", "manifests", "--format", "json"]).all()));
    outputs.push(("markdown", run(&["plan", "-f", "manifests", "--format", "markdown"]).all()));
    let apply = run(&["apply", "plan.json", "-f", "manifests"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_contains(&apply.stdout, "WorkspaceSecret/llm: created");
    outputs.push(("apply", apply.all()));
    work.write("secrets/token.txt", &format!("Bearer {CANARY}-rotated\n"));
    outputs.push(("rotation", run(&["apply", "-f", "manifests", "--auto-approve"]).all()));
    outputs.push(("state list", run(&["state", "list"]).all()));
    outputs.push(("state show", run(&["state", "show", "LlmKey/google"]).all()));
    outputs.push(("secret state", run(&["state", "show", "WorkspaceSecret/llm"]).all()));
    for file in [".seqops/state.json", "plan.json", ".seqops/budget.json"] {
        outputs.push((file, std::fs::read_to_string(work.path().join(file)).unwrap_or_default()));
    }
    assert!(
        outputs.iter().any(|(_, text)| text.contains("TRACE") || text.contains("DEBUG")),
        "logs at trace level were captured"
    );
    for (what, text) in outputs {
        assert!(!text.contains(CANARY), "the canary leaked into {what}");
    }
    assert_eq!(server.orqis("GET", "/users/me/llm-key?provider=google", None).1["has_key"], true);
    let _ = ORQIS_TOKEN;
}

#[test]
fn renaming_an_api_key_revokes_it_and_writes_the_new_one() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    work.write("key.yaml", API_KEY);
    work.apply();
    let first = std::fs::read_to_string(work.manifests().join("out/widget.key")).expect("the key");
    work.write("key.yaml", &API_KEY.replace("  name: widget\n  agentRef", "  name: widget-v2\n  agentRef"));
    let plan = work.plan();
    assert_contains(&plan.stdout, "-/+ ApiKey/widget");
    assert_contains(&plan.stdout, "`name` cannot be changed in place");
    work.apply();
    let keys = server.orqis("GET", "/users/me/api-keys", None).1;
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    assert_eq!(keys[0]["name"], "widget-v2");
    let second = std::fs::read_to_string(work.manifests().join("out/widget.key")).expect("the key");
    assert_ne!(first, second);
}

#[test]
fn replacing_an_agent_replaces_the_key_scoped_to_it() {
    let server = Server::start(&[]);
    let work = Workspace::new();
    work.orqis_provider(&server);
    agent(&work, "");
    work.write("key.yaml", API_KEY);
    work.apply();
    agent(&work, "  apiProvider: openai\n");
    let plan = work.plan();
    assert_contains(&plan.stdout, "-/+ orqis.Agent/store");
    assert_contains(&plan.stdout, "-/+ ApiKey/widget");
    assert_contains(&plan.stdout, "~ agentRef: ");
    let apply = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let keys = server.orqis("GET", "/users/me/api-keys", None).1;
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    assert_eq!(keys[0]["agent_id"], remote_agents(&server)[0]["id"]);
    assert_eq!(work.plan().code, 0);
}

/// A proxy to the sandbox's Orqis that refuses to list API keys once one
/// has been created: the create's answer (the key) arrives, its id never.
fn key_list_fails_after_a_create(upstream: String) -> common::InProcess {
    let created = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    common::faulty_gateway(upstream, move |method, path| {
        let keys = path == "/users/me/api-keys";
        match method {
            "POST" if keys => {
                created.store(true, std::sync::atomic::Ordering::SeqCst);
                common::Fault::Pass
            }
            "GET" if keys && created.load(std::sync::atomic::Ordering::SeqCst) => common::Fault::Refuse(400),
            _ => common::Fault::Pass,
        }
    })
}

#[test]
fn a_key_whose_id_could_not_be_learnt_is_kept_and_the_next_run_adopts_it_once() {
    let server = Server::start(&[]);
    let proxy = key_list_fails_after_a_create(format!("{}/orqis", server.origin));
    let work = Workspace::new();
    work.write(
        "orqis-provider.yaml",
        &format!("apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orqis\nspec:\n  type: orqis\n  baseUrl: {}\n  credentials:\n    env: ORQIS_TOKEN\n", proxy.origin),
    );
    agent(&work, "");
    work.write("key.yaml", API_KEY);

    let failed = work.run(&["apply", "-f", "manifests", "--auto-approve"]);

    assert_eq!(failed.code, 1, "{}", failed.all());
    assert_contains(&failed.stderr, "made the object, but its id could not be learnt");
    let file = work.manifests().join("out/widget.key");
    let key = std::fs::read_to_string(&file).expect("the key was written where it belongs").trim().to_string();
    assert!(key.starts_with("oq_"), "{key}");
    assert_contains(&failed.stderr, format!("the value shown once is in {}", file.display()));
    assert!(!failed.all().contains(&key), "the key is not shown");
    // The list answers again (the Provider now points at the sandbox).
    work.orqis_provider(&server);
    let again = work.run(&["apply", "-f", "manifests", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let keys = server.orqis("GET", "/users/me/api-keys", None).1;
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "one key, adopted, not a second one: {keys}");
    assert_eq!(std::fs::read_to_string(&file).expect("the key file").trim(), key, "the kept value stands");
}

#[test]
fn an_llm_key_someone_else_saved_is_overwritten_only_when_the_manifest_says_adopt() {
    let data = tempfile::tempdir().expect("a folder");
    let file = data.path().join("sandbox.json");
    let server = Server::start(&["--data", file.to_str().expect("a path")]);
    let (status, _) =
        server.orqis("PUT", "/users/me/llm-key", Some(json!({"provider": "google", "api_key": "their-key"})));
    assert_eq!(status, 200);
    let kept = || {
        let saved: Value = serde_json::from_slice(&std::fs::read(&file).expect("the data file")).expect("json");
        let accounts = saved["orqis"]["accounts"].as_object().cloned().unwrap_or_default();
        accounts.values().find_map(|a| a["llm_keys"]["google"].as_str().map(str::to_string))
    };
    let theirs = kept();
    let work = Workspace::new();
    work.orqis_provider(&server);
    work.write("key.txt", "our-key\n");
    let manifest = "apiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value: {fromFile: key.txt}\n";
    work.write("key.yaml", manifest);

    let refused = work.run(&["apply", "-f", "manifests", "--auto-approve"]);

    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "creating it would replace what it holds");
    assert_eq!(kept(), theirs, "their key is untouched");
    work.write(
        "key.yaml",
        &manifest.replace("  name: google\n", "  name: google\n  annotations:\n    seqops.dev/adopt: \"true\"\n"),
    );
    work.apply();
    assert_eq!(kept(), Some(seqops::sandbox::digest("our-key")));
    assert_eq!(work.plan().code, 0);
}
