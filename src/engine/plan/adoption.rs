//! Binding a remote object that already exists to a manifest: by an id the
//! manifest names, by its natural key, by its name, or as what a lost
//! create made. Adopting never replaces: an object that differs where the
//! API cannot change it is a plan error.

use super::group::{annotate, field_list, natural_key, observations, plain, Group, Listing};
use super::{Action, Outcome};
use crate::engine::diff::{self, Diff};
use crate::engine::reason::{self, Reason};
use crate::external::{Fields, ProviderError, RemoteSummary};
use crate::manifest::Resource;

impl Group<'_> {
    /// Adopts `id`, which the manifest or the listing names, for `reason`.
    pub(super) async fn plan_adopt(
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
    pub(super) async fn adopt(
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
        self.check_adoptable(resource, id, &found)?;
        let mut change = self.base_change(resource, Action::Adopt, Some(id.to_string()));
        self.plan_move(&mut change, &found.updates, &desired, &format!("adopting {id}"))?;
        change.reasons.push(reason);
        change.reasons.extend(observations(self.client.facts(), &observed));
        change.fields = found.changes;
        change.updates = found.updates;
        change.desired = desired;
        change.observed = observed;
        annotate(&mut change, resource, self.client.as_ref());
        Ok(Outcome::Change(Box::new(change)))
    }

    /// An adoption may update the object, never replace it: a difference
    /// the API cannot make in place is for the manifest to resolve.
    fn check_adoptable(&self, resource: &Resource, id: &str, found: &Diff) -> Result<(), ProviderError> {
        if !found.replace_reasons.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "{}: cannot adopt {id}: {}; make the manifest match it, or drop the adoption to create a new object",
                resource.key,
                reason::joined(&found.replace_reasons, "; ")
            )));
        }
        if !self.client.facts().updatable() && !found.updates.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "{}: {id} differs from the manifest in {}, and the API cannot change it; {}",
                resource.key,
                field_list(&found.updates),
                self.client.facts().unchangeable_hint()
            )));
        }
        Ok(())
    }

    /// A kind the API cannot create adopts the one live object its natural
    /// key names; none, or only finished ones, is a plan error naming them.
    pub(super) async fn adopt_only(
        &self,
        resource: &Resource,
        found: Option<&RemoteSummary>,
        listing: Option<&Listing>,
    ) -> Result<Outcome, ProviderError> {
        let facts = self.client.facts();
        if let Some(found) = found.filter(|found| facts.terminal(&found.fields).is_none()) {
            let reason = Reason::OneLive { kind: resource.key.kind.clone(), natural_key: natural_key(facts) };
            return self.plan_adopt(resource, &found.id, reason, listing).await;
        }
        let desired = self.desired(resource, None).await?;
        let wanted = facts.natural_key_of(&desired);
        let candidates: Vec<String> = listing
            .map(|l| l.summaries.iter())
            .into_iter()
            .flatten()
            .filter(|s| facts.natural_key_of(&s.fields) == wanted)
            .map(|s| format!("{} ({})", s.id, plain(&facts.state_of(&s.fields))))
            .collect();
        let found = if candidates.is_empty() {
            "there is none".to_string()
        } else {
            format!("there are only finished ones: {}", candidates.join(", "))
        };
        Err(ProviderError::Invalid(format!(
            "{}: the API cannot create a {}, and no live one has this {}; {found}. Name one with spec.id",
            resource.key,
            resource.key.kind,
            facts.natural_key().join(" and ")
        )))
    }

    /// The unmanaged remote object whose natural key equals the desired
    /// one's: the live one if there is one, else the newest (listings come
    /// oldest first). Several live ones are an error, never a guess.
    pub(super) fn by_natural_key<'l>(
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
        if let Some(taken) = managed.iter().find(|s| facts.terminal(&s.fields).is_none()) {
            let holder = self.state.resources.iter().find(|(_, e)| e.id.as_deref() == Some(taken.id.as_str()));
            let holder = holder.map_or_else(|| "another manifest".to_string(), |(key, _)| key.to_string());
            return Err(ProviderError::Invalid(format!(
                "{} ({}) is already managed by {holder}: one remote object cannot be bound to two manifests",
                taken.id,
                facts.natural_key().join(" and ")
            )));
        }
        let live: Vec<&RemoteSummary> = same.iter().copied().filter(|s| facts.terminal(&s.fields).is_none()).collect();
        match live.as_slice() {
            [] => Ok(same.last().copied()),
            [one] => Ok(Some(one)),
            several => Err(ProviderError::Invalid(format!(
                "{} live remote objects share the natural key {} ({}); choose one by id",
                several.len(),
                facts.natural_key().join(" and "),
                several
                    .iter()
                    .map(|s| format!("{} {}", s.id, plain(&facts.state_of(&s.fields))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
