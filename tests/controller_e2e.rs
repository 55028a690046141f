//! The controller end to end: `seqops controller` as a process, talking to
//! a Kubernetes API over HTTP and to the sandbox emulators, driven the way a
//! user drives it (Secrets and seqops objects created, edited and deleted
//! through the API) and checked on both sides.
//!
//! Every scenario runs twice: against the in-memory API server of
//! tests/common/fake_cluster.rs (always), and against the real cluster that
//! `KUBECONFIG` names (`#[ignore]`d; run them with
//! `KUBECONFIG=~/.kube/config cargo test --test controller_e2e -- --ignored --test-threads=1`).
//! Against a real cluster each scenario installs crds/, works in a
//! namespace of its own and deletes it at the end.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake_cluster::FakeCluster;
use common::{Server, KEY};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::ApiResource;
use seqops::controller::reconcile;
use serde_json::{json, Value};

/// The kinds the scenarios make.
const KINDS: [&str; 6] = ["Sequence", "LlmKey", "ApiKey", "Agent", "Enrollment", "SequenceRun"];

/// The finalizer the controller keeps on a Provider's credential Secret.
const CREDENTIALS_IN_USE: &str = seqops::controller::provider_guard::CREDENTIALS_IN_USE;

/// How long the controller may take to do what a step expects.
const PATIENCE: Duration = Duration::from_secs(45);

/// A cluster, the sandbox, and the controllers running against them.
struct Env {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    namespace: String,
    kubeconfig: PathBuf,
    real: bool,
    sandbox: Server,
    work: common::Workspace,
    controllers: Vec<ControllerProcess>,
    finished: bool,
    _fake: Option<FakeCluster>,
}

struct ControllerProcess {
    child: Child,
    metrics: String,
    log: PathBuf,
}

impl ControllerProcess {
    fn child_exited(&self) -> bool {
        // `try_wait` needs `&mut`; the process's own /proc entry says.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        stat.is_empty() || stat.split(' ').nth(2) == Some("Z")
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

fn resource(kind: &str) -> ApiResource {
    let kinds = seqops::providers::kinds();
    let spec = kinds.iter().find(|k| k.kind == kind).expect("a seqops kind");
    seqops::controller::cluster::api_resource(spec)
}

impl Env {
    /// The in-memory API server.
    fn fake() -> Env {
        let work = common::Workspace::new();
        let fake = FakeCluster::start();
        let kubeconfig = fake.kubeconfig(work.path(), "e2e");
        let runtime = runtime();
        let client = runtime.block_on(async {
            let config = Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig");
            let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
                .await
                .expect("a client config");
            kube::Client::try_from(config).expect("a client")
        });
        Env::with(runtime, client, "e2e".into(), kubeconfig, false, work, Some(fake))
    }

    /// The cluster `KUBECONFIG` names, with crds/ installed and a fresh
    /// namespace.
    fn real() -> Env {
        let kubeconfig =
            PathBuf::from(std::env::var("KUBECONFIG").expect("KUBECONFIG names the cluster to test against"));
        let work = common::Workspace::new();
        let runtime = runtime();
        let namespace = format!("seqops-e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let client = runtime.block_on(async {
            let client = kube::Client::try_default().await.expect("a client for KUBECONFIG");
            common::real_cluster::install_crds(&client).await;
            let namespaces: Api<Namespace> = Api::all(client.clone());
            let object = serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("a namespace");
            namespaces.create(&PostParams::default(), &object).await.expect("the namespace is created");
            client
        });
        Env::with(runtime, client, namespace, kubeconfig, true, work, None)
    }

    fn with(
        runtime: tokio::runtime::Runtime,
        client: kube::Client,
        namespace: String,
        kubeconfig: PathBuf,
        real: bool,
        work: common::Workspace,
        fake: Option<FakeCluster>,
    ) -> Env {
        let sandbox = Server::start(&[]);
        let controllers = Vec::new();
        Env { runtime, client, namespace, kubeconfig, real, sandbox, work, controllers, finished: false, _fake: fake }
    }

    /// Starts `seqops controller` for this namespace; it waits for the
    /// Lease `lease` before it reconciles.
    fn start_controller(&mut self, lease: &str, drift_interval: Option<&str>) {
        let origin = self.sandbox.origin.clone();
        self.start_controller_with(lease, drift_interval, &origin, "info");
    }

    /// Starts `seqops controller` talking to the vendors at `origin`,
    /// logging at `log`.
    fn start_controller_with(&mut self, lease: &str, drift_interval: Option<&str>, origin: &str, log_level: &str) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let metrics = format!("127.0.0.1:{port}");
        let log = self.work.path().join(format!("controller-{}.log", self.controllers.len()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_seqops"));
        command
            .args(["controller", "--namespace", &self.namespace, "--sandbox-origin", origin])
            .args(["--metrics-addr", &metrics, "--lease-namespace", &self.namespace, "--lease-name", lease])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("SEQOPS_LOG", log_level)
            .env("POD_NAME", format!("controller-{}", self.controllers.len()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"));
        if let Some(interval) = drift_interval {
            command.args(["--drift-interval", interval]);
        }
        let child = command.spawn().expect("the controller starts");
        self.controllers.push(ControllerProcess { child, metrics, log });
    }

    /// Kills a controller as a crash would (its log stays for messages).
    fn kill_controller(&mut self, index: usize) {
        let _ = self.controllers[index].child.kill();
        let _ = self.controllers[index].child.wait();
    }

    fn block<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    fn api(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource(kind))
    }

    fn create(&self, kind: &str, name: &str, annotations: Value, spec: Value) {
        let resource = resource(kind);
        let object = json!({
            "apiVersion": resource.api_version, "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace, "annotations": annotations},
            "spec": spec,
        });
        let object: DynamicObject = serde_json::from_value(object).expect("an object");
        self.block(self.api(kind).create(&PostParams::default(), &object)).expect("the object is created");
    }

    fn patch_spec(&self, kind: &str, name: &str, spec: Value) {
        let patch = json!({"spec": spec});
        self.block(self.api(kind).patch(name, &PatchParams::default(), &Patch::Merge(&patch))).expect("patched");
    }

    fn annotate(&self, kind: &str, name: &str, annotations: Value) {
        let patch = json!({"metadata": {"annotations": annotations}});
        self.block(self.api(kind).patch(name, &PatchParams::default(), &Patch::Merge(&patch))).expect("annotated");
    }

    fn label(&self, kind: &str, name: &str, labels: Value) {
        let patch = json!({"metadata": {"labels": labels}});
        self.block(self.api(kind).patch(name, &PatchParams::default(), &Patch::Merge(&patch))).expect("labelled");
    }

    fn get(&self, kind: &str, name: &str) -> Option<DynamicObject> {
        self.block(self.api(kind).get_opt(name)).expect("the API answers")
    }

    fn delete(&self, kind: &str, name: &str) {
        self.block(self.api(kind).delete(name, &DeleteParams::default())).expect("the delete is accepted");
    }

    fn put_secret(&self, name: &str, key: &str, value: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        // `data`, not `stringData`: what server-side apply owns field by field.
        let secret = common::fake_cluster::secret(&self.namespace, name, key, value);
        let params = PatchParams::apply("seqops-e2e").force();
        self.block(secrets.patch(name, &params, &Patch::Apply(&secret))).expect("the Secret is written");
    }

    fn put_config_map(&self, name: &str, key: &str, value: &str) {
        let maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: value}});
        let params = PatchParams::apply("seqops-e2e").force();
        self.block(maps.patch(name, &params, &Patch::Apply(&map))).expect("the ConfigMap is written");
    }

    /// A key of a Secret, if it is there.
    fn secret_value(&self, name: &str, key: &str) -> Option<String> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = self.block(secrets.get_opt(name)).expect("the API answers")?;
        let bytes = secret.data?.remove(key)?;
        Some(String::from_utf8_lossy(&bytes.0).into_owned())
    }

    /// The Orsay Provider and its key.
    fn orsay_provider(&self) {
        self.put_secret("orsay-key", "apiKey", KEY);
        let spec = json!({"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}}});
        self.create("Provider", "orsay", json!({}), spec);
    }

    /// Waits until `check` holds, failing with `what` and the controllers'
    /// logs when it does not in time.
    fn wait_until(&self, what: &str, check: impl Fn(&Env) -> bool) {
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let logs: Vec<String> =
            self.controllers.iter().map(|c| std::fs::read_to_string(&c.log).unwrap_or_default()).collect();
        panic!("timed out waiting until {what}\ncontroller logs:\n{}", logs.join("\n---\n"));
    }

    fn status(&self, kind: &str, name: &str) -> Value {
        self.get(kind, name).map(|o| o.data["status"].clone()).unwrap_or(Value::Null)
    }

    fn condition(&self, kind: &str, name: &str, condition: &str) -> Value {
        let status = self.status(kind, name);
        status["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == condition))
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn ready_id(&self, kind: &str, name: &str) -> Option<String> {
        let ready = self.condition(kind, name, "Ready")["status"] == "True";
        ready.then(|| self.status(kind, name)["externalId"].as_str().map(String::from)).flatten()
    }

    /// The Orsay sequence with this id, as the vendor holds it.
    fn remote(&self, id: &str) -> Option<Value> {
        let (code, body) = self.sandbox.orsay("GET", &format!("/sequences/{id}"), None);
        (code == 200).then_some(body)
    }

    /// The reasons of the Events recorded about an object.
    fn event_reasons(&self, name: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = self.block(events.list(&ListParams::default())).expect("events are listed");
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .filter_map(|e| e.reason)
            .collect()
    }

    /// Everything the controller shows of the scenario's objects: their
    /// statuses, the namespace's Events, its metrics and its logs.
    fn everything_shown(&self) -> Vec<(String, String)> {
        let mut shown = Vec::new();
        for kind in KINDS {
            let list = self.block(self.api(kind).list(&ListParams::default())).expect("listed");
            for object in list.items {
                shown.push((format!("{kind} status"), object.data["status"].to_string()));
            }
        }
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let events = self.block(events.list(&ListParams::default())).expect("events are listed");
        shown.push(("Events".into(), serde_json::to_string(&events.items).unwrap_or_default()));
        for controller in &self.controllers {
            let (_, metrics) = self.sandbox.call_text(&format!("http://{}/metrics", controller.metrics));
            shown.push(("metrics".into(), metrics));
            shown.push(("log".into(), std::fs::read_to_string(&controller.log).unwrap_or_default()));
        }
        shown
    }

    fn assert_shown_nowhere(&self, secrets: &[&str]) {
        for (place, text) in self.everything_shown() {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                assert!(!text.contains(secret), "{secret:?} reached {place}:\n{text}");
            }
        }
    }

    fn event_notes(&self, name: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = self.block(events.list(&ListParams::default())).expect("events are listed");
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .filter_map(|e| e.note)
            .collect()
    }

    /// The reconciles a controller has counted.
    fn reconciles(&self, index: usize) -> u64 {
        let url = format!("http://{}/metrics", self.controllers[index].metrics);
        let (_, text) = self.sandbox.call_text(&url);
        text.lines()
            .filter(|l| l.starts_with("seqops_reconciles_total"))
            .filter_map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
            .sum()
    }

    /// A reconciler of `kind` in this process, as one kind's controller
    /// has it, sending every Provider to the sandbox: a scenario drives
    /// each reconcile itself with [`Env::reconcile`].
    fn reconciler(&self, kind: &str) -> Arc<reconcile::Context> {
        let shared = Arc::new(reconcile::Shared::new(self.client.clone(), Some(self.sandbox.origin.clone())));
        let kind = shared.kinds.iter().find(|k| k.kind == kind).copied().expect("a seqops kind");
        Arc::new(reconcile::Context::new(shared, kind))
    }

    /// One reconcile of the object as the API server holds it now.
    fn reconcile(&self, context: &Arc<reconcile::Context>, kind: &str, name: &str) -> Result<(), String> {
        let object = self.get(kind, name).expect("the object exists");
        self.block(reconcile::reconcile(Arc::new(object), context.clone())).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Deletes an object no controller process watches, finalizing it
    /// with `context`.
    fn delete_reconciled(&self, context: &Arc<reconcile::Context>, kind: &str, name: &str) {
        self.delete(kind, name);
        let _ = self.reconcile(context, kind, name);
        self.wait_until("the deleted object is gone", |env| env.get(kind, name).is_none());
    }

    /// Moves the sandbox's time forward, as a user does with the CLI.
    fn advance_sandbox_clock(&self, by: &str) {
        let addr = self.sandbox.origin.trim_start_matches("http://").to_string();
        let output = Command::new(env!("CARGO_BIN_EXE_seqops"))
            .args(["sandbox", "clock", "advance", by, "--addr", &addr])
            .output()
            .expect("seqops runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// Requests the sandbox's Gary has served.
    fn gary_requests(&self) -> u64 {
        let (_, counts) = self.sandbox.call("GET", &format!("{}/_sandbox/requests", self.sandbox.origin), None, "");
        counts["gary"].as_u64().unwrap_or_default()
    }

    /// Deletes what the scenario made while the controller still runs (so
    /// finalizers are honoured), then, on a real cluster, the namespace.
    fn finish(mut self) {
        self.finished = true;
        for kind in KINDS {
            for name in self.names(kind) {
                let _ = self.block(self.api(kind).delete(&name, &DeleteParams::default()));
            }
        }
        if self.real {
            self.wait_until("the scenario's objects are gone", |env| {
                KINDS.iter().all(|kind| env.names(kind).is_empty())
            });
            self.delete_namespace();
        }
    }

    /// The names of the scenario's objects of one kind.
    fn names(&self, kind: &str) -> Vec<String> {
        self.block(self.api(kind).list(&ListParams::default()))
            .map(|l| l.items.into_iter().filter_map(|o| o.metadata.name).collect())
            .unwrap_or_default()
    }

    fn delete_namespace(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = self.block(namespaces.delete(&self.namespace, &DeleteParams::default()));
    }
}

impl Drop for Env {
    /// A scenario that failed on a real cluster still leaves it clean: the
    /// finalizers are dropped (the controller may be gone) and the
    /// namespace deleted.
    fn drop(&mut self) {
        if !self.real || self.finished {
            return;
        }
        let patch = json!({"metadata": {"finalizers": null}});
        for kind in KINDS {
            for name in self.names(kind) {
                let _ = self.block(self.api(kind).patch(&name, &PatchParams::default(), &Patch::Merge(&patch)));
            }
        }
        self.delete_namespace();
    }
}

fn welcome_spec(name: &str) -> Value {
    json!({"name": name, "trigger": "WHATSAPP_MESSAGE"})
}

/// A GitOps pull request that removes a manifest: `plan --cluster` lists
/// its object as left in the cluster, and with `--prune` plans the delete
/// the controller will make once Flux prunes it, changing nothing.
fn a_pull_request_that_removes_a_manifest_plans_its_delete_with_prune(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    let flux =
        json!({"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"});
    for (name, display) in [("welcome", "Welcome DM"), ("old", "Old DM")] {
        env.create("Sequence", name, json!({}), welcome_spec(display));
        env.label("Sequence", name, flux.clone());
    }
    env.wait_until("both Sequences are Ready", |env| {
        env.ready_id("Sequence", "welcome").is_some() && env.ready_id("Sequence", "old").is_some()
    });
    let old = env.ready_id("Sequence", "old").unwrap_or_default();
    env.work.write("provider.yaml", "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  credentials:\n    secretRef: {name: orsay-key, key: apiKey}\n");
    env.work.write("welcome.yaml", &common::sequence("welcome", "name: Welcome DM\ntrigger: WHATSAPP_MESSAGE"));
    let plan = |extra: &[&str]| -> common::Run {
        let mut args = vec!["plan", "-f", "manifests", "--cluster", "--namespace", &env.namespace];
        args.extend_from_slice(&["--sandbox-origin", &env.sandbox.origin]);
        args.extend_from_slice(extra);
        let mut command = env.work.command(&args);
        command.env("KUBECONFIG", &env.kubeconfig).env_remove("ORSAY_API_KEY");
        command.output().expect("seqops runs").into()
    };

    let listed = plan(&[]);
    let pruned = plan(&["--prune"]);

    assert_eq!(listed.code, 0, "{}", listed.all());
    common::assert_contains(&listed.all(), "--prune plans that): Sequence/old");
    assert_eq!(pruned.code, 0, "{}", pruned.all());
    common::assert_contains(&pruned.stdout, format!("# Sequence/old (orsay, id {old}) will be deleted"));
    common::assert_contains(&pruned.stdout, "0 to create, 0 to update. 1 to delete, cannot be undone.");
    assert!(env.remote(&old).is_some(), "a plan deletes nothing");
    assert!(env.get("Sequence", "old").is_some());
    env.finish();
}

/// `seqops.dev/prevent-destroy` holds a deleted object and its remote
/// object, saying how to let it go, until the annotation is removed.
fn prevent_destroy_holds_a_delete_until_the_annotation_is_removed(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "guarded", json!({"seqops.dev/prevent-destroy": "true"}), welcome_spec("Guarded"));
    env.wait_until("the Sequence is Ready", |env| env.ready_id("Sequence", "guarded").is_some());
    let id = env.ready_id("Sequence", "guarded").unwrap_or_default();

    env.delete("Sequence", "guarded");
    env.wait_until("a DeleteBlocked event says why", |env| {
        env.event_reasons("guarded").contains(&"DeleteBlocked".into())
    });
    assert!(env.get("Sequence", "guarded").is_some(), "held by its finalizer");
    assert!(env.remote(&id).is_some(), "the remote sequence is kept");
    assert!(env.event_notes("guarded").iter().any(|n| n.contains("remove the annotation")), "says how to let it go");

    env.annotate("Sequence", "guarded", json!({"seqops.dev/prevent-destroy": null}));
    env.wait_until("the object goes once the annotation is removed", |env| env.get("Sequence", "guarded").is_none());
    assert!(env.remote(&id).is_none(), "the remote sequence was deleted");
    env.finish();
}

/// Create, edit, drift, delete: the life of one Sequence.
fn a_sequence_lives_through_the_controller(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", Some("2s"));
    let cause = json!({"kubernetes.io/change-cause": "launch the welcome flow (OPS-42)"});
    env.create("Sequence", "welcome", cause, welcome_spec("Welcome DM"));

    env.wait_until("the Sequence is Ready with an external id", |env| env.ready_id("Sequence", "welcome").is_some());
    let id = env.ready_id("Sequence", "welcome").unwrap_or_default();
    assert_eq!(env.remote(&id).map(|r| r["name"].clone()), Some(json!("Welcome DM")), "created remotely");
    assert_eq!(env.condition("Sequence", "welcome", "Synced")["status"], "True");
    let finalizers = env.get("Sequence", "welcome").map(|o| o.metadata.finalizers.unwrap_or_default());
    assert_eq!(finalizers, Some(vec!["seqops.dev/finalizer".to_string()]));
    env.wait_until("a Created event is recorded", |env| env.event_reasons("welcome").contains(&"Created".into()));
    assert!(
        env.event_notes("welcome").iter().any(|n| n.contains("launch the welcome flow (OPS-42)")),
        "why, in the Event"
    );

    env.patch_spec("Sequence", "welcome", json!({"name": "Welcome DM v2"}));
    env.wait_until("the spec edit reaches the vendor", |env| {
        env.remote(&id).is_some_and(|r| r["name"] == "Welcome DM v2")
    });
    env.wait_until("the status observes the new generation", |env| {
        let generation = env.get("Sequence", "welcome").and_then(|o| o.metadata.generation);
        env.status("Sequence", "welcome")["observedGeneration"].as_i64() == generation
    });
    assert_eq!(env.ready_id("Sequence", "welcome"), Some(id.clone()), "updated in place");

    env.sandbox.orsay("PUT", &format!("/sequences/{id}"), Some(json!({"name": "Edited by hand"})));
    env.wait_until("the drift is set back", |env| env.remote(&id).is_some_and(|r| r["name"] == "Welcome DM v2"));
    env.wait_until("a DriftCorrected event is recorded", |env| {
        env.event_reasons("welcome").contains(&"DriftCorrected".into())
    });

    env.delete("Sequence", "welcome");
    env.wait_until("the object is gone once its finalizer is removed", |env| env.get("Sequence", "welcome").is_none());
    assert!(env.remote(&id).is_none(), "the remote sequence was deleted");
    env.finish();
}

/// Orphan and ObserveOnly: what the controller must not change.
fn orphan_and_observe_only_leave_the_vendor_alone(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "kept", json!({"seqops.dev/deletion-policy": "orphan"}), welcome_spec("Kept"));
    let watched = json!({"name": "Watched", "trigger": "WHATSAPP_MESSAGE", "managementPolicy": "ObserveOnly"});
    env.create("Sequence", "watched", json!({}), watched);

    env.wait_until("the orphaned Sequence is Ready", |env| env.ready_id("Sequence", "kept").is_some());
    let id = env.ready_id("Sequence", "kept").unwrap_or_default();
    env.wait_until("the ObserveOnly Sequence reports it differs", |env| {
        env.condition("Sequence", "watched", "Synced")["reason"] == "Drifted"
    });
    assert_eq!(env.condition("Sequence", "watched", "Ready")["reason"], "ObserveOnly");
    assert!(env.sandbox.sequences_named("Watched").is_empty(), "ObserveOnly creates nothing");

    env.delete("Sequence", "kept");
    env.wait_until("the orphaned object is gone", |env| env.get("Sequence", "kept").is_none());
    assert!(env.remote(&id).is_some(), "the remote sequence is kept");
    env.finish();
}

/// An Orqis Provider, the controller, and an LlmKey whose value is `value`
/// in the Secret `llm`.
fn llm_key_from_a_secret(env: &mut Env, value: &str) {
    env.put_secret("orqis-token", "token", common::ORQIS_TOKEN);
    env.put_secret("llm", "google", value);
    let provider = json!({"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("Provider", "orqis", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    let spec = json!({"provider": "google", "value": {"secretKeyRef": {"name": "llm", "key": "google"}}});
    env.create("LlmKey", "google", json!({}), spec);
}

/// A Secret a `secretKeyRef` names: a new value reaches the vendor at once
/// (the drift interval here is the default five minutes).
fn a_changed_secret_is_written_again_at_once(mut env: Env) {
    llm_key_from_a_secret(&mut env, "AIza-first");

    env.wait_until("the key is Ready", |env| env.condition("LlmKey", "google", "Ready")["status"] == "True");
    assert_eq!(env.sandbox.orqis("GET", "/users/me/llm-key?provider=google", None).1["has_key"], true);
    let status = env.status("LlmKey", "google").to_string();
    assert!(!status.contains("AIza-first"), "the value stays out of status: {status}");
    let digest = env.status("LlmKey", "google")["lastApplied"]["value"]["$sensitive"].as_str().map(String::from);
    assert!(digest.as_deref().is_some_and(|d| d.starts_with("hmac-sha256:")), "a keyed digest: {status}");
    let key = env.secret_value("seqops-digest-key", "key").expect("the controller made its digest key Secret");
    assert!(key.len() >= 16 && !status.contains(&key));

    env.put_secret("llm", "google", "AIza-rotated");
    env.wait_until("the new value is written (an Updated event)", |env| {
        env.event_reasons("google").iter().any(|r| r == "Updated")
    });
    env.finish();
}

/// A status an older controller wrote holds a SHA-256 salted by the
/// object's uid: the next reconcile re-keys it from the value in hand,
/// without writing the secret again.
fn a_digest_an_older_controller_salted_is_rekeyed_without_a_write(mut env: Env) {
    use sha2::Digest;
    llm_key_from_a_secret(&mut env, "AIza-legacy");
    env.wait_until("the key is Ready", |env| env.condition("LlmKey", "google", "Ready")["status"] == "True");
    let object = env.get("LlmKey", "google").expect("the key");
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let legacy: String =
        sha2::Sha256::digest(format!("{uid}:AIza-legacy").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let mut status = object.data["status"].clone();
    status["lastApplied"]["value"] = json!({"$sensitive": legacy});
    let patch = json!({"status": status});
    env.block(env.api("LlmKey").patch_status("google", &PatchParams::default(), &Patch::Merge(&patch)))
        .expect("patched");
    let writes = env.event_reasons("google").len();

    let touch = json!({"metadata": {"annotations": {"example.com/touched": "1"}}});
    env.block(env.api("LlmKey").patch("google", &PatchParams::default(), &Patch::Merge(&touch))).expect("touched");

    env.wait_until("the digest is re-keyed", |env| {
        let digest = env.status("LlmKey", "google")["lastApplied"]["value"]["$sensitive"].clone();
        digest.as_str().is_some_and(|d| d.starts_with("hmac-sha256:"))
    });
    assert_eq!(env.event_reasons("google").len(), writes, "no Updated event: the secret was not written again");
    env.finish();
}

/// A burst of deletions (a namespace deleted, a GitOps prune) deletes at
/// most ten of an account's objects a minute; the rest wait, with an Event
/// saying why, until the Provider allows a mass delete.
fn a_burst_of_deletions_waits_for_the_provider_to_allow_a_mass_delete(mut env: Env) {
    env.put_secret("orsay-key", "apiKey", KEY);
    let provider = json!({"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}}, "rateLimit": {"requests": 0, "per": "1h"}});
    env.create("Provider", "orsay", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    let names: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    for name in &names {
        env.create("Sequence", name, json!({}), welcome_spec(&format!("Burst {name}")));
    }
    env.wait_until("all eleven are Ready", |env| names.iter().all(|n| env.ready_id("Sequence", n).is_some()));
    let ids: Vec<String> = names.iter().filter_map(|n| env.ready_id("Sequence", n)).collect();

    for name in &names {
        env.delete("Sequence", name);
    }

    env.wait_until("ten are deleted remotely and one is held", |env| {
        let gone = ids.iter().filter(|id| env.remote(id).is_none()).count();
        let held = names.iter().any(|n| env.event_reasons(n).iter().any(|r| r == "MassDeleteHeld"));
        gone == 10 && held
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ids.iter().filter(|id| env.remote(id).is_none()).count(), 10, "the eleventh stays");
    let allow = json!({"metadata": {"annotations": {"seqops.dev/allow-mass-delete": "true"}}});
    env.block(env.api("Provider").patch("orsay", &PatchParams::default(), &Patch::Merge(&allow))).expect("annotated");
    env.wait_until("the held one goes once the Provider allows it", |env| {
        ids.iter().all(|id| env.remote(id).is_none())
    });
    env.finish();
}

/// A Provider's status says whether its key can be read, whether its API
/// answers, and the budget left; a fixed Secret shows at once.
fn a_provider_reports_its_credentials_its_api_and_its_budget(mut env: Env) {
    let provider = json!({"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}}});
    env.create("Provider", "orsay", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    env.wait_until("the Provider says its key cannot be read", |env| {
        let ready = env.condition("Provider", "orsay", "Ready");
        ready["reason"] == "CredentialsUnreadable" && ready["message"].as_str().is_some_and(|m| m.contains("orsay-key"))
    });

    env.put_secret("orsay-key", "apiKey", KEY);
    env.wait_until("the fixed Secret is seen at once", |env| {
        env.condition("Provider", "orsay", "Ready")["status"] == "True"
    });
    assert_eq!(env.condition("Provider", "orsay", "Synced")["reason"], "NotContactedYet");
    assert!(!env.status("Provider", "orsay").to_string().contains(KEY), "the key stays out of status");

    env.create("Sequence", "welcome", json!({}), welcome_spec("Welcome DM"));
    env.wait_until("the Sequence is Ready", |env| env.ready_id("Sequence", "welcome").is_some());
    let touch = json!({"metadata": {"annotations": {"example.com/touched": "1"}}});
    env.block(env.api("Provider").patch("orsay", &PatchParams::default(), &Patch::Merge(&touch))).expect("touched");
    env.wait_until("the Provider says its API answers", |env| {
        env.condition("Provider", "orsay", "Synced")["status"] == "True"
    });
    let status = env.status("Provider", "orsay");
    assert!(status["atProvider"]["requestsMade"].as_u64().is_some_and(|n| n > 0), "{status}");
    assert!(status["atProvider"]["budgetLimit"].as_u64().is_some(), "the budget is shown: {status}");
    env.finish();
}

/// A key made before its agent waits for it, follows it as soon as the
/// agent has an id (not at its next retry), and its value, shown once by
/// the vendor, lands in a Secret the key owns.
fn a_key_follows_its_agent_at_once_and_its_value_lands_in_a_secret(mut env: Env) {
    env.put_secret("orqis-token", "token", common::ORQIS_TOKEN);
    let provider = json!({"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("Provider", "orqis", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    let key = json!({"name": "widget", "agentRef": {"name": "store"}, "writeSecretTo": {"secretRef": {"name": "widget-key", "key": "key"}}});
    env.create("ApiKey", "widget", json!({}), key);
    env.wait_until("the key waits for its agent", |env| {
        env.condition("ApiKey", "widget", "Synced")["reason"] == "ReferenceNotReady"
    });

    env.put_config_map("store-api", "openapi.yaml", "openapi: 3.0.0\ninfo: {title: Store, version: '1'}\npaths: {}\n");
    let agent = json!({"name": "Store Agent", "openapiSpec": {"configMapKeyRef": {"name": "store-api", "key": "openapi.yaml"}}});
    env.create("Agent", "store", json!({}), agent);
    env.wait_until("the agent is Ready", |env| env.condition("Agent", "store", "Ready")["status"] == "True");
    let agent_ready = Instant::now();
    env.wait_until("the key is Ready", |env| env.condition("ApiKey", "widget", "Ready")["status"] == "True");
    assert!(agent_ready.elapsed() < Duration::from_secs(10), "woken by its agent, not by its 15 s retry");

    let value = env.secret_value("widget-key", "key").unwrap_or_default();
    assert!(value.starts_with("oq_"), "the key's value is in its Secret: {value:?}");
    let status = env.status("ApiKey", "widget").to_string();
    assert!(!status.contains(&value), "and not in status: {status}");
    env.finish();
}

const HEADER_CANARY: &str = "Bearer canary-header-5c1a";
const LLM_CANARY: &str = "AIza-canary-llm-5c1b";

/// An Orqis agent with a header, its LLM key and a platform key, each
/// secret from a Secret.
fn secret_bearing_orqis_objects(env: &Env) {
    env.put_secret("orqis-token", "token", common::ORQIS_TOKEN);
    env.put_secret("store-token", "token", HEADER_CANARY);
    env.put_secret("llm", "google", LLM_CANARY);
    env.put_config_map("store-api", "openapi.yaml", "openapi: 3.0.0\ninfo: {title: Store, version: '1'}\npaths: {}\n");
    let provider = json!({"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("Provider", "orqis", json!({}), provider);
    let agent = json!({
        "name": "Store Agent",
        "openapiSpec": {"configMapKeyRef": {"name": "store-api", "key": "openapi.yaml"}},
        "headers": {"Authorization": {"secretKeyRef": {"name": "store-token", "key": "token"}}},
    });
    env.create("Agent", "store", json!({}), agent);
    let llm = json!({"provider": "google", "value": {"secretKeyRef": {"name": "llm", "key": "google"}}});
    env.create("LlmKey", "google", json!({}), llm);
    let key = json!({"name": "widget", "agentRef": {"name": "store"}, "writeSecretTo": {"secretRef": {"name": "widget-key", "key": "key"}}});
    env.create("ApiKey", "widget", json!({}), key);
}

/// At trace level, with every object made: no secret in a status, an
/// Event, the metrics or the log.
fn no_secret_reaches_a_status_an_event_the_metrics_or_the_log(mut env: Env) {
    secret_bearing_orqis_objects(&env);
    let origin = env.sandbox.origin.clone();
    env.start_controller_with("seqops-e2e", None, &origin, "trace");
    for (kind, name) in [("Agent", "store"), ("LlmKey", "google"), ("ApiKey", "widget")] {
        env.wait_until(&format!("{kind}/{name} is Ready"), |env| {
            env.condition(kind, name, "Ready")["status"] == "True"
        });
    }
    let shown_once = env.secret_value("widget-key", "key").unwrap_or_default();
    assert!(shown_once.starts_with("oq_"), "{shown_once:?}");
    env.assert_shown_nowhere(&[HEADER_CANARY, LLM_CANARY, common::ORQIS_TOKEN, &shown_once]);
    env.finish();
}

/// A vendor (or a gateway before it) that answers every write with an
/// error echoing the request: what reaches status and Events is scrubbed.
fn no_secret_reaches_a_status_or_an_event_when_the_vendor_echoes_it(mut env: Env) {
    let gateway = common::echoing_gateway(env.sandbox.origin.clone(), 400);
    secret_bearing_orqis_objects(&env);
    env.start_controller_with("seqops-e2e", None, &gateway.origin, "trace");
    env.wait_until("the LLM key's write failed", |env| {
        env.condition("LlmKey", "google", "Synced")["message"].as_str().is_some_and(|m| m.contains("rejected"))
    });
    let message = env.condition("LlmKey", "google", "Synced")["message"].to_string();
    assert!(message.contains("(sensitive)"), "what the vendor echoed is scrubbed: {message}");
    env.assert_shown_nowhere(&[HEADER_CANARY, LLM_CANARY, common::ORQIS_TOKEN]);
    env.finish();
}

/// A key whose value would land in a Secret the object does not own (here
/// the Provider's own credential) is not made, and the Secret is untouched.
fn a_value_shown_once_never_takes_over_a_secret_it_does_not_own(mut env: Env) {
    env.put_secret("orqis-token", "token", common::ORQIS_TOKEN);
    let provider = json!({"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("Provider", "orqis", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    env.put_config_map("store-api", "openapi.yaml", "openapi: 3.0.0\ninfo: {title: Store, version: '1'}\npaths: {}\n");
    let agent = json!({"name": "Store Agent", "openapiSpec": {"configMapKeyRef": {"name": "store-api", "key": "openapi.yaml"}}});
    env.create("Agent", "store", json!({}), agent);
    env.wait_until("the agent is Ready", |env| env.condition("Agent", "store", "Ready")["status"] == "True");
    let key = json!({"name": "widget", "agentRef": {"name": "store"}, "writeSecretTo": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("ApiKey", "widget", json!({}), key);
    env.wait_until("the key is refused", |env| {
        env.condition("ApiKey", "widget", "Synced")["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not this object's"))
    });
    assert_eq!(env.secret_value("orqis-token", "token").as_deref(), Some(common::ORQIS_TOKEN), "untouched");
    let (_, keys) = env.sandbox.orqis("GET", "/users/me/api-keys", None);
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "no key was made: {keys}");
    env.finish();
}

/// The Orsay Provider, the controller, and the Sequence `welcome` Ready:
/// its remote id.
fn a_ready_welcome_sequence(env: &mut Env) -> String {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "welcome", json!({}), welcome_spec("Welcome DM"));
    env.wait_until("the Sequence is Ready", |env| env.ready_id("Sequence", "welcome").is_some());
    env.ready_id("Sequence", "welcome").unwrap_or_default()
}

/// A Provider deleted with its objects (as deleting their namespace does)
/// stays until their remote objects are deleted with its credentials.
fn a_provider_outlives_the_objects_that_use_it(mut env: Env) {
    let id = a_ready_welcome_sequence(&mut env);
    env.wait_until("the Provider is guarded", |env| {
        env.get("Provider", "orsay")
            .and_then(|p| p.metadata.finalizers)
            .is_some_and(|f| f.contains(&"seqops.dev/provider-in-use".to_string()))
    });

    env.delete("Provider", "orsay");
    env.delete("Sequence", "welcome");
    env.wait_until("the Sequence is gone", |env| env.get("Sequence", "welcome").is_none());
    assert!(env.remote(&id).is_none(), "its remote object was deleted with the Provider's key");
    env.wait_until("then the Provider is gone", |env| env.get("Provider", "orsay").is_none());
    env.finish();
}

/// Deleting a namespace deletes the credential Secret with everything
/// else, maybe first: the controller keeps it, by a finalizer of its own,
/// until the Provider naming it is gone, so the objects' remote deletes
/// still have their key.
fn the_credential_secret_outlives_the_objects_that_need_it(mut env: Env) {
    let id = a_ready_welcome_sequence(&mut env);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.namespace);
    let held = |env: &Env| {
        let secret = env.block(secrets.get_opt("orsay-key")).expect("the API answers");
        secret.is_some_and(|s| s.metadata.finalizers.unwrap_or_default().contains(&CREDENTIALS_IN_USE.to_string()))
    };
    env.wait_until("the credential Secret is held", held);

    env.block(secrets.delete("orsay-key", &DeleteParams::default())).expect("the Secret's delete is accepted");
    env.delete("Sequence", "welcome");
    env.delete("Provider", "orsay");

    env.wait_until("the Sequence is gone", |env| env.get("Sequence", "welcome").is_none());
    assert!(env.remote(&id).is_none(), "its remote object was deleted with the key the Secret still held");
    env.wait_until("then the Provider is gone", |env| env.get("Provider", "orsay").is_none());
    env.wait_until("then the Secret is gone", |env| env.block(secrets.get_opt("orsay-key")).ok().flatten().is_none());
    env.finish();
}

/// Two controllers with one Lease: only the leader reconciles.
fn of_two_controllers_only_the_leader_reconciles(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "first", json!({}), welcome_spec("First"));
    env.wait_until("the leader reconciles", |env| env.ready_id("Sequence", "first").is_some());
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "second", json!({}), welcome_spec("Second"));
    env.wait_until("the second Sequence is Ready", |env| env.ready_id("Sequence", "second").is_some());
    env.patch_spec("Sequence", "first", json!({"name": "First v2"}));
    env.wait_until("the edit is applied", |env| env.sandbox.sequences_named("First v2").len() == 1);
    assert!(env.reconciles(0) >= 3, "the leader reconciled everything");
    assert_eq!(env.reconciles(1), 0, "the follower reconciled nothing");
    assert_eq!(env.sandbox.sequences_named("Second").len(), 1, "one create, not two");
    env.finish();
}

/// A leader that finds its Lease taken over stops at once, before the new
/// holder acts: it reconciles nothing more.
fn a_leader_whose_lease_is_taken_over_stops_leading(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    env.create("Sequence", "first", json!({}), welcome_spec("First"));
    env.wait_until("the leader reconciles", |env| env.ready_id("Sequence", "first").is_some());
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(env.client.clone(), &env.namespace);
    // A MicroTime, as the API server writes one.
    let micro =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    let now = time::OffsetDateTime::now_utc().format(&micro).unwrap_or_default();
    let taken = json!({"spec": {"holderIdentity": "another-replica", "renewTime": now, "leaseDurationSeconds": 15}});
    env.block(leases.patch("seqops-e2e", &PatchParams::default(), &Patch::Merge(&taken))).expect("the Lease is taken");

    env.wait_until("the old leader stops", |env| env.controllers[0].child_exited());
    env.create("Sequence", "second", json!({}), welcome_spec("Second"));
    std::thread::sleep(Duration::from_secs(3));
    assert!(env.ready_id("Sequence", "second").is_none(), "nobody who lost the Lease reconciles");
    assert!(env.sandbox.sequences_named("Second").is_empty());
    // A controller of its own Lease cleans up after the scenario.
    env.start_controller("seqops-e2e-next", None);
    env.finish();
}

/// A Gary enrollment: made once, and kept at Gary when its object is
/// deleted, since Gary cannot cancel one, even once its key is gone.
fn an_enrollment_is_made_once_and_kept_when_its_object_is_deleted(mut env: Env) {
    env.put_secret("gary-key", "apiKey", GARY_KEY);
    let provider = json!({"type": "gary", "credentials": {"secretRef": {"name": "gary-key", "key": "apiKey"}}});
    env.create("Provider", "gary", json!({}), provider);
    env.start_controller("seqops-e2e", None);
    let spec = json!({"sequence": {"lookup": "Post-call nurture"}, "contactId": "con_EXAMPLE_bbbb", "metadata": {"source": "e2e"}});
    env.create("Enrollment", "lead-b", json!({}), spec);
    env.wait_until("the Enrollment is Ready", |env| env.ready_id("Enrollment", "lead-b").is_some());
    let id = env.ready_id("Enrollment", "lead-b").unwrap_or_default();
    assert!(id.starts_with("seq_EXAMPLE_aaaa/enr_"), "{id}");
    let rows = || {
        let url = format!("{}/gary/api/public/v1/sequences/seq_EXAMPLE_aaaa/enrollments", env.sandbox.origin);
        let (_, body) = env.sandbox.call("GET", &url, None, GARY_KEY);
        body["data"].as_array().cloned().unwrap_or_default()
    };
    assert_eq!(rows().len(), 1, "one enrollment");
    // Nothing is deleted at Gary, so even a Provider whose key is gone
    // does not hold the object in deletion.
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.namespace);
    env.block(secrets.delete("gary-key", &DeleteParams::default())).expect("the key's Secret is deleted");
    env.delete("Enrollment", "lead-b");
    env.wait_until("the deleted Enrollment is gone", |env| env.get("Enrollment", "lead-b").is_none());
    assert_eq!(rows().len(), 1, "Gary keeps the enrollment");
    assert!(env.event_reasons("lead-b").contains(&"Orphaned".to_string()), "{:?}", env.event_reasons("lead-b"));
    env.finish();
}

/// A Topo run: adopted by id, its variables and a pause reach Topo once,
/// status shows what Topo says of it, and a run stopped in Topo's dashboard
/// is reported as final, not fought.
fn a_topo_run_is_paused_once_and_reported_when_it_ends_elsewhere(mut env: Env) {
    const TOPO_KEY: &str = "topo_e2e_workspace";
    env.put_secret("topo-key", "apiKey", TOPO_KEY);
    let provider = json!({"type": "topo", "credentials": {"secretRef": {"name": "topo-key", "key": "apiKey"}}});
    env.create("Provider", "topo", json!({}), provider);
    env.start_controller("seqops-e2e", Some("2s"));
    let spec = json!({
        "id": "seq_run_0001",
        "variables": {"owner": "sam"},
        "state": {"phase": "Paused", "pausedUntil": "2099-01-04T09:00:00Z"},
    });
    env.create("SequenceRun", "anna", json!({}), spec);
    env.wait_until("the SequenceRun is Ready", |env| env.ready_id("SequenceRun", "anna").is_some());
    let run_url = format!("{}/topo/v1/sequences/seq_run_0001", env.sandbox.origin);
    let (_, run) = env.sandbox.call("GET", &run_url, None, TOPO_KEY);
    assert_eq!(run["status"], "WAITING_FOR_LEAD");
    assert_eq!(run["variables"]["owner"], "sam");
    assert_eq!(env.status("SequenceRun", "anna")["lastApplied"]["pausedUntil"], "2099-01-04T09:00:00Z");
    let stop = json!({"reason": "LOSE", "scope": "CONTACT"});
    let (code, _) = env.sandbox.call("POST", &format!("{run_url}/stop"), Some(stop), TOPO_KEY);
    assert_eq!(code, 200, "a rep stops the run in Topo");
    env.wait_until("the run is reported as final", |env| {
        env.condition("SequenceRun", "anna", "Ready")["reason"] == "Terminal"
    });
    assert_eq!(env.status("SequenceRun", "anna")["atProvider"]["status"], "STOPPED_EARLY");
    let (_, run) = env.sandbox.call("GET", &run_url, None, TOPO_KEY);
    assert_eq!(run["status"], "STOPPED_EARLY", "not resumed or paused again");
    env.finish();
}

/// The controller against a vendor that loses the answer to every create
/// after making it, answers 502 after other changes, and refuses with 503:
/// every object ends Ready, and each is made exactly once remotely.
fn the_controller_converges_through_faults_making_each_object_once(mut env: Env) {
    let faulty = Server::start(&["--faults", "seed=3,orsay:POST=drop@100%,orsay:write=502@10%,orsay=503@5%"]);
    env.put_secret("orsay-key", "apiKey", KEY);
    let spec = json!({"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}}});
    env.create("Provider", "orsay", json!({}), spec);
    env.start_controller_with("seqops-e2e", None, &faulty.origin.clone(), "info");
    let names: Vec<String> = (0..5).map(|i| format!("faulty-{i}")).collect();
    for name in &names {
        env.create("Sequence", name, json!({}), welcome_spec(&format!("Through faults {name}")));
    }

    env.wait_until("every Sequence is Ready", |env| names.iter().all(|n| env.ready_id("Sequence", n).is_some()));

    let (_, listed) = faulty.orsay("GET", "/sequences", None);
    let listed: Vec<String> =
        listed.as_array().into_iter().flatten().filter_map(|s| s["name"].as_str().map(String::from)).collect();
    for name in &names {
        let made = listed.iter().filter(|l| **l == format!("Through faults {name}")).count();
        assert_eq!(made, 1, "{name} is made once: {listed:?}");
    }
    let (_, faults) = faulty.call("GET", &format!("{}/_sandbox/faults", faulty.origin), None, KEY);
    assert!(faults["orsay dropped"].as_u64().is_some_and(|n| n >= 5), "every create's answer was lost: {faults}");
    env.finish();
}

/// The Orqis agents a sandbox holds, by id.
fn agent_ids(server: &Server) -> Vec<String> {
    let (_, agents) = server.orqis("GET", "/v3/agents", None);
    agents.as_array().into_iter().flatten().filter_map(|a| a["id"].as_str().map(String::from)).collect()
}

/// A replace whose delete fails keeps its journal in status: the new
/// agent's id, and the old one as `deposedId`, as soon as each is known.
/// Retries then only delete the old agent and never make a third, and a
/// controller started afresh, once the vendor deletes again, finishes
/// from status.
fn a_replace_whose_delete_fails_resumes_from_status_and_makes_nothing_twice(mut env: Env) {
    let data = env.work.path().join("vendor.json");
    let data = data.to_str().expect("a path").to_string();
    let mut failing = Server::start(&["--faults", "orqis:DELETE=503@100%", "--data", &data]);
    env.put_secret("orqis-token", "token", common::ORQIS_TOKEN);
    let provider = json!({"type": "orqis", "credentials": {"secretRef": {"name": "orqis-token", "key": "token"}}});
    env.create("Provider", "orqis", json!({}), provider);
    env.start_controller_with("seqops-e2e", None, &failing.origin.clone(), "info");
    env.put_config_map("store-api", "openapi.yaml", "openapi: 3.0.0\ninfo: {title: Store, version: '1'}\npaths: {}\n");
    let agent = json!({"name": "Store Agent", "openapiSpec": {"configMapKeyRef": {"name": "store-api", "key": "openapi.yaml"}}});
    env.create("Agent", "store", json!({}), agent);
    env.wait_until("the agent is Ready", |env| env.ready_id("Agent", "store").is_some());
    let first = env.ready_id("Agent", "store").unwrap_or_default();

    // The document is immutable: the agent is replaced, new one first.
    env.put_config_map("store-api", "openapi.yaml", "openapi: 3.0.0\ninfo: {title: Store, version: '2'}\npaths: {}\n");
    env.wait_until("the new agent is in status and the old one deposed", |env| {
        let status = env.status("Agent", "store");
        status["deposedId"] == json!(first) && status["externalId"].as_str().is_some_and(|id| id != first)
    });
    let second = env.status("Agent", "store")["externalId"].as_str().unwrap_or_default().to_string();
    let reconciles = env.reconciles(0);
    env.wait_until("the failed delete is retried twice", |env| env.reconciles(0) >= reconciles + 2);
    assert_eq!(agent_ids(&failing).len(), 2, "retries delete the old agent and make no other");

    env.kill_controller(0);
    failing.kill();
    let working = Server::start(&["--data", &data]);
    env.start_controller_with("seqops-e2e-after", None, &working.origin.clone(), "info");
    env.wait_until("the old agent is deleted", |env| env.status("Agent", "store").get("deposedId").is_none());
    assert_eq!(agent_ids(&working), vec![second.clone()]);
    assert_eq!(env.ready_id("Agent", "store"), Some(second));
    env.finish();
}

/// Deleting an object whose create got no answer deletes what that create
/// made, found as the engine finds it (by what it sent, among objects
/// that were not there before), and never the same-named sequence that
/// was there first.
fn deleting_an_object_whose_create_got_no_answer_deletes_what_it_made_and_nothing_else(mut env: Env) {
    env.orsay_provider();
    env.start_controller("seqops-e2e", None);
    let create = |env: &Env| {
        let (_, made) = env.sandbox.orsay("POST", "/sequences", Some(welcome_spec("Lost answer")));
        made["id"].as_str().unwrap_or_default().to_string()
    };
    let there_before = create(&env);
    let made = create(&env);
    // As the object stands after a create whose answer was lost: paused,
    // so that only its deletion is reconciled, once the pause is lifted.
    let resource = resource("Sequence");
    let object = json!({
        "apiVersion": resource.api_version, "kind": "Sequence",
        "metadata": {"name": "lost", "namespace": env.namespace, "annotations": {"seqops.dev/paused": "true"}, "finalizers": [seqops::controller::reconcile::FINALIZER]},
        "spec": welcome_spec("Lost answer"),
    });
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    env.block(env.api("Sequence").create(&PostParams::default(), &object)).expect("created");
    let status = json!({"status": {"pendingSince": "2026-12-01T00:00:00Z", "lastApplied": welcome_spec("Lost answer"), "preexisting": [there_before]}});
    env.block(env.api("Sequence").patch_status("lost", &PatchParams::default(), &Patch::Merge(&status)))
        .expect("status");

    env.delete("Sequence", "lost");
    env.annotate("Sequence", "lost", json!({"seqops.dev/paused": null}));

    env.wait_until("the object is gone", |env| env.get("Sequence", "lost").is_none());
    assert!(env.remote(&made).is_none(), "what the lost create made is deleted");
    assert!(env.remote(&there_before).is_some(), "the sequence that was there before is kept");
    env.finish();
}

const GARY_KEY: &str = "gc_live_e2e_agency";
const NURTURE: &str = "seq_EXAMPLE_aaaa";

/// The Gary Provider, paced to `requests` an hour when given (so that the
/// drift checks' share of it can be used up), and its key.
fn gary_provider(env: &Env, requests: Option<u32>) {
    env.put_secret("gary-key", "apiKey", GARY_KEY);
    let mut provider = json!({"type": "gary", "credentials": {"secretRef": {"name": "gary-key", "key": "apiKey"}}});
    if let Some(requests) = requests {
        provider["rateLimit"] = json!({"requests": requests, "per": "1h"});
    }
    env.create("Provider", "gary", json!({}), provider);
}

/// An Enrollment of `contact` in the post-call nurture ladder.
fn nurture(env: &Env, name: &str, contact: &str, annotations: Value) {
    let spec =
        json!({"sequence": {"lookup": "Post-call nurture"}, "contactId": contact, "metadata": {"source": "e2e"}});
    env.create("Enrollment", name, annotations, spec);
}

/// The rows Gary holds for `contact` in the nurture ladder: (id, status).
fn gary_rows(env: &Env, contact: &str) -> Vec<(String, String)> {
    let url = format!("{}/gary/api/public/v1/sequences/{NURTURE}/enrollments", env.sandbox.origin);
    let (_, body) = env.sandbox.call("GET", &url, None, GARY_KEY);
    let rows = body["data"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .filter(|r| r["contact_id"] == contact)
        .map(|r| {
            (r["id"].as_str().unwrap_or_default().to_string(), r["status"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Reconciles until the object is Ready (its finalizer first), at most
/// five times.
fn reconcile_until_ready(env: &Env, context: &Arc<reconcile::Context>, kind: &str, name: &str) {
    for _ in 0..5 {
        let _ = env.reconcile(context, kind, name);
        if env.ready_id(kind, name).is_some() {
            return;
        }
    }
    panic!("{kind}/{name} is not Ready: {}", env.status(kind, name));
}

/// Without a re-enroll token an Enrollment is made once, and its ladder
/// running to the end (on the sandbox's clock) changes nothing however
/// often it is reconciled.
fn an_enrollment_without_a_token_is_made_once_however_often_it_is_reconciled(env: Env) {
    gary_provider(&env, None);
    nurture(&env, "lead", "con_EXAMPLE_bbbb", json!({}));
    let context = env.reconciler("Enrollment");
    reconcile_until_ready(&env, &context, "Enrollment", "lead");
    env.advance_sandbox_clock("3d");
    assert_eq!(gary_rows(&env, "con_EXAMPLE_bbbb")[0].1, "completed", "the ladder ran to its end");
    for _ in 0..10 {
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    assert_eq!(gary_rows(&env, "con_EXAMPLE_bbbb").len(), 1, "one row for the contact");
    assert_eq!(env.condition("Enrollment", "lead", "Ready")["reason"], "Terminal", "reported as final");
    env.delete_reconciled(&context, "Enrollment", "lead");
    env.finish();
}

/// A re-enroll token is used once: `t1` makes one row however often the
/// object is reconciled; `t2` makes exactly one more, in the reconcile
/// the edit triggers, even with the account's drift-check share used up;
/// the Event says it was a re-enrollment.
fn a_new_re_enroll_token_enrolls_the_contact_exactly_once_more(env: Env) {
    gary_provider(&env, Some(20));
    nurture(&env, "lead", "con_EXAMPLE_bbbb", json!({"gary.seqops.dev/re-enroll": "t1"}));
    let context = env.reconciler("Enrollment");
    reconcile_until_ready(&env, &context, "Enrollment", "lead");
    env.advance_sandbox_clock("3d");
    for _ in 0..10 {
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    assert_eq!(gary_rows(&env, "con_EXAMPLE_bbbb").len(), 1, "t1 made one row");
    // Drift checks until their share of the 20 an hour (16) is spent: one
    // more check then waits for its turn, outside the queue, untried.
    let remaining = || context.shared.account_health(&env.namespace, "gary").and_then(|h| h.remaining);
    for _ in 0..30 {
        if remaining().is_some_and(|left| left <= 4) {
            break;
        }
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    assert_eq!(remaining(), Some(4), "the checks' share of the budget is used up; the changes' fifth is left");
    let before = env.gary_requests();
    let _ = env.reconcile(&context, "Enrollment", "lead");
    assert_eq!((env.gary_requests(), remaining()), (before, Some(4)), "a check now waits, spending nothing");

    env.annotate("Enrollment", "lead", json!({"gary.seqops.dev/re-enroll": "t2"}));
    env.reconcile(&context, "Enrollment", "lead").expect("the re-enrollment is made");
    let rows = gary_rows(&env, "con_EXAMPLE_bbbb");
    assert_eq!(rows.len(), 2, "exactly one new row, in the reconcile the edit triggered: {rows:?}");
    assert_eq!(env.status("Enrollment", "lead")["renewToken"], "t2");
    assert!(env.event_reasons("lead").contains(&"ReEnrolled".to_string()), "{:?}", env.event_reasons("lead"));
    let notes = env.event_notes("lead");
    assert!(notes.iter().any(|n| n.contains("gary.seqops.dev/re-enroll") && n.contains("\"t2\"")), "{notes:?}");

    env.advance_sandbox_clock("3d");
    for _ in 0..10 {
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    let rows = gary_rows(&env, "con_EXAMPLE_bbbb");
    assert_eq!(rows.len(), 2, "two rows in all: {rows:?}");
    assert!(rows.iter().all(|(_, status)| status == "completed"), "{rows:?}");
    env.delete_reconciled(&context, "Enrollment", "lead");
    env.finish();
}

/// Removing the annotation enrolls no one and forgets nothing: the token
/// set back later is still the one used.
fn a_re_enroll_token_removed_and_set_back_enrolls_no_one(env: Env) {
    gary_provider(&env, None);
    nurture(&env, "lead", "con_EXAMPLE_bbbb", json!({"gary.seqops.dev/re-enroll": "t1"}));
    let context = env.reconciler("Enrollment");
    reconcile_until_ready(&env, &context, "Enrollment", "lead");
    env.advance_sandbox_clock("3d");
    env.annotate("Enrollment", "lead", json!({"gary.seqops.dev/re-enroll": null}));
    for _ in 0..10 {
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    assert_eq!(gary_rows(&env, "con_EXAMPLE_bbbb").len(), 1, "removing the token enrolls no one");
    assert_eq!(env.status("Enrollment", "lead")["renewToken"], "t1", "the record keeps the token used");
    env.annotate("Enrollment", "lead", json!({"gary.seqops.dev/re-enroll": "t1"}));
    for _ in 0..3 {
        let _ = env.reconcile(&context, "Enrollment", "lead");
    }
    assert_eq!(gary_rows(&env, "con_EXAMPLE_bbbb").len(), 1, "a token already used enrolls no one");
    env.delete_reconciled(&context, "Enrollment", "lead");
    env.finish();
}

/// A COMPANY stop of a Topo run waits for its confirmation, and the
/// condition says which annotation gives it; with it, the run is stopped.
fn a_company_stop_is_made_once_confirmed_by_its_annotation(env: Env) {
    const TOPO_KEY: &str = "topo_e2e_workspace";
    env.put_secret("topo-key", "apiKey", TOPO_KEY);
    let provider = json!({"type": "topo", "credentials": {"secretRef": {"name": "topo-key", "key": "apiKey"}}});
    env.create("Provider", "topo", json!({}), provider);
    let spec = json!({"id": "seq_run_0001", "state": {"phase": "Stopped", "reason": "LOSE", "scope": "COMPANY"}});
    env.create("SequenceRun", "anna", json!({}), spec);
    let context = env.reconciler("SequenceRun");
    for _ in 0..2 {
        let _ = env.reconcile(&context, "SequenceRun", "anna");
    }
    let synced = env.condition("SequenceRun", "anna", "Synced");
    assert_eq!(synced["status"], "False", "{synced}");
    let message = synced["message"].as_str().unwrap_or_default();
    assert!(message.contains("topo.seqops.dev/confirm-company-stop"), "{message}");
    let run_url = format!("{}/topo/v1/sequences/seq_run_0001", env.sandbox.origin);
    assert_ne!(env.sandbox.call("GET", &run_url, None, TOPO_KEY).1["status"], "STOPPED_EARLY");

    env.annotate("SequenceRun", "anna", json!({"topo.seqops.dev/confirm-company-stop": "true"}));
    env.reconcile(&context, "SequenceRun", "anna").expect("the stop is made");
    assert_eq!(env.sandbox.call("GET", &run_url, None, TOPO_KEY).1["status"], "STOPPED_EARLY");
    assert_eq!(env.condition("SequenceRun", "anna", "Synced")["status"], "True");
    env.delete_reconciled(&context, "SequenceRun", "anna");
    env.finish();
}

/// Each scenario against the in-memory API server, and against the real
/// cluster `KUBECONFIG` names when asked for with `--ignored`.
macro_rules! on_both_clusters {
    ($($scenario:ident),* $(,)?) => {
        mod fake_cluster {
            $(#[test]
            fn $scenario() {
                super::$scenario(super::Env::fake());
            })*
        }
        mod real_cluster {
            $(#[test]
            #[ignore = "needs a Kubernetes cluster: KUBECONFIG=... cargo test --test controller_e2e -- --ignored --test-threads=1"]
            fn $scenario() {
                super::$scenario(super::Env::real());
            })*
        }
    };
}

on_both_clusters!(
    an_enrollment_without_a_token_is_made_once_however_often_it_is_reconciled,
    a_new_re_enroll_token_enrolls_the_contact_exactly_once_more,
    a_re_enroll_token_removed_and_set_back_enrolls_no_one,
    a_company_stop_is_made_once_confirmed_by_its_annotation,
    a_sequence_lives_through_the_controller,
    a_replace_whose_delete_fails_resumes_from_status_and_makes_nothing_twice,
    the_controller_converges_through_faults_making_each_object_once,
    deleting_an_object_whose_create_got_no_answer_deletes_what_it_made_and_nothing_else,
    orphan_and_observe_only_leave_the_vendor_alone,
    a_changed_secret_is_written_again_at_once,
    a_key_follows_its_agent_at_once_and_its_value_lands_in_a_secret,
    a_provider_outlives_the_objects_that_use_it,
    the_credential_secret_outlives_the_objects_that_need_it,
    of_two_controllers_only_the_leader_reconciles,
    a_leader_whose_lease_is_taken_over_stops_leading,
    an_enrollment_is_made_once_and_kept_when_its_object_is_deleted,
    a_topo_run_is_paused_once_and_reported_when_it_ends_elsewhere,
    a_value_shown_once_never_takes_over_a_secret_it_does_not_own,
    no_secret_reaches_a_status_an_event_the_metrics_or_the_log,
    no_secret_reaches_a_status_or_an_event_when_the_vendor_echoes_it,
    a_digest_an_older_controller_salted_is_rekeyed_without_a_write,
    a_burst_of_deletions_waits_for_the_provider_to_allow_a_mass_delete,
    a_provider_reports_its_credentials_its_api_and_its_budget,
    a_pull_request_that_removes_a_manifest_plans_its_delete_with_prune,
    prevent_destroy_holds_a_delete_until_the_annotation_is_removed,
);
