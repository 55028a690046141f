//! What a create whose answer was lost may have made.
//!
//! Kinds with a natural key are found by it (`KindFacts::natural_key`).
//! The others are found by what the create itself sent, never by a display
//! name alone: an object is the lost create's only if it has its name,
//! every field the create call set, no state entry manages it, and it was
//! not there before the create was sent (state keeps those ids). Fields the
//! create call cannot take (`Sent::AfterCreate`) are left out:
//! the object carries the API's defaults for them until the follow-up
//! update that never came.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::external::sources::marker;
use crate::external::{ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Scoped};

/// What a lookup found a lost create made.
#[derive(Debug, PartialEq, Eq)]
pub enum Made {
    Nothing,
    One(String),
    /// Several objects could be it: none is taken for it, never a guess.
    Several(Vec<String>),
}

/// A create that got no answer, as state or the apply knows it.
pub struct LostCreate<'a> {
    pub display_name: &'a str,
    /// The fields the create call sent.
    pub sent: &'a Fields,
    /// Ids of objects with its name that existed before it was sent.
    pub preexisting: &'a [String],
}

impl LostCreate<'_> {
    /// The listed objects it may have made. More than one is ambiguous and
    /// must be reported, never guessed between.
    pub fn candidates<'s>(
        &self,
        listed: impl IntoIterator<Item = &'s RemoteSummary>,
        managed: &BTreeSet<String>,
    ) -> Vec<&'s RemoteSummary> {
        listed
            .into_iter()
            .filter(|s| {
                s.display_name == self.display_name
                    && !managed.contains(&s.id)
                    && !self.preexisting.contains(&s.id)
                    && s.fields
                        .iter()
                        .all(|(field, value)| self.sent.get(field).is_none_or(|sent| as_sent(sent, value)))
            })
            .collect()
    }

    /// The listed objects it may have made: the live one its natural key
    /// names where the kind has one, else [`LostCreate::candidates`].
    pub fn made<'s>(
        &self,
        facts: &KindFacts,
        listed: impl IntoIterator<Item = &'s RemoteSummary>,
        managed: &BTreeSet<String>,
    ) -> Vec<&'s RemoteSummary> {
        let Some(wanted) = facts.natural_key_of(self.sent) else { return self.candidates(listed, managed) };
        listed
            .into_iter()
            .filter(|s| {
                !managed.contains(&s.id)
                    && facts.natural_key_of(&s.fields).as_ref() == Some(&wanted)
                    && facts.terminal(&s.fields).is_none()
            })
            .collect()
    }

    /// Looks up, in the account, what the create of `spec` made.
    pub async fn look_up(
        &self,
        spec: &crate::external::Spec,
        client: &dyn ExternalClient,
        managed: &BTreeSet<String>,
    ) -> Result<Made, ProviderError> {
        let listed = client.list(&ListScope::Specs(vec![Scoped { spec, previous: None }])).await?;
        Ok(match self.made(client.facts(), &listed, managed).as_slice() {
            [] => Made::Nothing,
            [one] => Made::One(one.id.clone()),
            several => Made::Several(several.iter().map(|s| s.id.clone()).collect()),
        })
    }

    /// Whether what was sent is known: entries written before state kept
    /// it know only the name, which is no identity to delete by.
    pub fn knows_what_was_sent(&self) -> bool {
        !self.sent.is_empty()
    }
}

/// Whether a listed value is what was sent, where a secret (or digested)
/// value matches whatever the listing shows: in clear, concealed, or not
/// at all, it cannot be compared with its digest.
fn as_sent(sent: &Value, listed: &Value) -> bool {
    if marker(sent).is_some() {
        return true;
    }
    match (sent, listed) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|l| as_sent(v, l)))
        }
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| as_sent(x, y)),
        _ => sent == listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed(id: &str, name: &str, fields: serde_json::Value) -> RemoteSummary {
        let fields = fields.as_object().cloned().unwrap_or_default();
        RemoteSummary { id: id.into(), display_name: name.into(), fields }
    }

    #[test]
    fn only_an_object_with_every_field_the_create_sent_that_was_not_there_before_is_a_candidate() {
        let sent = json!({"workspace": "ws-1", "name": "TOKEN"}).as_object().cloned().unwrap_or_default();
        let before = vec!["ws-1/OLD".to_string()];
        let lost = LostCreate { display_name: "TOKEN", sent: &sent, preexisting: &before };
        let objects = [
            listed("ws-2/TOKEN", "TOKEN", json!({"workspace": "ws-2", "name": "TOKEN"})),
            listed("ws-1/TOKEN", "TOKEN", json!({"workspace": "ws-1", "name": "TOKEN"})),
            listed("ws-1/OLD", "TOKEN", json!({"workspace": "ws-1", "name": "TOKEN"})),
            listed("ws-1/MANAGED", "TOKEN", json!({"workspace": "ws-1", "name": "TOKEN"})),
        ];
        let managed = BTreeSet::from(["ws-1/MANAGED".to_string()]);

        let found: Vec<&str> = lost.candidates(&objects, &managed).iter().map(|s| s.id.as_str()).collect();

        assert_eq!(found, ["ws-1/TOKEN"]);
    }

    #[test]
    fn a_field_the_create_could_not_send_does_not_hide_what_it_made() {
        // A schedule asked to be disabled is made enabled: `enabled` waits
        // for the update after the create.
        let sent = json!({"agent": "a1", "cronExpression": "0 9 * * *"}).as_object().cloned().unwrap_or_default();
        let lost = LostCreate { display_name: "cron on a1", sent: &sent, preexisting: &[] };
        let made =
            [listed("ws/s1", "cron on a1", json!({"agent": "a1", "cronExpression": "0 9 * * *", "enabled": true}))];

        assert_eq!(lost.candidates(&made, &BTreeSet::new()).len(), 1);
    }

    #[test]
    fn a_secret_the_create_sent_matches_however_the_listing_shows_it() {
        // An orchagent Service's env comes back in clear.
        let sent = json!({"name": "svc", "env": {"LOG_LEVEL": "info", "TOKEN": {"$sensitive": "hmac-sha256:k:ab"}}});
        let sent = sent.as_object().cloned().unwrap_or_default();
        let lost = LostCreate { display_name: "svc", sent: &sent, preexisting: &[] };
        let made = [
            listed("ws/1", "svc", json!({"name": "svc", "env": {"LOG_LEVEL": "info", "TOKEN": "plain"}})),
            listed("ws/2", "svc", json!({"name": "svc", "env": {"LOG_LEVEL": "debug", "TOKEN": "plain"}})),
        ];

        let found: Vec<&str> = lost.candidates(&made, &BTreeSet::new()).iter().map(|s| s.id.as_str()).collect();

        assert_eq!(found, ["ws/1"]);
    }
}
