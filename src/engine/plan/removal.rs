//! A state entry whose manifest is gone, or a replaced object's old id:
//! deleted, or forgotten where the kind, a policy or an annotation keeps
//! the remote object.

use std::collections::BTreeMap;

use super::group::{observations, Group, Listing};
use super::{Action, Change, Outcome, Steps};
use crate::engine::lost::LostCreate;
use crate::engine::reason::Reason;
use crate::engine::state::Entry;
use crate::external::Fields;
use crate::manifest::policy::Policy;
use crate::manifest::ResourceKey;

impl Group<'_> {
    /// A state entry whose manifest is gone, or a replaced object's old id.
    pub(super) fn plan_removal(&self, key: &ResourceKey, entry: &Entry, listing: Option<&Listing>) -> Outcome {
        let mut id = entry.deposed_id.clone().or_else(|| entry.id.clone());
        let mut reasons = Vec::new();
        if entry.deposed_id.is_some() {
            reasons.push(Reason::ReplacedByExists);
        } else if id.is_none() {
            id = self.made_by_lost_create(entry, listing, &mut reasons);
        }
        reasons.extend(observations(self.client.facts(), &entry.observed()));
        // A replaced object's old id is deleted whatever keeps the object
        // that replaced it.
        let kept = self.kept_by(entry);
        let action = if id.is_none() || (entry.deposed_id.is_none() && kept.is_some()) {
            reasons.extend(kept.into_iter().flatten());
            Action::Forget
        } else {
            Action::Delete
        };
        if action == Action::Delete && entry.prevent_destroy && entry.deposed_id.is_none() {
            return Outcome::Failed(format!(
                "{key}: its manifest is gone, so it would be deleted, but it has seqops.dev/prevent-destroy: \"true\"; restore the manifest, or remove the annotation and apply first"
            )
            .into());
        }
        Outcome::Change(Box::new(from_entry(self.provider, key, entry, action, id, reasons)))
    }

    /// What keeps the remote object when its entry leaves state, if
    /// anything does: each reason that applies (a policy without `Delete`,
    /// the orphan deletion policy, a kind the API cannot delete).
    fn kept_by(&self, entry: &Entry) -> Option<Vec<Reason>> {
        let deletable = self.client.facts().deletable();
        let policy_keeps = !crate::manifest::policy::allows(&entry.applied_spec(), Policy::Delete);
        if !(entry.orphan_on_delete || !deletable || policy_keeps) {
            return None;
        }
        let mut reasons = Vec::new();
        if policy_keeps && !entry.orphan_on_delete {
            reasons.push(Reason::PolicyKeeps);
        }
        if entry.orphan_on_delete {
            reasons.push(Reason::OrphanKeeps);
        } else if !deletable {
            reasons.push(Reason::CannotDelete);
        }
        Some(reasons)
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
}

/// A change of a state entry as state recorded it: one that takes it out
/// of state, or moves it to a new name.
pub(super) fn from_entry(
    provider: &str,
    key: &ResourceKey,
    entry: &Entry,
    action: Action,
    id: Option<String>,
    reasons: Vec<Reason>,
) -> Change {
    Change {
        key: key.clone(),
        api_version: entry.api_version.clone(),
        provider: provider.to_string(),
        action,
        id,
        display_name: entry.display_name.clone(),
        fields: Vec::new(),
        drift: Vec::new(),
        reasons,
        desired: Fields::new(),
        updates: Fields::new(),
        manifest_digest: entry.manifest_digest.clone(),
        spec: crate::external::Spec::from_json(entry.applied_spec()),
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
        steps: Steps::default(),
        requests: 0,
    }
}
