//! The one reconciler every kind goes through: finalizer, pause, Provider
//! and credentials from the cluster, plan and apply through the engine, and
//! status written with server-side apply.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::Resource;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::cluster::{self, ClusterError, World};
use super::conditions::Verdict;
use super::digest_key::DigestKeyError;
pub use super::error::{backoff, ReconcileError};
use super::finalizers;
use super::journal::{self, StatusJournal, Written};
use crate::engine::apply::StateWriter;
use crate::engine::history::Provenance;
use crate::engine::lost::{LostCreate, Made};
use crate::engine::state::StateStore;
use crate::engine::{self, ApplyOptions, Connections, PlanOptions, Refresh};
use crate::external::digest::{DigestKey, Digests};
use crate::manifest::common::Common;
use crate::manifest::crd::{DriftEntry, ResourceStatus};
use crate::manifest::kind::{KindId, KindSpec};
use crate::manifest::provider::SecretKeyRef;
use crate::manifest::{annotations, policy};
use crate::providers::account::Secret;
use crate::providers::ratelimit::{Priority, RateLimiter};
use crate::providers::{self, Account};

/// The longest Retry-After a reconcile waits out in place: a vendor that
/// asks for more ends the reconcile as [`ReconcileError::Throttled`], and
/// the object comes back when it asked, without holding a worker.
const LONGEST_WAIT_IN_PLACE: Duration = Duration::from_secs(10);

/// The finalizer that keeps an object until its remote object is deleted.
pub const FINALIZER: &str = "seqops.dev/finalizer";
/// The field manager of every status and Secret the controller writes.
pub const MANAGER: &str = "seqops";

/// An object by its kind and its name.
pub type ObjectOfKind = (KindId, String);

/// Where to ask each kind's controller to reconcile an object at once.
pub type Triggers = HashMap<KindId, (mpsc::UnboundedSender<ObjectRef<DynamicObject>>, ApiResource)>;

/// What every kind's controller shares: the client, one account (and so
/// one request budget) per Provider and credential, and failure counts.
pub struct Shared {
    pub client: Client,
    pub kinds: Vec<KindSpec>,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    /// One rate limiter per vendor key (and base URL and pacing).
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
    /// Objects seen per account, to spread drift checks over the budget.
    objects: Mutex<HashMap<String, HashSet<String>>>,
    failures: Mutex<HashMap<String, u32>>,
    /// Which objects read what, by namespace and `Kind/name`: Secrets and
    /// ConfigMaps (credentials and cluster sources), their Provider and the
    /// objects they refer to, so that a change to one reconciles them.
    readers: Mutex<HashMap<(String, String), BTreeSet<ObjectOfKind>>>,
    triggers: OnceLock<Triggers>,
    /// Replaces every Provider's base URL (tests and the sandbox).
    base_url_override: Option<String>,
    pub metrics: Arc<super::metrics::Metrics>,
    /// Replaces the drift interval computed from the budget.
    pub drift_interval: Option<Duration>,
    /// Hosts beside the vendors' that keys may go to (the operator's).
    pub allowed_hosts: Vec<String>,
    /// How much an object's manifest may hold and nest.
    pub limits: crate::manifest::limits::Limits,
    /// Kubernetes Events about the objects (repeats become a series).
    recorder: Recorder,
    /// When each account's objects were last deleted remotely: a burst
    /// (a namespace deleted, a GitOps prune) waits for the Provider's
    /// `seqops.dev/allow-mass-delete`.
    deletions: Mutex<HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    /// Where the digest key's Secret is: the controller's namespace.
    pub key_namespace: String,
    digest_key: tokio::sync::OnceCell<Arc<DigestKey>>,
}

impl Shared {
    pub fn new(client: Client, base_url_override: Option<String>) -> Self {
        Self {
            client: client.clone(),
            kinds: providers::kinds(),
            accounts: Mutex::default(),
            limiters: Mutex::default(),
            objects: Mutex::default(),
            failures: Mutex::default(),
            readers: Mutex::default(),
            triggers: OnceLock::new(),
            base_url_override,
            metrics: Arc::default(),
            drift_interval: None,
            allowed_hosts: Vec::new(),
            limits: crate::manifest::limits::Limits::default(),
            deletions: Mutex::default(),
            key_namespace: "default".into(),
            digest_key: tokio::sync::OnceCell::new(),
            recorder: Recorder::new(
                client.clone(),
                Reporter { controller: "seqops-controller".into(), instance: std::env::var("POD_NAME").ok() },
            ),
        }
    }

    /// Records what an object read in its last reconcile (`Kind/name`), in
    /// place of what it read before.
    pub fn note_reads(&self, kind: KindId, namespace: &str, object: &str, reads: &BTreeSet<String>) {
        let user = (kind, object.to_string());
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.retain(|(ns, read), objects| {
            if ns == namespace && !reads.contains(read) {
                objects.remove(&user);
            }
            !objects.is_empty()
        });
        for read in reads {
            readers.entry((namespace.to_string(), read.clone())).or_default().insert(user.clone());
        }
    }

    /// Gives the controllers' triggers, once they run.
    pub fn set_triggers(&self, triggers: Triggers) {
        let _ = self.triggers.set(triggers);
    }

    /// Reconciles at once the objects that read `read` (`Secret/name`,
    /// `ConfigMap/name`, or a seqops object's key such as `Provider/orsay`).
    pub fn wake(&self, namespace: &str, read: &str) {
        let Some(triggers) = self.triggers.get() else { return };
        for (kind, name) in self.readers(namespace, read) {
            if let Some((sender, resource)) = triggers.get(&kind) {
                let _ = sender.send(ObjectRef::new_with(&name, resource.clone()).within(namespace));
            }
        }
    }

    /// Whether one more remote delete in `account` may go now: at most
    /// [`MASS_DELETE_LIMIT`] a minute, unless the Provider allows more.
    fn admit_delete(&self, account: &str, allowed: bool) -> bool {
        let now = std::time::Instant::now();
        let mut deletions = self.deletions.lock().unwrap_or_else(|e| e.into_inner());
        let recent = deletions.entry(account.to_string()).or_default();
        while recent.front().is_some_and(|t| now.duration_since(*t) > MASS_DELETE_WINDOW) {
            recent.pop_front();
        }
        if !allowed && recent.len() >= MASS_DELETE_LIMIT {
            return false;
        }
        recent.push_back(now);
        true
    }

    /// The base URL every Provider is sent to instead of its own (tests
    /// and the sandbox).
    pub fn base_url_override(&self) -> Option<&str> {
        self.base_url_override.as_deref()
    }

    /// What the accounts of Provider `namespace/name` have seen of its
    /// API since the controller started: requests made, answers by status
    /// code, a refusal, the budget left and the limit.
    pub fn account_health(&self, namespace: &str, name: &str) -> Option<AccountHealth> {
        let prefix = format!("{namespace}/{name}/");
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let account = accounts.iter().find(|(id, _)| id.starts_with(&prefix)).map(|(_, a)| a.clone())?;
        Some(AccountHealth {
            made: account.usage.made(),
            answers: account.usage.answers(),
            refusal: account.usage.refusal(),
            remaining: account.limiter.remaining(),
            limit: account.limiter.limit(),
        })
    }

    /// How secrets are digested: under the key of the controller's
    /// Secret, read (or made) once.
    pub async fn digests(&self) -> Result<Digests, DigestKeyError> {
        let key = self
            .digest_key
            .get_or_try_init(|| super::digest_key::load_or_create(&self.client, &self.key_namespace))
            .await?;
        Ok(Digests::keyed(Some(key.clone())))
    }

    /// Drops what is kept about an object once it is gone.
    fn forget(&self, kind: KindId, object: &DynamicObject) {
        let uid = object.uid().unwrap_or_default();
        let namespace = object.namespace().unwrap_or_default();
        self.note_reads(kind, &namespace, &object.name_any(), &BTreeSet::new());
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&uid);
        for seen in self.objects.lock().unwrap_or_else(|e| e.into_inner()).values_mut() {
            seen.remove(&uid);
        }
    }

    /// The objects (kind, name) that read `read` (`Kind/name`).
    pub fn readers(&self, namespace: &str, read: &str) -> Vec<ObjectOfKind> {
        let readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.get(&(namespace.to_string(), read.to_string())).map(|u| u.iter().cloned().collect()).unwrap_or_default()
    }
}

/// What a Provider's accounts have seen of its API.
pub struct AccountHealth {
    pub made: u64,
    pub answers: BTreeMap<String, u64>,
    pub refusal: Option<String>,
    pub remaining: Option<u32>,
    pub limit: Option<u32>,
}

/// One kind's controller.
pub struct Context {
    pub shared: Arc<Shared>,
    pub kind: KindSpec,
    pub resource: ApiResource,
}

impl Context {
    pub fn new(shared: Arc<Shared>, kind: KindSpec) -> Self {
        let resource = cluster::api_resource(&kind);
        Self { shared, kind, resource }
    }

    fn kind(&self) -> &KindSpec {
        &self.kind
    }

    /// The account of the object's Provider, shared by every reconcile
    /// that uses it, so its rate limiter sees all their requests, and the
    /// Secret values the object's sources name. Notes which Secrets the
    /// object reads.
    async fn connect(
        &self,
        world: &World,
        object: &DynamicObject,
        namespace: &str,
    ) -> Result<(Connections, Arc<RateLimiter>, usize), ClusterError> {
        let uid = object.uid().unwrap_or_default();
        let resource =
            world.manifests.get(&world.key).ok_or_else(|| ClusterError::Invalid("the object did not load".into()))?;
        let provider_name = resource.provider.clone().unwrap_or_default();
        let provider = world
            .manifests
            .providers()
            .find(|p| p.metadata.name == provider_name)
            .ok_or_else(|| ClusterError::Invalid(format!("no Provider `{provider_name}` in {namespace}")))?;
        let mut reads = world.reads.clone();
        let credential =
            provider.spec.typed::<crate::manifest::ProviderSpec>().ok().and_then(|s| s.credentials.secret_ref.as_ref());
        reads.extend(credential.map(|secret| format!("Secret/{}", secret.name)));
        reads.insert(provider.key.to_string());
        self.shared.note_reads(self.kind.key_kind, namespace, &object.name_any(), &reads);
        let settings = cluster::account_settings(
            &self.shared.client,
            namespace,
            provider,
            self.shared.base_url_override.as_deref(),
            &self.shared.allowed_hosts,
        )
        .await?;
        // The vendor's budget is per key, not per Provider object: Providers
        // in several namespaces with one key share one limiter, while each
        // keeps its own name and settings.
        let budget = format!("{}/{}/{:?}", settings.budget_id(), settings.base_url, settings.rate);
        let limiter = {
            let mut limiters = self.shared.limiters.lock().unwrap_or_else(|e| e.into_inner());
            limiters.entry(budget.clone()).or_insert_with(|| Arc::new(RateLimiter::new(settings.rate, None))).clone()
        };
        let label = format!("{namespace}/{provider_name}");
        let id = format!("{label}/{budget}");
        let account = {
            let mut accounts = self.shared.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts
                .entry(id)
                .or_insert_with(|| {
                    let dialect = providers::http::Dialect {
                        longest_wait: LONGEST_WAIT_IN_PLACE,
                        ..providers::dialect(settings.provider_type)
                    };
                    let notify = Arc::new(|m: String| tracing::info!("{m}"));
                    let account = Account::connect_sharing(settings.clone(), dialect, notify, limiter);
                    self.shared.metrics.watch_account(&label, account.clone());
                    account
                })
                .clone()
        };
        let objects = {
            let mut objects = self.shared.objects.lock().unwrap_or_else(|e| e.into_inner());
            let seen = objects.entry(budget).or_default();
            seen.insert(uid);
            seen.len()
        };
        let limiter = account.limiter.clone();
        Ok((
            Connections::new(providers::Accounts::new([account])).with_cluster_values(world.values.clone()),
            limiter,
            objects,
        ))
    }
}

fn annotation<'a>(object: &'a DynamicObject, name: &str) -> Option<&'a str> {
    object.annotations().get(name).map(String::as_str)
}

/// How often an account's objects are read for drift: half the hourly
/// budget spread over them, and never more often than every five minutes.
pub fn drift_interval(requests_per_hour: Option<u32>, objects: usize) -> Duration {
    let floor = Duration::from_secs(300);
    match requests_per_hour.filter(|l| *l > 0) {
        Some(limit) => floor.max(Duration::from_secs(objects as u64 * 3600 * 2 / u64::from(limit))),
        None => floor,
    }
}

pub async fn reconcile(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = object.namespace().unwrap_or_else(|| "default".into());
    let api: Api<DynamicObject> = Api::namespaced_with(context.shared.client.clone(), &namespace, &context.resource);
    if annotation(&object, annotations::PAUSED) == Some("true") {
        return Ok(Action::await_change());
    }
    if object.metadata.deletion_timestamp.is_some() {
        return finalize(&object, &context, &api, &namespace).await;
    }
    if !finalizers::has(object.as_ref(), FINALIZER) {
        finalizers::add(&api, object.as_ref(), FINALIZER).await?;
        // The change comes back as a watch event.
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let written = Written::default();
    // A reconcile of an object already in sync only checks for drift: it
    // leaves a share of the account's budget to the changes people make.
    let result = if only_checks(context.kind(), &object) {
        crate::providers::ratelimit::as_check(sync(&object, &context, &api, &namespace, &written)).await
    } else {
        sync(&object, &context, &api, &namespace, &written).await
    };
    let outcome = match &result {
        Ok(_) => "success",
        Err(error) if error.is_failure() => "error",
        Err(_) => "waiting",
    };
    context.shared.metrics.record(context.kind().kind, outcome);
    context.shared.metrics.record_duration(context.kind().kind, started.elapsed());
    let uid = object.uid().unwrap_or_default();
    match &result {
        Ok(_) => {
            context.shared.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&uid);
        }
        Err(error) => {
            context.shared.metrics.record_error(context.kind().kind, error.metric_label());
            let message = error.to_string();
            // From what the journal recorded: a failure after a remote
            // change keeps the record of it.
            write_status_from(&api, &object, &written, |status| {
                Verdict::failed(error).set(status, &object);
            })
            .await?;
            if error.is_failure() {
                record(&context, &object, true, error.reason(), message).await;
            }
        }
    }
    match result {
        // A wait (for a reference's id) is reported like a failure, but
        // comes back when it said, with no backoff.
        Err(error) if !error.is_failure() => Ok(Action::requeue(error.requeue(0))),
        other => other,
    }
}

/// Whether the object's spec and its provider's annotations are the ones
/// last synced, and synced well: its reconcile is a drift check, not a
/// change someone asked for. (An annotation such as a new re-enroll token
/// does not move `metadata.generation`.)
fn only_checks(kind: &KindSpec, object: &DynamicObject) -> bool {
    let status = cluster::sync_of(object);
    let synced = status.conditions.iter().any(|c| c.type_ == "Synced" && c.status == "True");
    status.observed_generation.is_some()
        && status.observed_generation == object.metadata.generation
        && synced
        && status.observed_annotations == provider_annotations(kind, object)
}

/// The object's annotations that its kind's provider reads.
fn provider_annotations(kind: &KindSpec, object: &DynamicObject) -> BTreeMap<String, String> {
    object
        .annotations()
        .iter()
        .filter(|(name, _)| kind.annotations.contains(&name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// Plans and applies the object, and reports what happened in its status.
// Split into observe, decide, apply and report by a later change.
#[allow(clippy::too_many_lines)]
async fn sync(
    object: &DynamicObject,
    context: &Context,
    api: &Api<DynamicObject>,
    namespace: &str,
    written: &Written,
) -> Result<Action, ReconcileError> {
    let kind = context.kind();
    let world = match cluster::load(&context.shared, object, kind).await {
        Ok(world) => world,
        Err(ClusterError::ReferenceNotReady(key)) => {
            // Woken as soon as what it waits for gets its id.
            let waits_for = BTreeSet::from([key.to_string()]);
            context.shared.note_reads(context.kind.key_kind, namespace, &object.name_any(), &waits_for);
            return Err(ReconcileError::ReferenceNotReady(key));
        }
        Err(error) => return Err(error.into()),
    };
    let (connections, limiter, objects) = context.connect(&world, object, namespace).await?;
    let checking = crate::providers::ratelimit::current_priority() == Priority::Check;
    // A check whose turn has not come waits outside the controller's
    // queue: an edit to this object is then not held behind it.
    if let Some(wait) = checking.then(|| limiter.reserve_check()).flatten() {
        return Ok(Action::requeue(wait.max(Duration::from_secs(1))));
    }
    let limit = limiter.limit();
    // Only an object with secrets needs the key (one read, once).
    let spec = cluster::spec_of(object);
    let digests = if crate::external::sources::Sources::of(&spec).any() {
        context.shared.digests().await.map_err(|e| ReconcileError::ApiServer(e.to_string()))?
    } else {
        Digests::default()
    };
    let options = PlanOptions {
        digests: digests.clone(),
        targets: vec![world.key.clone()],
        list_only_for_new: true,
        outputs_to_files: false,
        ..PlanOptions::new(Refresh::Full)
    };
    let plan = engine::plan(&world.manifests, &world.state, &connections, &options).await?;
    let change = plan.changes.iter().find(|c| c.key == world.key);
    // What the policies do not allow is reported like drift under
    // ObserveOnly, and not applied.
    let refused = change.and_then(|c| engine::plan::refused_by_policy(&spec, c));
    let observe_only = policy::observe_only(&spec) || refused.is_some();
    let interval = context.shared.drift_interval.unwrap_or_else(|| drift_interval(limit, objects));
    if observe_only {
        let drift: Vec<DriftEntry> = change.map(|c| c.fields.iter().map(drift_entry).collect()).unwrap_or_default();
        let id = change
            .and_then(|c| c.id.clone())
            .or_else(|| world.state.resources.get(&world.key).and_then(|e| e.id.clone()));
        let refused = refused.filter(|_| !policy::observe_only(&spec)).map(|policy| format!("{policy:?}"));
        write_status(api, object, |status| {
            status.drift = drift.clone();
            status.external_id = id.clone();
            status.observed_annotations = provider_annotations(kind, object);
            Verdict::observed_ready(id.is_some(), refused.clone()).set(status, object);
            Verdict::observed_sync(!drift.is_empty()).set(status, object);
        })
        .await?;
        return Ok(Action::requeue(interval));
    }
    if change.is_some_and(|c| matches!(c.action, engine::Action::Create | engine::Action::Replace)) {
        // Before anything is made: the value it returns once must have a
        // Secret of this object's to go to.
        output_secret_is_ours(context, object, namespace).await?;
    }
    // Each remote change is recorded in the status as it happens (pending
    // before a create): the next reconcile resumes from it.
    let journal =
        StatusJournal { api: api.clone(), object: object.clone(), key: world.key.clone(), written: written.clone() };
    let writer = StateWriter::with_sink(StateStore::in_memory(), world.state.clone(), Arc::new(journal));
    let provenance = provenance_of(object);
    let apply_options = ApplyOptions {
        parallelism: 1,
        outputs_to_files: false,
        digests,
        provenance: provenance.clone(),
        ..ApplyOptions::default()
    };
    let report = engine::apply(&plan, &connections, &writer, apply_options, &|_| {}).await?;
    for (_, values) in &report.outputs {
        write_outputs(context, object, namespace, values).await?;
    }
    if let Some((_, failure)) = report.failed.into_iter().next() {
        return Err(ReconcileError::of_failure(failure));
    }
    let state = writer.snapshot().await;
    let entry = state.resources.get(&world.key).cloned();
    let provider = world.manifests.get(&world.key).and_then(|r| r.provider.clone()).unwrap_or_default();
    let facts = connections.client(&provider, &world.key.kind).ok().map(|c| c.facts());
    let terminal = facts.zip(entry.as_ref()).and_then(|(facts, e)| facts.terminal(&e.observed()));
    write_status_from(api, object, written, |status| {
        status.keep(entry.as_ref());
        status.observed_annotations = provider_annotations(kind, object);
        // Drift found was just set back (the Event names it): none is left.
        status.drift = Vec::new();
        let what = match change.map(|c| c.action) {
            Some(action) => format!("{action:?} applied").to_lowercase(),
            None => "the remote object matches the spec".to_string(),
        };
        terminal.as_deref().map_or_else(Verdict::available, Verdict::terminal).set(status, object);
        Verdict::applied(what).set(status, object);
    })
    .await?;
    if let Some(change) = change {
        let id = entry.as_ref().and_then(|e| e.id.clone()).unwrap_or_default();
        let (reason, mut note) = event_of(change, &id);
        if !provenance.is_empty() {
            note.push_str(&format!("; {}", provenance.describe()));
        }
        record(context, object, false, reason, note).await;
        if matches!(change.action, engine::Action::Create | engine::Action::Adopt | engine::Action::Replace) {
            // What refers to this object has its (new) id to use now.
            context.shared.wake(namespace, &world.key.to_string());
        }
    }
    Ok(Action::requeue(interval))
}

/// The most remote deletes an account sees a minute before the rest wait
/// for the Provider's `seqops.dev/allow-mass-delete`.
pub const MASS_DELETE_LIMIT: usize = 10;
const MASS_DELETE_WINDOW: Duration = Duration::from_secs(60);

/// On deletion: the remote object goes (unless orphaned), then the
/// finalizer; never the finalizer first.
async fn finalize(
    object: &DynamicObject,
    context: &Context,
    api: &Api<DynamicObject>,
    namespace: &str,
) -> Result<Action, ReconcileError> {
    if !finalizers::has(object, FINALIZER) {
        return Ok(Action::await_change());
    }
    // An observed object was never seqops's to delete, nor one whose
    // policies leave out Delete, nor one the API cannot delete: decided
    // before connecting, so a broken Provider does not hold such an object
    // in deletion.
    let undeletable = context.kind().facts.is_some_and(|f| !f.deletable());
    let orphan = annotation(object, annotations::DELETION_POLICY) == Some("orphan")
        || !policy::allows(&cluster::spec_of(object), policy::Policy::Delete)
        || undeletable;
    let id = cluster::status_of(object).external_id;
    if let (false, Some(id)) = (orphan, &id) {
        if annotation(object, annotations::PREVENT_DESTROY) == Some("true") {
            let note = format!(
                "seqops.dev/prevent-destroy: \"true\" keeps the remote object {id} and this object with it: remove the annotation to let the delete go on, or set seqops.dev/deletion-policy: orphan to keep the remote object and let this one go"
            );
            record(context, object, true, "DeleteBlocked", note).await;
            return Ok(Action::await_change());
        }
    }
    let status = cluster::status_of(object);
    let remote = id.is_some() || status.record.deposed_id.is_some() || status.record.pending_since.is_some();
    if !orphan && remote {
        let kind = context.kind();
        let world = cluster::load(&context.shared, object, kind).await?;
        let (connections, _, _) = context.connect(&world, object, namespace).await?;
        let provider = world.manifests.get(&world.key).and_then(|r| r.provider.clone()).unwrap_or_default();
        let client = connections.client(&provider, kind.key_kind.as_str())?;
        let allowed = world
            .manifests
            .providers()
            .find(|p| p.metadata.name == provider)
            .is_some_and(|p| p.annotation_is_true(annotations::ALLOW_MASS_DELETE));
        if !context.shared.admit_delete(&format!("{namespace}/{provider}"), allowed) {
            let note = format!(
                "held: more than {MASS_DELETE_LIMIT} objects of Provider {provider} were deleted within a minute; annotate the Provider {}: \"true\" to let the deletions go on",
                annotations::ALLOW_MASS_DELETE
            );
            record(context, object, true, "MassDeleteHeld", note).await;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
        for id in remote_objects(object, client.as_ref(), api, context).await? {
            client.delete(&id).await?;
            record(context, object, false, "Deleted", format!("deleted the remote object {id}")).await;
        }
    }
    if let (true, Some(id)) = (orphan, cluster::status_of(object).external_id) {
        let note = if undeletable {
            format!("the API cannot delete a {}: kept the remote object {id}", context.kind().kind)
        } else {
            format!("kept the remote object {id}")
        };
        record(context, object, false, "Orphaned", note).await;
    }
    context.shared.forget(context.kind.key_kind, object);
    finalizers::remove(api, object, FINALIZER).await?;
    Ok(Action::await_change())
}

/// The remote objects deleting `object` deletes: its own, a replaced one
/// still to be deleted (`deposedId`), and, for a create whose answer was
/// lost, what that create made, looked up as the engine does: by natural
/// key or by what it sent, among objects no other object of the kind
/// manages that were not there before. Several candidates are reported in
/// a Warning and none is deleted.
async fn remote_objects(
    object: &DynamicObject,
    client: &dyn crate::external::ExternalClient,
    api: &Api<DynamicObject>,
    context: &Context,
) -> Result<Vec<String>, ReconcileError> {
    let status = cluster::status_of(object);
    let mut ids: Vec<String> = status.external_id.iter().chain(status.record.deposed_id.iter()).cloned().collect();
    let Some(entry) = cluster::record_of(object, "").filter(|e| e.id.is_none() && e.pending_since.is_some()) else {
        return Ok(ids);
    };
    let sent = entry.last_applied();
    let lost = LostCreate { display_name: &entry.display_name, sent: &sent, preexisting: &entry.preexisting };
    if !lost.knows_what_was_sent() {
        let note = "its create got no answer, and its status does not say what the create sent: nothing is deleted on a guess; delete what it made yourself, if anything".to_string();
        record(context, object, true, "DeleteUnsure", note).await;
        return Ok(ids);
    }
    let others = api.list(&kube::api::ListParams::default()).await?;
    let managed: BTreeSet<String> = others
        .items
        .iter()
        .filter(|o| o.uid() != object.uid())
        .map(cluster::status_of)
        .flat_map(|s| s.external_id.into_iter().chain(s.record.deposed_id))
        .collect();
    match lost.look_up(&crate::external::Spec::from_json(cluster::spec_of(object)), client, &managed).await? {
        Made::One(id) => ids.push(id),
        Made::Nothing => {}
        Made::Several(candidates) => {
            let note = format!(
                "its create got no answer, and {} remote objects could be what it made ({}): none is deleted on a guess",
                candidates.len(),
                candidates.join(", ")
            );
            record(context, object, true, "DeleteUnsure", note).await;
        }
    }
    Ok(ids)
}

/// Who changed the object and why, as far as the cluster says: the field
/// manager of its latest change that was not the controller's own (kubectl,
/// a GitOps tool), and `kubernetes.io/change-cause`.
fn provenance_of(object: &DynamicObject) -> Provenance {
    let managers = object.metadata.managed_fields.iter().flatten();
    let latest = managers
        .filter(|m| m.manager.as_deref() != Some(MANAGER) && m.subresource.is_none())
        .max_by_key(|m| m.time.clone());
    Provenance {
        author: latest.and_then(|m| m.manager.clone()),
        message: annotation(object, "kubernetes.io/change-cause").map(String::from),
        ..Provenance::default()
    }
}

/// The Event a change applied makes: its reason and what it says.
fn event_of(change: &engine::Change, id: &str) -> (&'static str, String) {
    let fields = || change.fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ");
    let renew = providers::facts_for(&change.key.kind).and_then(|f| f.renew()).filter(|_| change.renews);
    if let (engine::Action::Create, Some(renew)) = (change.action, renew) {
        let token = change.renew_token.as_deref().unwrap_or_default();
        return (renew.event, format!("made the remote object {id} anew, as {}: {token:?} asks", renew.annotation));
    }
    match change.action {
        engine::Action::Create => ("Created", format!("created the remote object {id}")),
        engine::Action::Adopt => ("Adopted", format!("adopted the remote object {id}")),
        engine::Action::Replace => {
            let old = change.id.as_deref().unwrap_or_default();
            ("Replaced", format!("replaced the remote object {old} with {id} ({} cannot change in place)", fields()))
        }
        engine::Action::Delete | engine::Action::Forget => ("Deleted", format!("removed the remote object {id}")),
        _ if !change.drift.is_empty() => ("DriftCorrected", format!("set {} back to the spec", fields())),
        _ => ("Updated", format!("updated {}", fields())),
    }
}

/// Records a Kubernetes Event about the object. An Event that cannot be
/// written is logged, never a reason to fail the reconcile.
async fn record(context: &Context, object: &DynamicObject, warning: bool, reason: &str, note: String) {
    // The API server refuses notes over 1 kB.
    let note = if note.len() > 1000 {
        let mut end = 1000;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &note[..end])
    } else {
        note
    };
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    let reference = object.object_ref(&context.resource);
    if let Err(error) = context.shared.recorder.publish(&event, &reference).await {
        tracing::warn!("cannot record the Event {reason} for {}: {error}", cluster::label(object).display());
    }
}

/// When a failed object is tried again, by what failed ([`ReconcileError::requeue`]):
/// backing off exponentially per object, 5 s, 10 s, 20 s … up to 15
/// minutes, and never sooner than a vendor asked.
pub fn error_policy(object: Arc<DynamicObject>, error: &ReconcileError, context: Arc<Context>) -> Action {
    if !error.is_failure() {
        return Action::requeue(error.requeue(0));
    }
    let uid = object.uid().unwrap_or_default();
    let mut failures = context.shared.failures.lock().unwrap_or_else(|e| e.into_inner());
    let count = failures.entry(uid).or_default();
    *count = count.saturating_add(1);
    Action::requeue(error.requeue(*count))
}

fn drift_entry(field: &crate::engine::diff::FieldChange) -> DriftEntry {
    let text = |v: &Option<Value>| v.as_ref().map(|v| crate::render::text::value_text(Some(v)));
    DriftEntry { path: field.path.clone(), applied: text(&field.before), observed: text(&field.after) }
}

/// Server-side applies the object's status, as field manager `seqops`, on
/// condition that the object is as it was read: a stale copy's status must
/// never take back what a newer one says (the conflict is retried with a
/// fresh copy).
pub(super) async fn write_status(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    change: impl FnOnce(&mut ResourceStatus),
) -> Result<(), kube::Error> {
    write_status_from(api, object, &Written::default(), change).await
}

/// [`write_status`] from what the journal last wrote, if it wrote.
async fn write_status_from(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    written: &Written,
    change: impl FnOnce(&mut ResourceStatus),
) -> Result<(), kube::Error> {
    let mut status = written.latest(object);
    change(&mut status);
    status.observed_generation = object.metadata.generation;
    journal::patch_status(api, object, &status, written.version(object).as_deref()).await.map(|_| ())
}

/// Values the API returned once go to the Secret `writeSecretTo.secretRef`
/// names, owned by the object so that it goes with it.
/// Whether the Secret `writeSecretTo.secretRef` names is free for this
/// object: missing (it will be made), or already owned by it. The
/// controller never takes over a Secret someone else made, such as a
/// Provider's credential.
async fn output_secret_is_ours(
    context: &Context,
    object: &DynamicObject,
    namespace: &str,
) -> Result<(), ReconcileError> {
    let common = Common::of(&cluster::spec_of(object));
    let Some(name) = common.output_secret().map(|s| s.name.as_str()) else { return Ok(()) };
    let secrets: Api<KubeSecret> = Api::namespaced(context.shared.client.clone(), namespace);
    let Some(existing) = secrets.get_opt(name).await? else { return Ok(()) };
    let uid = object.uid().unwrap_or_default();
    let owned = existing
        .metadata
        .owner_references
        .unwrap_or_default()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true));
    if owned {
        return Ok(());
    }
    Err(ReconcileError::ManifestInvalid(format!(
        "writeSecretTo.secretRef names Secret {namespace}/{name}, which exists and is not this object's: seqops writes only Secrets it made for the object; name another Secret"
    )))
}

async fn write_outputs(
    context: &Context,
    object: &DynamicObject,
    namespace: &str,
    values: &BTreeMap<String, Secret>,
) -> Result<(), ReconcileError> {
    let common = Common::of(&cluster::spec_of(object));
    let Some(SecretKeyRef { name, key }) = common.output_secret() else {
        return Ok(());
    };
    output_secret_is_ours(context, object, namespace).await?;
    let Some(value) = values.values().next() else { return Ok(()) };
    let types = object.types.clone().unwrap_or_default();
    let owner = OwnerReference {
        api_version: types.api_version,
        kind: types.kind,
        name: object.name_any(),
        uid: object.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    // `data` (base64, as ByteString serializes), not `stringData`: what
    // server-side apply owns field by field.
    let encoded = serde_json::to_value(k8s_openapi::ByteString(value.expose().as_bytes().to_vec()))
        .map_err(|e| ReconcileError::ManifestInvalid(e.to_string()))?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]},
        "data": {key: encoded},
    });
    let secrets: Api<KubeSecret> = Api::namespaced(context.shared.client.clone(), namespace);
    secrets.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&secret)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_checks_spread_half_the_budget_over_an_accounts_objects() {
        assert_eq!(drift_interval(Some(200), 10), Duration::from_secs(360));
        assert_eq!(drift_interval(Some(200), 1), Duration::from_secs(300));
        assert_eq!(drift_interval(Some(200), 100), Duration::from_secs(3600));
        assert_eq!(drift_interval(None, 1000), Duration::from_secs(300));
    }
}
