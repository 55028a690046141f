//! Credentials and secrets go only where they belong: what a manifest
//! author can make seqops do with the keys and files of whoever runs it.

mod common;

use common::{assert_contains, Workspace};

fn provider_at(work: &Workspace, base_url: &str) {
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {base_url}\n  credentials:\n    env: ORSAY_API_KEY\n"
        ),
    );
    work.write("a.yaml", &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
}

#[test]
fn a_base_url_on_another_host_is_refused_before_the_key_is_sent_and_the_refusal_says_how_to_allow_it() {
    let work = Workspace::new();
    provider_at(&work, "https://collector.example.net/api/v1");
    let refused = work.plan();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "collector.example.net");
    assert_contains(&refused.stderr, "client.api.prod.orsay.ai");
    assert_contains(&refused.stderr, "--allow-base-url collector.example.net");
    assert_contains(&refused.stderr, "SEQOPS_ALLOWED_HOSTS");
    assert_contains(&refused.stderr, "nothing was sent to any API");
}

#[test]
fn plain_http_is_refused_except_to_a_loopback_address() {
    let work = Workspace::new();
    provider_at(&work, "http://client.api.prod.orsay.ai/api/v1");
    let refused = work.plan();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "http:// only reaches a loopback address");
    let allowed = work.command(&["plan", "-f", "manifests", "--allow-base-url", "client.api.prod.orsay.ai"]).output();
    let allowed: common::Run = allowed.expect("runs").into();
    assert_contains(&allowed.stderr, "http:// only reaches a loopback address");
}

#[test]
fn an_operator_allows_another_host_with_a_flag_or_the_environment_not_the_manifest() {
    let work = Workspace::new();
    provider_at(&work, "https://proxy.invalid/orsay/api/v1");
    for run in [work.command(&["plan", "-f", "manifests", "--allow-base-url", "proxy.invalid"]), {
        let mut command = work.command(&["plan", "-f", "manifests"]);
        command.env("SEQOPS_ALLOWED_HOSTS", "other.invalid, proxy.invalid");
        command
    }] {
        let mut run = run;
        let ran: common::Run = run.output().expect("runs").into();
        assert!(!ran.stderr.contains("--allow-base-url"), "allowed, so the host is tried:\n{}", ran.all());
        assert_contains(&ran.stderr, "proxy.invalid");
    }
}

#[test]
fn a_redirect_to_another_host_is_refused_and_the_key_never_reaches_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let reached = Arc::new(AtomicUsize::new(0));
    let counted = reached.clone();
    let elsewhere = common::InProcess::serve_on(
        "127.0.0.2:0",
        axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "[]" }
        }),
    );
    let target = format!("{}/orsay/api/v1/sequences", elsewhere.origin);
    let redirecting = common::InProcess::serve(axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { axum::response::Redirect::temporary(&target) }
    }));
    let work = Workspace::new();
    provider_at(&work, &format!("{}/orsay/api/v1", redirecting.origin));
    let refused = work.plan();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "refused a redirect to another host (127.0.0.2)");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "nothing reached the other host");
}

#[test]
fn a_key_ending_in_a_newline_is_trimmed_and_one_with_a_line_break_inside_is_refused() {
    let (server, work) = common::server_and_workspace(&[]);
    work.write("a.yaml", &common::sequence("a", "name: A\ntrigger: WHATSAPP_MESSAGE"));
    let trimmed: common::Run = work
        .command(&["apply", "-f", "manifests", "--auto-approve"])
        .env("ORSAY_API_KEY", format!("{}\n", common::KEY))
        .output()
        .expect("runs")
        .into();
    assert_eq!(trimmed.code, 0, "{}", trimmed.all());
    assert_eq!(server.sequences_named("A").len(), 1, "sent with its header");
    let broken: common::Run =
        work.command(&["plan", "-f", "manifests"]).env("ORSAY_API_KEY", "sk_a\nsk_b").output().expect("runs").into();
    assert_eq!(broken.code, 1, "{}", broken.all());
    assert_contains(&broken.stderr, "$ORSAY_API_KEY holds control characters");
    assert!(!broken.all().contains("sk_a"), "the key is not shown:\n{}", broken.all());
}

#[test]
fn an_absurd_duration_on_the_command_line_is_refused_not_a_panic() {
    let work = Workspace::new();
    for args in [
        &["controller", "--drift-interval", "99999999999h"][..],
        &["plan", "-f", "manifests", "--lock-timeout", "99999999999h"][..],
    ] {
        let refused = work.run(args);
        assert_eq!(refused.code, 2, "{}", refused.all());
        assert_contains(&refused.stderr, "longer than a week (168h)");
        assert!(!refused.stderr.contains("panicked"), "{}", refused.stderr);
    }
}

const LLM_KEY: &str = "apiVersion: orqis.seqops.dev/v1alpha1\nkind: LlmKey\nmetadata:\n  name: google\nspec:\n  provider: google\n  value: {fromEnv: VARIABLE}\n";

#[test]
fn a_manifest_may_not_read_a_providers_key_to_send_it_elsewhere() {
    let (server, work) = common::server_and_workspace(&[]);
    work.orqis_provider(&server);
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "ORSAY_API_KEY"));
    let refused = work.plan();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "llm.yaml:7:");
    assert_contains(&refused.stderr, "spec.value: reads $ORSAY_API_KEY, the API key of Provider `main`");
    assert_eq!(server.orqis_requests(), 0, "nothing was sent");
}

#[test]
fn the_operator_restricts_which_variables_manifests_may_read() {
    let (server, work) = common::server_and_workspace(&[]);
    work.orqis_provider(&server);
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "HOME"));
    let before = server.orqis_requests();
    let refused = work.run(&["plan", "-f", "manifests", "--allow-env", "GOOGLE_*", "--allow-env", "ORQIS_*"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "llm.yaml:7:");
    assert_contains(&refused.stderr, "$HOME is not among the variables the operator allows");
    assert_eq!(server.orqis_requests(), before, "nothing was sent");
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "GOOGLE_KEY"));
    let key_refused: common::Run = work
        .command(&["plan", "-f", "manifests"])
        .env("SEQOPS_ALLOWED_ENV", "GOOGLE_*")
        .env("GOOGLE_KEY", "AIza")
        .output()
        .expect("runs")
        .into();
    assert_eq!(key_refused.code, 1, "{}", key_refused.all());
    assert_contains(&key_refused.stderr, "Provider `orqis`: credentials.env: $ORQIS_TOKEN is not among");
    let allowed: common::Run = work
        .command(&["plan", "-f", "manifests"])
        .env("SEQOPS_ALLOWED_ENV", "GOOGLE_*,ORQIS_*")
        .env("GOOGLE_KEY", "AIza")
        .output()
        .expect("runs")
        .into();
    assert_eq!(allowed.code, 0, "{}", allowed.all());
    assert_contains(&allowed.stdout, "+ LlmKey/google");
}

#[test]
fn the_plan_names_where_each_secret_comes_from_and_never_its_value() {
    let (server, work) = common::server_and_workspace(&[]);
    work.orqis_provider(&server);
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "GOOGLE_KEY"));
    let planned: common::Run = work
        .command(&["plan", "-f", "manifests", "--detailed-exitcode"])
        .env("GOOGLE_KEY", "AIza-canary-value")
        .output()
        .expect("runs")
        .into();
    assert_eq!(planned.code, 2, "{}", planned.all());
    assert_contains(&planned.stdout, "from $GOOGLE_KEY");
    assert!(!planned.all().contains("AIza-canary-value"), "{}", planned.all());
}

fn llm_key_from_file(work: &Workspace, server: &common::Server, path: &str) -> common::Run {
    work.orqis_provider(server);
    work.write("llm.yaml", &LLM_KEY.replace("{fromEnv: VARIABLE}", &format!("{{fromFile: \"{path}\"}}")));
    work.plan()
}

#[test]
fn a_file_source_stays_inside_the_project_and_is_a_bounded_regular_file() {
    let (server, work) = common::server_and_workspace(&[]);
    let outside = tempfile::tempdir().expect("a folder outside");
    std::fs::write(outside.path().join("stolen"), "secret").expect("written");
    // The work folder and this one are both in the system's temporary folder.
    let sibling = outside.path().file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let escape = format!("../../{sibling}/stolen");
    for (path, why) in [
        ("/etc/hostname", "outside the project"),
        ("/dev/zero", "outside the project"),
        (escape.as_str(), "outside the project"),
        ("../.git/config", "inside .git or .seqops"),
    ] {
        if path.contains(".git") {
            std::fs::create_dir_all(work.path().join(".git")).expect("a .git");
            std::fs::write(work.path().join(".git/config"), "[core]").expect("written");
        }
        let refused = llm_key_from_file(&work, &server, path);
        assert_eq!(refused.code, 1, "{path}: {}", refused.all());
        assert_contains(&refused.stderr, why);
    }
    let fifo = work.manifests().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let refused = llm_key_from_file(&work, &server, "pipe");
    assert_contains(&refused.stderr, "is not a regular file");
    std::fs::write(work.manifests().join("big"), vec![b'a'; 2 << 20]).expect("written");
    let refused = llm_key_from_file(&work, &server, "big");
    assert_contains(&refused.stderr, "larger than 1 MiB");
    assert_eq!(server.orqis_requests(), 0, "nothing was sent");
}

#[test]
fn the_operator_allows_a_folder_outside_the_project_with_a_flag_and_the_digest_key_stays_unreadable() {
    let (server, work) = common::server_and_workspace(&[]);
    let outside = tempfile::tempdir().expect("a folder outside");
    std::fs::write(outside.path().join("token"), "AIza-from-outside\n").expect("written");
    let path = outside.path().join("token").display().to_string();
    let refused = llm_key_from_file(&work, &server, &path);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "unless the operator allows the folder with --allow-path");
    let allowed = work.run(&["plan", "-f", "manifests", "--allow-path", &outside.path().display().to_string()]);
    assert_eq!(allowed.code, 0, "{}", allowed.all());
    assert_contains(&allowed.stdout, "+ LlmKey/google");
    // The digest key, made by a first apply, is never a source, even in a
    // folder the manifests may read.
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "GOOGLE_KEY"));
    let applied: common::Run = work
        .command(&["apply", "-f", "manifests", "--auto-approve"])
        .env("GOOGLE_KEY", "AIza")
        .output()
        .expect("runs")
        .into();
    assert_eq!(applied.code, 0, "{}", applied.all());
    let key = work.config_home().join("seqops/digest-key").display().to_string();
    work.write("llm.yaml", &LLM_KEY.replace("{fromEnv: VARIABLE}", &format!("{{fromFile: \"{key}\"}}")));
    let refused = work.run(&["plan", "-f", "manifests", "--allow-path", &work.config_home().display().to_string()]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "is seqops's digest key");
}

#[test]
fn a_value_shown_once_is_written_only_inside_the_project_and_that_is_checked_before_the_create() {
    let (server, work) = common::server_and_workspace(&[]);
    work.provider(&server);
    let provider = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: oa\nspec:\n  type: orchagent\n  baseUrl: {}/orchagent\n  credentials:\n    env: ORCHAGENT_KEY\n",
        server.origin
    );
    let hook = "---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Workspace\nmetadata:\n  name: team\nspec:\n  name: Team\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Agent\nmetadata:\n  name: writer\nspec:\n  name: writer\n  version: v1\n  type: agent\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Schedule\nmetadata:\n  name: hook\nspec:\n  workspaceRef: {name: team}\n  agentRef: {name: writer}\n  type: webhook\n  writeSecretTo: {file: ../../hook-url}\n";
    for (file, why) in [("../../hook-url", "outside the project"), (".", "names no file"), ("out/..", "names no file")]
    {
        work.write("oa.yaml", &format!("{provider}{}", hook.replace("../../hook-url", file)));
        let refused: common::Run = work
            .command(&["apply", "-f", "manifests", "--auto-approve"])
            .env("ORCHAGENT_KEY", common::KEY)
            .output()
            .expect("runs")
            .into();
        assert_eq!(refused.code, 1, "{file}: {}", refused.all());
        assert_contains(&refused.stderr, "spec.writeSecretTo.file");
        assert_contains(&refused.stderr, why);
        assert!(!refused.stdout.contains("Schedule/hook: created"), "{}", refused.stdout);
    }
}

#[test]
fn an_api_that_echoes_the_request_in_its_error_never_shows_the_key_or_a_secret() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    let echo = |headers: HeaderMap, body: String| async move {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let detail = format!("bad request; you sent Authorization: {authorization} and {body}");
        (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "detail": detail })))
    };
    let status = || async { axum::Json(serde_json::json!({"has_key": false, "provider": "google"})) };
    let gateway = common::InProcess::serve(axum::Router::new().route("/users/me/llm-key", get(status).put(echo)));
    let work = Workspace::new();
    work.write(
        "provider.yaml",
        &format!(
            "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orqis\nspec:\n  type: orqis\n  baseUrl: {}\n  credentials:\n    env: ORQIS_TOKEN\n",
            gateway.origin
        ),
    );
    work.write("llm.yaml", &LLM_KEY.replace("VARIABLE", "CANARY_KEY"));
    let canary = "canary-7f3a9c-do-not-leak";
    let failed: common::Run = work
        .command(&["apply", "-f", "manifests", "--auto-approve"])
        .env("CANARY_KEY", canary)
        .env("SEQOPS_LOG", "trace")
        .output()
        .expect("runs")
        .into();
    assert_eq!(failed.code, 1, "{}", failed.all());
    assert_contains(&failed.all(), "you sent Authorization: Bearer (sensitive)");
    assert_contains(&failed.all(), r#""api_key":"(sensitive)""#);
    assert!(!failed.all().contains(canary), "{}", failed.all());
    assert!(!failed.all().contains(common::ORQIS_TOKEN), "{}", failed.all());
}

#[test]
fn a_literal_url_with_credentials_or_a_query_is_refused_at_its_line() {
    let (server, work) = common::server_and_workspace(&[]);
    let schedule = format!(
        "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: oa\nspec:\n  type: orchagent\n  baseUrl: {}/orchagent\n  credentials:\n    env: ORCHAGENT_KEY\n---\napiVersion: orchagent.seqops.dev/v1alpha1\nkind: Schedule\nmetadata:\n  name: daily\nspec:\n  workspaceRef: {{name: team}}\n  agentRef: {{name: writer}}\n  type: cron\n  cronExpression: \"0 9 * * 1-5\"\n  alertWebhookUrl: https://hooks.example.com/alerts?token=s3cr3t-in-query\n",
        server.origin
    );
    work.write("oa.yaml", &schedule);
    let refused = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "oa.yaml:20:");
    assert_contains(&refused.stderr, "spec.alertWebhookUrl: a value is never written in a manifest");
    assert!(!refused.all().contains("s3cr3t-in-query"), "{}", refused.all());
    let provider = schedule.replace("  alertWebhookUrl: https://hooks.example.com/alerts?token=s3cr3t-in-query\n", "");
    let provider = provider.replace(&format!("{}/orchagent", server.origin), "https://proxy:s3cr3t-pass@127.0.0.1/x");
    work.write("oa.yaml", &provider);
    let refused = work.run(&["validate", "-f", "manifests"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_contains(&refused.stderr, "spec.baseUrl: this URL carries credentials");
    assert!(!refused.all().contains("s3cr3t-pass"), "{}", refused.all());
}
