//! Test helpers: a sandbox server in its own process, a work folder with
//! manifests, the seqops binary run in it, and direct calls to the
//! emulators' HTTP APIs (as another user of the account would make them).

#![allow(dead_code)]

pub mod fake_cluster;
pub mod paced;
pub mod python_tools;
pub mod real_cluster;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const KEY: &str = "sk_test_integration";
/// The Orqis account token tests use (a Pro account).
pub const ORQIS_TOKEN: &str = "orqis_test_token";

/// `seqops sandbox serve` on a free loopback port, killed when dropped.
pub struct Server {
    child: Child,
    /// Kept open so the server never writes to a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
    pub origin: String,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_seqops"))
            .args(["sandbox", "serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sandbox server starts");
        let stdout = child.stdout.take().expect("the server's stdout is piped");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("the server prints its address");
        let origin = line.trim().rsplit(' ').next().expect("an address").to_string();
        assert!(origin.starts_with("http://127.0.0.1:"), "unexpected first line: {line}");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        Server { child, _stdout: reader, origin, runtime }
    }

    pub fn orsay_url(&self) -> String {
        format!("{}/orsay/api/v1", self.origin)
    }

    /// Requests the Orsay emulator has served so far.
    pub fn orsay_requests(&self) -> u64 {
        let counts = self.call("GET", &format!("{}/_sandbox/requests", self.origin), None, KEY);
        counts.1["orsay"].as_u64().expect("a count for orsay")
    }

    /// Requests that may change something (all but GET) an emulator has
    /// served so far: the sandbox's write counter.
    pub fn writes(&self, emulator: &str) -> u64 {
        let counts = self.call("GET", &format!("{}/_sandbox/writes", self.origin), None, KEY);
        counts.1[emulator].as_u64().expect("a count")
    }

    /// Calls the Orqis API directly as the test account: (status, body).
    pub fn orqis(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, &format!("{}/orqis{path}", self.origin), body, ORQIS_TOKEN)
    }

    /// Requests the Orqis emulator has served so far.
    pub fn orqis_requests(&self) -> u64 {
        let counts = self.call("GET", &format!("{}/_sandbox/requests", self.origin), None, KEY);
        counts.1["orqis"].as_u64().expect("a count for orqis")
    }

    /// Calls the Orsay API directly with `key`: (status, body).
    pub fn orsay(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, &format!("{}{path}", self.orsay_url()), body, KEY)
    }

    pub fn call(&self, method: &str, url: &str, body: Option<Value>, key: &str) -> (u16, Value) {
        self.runtime.block_on(async {
            let client = reqwest::Client::new();
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
            let mut request = client.request(method, url).bearer_auth(key);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("the sandbox answers");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("a body");
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        })
    }

    /// A GET of any URL: status and the body as text.
    pub fn call_text(&self, url: &str) -> (u16, String) {
        self.runtime.block_on(async {
            match reqwest::Client::new().get(url).send().await {
                Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
                Err(_) => (0, String::new()),
            }
        })
    }

    /// A GET with the test key: status and Retry-After.
    pub fn raw_get(&self, url: &str) -> (u16, String) {
        self.runtime.block_on(async {
            let response = reqwest::Client::new().get(url).bearer_auth(KEY).send().await.expect("the sandbox answers");
            let retry_after =
                response.headers().get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            (response.status().as_u16(), retry_after)
        })
    }

    /// Creates `count` sequences directly through the API, as another tool
    /// would; returns their ids.
    pub fn seed(&self, count: usize, body: impl Fn(usize) -> Value) -> Vec<String> {
        self.runtime.block_on(async {
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for index in 0..count {
                let response = client
                    .post(format!("{}/sequences", self.orsay_url()))
                    .bearer_auth(KEY)
                    .json(&body(index))
                    .send()
                    .await
                    .expect("the sandbox answers");
                assert_eq!(response.status().as_u16(), 201);
                let created: Value = response.json().await.expect("json");
                ids.push(created["id"].as_str().expect("an id").to_string());
            }
            ids
        })
    }

    /// The sequences named `name`, in full.
    pub fn sequences_named(&self, name: &str) -> Vec<Value> {
        let (_, list) = self.orsay("GET", "/sequences", None);
        list.as_array()
            .expect("a list")
            .iter()
            .filter(|s| s["name"] == name)
            .map(|s| self.orsay("GET", &format!("/sequences/{}", s["id"].as_str().unwrap_or_default()), None).1)
            .collect()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A folder holding manifests and state, where seqops runs.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().expect("a temporary folder") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifests(&self) -> PathBuf {
        self.path().join("manifests")
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.manifests().join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("the folder is made");
        std::fs::write(path, text).expect("the manifest is written");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.manifests().join(name)).expect("the manifest is removed");
    }

    /// A Provider pointing at `server`.
    pub fn provider(&self, server: &Server) {
        self.write(
            "provider.yaml",
            &format!(
                "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: main\nspec:\n  type: orsay\n  baseUrl: {}\n  credentials:\n    env: ORSAY_API_KEY\n",
                server.orsay_url()
            ),
        );
    }

    /// An Orqis Provider pointing at `server`.
    pub fn orqis_provider(&self, server: &Server) {
        self.write(
            "orqis-provider.yaml",
            &format!(
                "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orqis\nspec:\n  type: orqis\n  baseUrl: {}/orqis\n  credentials:\n    env: ORQIS_TOKEN\n",
                server.origin
            ),
        );
    }

    /// A Provider pointing at `server` with seqops's own pacing off, for
    /// tests that make many requests.
    pub fn unpaced_provider(&self, server: &Server) {
        self.provider(server);
        let path = self.manifests().join("provider.yaml");
        let text = std::fs::read_to_string(&path).expect("the provider manifest");
        std::fs::write(path, text + "  rateLimit:\n    requestsPerHour: 0\n").expect("written");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seqops"));
        command
            .args(args)
            .current_dir(self.path())
            .env("ORSAY_API_KEY", KEY)
            .env("ORQIS_TOKEN", ORQIS_TOKEN)
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", self.config_home())
            .env_remove(DIGEST_KEY_ENV)
            .env_remove("SEQOPS_LOG");
        command
    }

    /// The user's config folder for this workspace's runs: where the
    /// digest key file is made.
    pub fn config_home(&self) -> PathBuf {
        self.path().join(".config")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).stdin(Stdio::null()).output().expect("seqops runs").into()
    }

    pub fn plan(&self) -> Run {
        self.run(&["plan", "-f", "manifests", "--detailed-exitcode"])
    }

    pub fn apply(&self) -> Run {
        let run = self.run(&["apply", "-f", "manifests", "--auto-approve"]);
        assert_eq!(run.code, 0, "apply failed:\n{}", run.all());
        run
    }

    /// `seqops ARGS` with `input` on its standard input.
    pub fn piped(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        child.stdin.take().expect("a stdin").write_all(input.as_bytes()).expect("written");
        child.wait_with_output().expect("seqops runs").into()
    }

    pub fn state(&self) -> Value {
        let bytes = std::fs::read(self.path().join(".seqops/state.json")).expect("state exists");
        serde_json::from_slice(&bytes).expect("state is JSON")
    }
}

/// A sandbox server and a work folder whose Provider points at it.
pub const DIGEST_KEY_ENV: &str = "SEQOPS_DIGEST_KEY";

pub fn server_and_workspace(extra: &[&str]) -> (Server, Workspace) {
    let server = Server::start(extra);
    let work = Workspace::new();
    work.provider(&server);
    (server, work)
}

/// Fails showing the whole text when `needle` is not in it.
#[track_caller]
pub fn assert_contains(text: &str, needle: impl AsRef<str>) {
    let needle = needle.as_ref();
    assert!(text.contains(needle), "expected to find {needle:?} in:\n{text}");
}

/// A Sequence manifest with the given spec lines (indented by two spaces).
pub fn sequence(name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// A router served by this test process on a loopback port, for emulators
/// a test wraps (to count requests or lose answers) or moves by hand.
pub struct InProcess {
    pub origin: String,
    pub runtime: tokio::runtime::Runtime,
}

impl InProcess {
    pub fn serve(router: axum::Router) -> InProcess {
        Self::serve_on("127.0.0.1:0", router)
    }

    /// On another loopback address (`127.0.0.2:0`): another host, as far
    /// as a URL can tell.
    pub fn serve_on(addr: &str, router: axum::Router) -> InProcess {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("an address"));
        runtime.spawn(async move { axum::serve(listener, router).await });
        InProcess { origin, runtime }
    }
}

/// A gateway before the vendors that passes reads on and answers every
/// write with `status`, echoing the request's headers and body.
pub fn echoing_gateway(upstream: String, status: u16) -> InProcess {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let client = reqwest::Client::new();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            if method != Method::GET {
                let echo = format!("rejected: you sent {headers:?} and {}", String::from_utf8_lossy(&body));
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                let body = serde_json::json!({"detail": echo, "message": echo, "error": {"message": echo}});
                return (code, axum::Json(body)).into_response();
            }
            let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            let mut request = client.get(url);
            if let Some(auth) = headers.get("authorization") {
                request = request.header("authorization", auth.as_bytes());
            }
            match request.send().await {
                Ok(answer) => {
                    let code = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                    let bytes = answer.bytes().await.unwrap_or_default();
                    (code, [("content-type", "application/json")], bytes).into_response()
                }
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    };
    use axum::response::IntoResponse;
    InProcess::serve(axum::Router::new().fallback(handler))
}

/// What a faulty gateway does with one request.
pub enum Fault {
    /// Passes it on and returns the answer.
    Pass,
    /// Answers with this status without passing it on.
    Refuse(u16),
    /// Passes it on (the upstream does the work), then answers with this
    /// status instead: an answer lost after the change was made.
    LoseAnswer(u16),
}

/// A gateway before `upstream` that asks `rule` what to do with each
/// request, by method and path. Refusals of 5xx come as a proxy's HTML
/// page, others as a JSON `detail`.
pub fn faulty_gateway(
    upstream: String,
    rule: impl Fn(&str, &str) -> Fault + Clone + Send + Sync + 'static,
) -> InProcess {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let failed = |status: u16| {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        if code.is_server_error() {
            (code, "<html><body>bad gateway</body></html>").into_response()
        } else {
            (code, axum::Json(serde_json::json!({"detail": "refused by the gateway"}))).into_response()
        }
    };
    let client = reqwest::Client::new();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, rule) = (client.clone(), upstream.clone(), rule.clone());
        async move {
            let fault = rule(method.as_str(), uri.path());
            if let Fault::Refuse(status) = fault {
                return failed(status);
            }
            let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            let mut request = client.request(method, url).body(body.to_vec());
            for name in ["authorization", "content-type"] {
                if let Some(value) = headers.get(name) {
                    request = request.header(name, value.as_bytes());
                }
            }
            let Ok(answer) = request.send().await else { return StatusCode::BAD_GATEWAY.into_response() };
            let code = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = answer.bytes().await.unwrap_or_default();
            match fault {
                Fault::LoseAnswer(status) => failed(status),
                _ => (code, [("content-type", "application/json")], bytes).into_response(),
            }
        }
    };
    InProcess::serve(axum::Router::new().fallback(handler))
}

/// Copies every example into the workspace's manifests.
pub fn copy_examples(work: &Workspace) {
    copy_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &work.manifests());
}

/// Copies a folder and everything in it.
pub fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}

/// `seqops ARGS` in `dir` as a newcomer's shell runs it: an environment of
/// its own (no keys, no digest key, no CI, no log level), the user's config
/// folder inside `dir`.
pub fn newcomer(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seqops"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}
