//! One group: the manifests and state entries of one kind in one account,
//! planned against one listing. What every situation shares lives here: the
//! listing, how a change starts, what a manifest resolves to, and the words
//! of a change's notes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use super::{Action, Change, Outcome, PlanOptions, ReferenceTo, Refresh, Steps};
use crate::engine::diff::FieldChange;
use crate::engine::reason::Reason;
use crate::engine::state::{Entry, State};
use crate::engine::{digest, Connections, Failure};
use crate::external::sources::SourceReader;
use crate::external::{
    DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Scoped, Spec, Write,
};
use crate::manifest::{annotations, Resource, ResourceKey};

/// The manifests and state entries of one kind in one account.
pub(super) struct Group<'a> {
    pub(super) client: Arc<dyn ExternalClient>,
    pub(super) state: &'a State,
    pub(super) provider: &'a str,
    /// The key kind of every object in the group.
    pub(super) kind: &'a str,
    pub(super) options: &'a PlanOptions,
    pub(super) connections: &'a Connections,
    /// Objects whose remote id this plan changes: references to them are
    /// known only after apply.
    pub(super) recreated: &'a BTreeSet<ResourceKey>,
    /// Remote ids this plan adopts, by the key adopting them: one remote
    /// object is never bound to two manifests.
    pub(super) claimed: Mutex<BTreeMap<String, ResourceKey>>,
}

/// The remote listing, once per group, when the plan needs it.
pub(super) struct Listing {
    pub(super) summaries: Vec<RemoteSummary>,
    by_id: std::collections::HashMap<String, usize>,
    pub(super) managed: BTreeSet<String>,
}

impl Listing {
    fn new(summaries: Vec<RemoteSummary>, managed: BTreeSet<String>) -> Self {
        let by_id = summaries.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        Self { summaries, by_id, managed }
    }

    /// Remote objects no state entry manages, named `name`.
    pub(super) fn unmanaged_named(&self, name: &str) -> Vec<&RemoteSummary> {
        self.summaries.iter().filter(|s| s.display_name == name && !self.managed.contains(&s.id)).collect()
    }

    pub(super) fn get(&self, id: &str) -> Option<&RemoteSummary> {
        self.by_id.get(id).map(|&i| &self.summaries[i])
    }
}

impl Group<'_> {
    /// Plans the group's manifests, then its state entries without one,
    /// and checks the account has room for the creates.
    pub(super) async fn plan(
        &self,
        resources: &[&Resource],
        orphans: &[(&ResourceKey, &Entry)],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        let listing = self.listing(resources, orphans).await?;
        let listing = listing.as_ref();
        let mut outcomes = self.plan_manifests(resources, listing, warnings).await;
        for (key, entry) in orphans {
            outcomes.push(self.plan_removal(key, entry, listing));
        }
        for outcome in &mut outcomes {
            if let Outcome::Change(change) = outcome {
                change.requests = requests_of(self.client.as_ref(), change);
            }
        }
        self.client.check_capacity(self.creates(&outcomes)).await?;
        Ok(outcomes)
    }

    /// The group's listing, read once, when the plan needs one: to refresh,
    /// or to find what a new manifest or a lost create may already have.
    async fn listing(
        &self,
        resources: &[&Resource],
        orphans: &[(&ResourceKey, &Entry)],
    ) -> Result<Option<Listing>, ProviderError> {
        let needs_listing = (self.options.refresh != Refresh::None && !self.options.list_only_for_new)
            || resources.iter().any(|r| self.state.resources.get(&r.key).is_none_or(|e| e.id.is_none()))
            || orphans.iter().any(|(_, e)| e.id.is_none());
        if !needs_listing {
            return Ok(None);
        }
        let managed = self.state.managed_ids(self.provider, self.kind);
        let orphan_specs: Vec<Spec> = orphans.iter().map(|(_, e)| Spec::from_json(e.applied_spec())).collect();
        let scope = resources
            .iter()
            .map(|r| Scoped { spec: &r.spec, previous: self.state.resources.get(&r.key).map(Entry::applied) })
            .chain(
                orphans.iter().zip(&orphan_specs).map(|((_, e), spec)| Scoped { spec, previous: Some(e.applied()) }),
            );
        Ok(Some(Listing::new(self.client.list(&ListScope::Specs(scope.collect())).await?, managed)))
    }

    /// Plans every manifest, `parallelism` at once, keeping their order;
    /// the notes each makes join `warnings`.
    async fn plan_manifests(
        &self,
        resources: &[&Resource],
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Vec<Outcome> {
        // Boxed futures made before the stream, a few hundred at a time:
        // see `engine::apply`.
        let parallelism = self.options.parallelism.max(1);
        let mut outcomes = Vec::with_capacity(resources.len());
        for chunk in resources.chunks(crate::engine::apply::FUTURES_AT_ONCE.max(parallelism)) {
            let plans: Vec<BoxFuture<'_, (Outcome, Vec<String>)>> = chunk
                .iter()
                .map(|resource| -> BoxFuture<'_, _> { Box::pin(self.plan_one(resource, listing)) })
                .collect();
            for (outcome, mut notes) in stream::iter(plans).buffered(parallelism).collect::<Vec<_>>().await {
                outcomes.push(outcome);
                warnings.append(&mut notes);
            }
        }
        outcomes
    }

    /// How many objects the outcomes make: what the account must have room
    /// for.
    fn creates(&self, outcomes: &[Outcome]) -> usize {
        let facts = self.client.facts();
        outcomes
            .iter()
            .filter(|o| match o {
                Outcome::Change(c) => {
                    c.action == Action::Create || (c.action == Action::Replace && facts.create_before_delete())
                }
                _ => false,
            })
            .count()
    }

    async fn plan_one(&self, resource: &Resource, listing: Option<&Listing>) -> (Outcome, Vec<String>) {
        let mut notes: Vec<String> =
            self.client.notes(&resource.spec).into_iter().map(|note| format!("{}: {note}", resource.key)).collect();
        let outcome = match self.plan_resource(resource, listing, &mut notes).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Failed(Failure::new(located(resource, &error), error.cause())),
        };
        (outcome, notes)
    }

    /// The situation the manifest's object is in, by what state knows of
    /// it: an id, a create without an answer, or nothing.
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

    /// Binds `id` to `key` for this plan, or says which manifest has it.
    pub(super) fn claim(&self, id: &str, key: &ResourceKey) -> Result<(), ProviderError> {
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

    /// A change to the manifest's object with nothing planned yet: what
    /// the manifest says, recorded with the object once applied.
    pub(super) fn base_change(&self, resource: &Resource, action: Action, id: Option<String>) -> Change {
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
            manifest_digest: digest(resource.spec.json()),
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
            steps: Steps {
                create_first: self.client.facts().create_before_delete(),
                lasting: action == Action::Create && !self.client.facts().deletable(),
                ..Steps::default()
            },
            requests: 0,
        }
    }

    /// The object's current fields: from a listing that shows objects whole
    /// (as good as a read, and free), else read.
    pub(super) async fn read(&self, id: &str, listing: Option<&Listing>) -> Result<Option<Fields>, ProviderError> {
        let listed = listing.and_then(|l| l.get(id)).filter(|_| self.client.facts().full_listing());
        match listed {
            Some(summary) => Ok(Some(summary.fields.clone())),
            None => self.client.observe(id).await,
        }
    }

    /// The token of the kind's renew annotation on the manifest, if any.
    pub(super) fn renew_token(&self, resource: &Resource) -> Option<String> {
        resource.annotation(self.client.facts().renew()?.annotation).map(String::from)
    }

    /// What the provider needs to resolve a spec: its sources read, its
    /// references' remote ids, how secrets are digested, and what it
    /// resolved to last time.
    fn context<'e>(
        &self,
        resource: &Resource,
        previous: Option<&'e Entry>,
    ) -> Result<DesiredContext<'e>, ProviderError> {
        let sources = reader_for(resource, self.options, self.connections)
            .read_all(resource.spec.sources())
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

    pub(super) async fn desired(&self, resource: &Resource, previous: Option<&Entry>) -> Result<Fields, ProviderError> {
        Ok(self.desired_and_rekeying(resource, previous).await?.0)
    }

    /// The desired fields, and which old digests of the values in hand
    /// become which digests under the key.
    pub(super) async fn desired_and_rekeying(
        &self,
        resource: &Resource,
        previous: Option<&Entry>,
    ) -> Result<(Fields, BTreeMap<String, String>), ProviderError> {
        let context = self.context(resource, previous)?;
        let rekeying = context.digests.rekeying(&context.sources);
        let desired = self.client.desired(&resource.spec, &context).await?;
        Ok((desired, rekeying))
    }

    /// Unmanaged objects that already have the manifest's name: a create
    /// whose answer is lost must not take one of them for its own.
    pub(super) fn preexisting(&self, resource: &Resource, listing: Option<&Listing>) -> Vec<String> {
        let name = self.client.display_name(&resource.spec);
        listing.map(|l| l.unmanaged_named(&name).iter().map(|s| s.id.clone()).collect()).unwrap_or_default()
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
        Action::Adopt | Action::Forget | Action::Moved => 0,
    }
}

/// What the vendor moves by itself (`status`, `currentStep`, `nextRunAt`
/// …), as last seen; none when it shows none of them.
pub(super) fn observations(facts: &KindFacts, observed: &Fields) -> Option<Reason> {
    let seen: Vec<(String, String)> = facts
        .observations()
        .filter_map(|f| observed.get(f).filter(|v| !v.is_null()).map(|v| (f.to_string(), plain(v))))
        .collect();
    (!seen.is_empty()).then_some(Reason::Observed { seen })
}

/// The fields of the kind's natural key, as reasons name them.
pub(super) fn natural_key(facts: &KindFacts) -> Vec<String> {
    facts.natural_key().iter().map(ToString::to_string).collect()
}

/// A value as a message shows it: text without its quotes.
pub(super) fn plain(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// `metadata, contactId`: the fields of a change, for messages.
pub(super) fn field_list(fields: &Fields) -> String {
    fields.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// Notes on the fields whose new value is an id: the lookup or the manifest
/// it comes from (`agentRef` fills `agent`).
pub(super) fn annotate(change: &mut Change, resource: &Resource, client: &dyn ExternalClient) {
    let mut labels = client.labels(&resource.spec);
    // A reference's field holds the id of what `spec.agentRef` names.
    let mut refs = BTreeMap::new();
    for (field, key) in &resource.references {
        if let Some(name) = field.strip_prefix("spec.").and_then(|f| f.strip_suffix("Ref.name")) {
            labels.insert(name.to_string(), key.to_string());
            refs.insert(name.to_string(), format!("{name}Ref"));
        }
    }
    let sources: BTreeMap<String, String> = resource.spec.sources().described().into_iter().collect();
    for field in &mut change.fields {
        if field.sensitive {
            // A reviewer sees what the manifest reads, never the value.
            field.note = sources.get(&field.path).map(|source| format!("from {source}"));
        } else if field.after.is_some() {
            field.note = labels.get(&field.path).cloned();
        }
    }
    change.fields = in_schema_terms(std::mem::take(&mut change.fields), client.facts(), &refs);
    change.drift = in_schema_terms(std::mem::take(&mut change.drift), client.facts(), &refs);
}

/// The changes at the paths of the kind's schema, which a manifest's
/// author knows (`state.phase`, `agentRef`), not the API's field names;
/// a field another line's note says is not a line of its own.
fn in_schema_terms(fields: Vec<FieldChange>, facts: &KindFacts, refs: &BTreeMap<String, String>) -> Vec<FieldChange> {
    let top = |path: &str| path.split(['.', '[']).next().unwrap_or_default().to_string();
    let present: BTreeSet<String> = fields.iter().map(|f| top(&f.path)).collect();
    fields
        .into_iter()
        .filter_map(|mut field| {
            let name = top(&field.path);
            let rest = field.path[name.len()..].to_string();
            let shown = refs.get(&name).map(String::as_str).or(facts.shown_path(&name, |f| present.contains(f)))?;
            field.path = format!("{shown}{rest}");
            Some(field)
        })
        .collect()
}

/// What reads a manifest's sources: from its folder, for the sandbox or
/// not, with the cluster's values when there are any.
pub(super) fn reader_for<'c>(
    resource: &Resource,
    options: &PlanOptions,
    connections: &'c Connections,
) -> SourceReader<'c> {
    connections.source_reader(Path::new(&source_dir(resource)).to_path_buf(), options.sandbox)
}

/// The folder of the manifest's file: where its relative paths start.
pub(super) fn source_dir(resource: &Resource) -> String {
    resource.document.dir.display().to_string()
}

/// Puts a provider's error in the manifest's terms: a lookup points at the
/// field that asked for it.
pub(super) fn located(resource: &Resource, error: &ProviderError) -> String {
    match error {
        ProviderError::Lookup { field, message } => {
            format!("{}: {field}: {message}", resource.document.locate(field))
        }
        _ => format!("{}: {}: {error}", resource.location(), resource.key),
    }
}
