//! Transitions an object goes through beyond its fields: a change that
//! ends it (a Topo stop), a renew annotation that asks for a new one, and
//! a final state it reached by itself.

use super::existing::Compared;
use super::group::{field_list, natural_key, Group, Listing};
use super::{Change, Outcome, StateSync};
use crate::engine::reason::Reason;
use crate::engine::state::Entry;
use crate::external::{Fields, ProviderError, RemoteSummary};
use crate::manifest::Resource;

impl Group<'_> {
    /// The move between states the updates make (a Topo pause, resume or
    /// stop), set on the change; one that ends the object is an error under
    /// prevent-destroy, as a delete would be, and says so among its reasons.
    pub(super) fn plan_move(
        &self,
        change: &mut Change,
        updates: &Fields,
        desired: &Fields,
        doing: &str,
    ) -> Result<(), ProviderError> {
        let Some(moved) = self.client.facts().moves(updates, desired) else { return Ok(()) };
        if moved.transition.ends() {
            if change.prevent_destroy {
                return Err(ProviderError::Invalid(format!(
                    "{}: {doing} ends it ({}), but it has seqops.dev/prevent-destroy: \"true\"",
                    change.key, moved.how
                )));
            }
            change.reasons.push(Reason::EndsIt { how: moved.how });
        }
        change.steps.transition = Some(moved.transition);
        change.steps.moves_only = updates.keys().all(|field| moved.fields.contains(&field.as_str()));
        Ok(())
    }

    /// Why a new object is asked for, when the kind's renew annotation on
    /// the manifest has a token the object was not made with.
    pub(super) fn renewal_asked(&self, resource: &Resource, entry: &Entry) -> Option<Reason> {
        let (token, renew) = (self.renew_token(resource)?, self.client.facts().renew()?);
        (entry.renew_token.as_ref() != Some(&token)).then(|| Reason::RenewTokenChanged {
            noun: renew.noun.to_string(),
            annotation: renew.annotation.to_string(),
            token,
            kind: resource.key.kind.clone(),
        })
    }

    /// The create a renew annotation's new token asks for.
    pub(super) async fn plan_renewal(&self, resource: &Resource, why: Reason) -> Result<Change, ProviderError> {
        let mut change = self.plan_create(resource).await?;
        change.renews = true;
        change.reasons.push(why);
        Ok(change)
    }

    /// A new manifest whose natural key names a finished object: bound as
    /// it is, or, under a renew annotation, made anew. `None` when `found`
    /// is not finished.
    pub(super) async fn plan_finished(
        &self,
        resource: &Resource,
        found: &RemoteSummary,
        listing: Option<&Listing>,
    ) -> Result<Option<Outcome>, ProviderError> {
        let facts = self.client.facts();
        let renewing = self.renew_token(resource).is_some();
        if let Some(status) = facts.terminal(&found.fields).filter(|_| !renewing) {
            let reason = Reason::ExistsFinished { id: found.id.clone(), natural_key: natural_key(facts), status };
            return self.plan_adopt(resource, &found.id, reason, listing).await.map(Some);
        }
        if let Some(renew) = facts.renew().filter(|_| facts.terminal(&found.fields).is_some()) {
            let why = Reason::RenewFinished {
                noun: renew.noun.to_string(),
                id: found.id.clone(),
                annotation: renew.annotation.to_string(),
            };
            let change = Box::pin(self.plan_renewal(resource, why)).await?;
            return Ok(Some(Outcome::Change(Box::new(change))));
        }
        Ok(None)
    }

    /// An object that reached a final state (`status`) by itself: reported,
    /// not fought, and state keeps what was last seen. A manifest edited
    /// since asks for a change that can no longer be made: a plan error.
    pub(super) fn plan_ended_by_itself(
        &self,
        resource: &Resource,
        entry: &Entry,
        id: &str,
        status: String,
        compared: Compared,
        warnings: &mut Vec<String>,
    ) -> Result<Outcome, ProviderError> {
        if compared.manifest_changed {
            return Err(ProviderError::Invalid(format!(
                "{} is {status} remotely, which is final: it cannot change any more ({}); {}",
                resource.key,
                field_list(&compared.found.updates),
                self.client.facts().unchangeable_hint()
            )));
        }
        warnings
            .push(format!("{}: {id} is {status} remotely, which is final; nothing is planned for it", resource.key));
        if compared.observed == compared.observed_before {
            return Ok(Outcome::Unchanged);
        }
        Ok(Outcome::Sync(Box::new(StateSync {
            key: resource.key.clone(),
            manifest_digest: entry.manifest_digest.clone(),
            applied_spec: entry.applied_spec(),
            last_applied: compared.applied_before,
            observed: compared.observed,
        })))
    }
}
