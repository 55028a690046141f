//! Why a change is planned, as data: the planner says which rule applied
//! and with what, and the words a reviewer reads are made from that only
//! where a plan is shown (text, Markdown, the JSON plan). Terraform's
//! `ActionReason` is the model; seqops's reasons carry the ids and fields
//! they speak of.

use std::fmt;

/// One reason for a change. The words of each are fixed (they are in every
/// plan users read and in saved JSON plans); `tests::every_reason_has_its_words`
/// pins them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    // Why an object is replaced rather than updated.
    /// The field changed, and the API cannot change it in place.
    FieldImmutable { field: String },
    /// The field left the manifest, and the API cannot reset it in place.
    FieldRemovedCannotReset { field: String },
    /// The kind cannot be updated at all; `fields` are those that differ.
    NotUpdatable { kind: String, fields: Vec<String> },

    // What was found of an object state knows.
    /// The object is gone remotely, and is created again.
    DeletedOutside { id: String },
    /// State's secret digests were made under another key: the secrets
    /// are sent again once.
    ForeignDigestKey { key_id: String },
    /// What the vendor moves by itself, as last seen: each field with its
    /// value as plain text.
    Observed { seen: Vec<(String, String)> },

    // Transitions an object goes through.
    /// The change ends the object (a Topo stop), which cannot be undone.
    EndsIt { how: String },
    /// The kind's renew annotation has a new token: one new object is made.
    RenewTokenChanged { noun: String, annotation: String, token: String, kind: String },
    /// The object with the natural key is finished, and the renew
    /// annotation asks for a new one.
    RenewFinished { noun: String, id: String, annotation: String },

    // Why an existing remote object is adopted.
    /// `seqops.dev/external-id` names the object.
    ExternalIdNamesIt,
    /// `spec.id` names the object (adopt-only kinds).
    SpecIdNamesIt,
    /// `seqops.dev/adopt` asks for the one unmanaged object of the name.
    AdoptAnnotationMatchesName,
    /// An object with the natural key exists and is finished: bound as it
    /// is.
    ExistsFinished { id: String, natural_key: Vec<String>, status: String },
    /// An object with the natural key exists: adopted, not made twice.
    ExistsAdopted { id: String, natural_key: Vec<String> },
    /// The kind cannot be created; the one live object with the natural
    /// key is adopted.
    OneLive { kind: String, natural_key: Vec<String> },

    // A create whose answer was lost.
    /// Its natural key names what it made, which is adopted.
    LostCreateFoundByNaturalKey,
    /// What it made is found by its name and what it sent, and adopted.
    LostCreateFound,
    /// It made nothing: it is sent again.
    LostCreateResent,
    /// One object has its name, but state does not say what the create
    /// sent: it is not deleted on a guess.
    LostCreateSentUnknown { id: String },
    /// Several unmanaged objects match what it sent: none is deleted.
    LostCreateAmbiguous { ids: Vec<String> },

    // Why an object leaves state.
    /// The object that replaced it exists; the old one is to be deleted.
    ReplacedByExists,
    /// Its `managementPolicies` did not allow `Delete`.
    PolicyKeeps,
    /// `seqops.dev/deletion-policy: orphan` keeps the remote object.
    OrphanKeeps,
    /// The API cannot delete the kind: it only leaves state.
    CannotDelete,

    // A new name.
    /// `seqops.dev/moved-from` (or `seqops state mv`) gave the object
    /// state knew by `from` this name.
    MovedFrom { from: String },

    /// A reason read back from a saved plan, which keeps reasons as their
    /// code and the words shown; they are shown again as they were.
    Saved { code: String, words: String },
}

impl Reason {
    /// The reason's code in the JSON plan, beside its words: what a tool
    /// matches on (Terraform's `action_reason` is the model).
    pub fn code(&self) -> &str {
        match self {
            Reason::FieldImmutable { .. } => "field_immutable",
            Reason::FieldRemovedCannotReset { .. } => "field_removed_cannot_reset",
            Reason::NotUpdatable { .. } => "not_updatable",
            Reason::DeletedOutside { .. } => "deleted_outside",
            Reason::ForeignDigestKey { .. } => "foreign_digest_key",
            Reason::Observed { .. } => "observed",
            Reason::EndsIt { .. } => "ends_it",
            Reason::RenewTokenChanged { .. } => "renew_token_changed",
            Reason::RenewFinished { .. } => "renew_finished",
            Reason::ExternalIdNamesIt => "external_id_names_it",
            Reason::SpecIdNamesIt => "spec_id_names_it",
            Reason::AdoptAnnotationMatchesName => "adopt_annotation_matches_name",
            Reason::ExistsFinished { .. } => "exists_finished",
            Reason::ExistsAdopted { .. } => "exists_adopted",
            Reason::OneLive { .. } => "one_live",
            Reason::LostCreateFoundByNaturalKey => "lost_create_found_by_natural_key",
            Reason::LostCreateFound => "lost_create_found",
            Reason::LostCreateResent => "lost_create_resent",
            Reason::LostCreateSentUnknown { .. } => "lost_create_sent_unknown",
            Reason::LostCreateAmbiguous { .. } => "lost_create_ambiguous",
            Reason::ReplacedByExists => "replaced_by_exists",
            Reason::PolicyKeeps => "policy_keeps",
            Reason::OrphanKeeps => "orphan_keeps",
            Reason::CannotDelete => "cannot_delete",
            Reason::MovedFrom { .. } => "moved_from",
            Reason::Saved { code, .. } => code,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::FieldImmutable { field } => write!(f, "`{field}` cannot be changed in place"),
            Reason::FieldRemovedCannotReset { field } => {
                write!(f, "`{field}` was removed and cannot be reset in place")
            }
            Reason::NotUpdatable { kind, fields } => {
                write!(f, "the API cannot change {} in place ({})", crate::words::a(kind), fields.join(", "))
            }
            Reason::DeletedOutside { id } => write!(f, "{id} was deleted outside seqops; it will be created again"),
            Reason::ForeignDigestKey { key_id } => write!(
                f,
                "its secrets were digested under another key than this one ({key_id}), lost or rotated: they cannot be compared, and are sent again once"
            ),
            Reason::Observed { seen } => write_observed(f, seen),
            Reason::EndsIt { how } => write!(f, "this ends it: {how}; it cannot be undone"),
            Reason::RenewTokenChanged { noun, annotation, token, kind } => {
                write!(f, "{noun}: {annotation} is now {token:?}: one new {kind} is made")
            }
            Reason::RenewFinished { noun, id, annotation } => {
                write!(f, "{noun}: {id} is finished and {annotation} asks for a new one")
            }
            Reason::ExternalIdNamesIt => f.write_str("seqops.dev/external-id names it"),
            Reason::SpecIdNamesIt => f.write_str("spec.id names it"),
            Reason::AdoptAnnotationMatchesName => f.write_str("seqops.dev/adopt: an unmanaged object has its name"),
            Reason::ExistsFinished { id, natural_key, status } => write!(
                f,
                "{id} already exists with this {} and is {status}: it is bound as it is and not made again",
                natural_key.join(" and ")
            ),
            Reason::ExistsAdopted { id, natural_key } => {
                write!(f, "{id} already exists with this {}: it is adopted, not made twice", natural_key.join(" and "))
            }
            Reason::OneLive { kind, natural_key } => {
                write!(f, "the one live {kind} with this {}", natural_key.join(" and "))
            }
            Reason::LostCreateFoundByNaturalKey
            | Reason::LostCreateFound
            | Reason::LostCreateResent
            | Reason::LostCreateSentUnknown { .. }
            | Reason::LostCreateAmbiguous { .. } => write_lost_create(f, self),
            Reason::ReplacedByExists => {
                f.write_str("the object it was replaced by exists; the old one is still to be deleted")
            }
            Reason::PolicyKeeps => f.write_str("its managementPolicies did not allow Delete: the remote object is kept"),
            Reason::OrphanKeeps => f.write_str("seqops.dev/deletion-policy: orphan keeps the remote object"),
            Reason::CannotDelete => f.write_str("the API cannot delete it; it is only removed from state"),
            Reason::MovedFrom { from } => write!(f, "moved from {from}: state keeps its record, nothing is sent"),
            Reason::Saved { words, .. } => f.write_str(words),
        }
    }
}

/// The words of a create whose answer was lost.
fn write_lost_create(f: &mut fmt::Formatter<'_>, reason: &Reason) -> fmt::Result {
    match reason {
            Reason::LostCreateFoundByNaturalKey => f.write_str(
                "an earlier create got no answer; the object its natural key names is adopted, not created twice",
            ),
            Reason::LostCreateFound => {
                f.write_str("an earlier create got no answer but made this object: it is adopted, not created twice")
            }
            Reason::LostCreateResent => f.write_str("an earlier create got no answer and made nothing; it is sent again"),
            Reason::LostCreateSentUnknown { id } => write!(
                f,
                "an earlier create got no answer, and state does not say what it sent: {id} has its name but is not deleted on a guess; delete it yourself if it is the one"
            ),
            Reason::LostCreateAmbiguous { ids } => write!(
                f,
                "an earlier create got no answer; {} unmanaged objects match what it sent ({}), so none is deleted",
                ids.len(),
                ids.join(", ")
            ),
        _ => Ok(()),
    }
}

/// `remotely: status active, currentStep 1`: each field the vendor moves by
/// itself, with its value.
fn write_observed(f: &mut fmt::Formatter<'_>, seen: &[(String, String)]) -> fmt::Result {
    f.write_str("remotely: ")?;
    for (index, (field, value)) in seen.iter().enumerate() {
        let comma = if index > 0 { ", " } else { "" };
        write!(f, "{comma}{field} {value}")?;
    }
    Ok(())
}

/// Reasons as one line of words, `separator` between them (for errors
/// that name why an object must be replaced).
pub fn joined(reasons: &[Reason], separator: &str) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(separator)
}

#[cfg(test)]
mod tests {
    use super::Reason;

    fn text(s: &str) -> String {
        s.to_string()
    }

    /// One of every reason, with what it carries.
    fn one_of_each() -> Vec<Reason> {
        let key = || vec![text("contact"), text("sequence")];
        vec![
            Reason::FieldImmutable { field: text("trigger") },
            Reason::FieldRemovedCannotReset { field: text("runtime") },
            Reason::NotUpdatable { kind: text("Enrollment"), fields: vec![text("contactId"), text("metadata")] },
            Reason::DeletedOutside { id: text("seq-1") },
            Reason::ForeignDigestKey { key_id: text("k1") },
            Reason::Observed { seen: vec![(text("status"), text("active")), (text("currentStep"), text("1"))] },
            Reason::EndsIt { how: text("stop (WIN, CONTACT)") },
            Reason::RenewTokenChanged {
                noun: text("re-enrollment"),
                annotation: text("gary.seqops.dev/re-enroll"),
                token: text("2026-01"),
                kind: text("Enrollment"),
            },
            Reason::RenewFinished {
                noun: text("re-enrollment"),
                id: text("enr-1"),
                annotation: text("gary.seqops.dev/re-enroll"),
            },
            Reason::ExternalIdNamesIt,
            Reason::SpecIdNamesIt,
            Reason::AdoptAnnotationMatchesName,
            Reason::ExistsFinished { id: text("enr-1"), natural_key: key(), status: text("completed") },
            Reason::ExistsAdopted { id: text("enr-1"), natural_key: key() },
            Reason::OneLive { kind: text("SequenceRun"), natural_key: key() },
            Reason::LostCreateFoundByNaturalKey,
            Reason::LostCreateFound,
            Reason::LostCreateResent,
            Reason::LostCreateSentUnknown { id: text("sch-2") },
            Reason::LostCreateAmbiguous { ids: vec![text("sch-2"), text("sch-3")] },
            Reason::ReplacedByExists,
            Reason::PolicyKeeps,
            Reason::OrphanKeeps,
            Reason::CannotDelete,
            Reason::MovedFrom { from: text("Sequence/welcome") },
            Reason::Saved { code: text("field_immutable"), words: text("trigger cannot change in place") },
        ]
    }

    /// The words each reason is shown as. A match with no catch-all: a new
    /// reason does not compile here until its words are written down.
    fn words_of(reason: &Reason) -> &'static str {
        match reason {
            Reason::FieldImmutable { .. } => "`trigger` cannot be changed in place",
            Reason::FieldRemovedCannotReset { .. } => "`runtime` was removed and cannot be reset in place",
            Reason::NotUpdatable { .. } => "the API cannot change an Enrollment in place (contactId, metadata)",
            Reason::DeletedOutside { .. } => "seq-1 was deleted outside seqops; it will be created again",
            Reason::ForeignDigestKey { .. } => {
                "its secrets were digested under another key than this one (k1), lost or rotated: they cannot be compared, and are sent again once"
            }
            Reason::Observed { .. } => "remotely: status active, currentStep 1",
            Reason::EndsIt { .. } => "this ends it: stop (WIN, CONTACT); it cannot be undone",
            Reason::RenewTokenChanged { .. } => {
                "re-enrollment: gary.seqops.dev/re-enroll is now \"2026-01\": one new Enrollment is made"
            }
            Reason::RenewFinished { .. } => {
                "re-enrollment: enr-1 is finished and gary.seqops.dev/re-enroll asks for a new one"
            }
            Reason::ExternalIdNamesIt => "seqops.dev/external-id names it",
            Reason::SpecIdNamesIt => "spec.id names it",
            Reason::AdoptAnnotationMatchesName => "seqops.dev/adopt: an unmanaged object has its name",
            Reason::ExistsFinished { .. } => {
                "enr-1 already exists with this contact and sequence and is completed: it is bound as it is and not made again"
            }
            Reason::ExistsAdopted { .. } => {
                "enr-1 already exists with this contact and sequence: it is adopted, not made twice"
            }
            Reason::OneLive { .. } => "the one live SequenceRun with this contact and sequence",
            Reason::LostCreateFoundByNaturalKey => {
                "an earlier create got no answer; the object its natural key names is adopted, not created twice"
            }
            Reason::LostCreateFound => {
                "an earlier create got no answer but made this object: it is adopted, not created twice"
            }
            Reason::LostCreateResent => "an earlier create got no answer and made nothing; it is sent again",
            Reason::LostCreateSentUnknown { .. } => {
                "an earlier create got no answer, and state does not say what it sent: sch-2 has its name but is not deleted on a guess; delete it yourself if it is the one"
            }
            Reason::LostCreateAmbiguous { .. } => {
                "an earlier create got no answer; 2 unmanaged objects match what it sent (sch-2, sch-3), so none is deleted"
            }
            Reason::ReplacedByExists => "the object it was replaced by exists; the old one is still to be deleted",
            Reason::PolicyKeeps => "its managementPolicies did not allow Delete: the remote object is kept",
            Reason::OrphanKeeps => "seqops.dev/deletion-policy: orphan keeps the remote object",
            Reason::CannotDelete => "the API cannot delete it; it is only removed from state",
            Reason::MovedFrom { .. } => "moved from Sequence/welcome: state keeps its record, nothing is sent",
            Reason::Saved { .. } => "trigger cannot change in place",
        }
    }

    #[test]
    fn every_reason_has_a_code_of_its_own() {
        let reasons = one_of_each();
        let codes: std::collections::BTreeSet<&str> = reasons.iter().map(Reason::code).collect();
        // The saved reason keeps the code of the one it was.
        assert_eq!(codes.len(), reasons.len() - 1);
    }

    #[test]
    fn every_reason_is_shown_in_the_words_plans_have_always_used() {
        for reason in one_of_each() {
            assert_eq!(reason.to_string(), words_of(&reason), "{reason:?}");
        }
    }
}
