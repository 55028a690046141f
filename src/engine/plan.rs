//! Planning: for every manifest and every state entry, what must happen
//! remotely, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::connections::AccountUsage;
use super::diff::{self, FieldChange};
use super::lost::LostCreate;
use super::reason::{self, Reason};
use super::state::{Entry, State};
use super::{digest, Connections, EngineError};
use crate::external::digest::Digests;
use crate::external::sources::{ClusterValues, SourceReader};
use crate::external::{
    DesiredContext, ExternalClient, Fields, ListScope, ProviderError, RemoteSummary, Scoped, WhenGone, Write,
};
use crate::manifest::policy::Policy;
use crate::manifest::{annotations, Manifests, Resource, ResourceKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Adopt,
    Forget,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "<=",
            Action::Forget => "forget",
        }
    }
}

/// How much of the remote side a plan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Refresh {
    /// Reads every managed object.
    Full,
    /// Lists each collection once; reads only objects whose manifest changed
    /// or whose summary differs from state.
    Changed,
    /// Trusts state.
    None,
}

#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub refresh: Refresh,
    /// When not empty, only these objects and what they depend on.
    pub targets: Vec<ResourceKey>,
    /// Objects whose write-only secrets are written again whatever their
    /// digests say (`--rotate`).
    pub rotate: Vec<ResourceKey>,
    /// Sources are read for the sandbox (an unset variable gets a fake value).
    pub sandbox: bool,
    /// Reads allowed at once per kind.
    pub parallelism: usize,
    /// Values an API returns once can only go to files (the CLI); the
    /// controller writes Kubernetes Secrets instead.
    pub outputs_to_files: bool,
    /// List a collection only to place new objects; objects with known ids
    /// are read directly (the controller reconciles one object at a time).
    pub list_only_for_new: bool,
    /// The key secret digests are made with; without one, secrets are
    /// not comparable.
    pub digests: Digests,
    /// When set, only these objects are read; the others are taken as
    /// state last observed them (a drift check in rolling slices).
    pub read_only: Option<BTreeSet<ResourceKey>>,
}

impl PlanOptions {
    pub fn new(refresh: Refresh) -> Self {
        Self {
            refresh,
            targets: Vec::new(),
            rotate: Vec::new(),
            sandbox: false,
            parallelism: 8,
            outputs_to_files: true,
            list_only_for_new: false,
            digests: Digests::default(),
            read_only: None,
        }
    }
}

/// A reference from a spec field to another manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceTo {
    /// The field holding it, e.g. `spec.agentRef.name`.
    pub field: String,
    pub key: ResourceKey,
}

/// One object's change, as the planner makes it and apply carries it out.
/// Written to and read from a saved plan only through
/// [`planfile::PlannedChange`](super::planfile::PlannedChange), the public
/// format, so this working value may change shape without the file doing so.
#[derive(Clone, Debug)]
pub struct Change {
    pub key: ResourceKey,
    pub api_version: String,
    pub provider: String,
    pub action: Action,
    /// The remote id the change acts on (absent for a create).
    pub id: Option<String>,
    pub display_name: String,
    pub fields: Vec<FieldChange>,
    pub drift: Vec<FieldChange>,
    /// Why the change is planned, in the order a reviewer reads them.
    pub reasons: Vec<Reason>,
    /// The fields the object will have, secrets as salted digests.
    pub desired: Fields,
    /// The fields to send.
    pub updates: Fields,
    pub manifest_digest: String,
    /// The manifest's spec, recorded in state once applied. It names where
    /// secret values come from, never the values.
    pub spec: serde_json::Value,
    /// The folder the spec's `fromFile` and `writeSecretTo.file` paths are
    /// relative to.
    pub source_dir: String,
    pub observed: Fields,
    pub depends_on: Vec<ResourceKey>,
    pub references: Vec<ReferenceTo>,
    /// Unmanaged remote objects that already had this object's name when
    /// planned: a create whose answer is lost must not take one for its own.
    pub preexisting: Vec<String>,
    pub orphan_on_delete: bool,
    pub prevent_destroy: bool,
    /// The kind's renew annotation's token on the manifest, recorded with
    /// the object once made.
    pub renew_token: Option<String>,
    /// The create is one the renew annotation's new token asks for (a
    /// contact enrolled once more), not the object's first.
    pub renews: bool,
    /// The manifest's annotations, which a provider may read (a
    /// confirmation it asks for).
    pub annotations: BTreeMap<String, String>,
    /// The change ends the object (a Topo stop): planned like a delete.
    pub ends: bool,
    /// The requests applying it is expected to make.
    pub requests: u64,
}

/// What a plan learnt that changes nothing remotely: a manifest edited to
/// what the remote object already is. Recorded by the next apply.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSync {
    pub key: ResourceKey,
    pub manifest_digest: String,
    pub applied_spec: serde_json::Value,
    pub last_applied: Fields,
    pub observed: Fields,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    pub usage: Vec<AccountUsage>,
    pub syncs: Vec<StateSync>,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Everything planned for one manifest or state entry.
enum Outcome {
    Change(Box<Change>),
    Unchanged,
    Sync(Box<StateSync>),
    Failed(String),
}

/// The manifests and the state entries without manifests, of one kind in
/// one account.
type Groups<'a> = BTreeMap<(String, String), (Vec<&'a Resource>, Vec<(&'a ResourceKey, &'a Entry)>)>;

/// Plans every manifest against state and the remote side.
pub async fn plan(
    manifests: &Manifests,
    state: &State,
    connections: &Connections,
    options: &PlanOptions,
) -> Result<Plan, EngineError> {
    // Checks that can fail run before the first request.
    let mut refused = credential_reads(manifests);
    refused.extend(unreadable_sources(manifests, options, connections.cluster_values()));
    if !refused.is_empty() {
        return Err(EngineError::Plan(refused));
    }
    let selected = select_targets(manifests, state, &options.targets)?;
    let wanted = |key: &ResourceKey| selected.as_ref().is_none_or(|s| s.contains(key));
    let mut groups: Groups = BTreeMap::new();
    for resource in manifests.managed().filter(|r| wanted(&r.key)) {
        let provider = resource.provider.clone().unwrap_or_default();
        groups.entry((provider, resource.key.kind.clone())).or_default().0.push(resource);
    }
    for (key, entry) in &state.resources {
        if wanted(key) && (manifests.get(key).is_none() || entry.deposed_id.is_some()) {
            groups.entry((entry.provider.clone(), key.kind.clone())).or_default().1.push((key, entry));
        }
    }
    let mut plan = Plan::default();
    if options.digests.key().is_none() && manifests.managed().any(|r| crate::external::sources::has_sources(&r.spec)) {
        plan.warnings.push(
            "no digest key is at hand (SEQOPS_DIGEST_KEY, or the key file `seqops apply` makes): secrets cannot be compared, and show as (sensitive: not comparable)".into(),
        );
    }
    if let Some(selected) = &selected {
        let names: Vec<String> = selected.iter().map(ToString::to_string).collect();
        plan.warnings.push(format!(
            "this plan is partial (--target): it covers only {}; other changes may be pending",
            names.join(", ")
        ));
    }
    // Objects that get a new remote id (replaced, or created again) change
    // what refers to them: those are planned again with the id unknown
    // until apply, as often as that reaches further.
    let mut recreated = BTreeSet::new();
    let (changes, syncs, errors, warnings) = loop {
        let mut warnings = Vec::new();
        let (changes, syncs, errors) =
            plan_groups(&groups, state, connections, options, &recreated, &mut warnings).await;
        let now: BTreeSet<ResourceKey> = changes
            .iter()
            .filter(|c| {
                c.action == Action::Replace
                    || (c.action == Action::Create && state.resources.get(&c.key).is_some_and(|e| e.id.is_some()))
            })
            .map(|c| c.key.clone())
            .collect();
        let affects_others = manifests
            .managed()
            .any(|r| r.references.iter().any(|(_, key)| now.contains(key) && !recreated.contains(key)));
        if !affects_others || now.is_subset(&recreated) {
            break (changes, syncs, errors, warnings);
        }
        recreated.extend(now);
    };
    let (changes, left_alone) = leave_alone_what_may_not_change(manifests, changes);
    plan.changes = changes;
    plan.syncs = syncs;
    plan.warnings.extend(warnings);
    plan.warnings.extend(left_alone);
    plan.usage = connections.usage();
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(EngineError::Plan(errors))
    }
}

/// Sources that read a variable some Provider takes its API key from: a
/// manifest could send one vendor's key to another (as a header of an
/// Orqis agent, say), so such a read is refused before any request.
fn credential_reads(manifests: &Manifests) -> Vec<String> {
    let credentials: BTreeMap<&str, &str> = manifests
        .providers()
        .filter_map(|p| Some((p.spec["credentials"]["env"].as_str()?, p.metadata.name.as_str())))
        .collect();
    let mut refused = Vec::new();
    for resource in manifests.managed() {
        for (path, variable) in crate::external::sources::env_reads(&resource.spec) {
            if let Some(provider) = credentials.get(variable.as_str()) {
                let field = format!("spec.{path}");
                refused.push(format!(
                    "{}: {field}: reads ${variable}, the API key of Provider `{provider}`; a manifest may not send a Provider's key anywhere else",
                    resource.document.locate(&field)
                ));
            }
        }
    }
    refused
}

/// Every source a manifest names that cannot be read (a missing variable
/// or file, a path outside the project), each at its file and line.
fn unreadable_sources(manifests: &Manifests, options: &PlanOptions, cluster: &ClusterValues) -> Vec<String> {
    manifests
        .managed()
        .filter_map(|resource| {
            reader_for(resource, options, cluster).read_all(&resource.spec).err().map(|(field, message)| {
                let error = ProviderError::Lookup { field, message };
                located(resource, error)
            })
        })
        .collect()
}

/// Takes out the changes to objects that are `ObserveOnly` or paused, each
/// named in a warning with what it would have been, and the changes that
/// need an id one of those would have made.
fn leave_alone_what_may_not_change(manifests: &Manifests, changes: Vec<Change>) -> (Vec<Change>, Vec<String>) {
    let mut warnings = Vec::new();
    // Objects whose remote id this plan will not make known.
    let mut no_id: BTreeSet<ResourceKey> = BTreeSet::new();
    let mut kept = Vec::new();
    for change in changes {
        let Some(resource) = manifests.get(&change.key) else {
            kept.push(change);
            continue;
        };
        let refused = refused_by_policy(&resource.spec, &change);
        let why = if crate::manifest::policy::observe_only(&resource.spec) {
            "is ObserveOnly".to_string()
        } else if resource.annotation_is_true(annotations::PAUSED) {
            "is paused".to_string()
        } else if let Some(policy) = refused {
            format!("has managementPolicies without {policy:?}")
        } else {
            kept.push(change);
            continue;
        };
        let fields: Vec<&str> = change.fields.iter().map(|f| f.path.as_str()).collect();
        let what = match change.action {
            Action::Create => "does not exist remotely".to_string(),
            Action::Adopt if fields.is_empty() => "would be adopted".to_string(),
            _ => format!("differs remotely in {}", fields.join(", ")),
        };
        if matches!(change.action, Action::Create | Action::Adopt | Action::Replace) {
            no_id.insert(change.key.clone());
        }
        warnings.push(format!("{} {why} and {what}; left alone", change.key));
    }
    // What refers to those waits, and so does what refers to that.
    loop {
        let (waiting, ready): (Vec<Change>, Vec<Change>) = kept.into_iter().partition(|change| {
            change.depends_on.iter().chain(change.references.iter().map(|r| &r.key)).any(|k| no_id.contains(k))
        });
        kept = ready;
        if waiting.is_empty() {
            break;
        }
        for change in waiting {
            let on: BTreeSet<String> = change
                .depends_on
                .iter()
                .chain(change.references.iter().map(|r| &r.key))
                .filter(|k| no_id.contains(*k))
                .map(ToString::to_string)
                .collect();
            let on: Vec<String> = on.into_iter().collect();
            warnings.push(format!("{} waits for {}, which is left alone", change.key, on.join(", ")));
            if matches!(change.action, Action::Create | Action::Adopt | Action::Replace) {
                no_id.insert(change.key.clone());
            }
        }
    }
    (kept, warnings)
}

/// The policy a change needs that the manifest's `managementPolicies` does
/// not allow, if any: creating (and adopting) needs `Create`, an update
/// `Update`, a replace `Create` and `Delete`.
pub fn refused_by_policy(spec: &serde_json::Value, change: &Change) -> Option<Policy> {
    let needs: &[Policy] = match change.action {
        // Ending an object is a delete, whatever call makes it.
        Action::Adopt | Action::Update if change.ends => &[Policy::Update, Policy::Delete],
        Action::Create => &[Policy::Create],
        Action::Adopt if change.updates.is_empty() => &[],
        Action::Adopt | Action::Update => &[Policy::Update],
        Action::Replace => &[Policy::Create, Policy::Delete],
        Action::Delete => &[Policy::Delete],
        Action::Forget => &[],
    };
    let allowed = crate::manifest::policy::allowed(spec);
    needs.iter().copied().find(|p| !allowed.contains(p))
}

/// Plans every group once; `recreated` are the objects whose remote id
/// this plan changes.
async fn plan_groups(
    groups: &Groups<'_>,
    state: &State,
    connections: &Connections,
    options: &PlanOptions,
    recreated: &BTreeSet<ResourceKey>,
    warnings: &mut Vec<String>,
) -> (Vec<Change>, Vec<StateSync>, Vec<String>) {
    let (mut changes, mut syncs, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for ((provider, kind), (resources, orphans)) in groups {
        let client = match connections.client(provider, kind) {
            Ok(client) => client,
            Err(error) => {
                errors.push(error.to_string());
                continue;
            }
        };
        let group = Group {
            client,
            state,
            provider,
            options,
            cluster_values: connections.cluster_values(),
            recreated,
            claimed: Mutex::new(BTreeMap::new()),
        };
        match group.plan(resources, orphans, warnings).await {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome {
                        Outcome::Change(change) => changes.push(*change),
                        Outcome::Sync(sync) => syncs.push(*sync),
                        Outcome::Unchanged => {}
                        Outcome::Failed(message) => errors.push(message),
                    }
                }
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    (changes, syncs, errors)
}

/// The objects a targeted plan covers: the targets and, transitively, what
/// they depend on. `None` when no target is given.
fn select_targets(
    manifests: &Manifests,
    state: &State,
    targets: &[ResourceKey],
) -> Result<Option<BTreeSet<ResourceKey>>, EngineError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let unknown: Vec<String> = targets
        .iter()
        .filter(|t| manifests.get(t).is_none() && !state.resources.contains_key(t))
        .map(|t| format!("--target {t}: no manifest or state entry has this key"))
        .collect();
    if !unknown.is_empty() {
        return Err(EngineError::Plan(unknown));
    }
    let mut selected = BTreeSet::new();
    let mut queue: Vec<ResourceKey> = targets.to_vec();
    while let Some(key) = queue.pop() {
        if selected.insert(key.clone()) {
            let depends = manifests.get(&key).map(|r| r.depends_on.clone()).unwrap_or_default();
            queue.extend(depends);
        }
    }
    Ok(Some(selected))
}

/// The manifests and state entries of one kind in one account.
struct Group<'a> {
    client: Arc<dyn ExternalClient>,
    state: &'a State,
    provider: &'a str,
    options: &'a PlanOptions,
    cluster_values: &'a ClusterValues,
    /// Objects whose remote id this plan changes: references to them are
    /// known only after apply.
    recreated: &'a BTreeSet<ResourceKey>,
    /// Remote ids this plan adopts, by the key adopting them: one remote
    /// object is never bound to two manifests.
    claimed: Mutex<BTreeMap<String, ResourceKey>>,
}

/// The remote listing, once per group, when the plan needs it.
struct Listing {
    summaries: Vec<RemoteSummary>,
    by_id: std::collections::HashMap<String, usize>,
    managed: BTreeSet<String>,
}

impl Listing {
    fn new(summaries: Vec<RemoteSummary>, managed: BTreeSet<String>) -> Self {
        let by_id = summaries.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Self { summaries, by_id, managed }
    }

    /// Remote objects no state entry manages, named `name`.
    fn unmanaged_named(&self, name: &str) -> Vec<&RemoteSummary> {
        self.summaries.iter().filter(|s| s.display_name == name && !self.managed.contains(&s.id)).collect()
    }

    fn get(&self, id: &str) -> Option<&RemoteSummary> {
        self.by_id.get(id).map(|&i| &self.summaries[i])
    }
}

impl Group<'_> {
    async fn plan(
        &self,
        resources: &[&Resource],
        orphans: &[(&ResourceKey, &Entry)],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        let needs_listing = (self.options.refresh != Refresh::None && !self.options.list_only_for_new)
            || resources.iter().any(|r| self.state.resources.get(&r.key).is_none_or(|e| e.id.is_none()))
            || orphans.iter().any(|(_, e)| e.id.is_none());
        let listing = if needs_listing {
            let managed = self.state.managed_ids(self.provider, self.client.facts().key_kind);
            let orphan_specs: Vec<serde_json::Value> = orphans.iter().map(|(_, e)| e.applied_spec()).collect();
            let scope = resources
                .iter()
                .map(|r| Scoped { spec: &r.spec, previous: self.state.resources.get(&r.key).map(Entry::applied) })
                .chain(
                    orphans
                        .iter()
                        .zip(&orphan_specs)
                        .map(|((_, e), spec)| Scoped { spec, previous: Some(e.applied()) }),
                );
            Some(Listing::new(self.client.list(&ListScope::Specs(scope.collect())).await?, managed))
        } else {
            None
        };
        let listing = listing.as_ref();
        // Boxed futures made before the stream, a few hundred at a time:
        // see `engine::apply`.
        let parallelism = self.options.parallelism.max(1);
        let mut planned: Vec<(Outcome, Vec<String>)> = Vec::with_capacity(resources.len());
        for chunk in resources.chunks(super::apply::FUTURES_AT_ONCE.max(parallelism)) {
            let plans: Vec<BoxFuture<'_, (Outcome, Vec<String>)>> = chunk
                .iter()
                .map(|resource| -> BoxFuture<'_, _> { Box::pin(self.plan_one(resource, listing)) })
                .collect();
            planned.extend(stream::iter(plans).buffered(parallelism).collect::<Vec<_>>().await);
        }
        let mut outcomes = Vec::new();
        for (outcome, mut notes) in planned {
            outcomes.push(outcome);
            warnings.append(&mut notes);
        }
        for (key, entry) in orphans {
            outcomes.push(self.plan_removal(key, entry, listing));
        }
        for outcome in &mut outcomes {
            if let Outcome::Change(change) = outcome {
                change.requests = requests_of(self.client.as_ref(), change);
            }
        }
        let facts = self.client.facts();
        let creates = outcomes
            .iter()
            .filter(|o| match o {
                Outcome::Change(c) => {
                    c.action == Action::Create || (c.action == Action::Replace && facts.create_before_delete)
                }
                _ => false,
            })
            .count();
        self.client.check_capacity(creates).await?;
        Ok(outcomes)
    }

    async fn plan_one(&self, resource: &Resource, listing: Option<&Listing>) -> (Outcome, Vec<String>) {
        let spec = crate::manifest::policy::without_policies(&resource.spec);
        let mut notes: Vec<String> =
            self.client.notes(&spec).into_iter().map(|note| format!("{}: {note}", resource.key)).collect();
        let outcome = match self.plan_resource(resource, listing, &mut notes).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(located(resource, error)),
        };
        (outcome, notes)
    }

    /// Binds `id` to `key` for this plan, or says which manifest has it.
    fn claim(&self, id: &str, key: &ResourceKey) -> Result<(), ProviderError> {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        match claimed.get(id) {
            Some(other) if other != key => Err(ProviderError::Invalid(format!(
                "{key}: remote object {id} is already bound to {other} in this plan"
            ))),
            _ => {
                claimed.insert(id.to_string(), key.clone());
                Ok(())
            }
        }
    }

    fn base_change(&self, resource: &Resource, action: Action, id: Option<String>) -> Change {
        Change {
            key: resource.key.clone(),
            api_version: resource.api_version.clone(),
            provider: self.provider.to_string(),
            action,
            id,
            display_name: self.client.display_name(&resource.spec),
            fields: Vec::new(),
            drift: Vec::new(),
            reasons: Vec::new(),
            desired: Fields::new(),
            updates: Fields::new(),
            manifest_digest: digest(&resource.spec),
            spec: resource.spec.clone(),
            source_dir: source_dir(resource),
            observed: Fields::new(),
            depends_on: resource.depends_on.clone(),
            references: resource
                .references
                .iter()
                .map(|(field, key)| ReferenceTo { field: field.clone(), key: key.clone() })
                .collect(),
            preexisting: Vec::new(),
            orphan_on_delete: resource.annotation(annotations::DELETION_POLICY) == Some("orphan"),
            prevent_destroy: resource.annotation_is_true(annotations::PREVENT_DESTROY),
            renew_token: self.renew_token(resource),
            renews: false,
            annotations: resource.metadata.annotations.clone(),
            ends: false,
            requests: 0,
        }
    }

    /// The object's current fields: from a listing that shows objects whole
    /// (as good as a read, and free), else read.
    async fn read(&self, id: &str, listing: Option<&Listing>) -> Result<Option<Fields>, ProviderError> {
        let listed = listing.and_then(|l| l.get(id)).filter(|_| self.client.facts().full_listing);
        match listed {
            Some(summary) => Ok(Some(summary.fields.clone())),
            None => self.client.observe(id).await,
        }
    }

    /// How the updates would end the object (a Topo stop), if they would;
    /// an error under prevent-destroy, as a delete would be.
    fn ending(
        &self,
        change: &Change,
        updates: &Fields,
        desired: &Fields,
        doing: &str,
    ) -> Result<Option<String>, ProviderError> {
        let Some(how) = (self.client.facts().ends)(updates, desired) else { return Ok(None) };
        if change.prevent_destroy {
            return Err(ProviderError::Invalid(format!(
                "{}: {doing} ends it ({how}), but it has seqops.dev/prevent-destroy: \"true\"",
                change.key
            )));
        }
        Ok(Some(how))
    }

    /// The token of the kind's renew annotation on the manifest, if any.
    fn renew_token(&self, resource: &Resource) -> Option<String> {
        resource.annotation(self.client.facts().renew?.annotation).map(String::from)
    }

    /// The create a renew annotation's new token asks for.
    async fn plan_renewal(&self, resource: &Resource, why: Reason) -> Result<Change, ProviderError> {
        let mut change = self.plan_create(resource).await?;
        change.renews = true;
        change.reasons.push(why);
        Ok(change)
    }

    /// What the provider needs to resolve a spec: its sources read, its
    /// references' remote ids, how secrets are digested, and what it
    /// resolved to last time.
    fn context<'e>(
        &self,
        resource: &Resource,
        previous: Option<&'e Entry>,
    ) -> Result<DesiredContext<'e>, ProviderError> {
        let sources = reader_for(resource, self.options, self.cluster_values)
            .read_all(&resource.spec)
            .map_err(|(field, message)| ProviderError::Lookup { field, message })?;
        let refs = resource
            .references
            .iter()
            .map(|(field, key)| {
                let id =
                    self.state.resources.get(key).and_then(|e| e.id.clone()).filter(|_| !self.recreated.contains(key));
                (field.clone(), id)
            })
            .collect();
        Ok(DesiredContext {
            refs,
            previous: previous.map(Entry::applied),
            sources,
            digests: self.state.digests_for(&resource.key, &self.options.digests),
            annotations: resource.metadata.annotations.clone(),
        })
    }

    async fn desired(&self, resource: &Resource, previous: Option<&Entry>) -> Result<Fields, ProviderError> {
        Ok(self.desired_and_rekeying(resource, previous).await?.0)
    }

    /// The desired fields, and which old digests of the values in hand
    /// become which digests under the key.
    async fn desired_and_rekeying(
        &self,
        resource: &Resource,
        previous: Option<&Entry>,
    ) -> Result<(Fields, BTreeMap<String, String>), ProviderError> {
        let context = self.context(resource, previous)?;
        let rekeying = context.digests.rekeying(&context.sources);
        let desired = self.client.desired(&crate::manifest::policy::without_policies(&resource.spec), &context).await?;
        Ok((desired, rekeying))
    }

    async fn plan_resource(
        &self,
        resource: &Resource,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        match self.state.resources.get(&resource.key) {
            Some(entry) if entry.id.is_some() => self.plan_existing(resource, entry, listing, warnings).await,
            Some(entry) => self.plan_pending(resource, entry, listing).await,
            None => self.plan_new(resource, listing, warnings).await,
        }
    }

    async fn plan_existing(
        &self,
        resource: &Resource,
        entry: &Entry,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        let id = entry.id.clone().unwrap_or_default();
        let manifest_changed = digest(&resource.spec) != entry.manifest_digest;
        // State keeps fields as text: parsed once, and only when needed.
        let mut recorded = None;
        let read = match (&self.options.read_only, self.options.refresh) {
            (Some(slice), _) => slice.contains(&resource.key),
            (None, Refresh::Full) => true,
            (None, Refresh::None) => false,
            (None, Refresh::Changed) => {
                let digests = &self.options.digests;
                manifest_changed
                    || listing.is_none_or(|l| {
                        let (applied, observed) = recorded.insert(entry.recorded());
                        summary_differs(l.get(&id), applied, observed, digests)
                    })
            }
        };
        if !read && self.unchanged_as_recorded(resource, entry, manifest_changed) {
            return Ok(Outcome::Unchanged);
        }
        let (applied_before, observed_before) = recorded.unwrap_or_else(|| entry.recorded());
        let facts = self.client.facts();
        let observed = if read { self.read(&id, listing).await? } else { Some(observed_before.clone()) };
        if let (Some(token), Some(renew)) = (self.renew_token(resource), facts.renew) {
            if entry.renew_token.as_ref() != Some(&token) {
                let why = Reason::RenewTokenChanged {
                    noun: renew.noun.to_string(),
                    annotation: renew.annotation.to_string(),
                    token,
                    kind: resource.key.kind.clone(),
                };
                // Boxed: a rare path that would otherwise grow every
                // object's planning future.
                let mut change = Box::pin(self.plan_renewal(resource, why)).await?;
                // A lost answer must not take the old one for the new.
                change.preexisting = vec![id];
                return Ok(Outcome::Change(Box::new(change)));
            }
        }
        let Some(observed) = observed else {
            if facts.when_gone == WhenGone::Report {
                warnings.push(format!(
                    "{}: {id} is gone remotely; it is not created again, since it should happen once. Remove the manifest, or `seqops state rm {}` to let it be made anew",
                    resource.key, resource.key
                ));
                return Ok(Outcome::Unchanged);
            }
            self.confirm_gone(resource, entry, &id, listing).await?;
            let mut change = self.plan_create(resource).await?;
            change.reasons.push(Reason::DeletedOutside { id });
            return Ok(Outcome::Change(Box::new(change)));
        };
        // An unchanged manifest without sources asks for what it asked for
        // last time; otherwise it is resolved again, reusing the ids its
        // unchanged lookups resolved to, and reading its sources (a secret
        // rotated at its source changes only its digest).
        let resolve_again = crate::external::sources::has_sources(&resource.spec)
            || resource.references.iter().any(|(_, key)| self.recreated.contains(key));
        let (desired, rekeying) = if manifest_changed || resolve_again {
            self.desired_and_rekeying(resource, Some(entry)).await?
        } else {
            (applied_before.clone(), BTreeMap::new())
        };
        let mut last_applied = applied_before.clone();
        let mut observed = observed;
        let digests = self.state.digests_for(&resource.key, &self.options.digests);
        crate::external::digest::conceal_fields(&mut observed, &[&desired, &applied_before], &digests);
        // Digests an older seqops salted are re-keyed from the values in
        // hand: the same value is no change, and needs no request.
        for value in last_applied.values_mut().chain(observed.values_mut()) {
            crate::external::digest::rekey(value, &rekeying);
        }
        let mut compared = observed.clone();
        if self.options.rotate.contains(&resource.key) {
            for value in last_applied.values_mut().chain(compared.values_mut()) {
                crate::external::sources::forget_digests(value);
            }
        }
        // An imported entry knows of nothing applied; one bound after a
        // lost answer knows what its create sent.
        let base = (!entry.manifest_digest.is_empty() || !last_applied.is_empty()).then_some(&last_applied);
        let found = diff::diff(&desired, base, &compared, self.client.facts());
        if found.updates.is_empty() {
            // What the vendor moved by itself is no change, but state keeps
            // the latest reading of it (`seqops state show`).
            let moved =
                facts.observations.iter().chain(facts.merged_maps).any(|f| observed.get(*f) != observed_before.get(*f));
            if desired != applied_before || manifest_changed || moved {
                return Ok(Outcome::Sync(Box::new(StateSync {
                    key: resource.key.clone(),
                    manifest_digest: digest(&resource.spec),
                    applied_spec: resource.spec.clone(),
                    last_applied: desired,
                    observed,
                })));
            }
            return Ok(Outcome::Unchanged);
        }
        if let Some(status) = (facts.terminal)(&observed) {
            if !manifest_changed {
                // It ended by itself: reported, not fought.
                warnings.push(format!(
                    "{}: {id} is {status} remotely, which is final; nothing is planned for it",
                    resource.key
                ));
                if observed == observed_before {
                    return Ok(Outcome::Unchanged);
                }
                return Ok(Outcome::Sync(Box::new(StateSync {
                    key: resource.key.clone(),
                    manifest_digest: entry.manifest_digest.clone(),
                    applied_spec: entry.applied_spec(),
                    last_applied: applied_before,
                    observed,
                })));
            }
            return Err(ProviderError::Invalid(format!(
                "{} is {status} remotely, which is final: it cannot change any more ({}); {}",
                resource.key,
                field_list(&found.updates),
                facts.unchangeable_hint
            )));
        }
        let must_replace = !found.replace_reasons.is_empty() || !facts.updatable;
        if must_replace && !(facts.creatable && facts.deletable) {
            return Err(ProviderError::Invalid(format!(
                "{}: {} cannot change: the API can neither update nor replace a {}; {}",
                resource.key,
                field_list(&found.updates),
                resource.key.kind,
                facts.unchangeable_hint
            )));
        }
        let action = if must_replace { Action::Replace } else { Action::Update };
        let mut change = self.base_change(resource, action, Some(id));
        let ends = self.ending(&change, &found.updates, &desired, "this change")?;
        let reasons = if found.replace_reasons.is_empty() && !facts.updatable {
            vec![Reason::NotUpdatable {
                kind: resource.key.kind.clone(),
                fields: found.updates.keys().cloned().collect(),
            }]
        } else {
            found.replace_reasons
        };
        if action == Action::Replace && change.prevent_destroy {
            return Err(ProviderError::Invalid(format!(
                "{} must be replaced ({}), but it has seqops.dev/prevent-destroy: \"true\"",
                resource.key,
                reason::joined(&reasons, "; ")
            )));
        }
        if action == Action::Replace {
            change.preexisting = self.preexisting(resource, listing);
        }
        change.reasons = reasons;
        if let Some(key) = self.options.digests.key() {
            if last_applied.values().any(|v| crate::external::digest::holds_foreign_digest(v, key)) {
                change.reasons.push(Reason::ForeignDigestKey { key_id: key.id().to_string() });
            }
        }
        change.ends = ends.is_some();
        change.reasons.extend(ends.map(|how| Reason::EndsIt { how }));
        change.reasons.extend(observations(facts, &observed));
        change.fields = found.changes;
        change.drift = found.drift;
        change.updates = found.updates;
        change.desired = desired;
        change.observed = observed;
        annotate(&mut change, resource, self.client.as_ref());
        Ok(Outcome::Change(Box::new(change)))
    }

    /// Whether an object not read this time can be passed over unparsed:
    /// its manifest, sources and references are as applied, and it was
    /// last seen as applied, so desired, base and observed are one.
    fn unchanged_as_recorded(&self, resource: &Resource, entry: &Entry, manifest_changed: bool) -> bool {
        !manifest_changed
            && entry.observed.is_none()
            && !entry.manifest_digest.is_empty()
            && !self.options.rotate.contains(&resource.key)
            && !crate::external::sources::has_sources(&resource.spec)
            && !resource.references.iter().any(|(_, key)| self.recreated.contains(key))
            && self.renew_token(resource).is_none_or(|token| entry.renew_token.as_ref() == Some(&token))
    }

    fn preexisting(&self, resource: &Resource, listing: Option<&Listing>) -> Vec<String> {
        let name = self.client.display_name(&resource.spec);
        listing.map(|l| l.unmanaged_named(&name).iter().map(|s| s.id.clone()).collect()).unwrap_or_default()
    }

    /// A create was sent but its answer never recorded: adopt what it made,
    /// or create it now if it made nothing.
    async fn plan_pending(
        &self,
        resource: &Resource,
        entry: &Entry,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let desired = self.desired(resource, None).await?;
        let recorded = entry.last_applied();
        let sent = if recorded.is_empty() { self.client.facts().sent_by_create(&desired) } else { recorded };
        let renewing = self.renew_token(resource).is_some();
        let found = self.by_natural_key(&desired, listing)?;
        // Renewing, a finished object is the old one, not what was asked for.
        let found = found.filter(|f| !(renewing && (self.client.facts().terminal)(&f.fields).is_some()));
        if let Some(found) = found {
            let reason = Reason::LostCreateFoundByNaturalKey;
            return self.adopt(resource, &found.id, reason, listing, Some(&sent)).await;
        }
        if self.client.facts().natural_key_of(&desired).is_some() {
            let mut change = self.plan_create(resource).await?;
            change.reasons.push(Reason::LostCreateResent);
            return Ok(Outcome::Change(Box::new(change)));
        }
        // What the lost create made has its name and what the create sent
        // (schedules, for one, share names), and was not there before.
        let lost = LostCreate { display_name: &entry.display_name, sent: &sent, preexisting: &entry.preexisting };
        let candidates = listing.map(|l| lost.candidates(&l.summaries, &l.managed)).unwrap_or_default();
        match candidates.as_slice() {
            [] => {
                let mut change = self.plan_create(resource).await?;
                change.reasons.push(Reason::LostCreateResent);
                // What has its name now was not made by that create.
                change.preexisting = self.preexisting(resource, listing);
                Ok(Outcome::Change(Box::new(change)))
            }
            [found] => {
                self.adopt(resource, &found.id, Reason::LostCreateFound, listing, Some(&sent)).await
            }
            several => Err(ProviderError::Invalid(format!(
                "{}: an earlier create got no answer, and {} unmanaged objects are named {:?} (ids {}); adopt one with `seqops import {} ID`",
                resource.key,
                several.len(),
                entry.display_name,
                several.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", "),
                resource.key
            ))),
        }
    }

    async fn plan_new(
        &self,
        resource: &Resource,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        if let Some(id) = resource.annotation(annotations::EXTERNAL_ID) {
            if self.state.managed_ids(self.provider, self.client.facts().key_kind).contains(id) {
                return Err(ProviderError::Invalid(format!(
                    "{}: seqops.dev/external-id names {id}, which another manifest already manages",
                    resource.key
                )));
            }
            return self.plan_adopt(resource, id, Reason::ExternalIdNamesIt, listing).await;
        }
        let facts = self.client.facts();
        if let Some(id) = facts.id_field.and_then(|f| resource.spec.get(f)).and_then(|v| v.as_str()) {
            if self.state.managed_ids(self.provider, facts.key_kind).contains(id) {
                return Err(ProviderError::Invalid(format!(
                    "{}: spec.id names {id}, which another manifest already manages",
                    resource.key
                )));
            }
            return self.plan_adopt(resource, id, Reason::SpecIdNamesIt, listing).await;
        }
        if facts.natural_key_of(&self.desired(resource, None).await?).is_some() {
            return self.plan_new_by_natural_key(resource, listing).await;
        }
        if !facts.creatable {
            return Err(ProviderError::Invalid(format!(
                "{}: the API cannot create a {}; name an existing one with seqops.dev/external-id",
                resource.key, resource.key.kind
            )));
        }
        let name = self.client.display_name(&resource.spec);
        let candidates = listing.map(|l| l.unmanaged_named(&name)).unwrap_or_default();
        let ids = || candidates.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
        if resource.annotation_is_true(annotations::ADOPT) {
            match candidates.as_slice() {
                [found] => return self.plan_adopt(resource, &found.id, Reason::AdoptAnnotationMatchesName, listing).await,
                [] => {}
                several => {
                    return Err(ProviderError::Invalid(format!(
                        "{}: seqops.dev/adopt asks to adopt the one object named {name:?}, but there are {} (ids {}); choose one with seqops.dev/external-id",
                        resource.key,
                        several.len(),
                        ids()
                    )))
                }
            }
        } else if !candidates.is_empty() {
            warnings.push(format!(
                "{}: {} already named {name:?} (ids {}); another will be created. Set seqops.dev/adopt: \"true\" to adopt instead.",
                resource.key,
                crate::words::count(candidates.len() as u64, "unmanaged remote object", "unmanaged remote objects"),
                ids()
            ));
        }
        let mut change = self.plan_create(resource).await?;
        change.preexisting = candidates.iter().map(|s| s.id.clone()).collect();
        Ok(Outcome::Change(Box::new(change)))
    }

    /// A kind with a natural key: the remote object with the same key is
    /// this manifest's (adopted where the create is idempotent or the
    /// manifest asks to adopt); one in a terminal state is bound as it is
    /// and never made again.
    async fn plan_new_by_natural_key(
        &self,
        resource: &Resource,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let desired = self.desired(resource, None).await?;
        let facts = self.client.facts();
        // Two manifests with one natural key would both be bound to the one
        // object the API makes for it.
        if let Some(key) = facts.natural_key_of(&desired) {
            self.claim(&format!("natural key {}", serde_json::Value::Array(key)), &resource.key)?;
        }
        let found = self.by_natural_key(&desired, listing)?;
        if !facts.creatable {
            return self.adopt_only(resource, found, listing).await;
        }
        let Some(found) = found else {
            return Ok(Outcome::Change(Box::new(self.plan_create(resource).await?)));
        };
        let key = facts.natural_key.join(" and ");
        let renewing = self.renew_token(resource).is_some();
        if let Some(status) = (facts.terminal)(&found.fields).filter(|_| !renewing) {
            let reason = Reason::ExistsFinished { id: found.id.clone(), natural_key: natural_key(facts), status };
            return self.plan_adopt(resource, &found.id, reason, listing).await;
        }
        if let Some(renew) = facts.renew.filter(|_| (facts.terminal)(&found.fields).is_some()) {
            let why = Reason::RenewFinished {
                noun: renew.noun.to_string(),
                id: found.id.clone(),
                annotation: renew.annotation.to_string(),
            };
            return Ok(Outcome::Change(Box::new(Box::pin(self.plan_renewal(resource, why)).await?)));
        }
        if facts.create_overwrites && !resource.annotation_is_true(annotations::ADOPT) {
            return Err(ProviderError::Invalid(format!(
                "{}: {} already exists and no state entry manages it; creating it would replace what it holds (the API's create is an upsert by {key}). Set seqops.dev/adopt: \"true\" to take it over and write this value over it, or remove the manifest",
                resource.key, found.id
            )));
        }
        if facts.idempotent_create || resource.annotation_is_true(annotations::ADOPT) {
            let reason = Reason::ExistsAdopted { id: found.id.clone(), natural_key: natural_key(facts) };
            return self.plan_adopt(resource, &found.id, reason, listing).await;
        }
        Err(ProviderError::Invalid(format!(
            "{}: {} already exists with this {key} and no state entry manages it; adopt it with seqops.dev/adopt: \"true\"",
            resource.key, found.id
        )))
    }

    /// A kind the API cannot create adopts the one live object its natural
    /// key names; none, or only finished ones, is a plan error naming them.
    async fn adopt_only(
        &self,
        resource: &Resource,
        found: Option<&RemoteSummary>,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let facts = self.client.facts();
        let key = facts.natural_key.join(" and ");
        match found {
            Some(found) if (facts.terminal)(&found.fields).is_none() => {
                let reason = Reason::OneLive { kind: resource.key.kind.clone(), natural_key: natural_key(facts) };
                self.plan_adopt(resource, &found.id, reason, listing).await
            }
            _ => {
                let desired = self.desired(resource, None).await?;
                let wanted = facts.natural_key_of(&desired);
                let candidates: Vec<String> = listing
                    .map(|l| l.summaries.iter())
                    .into_iter()
                    .flatten()
                    .filter(|s| facts.natural_key_of(&s.fields) == wanted)
                    .map(|s| {
                        format!("{} ({})", s.id, plain(s.fields.get("status").unwrap_or(&serde_json::Value::Null)))
                    })
                    .collect();
                let found = if candidates.is_empty() {
                    "there is none".to_string()
                } else {
                    format!("there are only finished ones: {}", candidates.join(", "))
                };
                Err(ProviderError::Invalid(format!(
                    "{}: the API cannot create a {}, and no live one has this {key}; {found}. Name one with spec.id",
                    resource.key, resource.key.kind
                )))
            }
        }
    }

    /// The unmanaged remote object whose natural key equals the desired
    /// one's: the live one if there is one, else the newest (listings come
    /// oldest first). Several live ones are an error, never a guess.
    fn by_natural_key<'l>(
        &self,
        desired: &Fields,
        listing: Option<&'l Listing>,
    ) -> Result<Option<&'l RemoteSummary>, ProviderError> {
        let facts = self.client.facts();
        let (Some(wanted), Some(listing)) = (facts.natural_key_of(desired), listing) else { return Ok(None) };
        let (managed, same): (Vec<&RemoteSummary>, Vec<&RemoteSummary>) = listing
            .summaries
            .iter()
            .filter(|s| facts.natural_key_of(&s.fields).as_ref() == Some(&wanted))
            .partition(|s| listing.managed.contains(&s.id));
        if let Some(taken) = managed.iter().find(|s| (facts.terminal)(&s.fields).is_none()) {
            let holder = self.state.resources.iter().find(|(_, e)| e.id.as_deref() == Some(taken.id.as_str()));
            let holder = holder.map_or_else(|| "another manifest".to_string(), |(key, _)| key.to_string());
            return Err(ProviderError::Invalid(format!(
                "{} ({}) is already managed by {holder}: one remote object cannot be bound to two manifests",
                taken.id,
                facts.natural_key.join(" and ")
            )));
        }
        let live: Vec<&RemoteSummary> =
            same.iter().copied().filter(|s| (facts.terminal)(&s.fields).is_none()).collect();
        match live.as_slice() {
            [] => Ok(same.last().copied()),
            [one] => Ok(Some(one)),
            several => Err(ProviderError::Invalid(format!(
                "{} live remote objects share the natural key {} ({}); choose one by id",
                several.len(),
                facts.natural_key.join(" and "),
                several
                    .iter()
                    .map(|s| format!("{} {}", s.id, plain(s.fields.get("status").unwrap_or(&serde_json::Value::Null))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn plan_create(&self, resource: &Resource) -> Result<Change, ProviderError> {
        let target = resource.spec.get("writeSecretTo");
        if self.options.outputs_to_files && target.is_some_and(|t| t.get("file").is_none()) {
            return Err(ProviderError::Lookup {
                field: "spec.writeSecretTo".into(),
                message: "the CLI writes values shown once to a file: add `file: PATH` (secretRef is the controller's)"
                    .into(),
            });
        }
        // Checked now: once the object is made, its value has nowhere else
        // to go.
        if let Some(file) =
            target.and_then(|t| t.get("file")).and_then(|f| f.as_str()).filter(|_| self.options.outputs_to_files)
        {
            crate::files::confined(Path::new(&source_dir(resource)), file)
                .map_err(|message| ProviderError::Lookup { field: "spec.writeSecretTo.file".into(), message })?;
        }
        let mut change = self.base_change(resource, Action::Create, None);
        change.desired = self.desired(resource, None).await?;
        change.fields = diff::creation(&change.desired);
        annotate(&mut change, resource, self.client.as_ref());
        Ok(change)
    }

    async fn plan_adopt(
        &self,
        resource: &Resource,
        id: &str,
        reason: Reason,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        self.adopt(resource, id, reason, listing, None).await
    }

    /// Adopts `id`. What a lost create made is adopted with what the create
    /// sent as what was applied (`sent`): a field the API never returns
    /// (an Orqis agent's `openapiSpec`) is then taken to be as sent, not
    /// a difference that would force a replacement.
    async fn adopt(
        &self,
        resource: &Resource,
        id: &str,
        reason: Reason,
        listing: Option<&Listing>,
        sent: Option<&Fields>,
    ) -> Result<Outcome, ProviderError> {
        self.claim(id, &resource.key)?;
        let mut observed = self.read(id, listing).await?.ok_or_else(|| {
            ProviderError::Invalid(format!("{}: there is no remote object with id {id} to adopt", resource.key))
        })?;
        let desired = self.desired(resource, None).await?;
        let digests = self.state.digests_for(&resource.key, &self.options.digests);
        crate::external::digest::conceal_fields(&mut observed, &[&desired], &digests);
        let found = diff::diff(&desired, sent, &observed, self.client.facts());
        if !found.replace_reasons.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "{}: cannot adopt {id}: {}; make the manifest match it, or drop the adoption to create a new object",
                resource.key,
                reason::joined(&found.replace_reasons, "; ")
            )));
        }
        if !self.client.facts().updatable && !found.updates.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "{}: {id} differs from the manifest in {}, and the API cannot change it; {}",
                resource.key,
                field_list(&found.updates),
                self.client.facts().unchangeable_hint
            )));
        }
        let mut change = self.base_change(resource, Action::Adopt, Some(id.to_string()));
        if let Some(how) = self.ending(&change, &found.updates, &desired, &format!("adopting {id}"))? {
            change.reasons.push(Reason::EndsIt { how });
            change.ends = true;
        }
        change.reasons.push(reason);
        change.reasons.extend(observations(self.client.facts(), &observed));
        change.fields = found.changes;
        change.updates = found.updates;
        change.desired = desired;
        change.observed = observed;
        annotate(&mut change, resource, self.client.as_ref());
        Ok(Outcome::Change(Box::new(change)))
    }

    /// Before an object a read says is gone is created again, the listing
    /// must agree: a read that answers 404 for an object the list still
    /// has (a flaky read, a wrong base path) must not plan a duplicate.
    async fn confirm_gone(
        &self,
        resource: &Resource,
        entry: &Entry,
        id: &str,
        listing: Option<&Listing>,
    ) -> Result<(), ProviderError> {
        let listed = match listing {
            Some(listing) => listing.get(id).is_some(),
            None => {
                let scope = Scoped { spec: &resource.spec, previous: Some(entry.applied()) };
                self.client.list(&ListScope::Specs(vec![scope])).await?.iter().any(|s| s.id == id)
            }
        };
        if listed {
            return Err(ProviderError::Invalid(format!(
                "reading {id} answered that it is gone, but the list of the account's objects still has it: it is not created again; run again, or check the Provider's baseUrl"
            )));
        }
        Ok(())
    }

    /// The object a pending entry's lost create made, to delete with it:
    /// only the one its natural key names, or that has its name and what
    /// the create sent and was not there before; never a guess by name
    /// alone.
    fn made_by_lost_create(
        &self,
        entry: &Entry,
        listing: Option<&Listing>,
        reasons: &mut Vec<Reason>,
    ) -> Option<String> {
        let sent = entry.last_applied();
        let lost = LostCreate { display_name: &entry.display_name, sent: &sent, preexisting: &entry.preexisting };
        let facts = self.client.facts();
        let candidates = listing.map(|l| lost.made(facts, &l.summaries, &l.managed)).unwrap_or_default();
        match candidates.as_slice() {
            [] => None,
            [one] if !lost.knows_what_was_sent() => {
                reasons.push(Reason::LostCreateSentUnknown { id: one.id.clone() });
                None
            }
            [one] => Some(one.id.clone()),
            several => {
                reasons.push(Reason::LostCreateAmbiguous { ids: several.iter().map(|s| s.id.clone()).collect() });
                None
            }
        }
    }

    /// A state entry whose manifest is gone, or a replaced object's old id.
    fn plan_removal(&self, key: &ResourceKey, entry: &Entry, listing: Option<&Listing>) -> Outcome {
        let mut id = entry.deposed_id.clone().or_else(|| entry.id.clone());
        let mut reasons = Vec::new();
        if entry.deposed_id.is_some() {
            reasons.push(Reason::ReplacedByExists);
        } else if id.is_none() {
            id = self.made_by_lost_create(entry, listing, &mut reasons);
        }
        reasons.extend(observations(self.client.facts(), &entry.observed()));
        let deletable = self.client.facts().deletable;
        let policy_keeps = !crate::manifest::policy::allows(&entry.applied_spec(), Policy::Delete);
        let keeps = entry.orphan_on_delete || !deletable || policy_keeps;
        let action = if id.is_none() || (entry.deposed_id.is_none() && keeps) {
            if policy_keeps && !entry.orphan_on_delete {
                reasons.push(Reason::PolicyKeeps);
            }
            if entry.orphan_on_delete {
                reasons.push(Reason::OrphanKeeps);
            } else if !deletable {
                reasons.push(Reason::CannotDelete);
            }
            Action::Forget
        } else {
            Action::Delete
        };
        if action == Action::Delete && entry.prevent_destroy && entry.deposed_id.is_none() {
            return Outcome::Failed(format!(
                "{key}: its manifest is gone, so it would be deleted, but it has seqops.dev/prevent-destroy: \"true\"; restore the manifest, or remove the annotation and apply first"
            ));
        }
        Outcome::Change(Box::new(Change {
            key: key.clone(),
            api_version: entry.api_version.clone(),
            provider: self.provider.to_string(),
            action,
            id,
            display_name: entry.display_name.clone(),
            fields: Vec::new(),
            drift: Vec::new(),
            reasons,
            desired: Fields::new(),
            updates: Fields::new(),
            manifest_digest: entry.manifest_digest.clone(),
            spec: entry.applied_spec(),
            source_dir: String::new(),
            observed: entry.observed(),
            depends_on: entry.depends_on.clone(),
            references: Vec::new(),
            preexisting: Vec::new(),
            orphan_on_delete: entry.orphan_on_delete,
            prevent_destroy: entry.prevent_destroy,
            renew_token: entry.renew_token.clone(),
            renews: false,
            annotations: BTreeMap::new(),
            ends: false,
            requests: 0,
        }))
    }
}

/// The requests applying `change` is expected to make.
fn requests_of(client: &dyn ExternalClient, change: &Change) -> u64 {
    let create = || client.requests(Write::Create { desired: &change.desired });
    let update = || client.requests(Write::Update { changes: &change.updates, observed: &change.observed });
    match change.action {
        Action::Create => create(),
        Action::Update => update(),
        Action::Replace => create() + client.requests(Write::Delete),
        Action::Delete => client.requests(Write::Delete),
        Action::Adopt if !change.updates.is_empty() => update(),
        Action::Adopt | Action::Forget => 0,
    }
}

/// What the vendor moves by itself (`status`, `currentStep`, `nextRunAt`
/// …), as last seen; none when it shows none of them.
fn observations(facts: &crate::external::KindFacts, observed: &Fields) -> Option<Reason> {
    let seen: Vec<(String, String)> = facts
        .observations
        .iter()
        .filter_map(|f| observed.get(*f).filter(|v| !v.is_null()).map(|v| (f.to_string(), plain(v))))
        .collect();
    (!seen.is_empty()).then_some(Reason::Observed { seen })
}

/// The fields of the kind's natural key, as reasons name them.
fn natural_key(facts: &crate::external::KindFacts) -> Vec<String> {
    facts.natural_key.iter().map(ToString::to_string).collect()
}

fn plain(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// `metadata, contactId`: the fields of a change, for messages.
fn field_list(fields: &Fields) -> String {
    fields.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// Notes on the fields whose new value is an id: the lookup or the manifest
/// it comes from (`agentRef` fills `agent`).
fn annotate(change: &mut Change, resource: &Resource, client: &dyn ExternalClient) {
    let mut labels = client.labels(&resource.spec);
    for (field, key) in &resource.references {
        if let Some(name) = field.strip_prefix("spec.").and_then(|f| f.strip_suffix("Ref.name")) {
            labels.insert(name.to_string(), key.to_string());
        }
    }
    let sources: BTreeMap<String, String> = crate::external::sources::described(&resource.spec).into_iter().collect();
    for field in &mut change.fields {
        if field.sensitive {
            // A reviewer sees what the manifest reads, never the value.
            field.note = sources.get(&field.path).map(|source| format!("from {source}"));
        } else if field.after.is_some() {
            field.note = labels.get(&field.path).cloned();
        }
    }
}

/// What reads a manifest's sources: from its folder, for the sandbox or
/// not, with the cluster's values when there are any.
fn reader_for<'c>(resource: &Resource, options: &PlanOptions, cluster: &'c ClusterValues) -> SourceReader<'c> {
    SourceReader { base_dir: Path::new(&source_dir(resource)).to_path_buf(), sandbox: options.sandbox, cluster }
}

/// The folder of the manifest's file: where its relative paths start.
fn source_dir(resource: &Resource) -> String {
    resource.document.dir.display().to_string()
}

/// Whether a listing's summary shows a change since state last saw the
/// object (or the object is missing from the listing).
fn summary_differs(summary: Option<&RemoteSummary>, applied: &Fields, observed: &Fields, digests: &Digests) -> bool {
    let Some(summary) = summary else { return true };
    let mut fields = std::borrow::Cow::Borrowed(&summary.fields);
    if applied.values().any(crate::external::digest::holds_digest) {
        // A secret the listing returns in clear is compared as its digest.
        crate::external::digest::conceal_fields(fields.to_mut(), &[applied], digests);
    }
    fields.iter().any(|(field, value)| observed.get(field).is_some_and(|seen| seen != value))
}

/// Puts a provider's error in the manifest's terms: a lookup points at the
/// field that asked for it.
fn located(resource: &Resource, error: ProviderError) -> String {
    match &error {
        ProviderError::Lookup { field, message } => {
            format!("{}: {field}: {message}", resource.document.locate(field))
        }
        _ => format!("{}: {}: {error}", resource.location(), resource.key),
    }
}
