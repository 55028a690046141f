//! A create was sent but its answer never recorded: what it made is
//! adopted, or, when it made nothing, it is sent again. A guess is never
//! made: several objects it may have made are a plan error.

use super::group::{Group, Listing};
use super::Outcome;
use crate::engine::lost::LostCreate;
use crate::engine::reason::Reason;
use crate::engine::state::Entry;
use crate::external::ProviderError;
use crate::manifest::Resource;

impl Group<'_> {
    /// A create was sent but its answer never recorded: adopt what it made,
    /// or create it now if it made nothing.
    pub(super) async fn plan_pending(
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
        let found = found.filter(|f| !(renewing && self.client.facts().terminal(&f.fields).is_some()));
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
            [found] => self.adopt(resource, &found.id, Reason::LostCreateFound, listing, Some(&sent)).await,
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
}
