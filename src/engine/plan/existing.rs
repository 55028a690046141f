//! A manifest whose object state knows by its id: read (or taken as state
//! last saw it), compared three ways (manifest, last applied, remote), and
//! updated, replaced, created again when it is gone, or left as it is.

use std::collections::BTreeMap;

use super::group::{annotate, field_list, observations, Group, Listing};
use super::{Action, Outcome, Refresh, StateSync};
use crate::engine::diff::{self, Diff};
use crate::engine::digest;
use crate::engine::reason::{self, Reason};
use crate::engine::state::Entry;
use crate::external::digest::Digests;
use crate::external::{Fields, ListScope, ProviderError, RemoteSummary, Scoped};
use crate::manifest::Resource;

/// An object state knows, compared with its manifest.
pub(super) struct Compared {
    /// What state recorded as applied.
    pub(super) applied_before: Fields,
    /// What state recorded as last seen remotely.
    pub(super) observed_before: Fields,
    /// The manifest was edited since it was applied.
    pub(super) manifest_changed: bool,
    pub(super) desired: Fields,
    /// What was applied, its digests re-keyed (and forgotten, for
    /// `--rotate`).
    pub(super) last_applied: Fields,
    /// What is there now, secrets as digests.
    pub(super) observed: Fields,
    pub(super) found: Diff,
}

impl Group<'_> {
    /// An object state knows by its id, step by step: passed over when
    /// nothing can have changed; else read (or taken as last seen), made
    /// anew when a renew token asks, created again when gone, compared, and
    /// planned by what the comparison found.
    pub(super) async fn plan_existing(
        &self,
        resource: &Resource,
        entry: &Entry,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        let id = entry.id.clone().unwrap_or_default();
        let manifest_changed = digest(resource.spec.json()) != entry.manifest_digest;
        // State keeps fields as text: parsed once, and only when needed.
        let mut recorded = None;
        let read = self.reads(resource, entry, &id, manifest_changed, listing, &mut recorded);
        if !read && self.unchanged_as_recorded(resource, entry, manifest_changed) {
            return Ok(Outcome::Unchanged);
        }
        let recorded = recorded.unwrap_or_else(|| entry.recorded());
        let observed = if read { self.read(&id, listing).await? } else { Some(recorded.1.clone()) };
        if let Some(why) = self.renewal_asked(resource, entry) {
            // Boxed: a rare path that would otherwise grow every object's
            // planning future.
            let mut change = Box::pin(self.plan_renewal(resource, why)).await?;
            // A lost answer must not take the old one for the new.
            change.preexisting = vec![id];
            return Ok(Outcome::Change(Box::new(change)));
        }
        let Some(observed) = observed else {
            return self.plan_gone(resource, entry, id, listing, warnings).await;
        };
        let compared = self.compare(resource, entry, recorded, observed, manifest_changed).await?;
        if compared.found.updates.is_empty() {
            return Ok(self.unchanged_or_sync(resource, compared));
        }
        if let Some(status) = self.client.facts().terminal(&compared.observed) {
            return self.plan_ended_by_itself(resource, entry, &id, status, compared, warnings);
        }
        self.plan_update_or_replace(resource, id, compared, listing)
    }

    /// Whether the object is read this time: always under `--refresh full`,
    /// never under `none`; under `changed`, when its manifest changed or
    /// its summary in the listing differs from state. A drift slice reads
    /// only its own. `recorded` keeps what state recorded, once parsed.
    fn reads(
        &self,
        resource: &Resource,
        entry: &Entry,
        id: &str,
        manifest_changed: bool,
        listing: Option<&Listing>,
        recorded: &mut Option<(Fields, Fields)>,
    ) -> bool {
        match (&self.options.read_only, self.options.refresh) {
            (Some(slice), _) => slice.contains(&resource.key),
            (None, Refresh::Full) => true,
            (None, Refresh::None) => false,
            (None, Refresh::Changed) => {
                let digests = &self.options.digests;
                manifest_changed
                    || listing.is_none_or(|l| {
                        let (applied, observed) = recorded.insert(entry.recorded());
                        summary_differs(l.get(id), applied, observed, digests)
                    })
            }
        }
    }

    /// Whether an object not read this time can be passed over unparsed:
    /// its manifest, sources and references are as applied, and it was
    /// last seen as applied, so desired, base and observed are one.
    fn unchanged_as_recorded(&self, resource: &Resource, entry: &Entry, manifest_changed: bool) -> bool {
        !manifest_changed
            && entry.observed.is_none()
            && !entry.manifest_digest.is_empty()
            && !self.options.rotate.contains(&resource.key)
            && !resource.spec.sources().any()
            && !resource.references.iter().any(|(_, key)| self.recreated.contains(key))
            && self.renew_token(resource).is_none_or(|token| entry.renew_token.as_ref() == Some(&token))
    }

    /// The object is gone remotely: created again, or, for a kind whose
    /// objects should happen once, reported.
    async fn plan_gone(
        &self,
        resource: &Resource,
        entry: &Entry,
        id: String,
        listing: Option<&Listing>,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        if self.client.facts().reports_gone() {
            warnings.push(format!(
                "{}: {id} is gone remotely; it is not created again, since it should happen once. Remove the manifest, or `seqops state rm {}` to let it be made anew",
                resource.key, resource.key
            ));
            return Ok(Outcome::Unchanged);
        }
        self.confirm_gone(resource, entry, &id, listing).await?;
        let mut change = self.plan_create(resource).await?;
        change.reasons.push(Reason::DeletedOutside { id });
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

    /// What the manifest asks, compared with what was applied and what is
    /// there now. An unchanged manifest without sources asks for what it
    /// asked for last time; otherwise it is resolved again, reusing the ids
    /// its unchanged lookups resolved to, and reading its sources (a secret
    /// rotated at its source changes only its digest).
    async fn compare(
        &self,
        resource: &Resource,
        entry: &Entry,
        recorded: (Fields, Fields),
        mut observed: Fields,
        manifest_changed: bool,
    ) -> Result<Compared, ProviderError> {
        let (applied_before, observed_before) = recorded;
        let resolve_again =
            resource.spec.sources().any() || resource.references.iter().any(|(_, key)| self.recreated.contains(key));
        let (desired, rekeying) = if manifest_changed || resolve_again {
            self.desired_and_rekeying(resource, Some(entry)).await?
        } else {
            (applied_before.clone(), BTreeMap::new())
        };
        let mut last_applied = applied_before.clone();
        let digests = self.state.digests_for(&resource.key, &self.options.digests);
        crate::external::digest::conceal_fields(&mut observed, &[&desired, &applied_before], &digests);
        // Digests an older seqops salted are re-keyed from the values in
        // hand: the same value is no change, and needs no request.
        for value in last_applied.values_mut().chain(observed.values_mut()) {
            crate::external::digest::rekey(value, &rekeying);
        }
        let mut remote = observed.clone();
        if self.options.rotate.contains(&resource.key) {
            for value in last_applied.values_mut().chain(remote.values_mut()) {
                crate::external::sources::forget_digests(value);
            }
        }
        // An imported entry knows of nothing applied; one bound after a
        // lost answer knows what its create sent.
        let base = (!entry.manifest_digest.is_empty() || !last_applied.is_empty()).then_some(&last_applied);
        let found = diff::diff(&desired, base, &remote, self.client.facts());
        Ok(Compared { applied_before, observed_before, manifest_changed, desired, last_applied, observed, found })
    }

    /// Nothing to send: nothing planned, or, when the manifest or what the
    /// vendor moves by itself changed, what state should now record.
    fn unchanged_or_sync(&self, resource: &Resource, compared: Compared) -> Outcome {
        let facts = self.client.facts();
        // What the vendor moved by itself is no change, but state keeps
        // the latest reading of it (`seqops state show`).
        let moved = facts
            .observations()
            .chain(facts.merged_maps())
            .any(|f| compared.observed.get(f) != compared.observed_before.get(f));
        if compared.desired != compared.applied_before || compared.manifest_changed || moved {
            return Outcome::Sync(Box::new(StateSync {
                key: resource.key.clone(),
                manifest_digest: digest(resource.spec.json()),
                applied_spec: resource.spec.json().clone(),
                last_applied: compared.desired,
                observed: compared.observed,
            }));
        }
        Outcome::Unchanged
    }

    /// Sends the differences in place, or, where the API cannot make them
    /// so, replaces the object.
    fn plan_update_or_replace(
        &self,
        resource: &Resource,
        id: String,
        compared: Compared,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let facts = self.client.facts();
        let Compared { desired, last_applied, observed, found, .. } = compared;
        let must_replace = !found.replace_reasons.is_empty() || !facts.updatable();
        if must_replace && !facts.replaceable() {
            return Err(ProviderError::Invalid(format!(
                "{}: {} cannot change: the API can neither update nor replace a {}; {}",
                resource.key,
                field_list(&found.updates),
                resource.key.kind,
                facts.unchangeable_hint()
            )));
        }
        let action = if must_replace { Action::Replace } else { Action::Update };
        let mut change = self.base_change(resource, action, Some(id));
        let reasons = if found.replace_reasons.is_empty() && !facts.updatable() {
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
        change.reasons.extend(self.foreign_digests(&last_applied));
        self.plan_move(&mut change, &found.updates, &desired, "this change")?;
        change.reasons.extend(observations(facts, &observed));
        change.fields = found.changes;
        change.drift = found.drift;
        change.updates = found.updates;
        change.desired = desired;
        change.observed = observed;
        annotate(&mut change, resource, self.client.as_ref());
        Ok(Outcome::Change(Box::new(change)))
    }

    /// Secrets digested under another key than the one in hand (lost or
    /// rotated) cannot be compared: they are sent again once.
    fn foreign_digests(&self, last_applied: &Fields) -> Option<Reason> {
        let key = self.options.digests.key()?;
        last_applied
            .values()
            .any(|v| crate::external::digest::holds_foreign_digest(v, key))
            .then(|| Reason::ForeignDigestKey { key_id: key.id().to_string() })
    }
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
