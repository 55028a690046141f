//! Planning: for every manifest and every state entry, what must happen
//! remotely, and why.
//!
//! This module holds the plan's types and the driver that plans every
//! group of one kind in one account; each situation an object can be in is
//! planned in a module of its own:
//!
//! - `new`: a manifest state knows nothing of (create, or find and adopt);
//! - `existing`: a manifest whose object state knows (update, replace,
//!   create again, or nothing);
//! - `adoption`: binding a remote object that already exists;
//! - `pending`: a create whose answer was lost;
//! - `transitions`: ending an object, renewing it, and one that ended by
//!   itself;
//! - `removal`: a state entry without a manifest, or a replaced object's
//!   old id;
//! - `left_alone`: what `ObserveOnly`, a pause or `managementPolicies`
//!   holds back, and what waits for it;
//! - `checks`: what is refused before the first request.
//!
//! `group` has what they share: the group's listing, how a change starts
//! and the words of its notes.

mod action;
mod adoption;
mod checks;
mod existing;
mod group;
mod left_alone;
mod moves;
mod new;
mod pending;
mod removal;
mod transitions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::connections::AccountUsage;
use super::diff::FieldChange;
use super::reason::Reason;
use super::state::{Entry, State};
use super::{Connections, EngineError, Failure};
use crate::external::digest::Digests;
use crate::external::Fields;
use crate::manifest::{Manifests, Resource, ResourceKey};
use group::Group;

pub use action::{Action, Steps, Summary, Verb};
pub use left_alone::refused_by_policy;

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
    pub spec: crate::external::Spec,
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
    /// What it does beyond its action: a move between states, a move to
    /// a new name, what cannot be undone.
    pub steps: Steps,
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
    /// How many changes show each verb: an adoption that also stops counts
    /// once under each.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
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
    Failed(Failure),
}

/// The manifests and the state entries without manifests, of one kind in
/// one account.
type Groups<'a> = BTreeMap<(String, String), (Vec<&'a Resource>, Vec<(&'a ResourceKey, &'a Entry)>)>;

/// What planning every group once made.
#[derive(Default)]
struct Planned {
    changes: Vec<Change>,
    syncs: Vec<StateSync>,
    /// Problems that make the plan fail, one line each.
    errors: Vec<Failure>,
    warnings: Vec<String>,
}

/// Plans every manifest against state and the remote side.
pub async fn plan(
    manifests: &Manifests,
    state: &State,
    connections: &Connections,
    options: &PlanOptions,
) -> Result<Plan, EngineError> {
    // Checks that can fail run before the first request.
    let refused = checks::refused_reads(manifests, options, connections);
    if !refused.is_empty() {
        return Err(EngineError::Plan(refused));
    }
    let selected = select_targets(manifests, state, &options.targets)?;
    let (state, moved) = moves::moved_state(manifests, state, selected.as_ref())?;
    let state = state.as_ref();
    let groups = grouped(manifests, state, selected.as_ref());
    let mut warnings = opening_warnings(manifests, options, selected.as_ref());
    let planned = plan_until_ids_settle(manifests, &groups, state, connections, options).await;
    let (mut changes, left_alone) = left_alone::leave_alone_what_may_not_change(manifests, planned.changes);
    moves::show_moves(&mut changes, &moved, state);
    warnings.extend(planned.warnings);
    warnings.extend(left_alone);
    warnings.extend(moves::looks_renamed(&changes));
    if !planned.errors.is_empty() {
        return Err(EngineError::Failed(planned.errors));
    }
    Ok(Plan { changes, warnings, usage: connections.usage(), syncs: planned.syncs })
}

/// The manifests a plan covers, and the state entries it may remove (no
/// manifest, or an old id still to delete), by account and kind.
fn grouped<'a>(manifests: &'a Manifests, state: &'a State, selected: Option<&BTreeSet<ResourceKey>>) -> Groups<'a> {
    let wanted = |key: &ResourceKey| selected.is_none_or(|s| s.contains(key));
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
    groups
}

/// What a reader must know before the changes: secrets that cannot be
/// compared, and a plan that covers only its targets.
fn opening_warnings(
    manifests: &Manifests,
    options: &PlanOptions,
    selected: Option<&BTreeSet<ResourceKey>>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if options.digests.key().is_none() && manifests.managed().any(|r| r.spec.sources().any()) {
        warnings.push(
            "no digest key is at hand (SEQOPS_DIGEST_KEY, or the key file `seqops apply` makes): secrets cannot be compared, and show as (sensitive: not comparable)".into(),
        );
    }
    if let Some(selected) = selected {
        let names: Vec<String> = selected.iter().map(ToString::to_string).collect();
        warnings.push(format!(
            "this plan is partial (--target): it covers only {}; other changes may be pending",
            names.join(", ")
        ));
    }
    warnings
}

/// Objects that get a new remote id (replaced, or created again) change
/// what refers to them: those are planned again with the id unknown until
/// apply, as often as that reaches further.
async fn plan_until_ids_settle(
    manifests: &Manifests,
    groups: &Groups<'_>,
    state: &State,
    connections: &Connections,
    options: &PlanOptions,
) -> Planned {
    let mut recreated = BTreeSet::new();
    loop {
        let planned = plan_groups(groups, state, connections, options, &recreated).await;
        let now = new_ids(&planned.changes, state);
        let affects_others = manifests
            .managed()
            .any(|r| r.references.iter().any(|(_, key)| now.contains(key) && !recreated.contains(key)));
        if !affects_others || now.is_subset(&recreated) {
            return planned;
        }
        recreated.extend(now);
    }
}

/// The objects `changes` give a new remote id: replaced, or created again
/// where state had one.
fn new_ids(changes: &[Change], state: &State) -> BTreeSet<ResourceKey> {
    changes
        .iter()
        .filter(|c| {
            c.action == Action::Replace
                || (c.action == Action::Create && state.resources.get(&c.key).is_some_and(|e| e.id.is_some()))
        })
        .map(|c| c.key.clone())
        .collect()
}

/// Plans every group once; `recreated` are the objects whose remote id
/// this plan changes.
async fn plan_groups(
    groups: &Groups<'_>,
    state: &State,
    connections: &Connections,
    options: &PlanOptions,
    recreated: &BTreeSet<ResourceKey>,
) -> Planned {
    let mut planned = Planned::default();
    for ((provider, kind), (resources, orphans)) in groups {
        let client = match connections.client(provider, kind) {
            Ok(client) => client,
            Err(error) => {
                planned.errors.push(error.to_string().into());
                continue;
            }
        };
        let group = Group {
            client,
            state,
            provider,
            kind,
            options,
            connections,
            recreated,
            claimed: Mutex::new(BTreeMap::new()),
        };
        match group.plan(resources, orphans, &mut planned.warnings).await {
            Ok(outcomes) => planned.add(outcomes),
            Err(error) => planned.errors.push(Failure::new(error.to_string(), error.cause())),
        }
    }
    planned
}

impl Planned {
    fn add(&mut self, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Change(change) => self.changes.push(*change),
                Outcome::Sync(sync) => self.syncs.push(*sync),
                Outcome::Unchanged => {}
                Outcome::Failed(message) => self.errors.push(message),
            }
        }
    }
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
