//! Between Gary's enrollments and the fields the engine compares.
//!
//! Fields use the spec's names: `sequence` holds the sequence's id,
//! `contactId` and `metadata` are as written. What Gary's worker moves by
//! itself (`status`, `currentStep`, `nextRunAt`, `enrolledAt`) is observed,
//! never compared.

use serde_json::{json, Value};

use super::spec::EnrollmentSpec;
use super::wire;
use crate::manifest::selector::Selector;
use crate::providers::{Birth, Change, End, Field, Fields, Gone, KindFacts, Lifecycle, Listing, Renew};

pub static ENROLLMENT_FACTS: KindFacts = KindFacts::new(
    Lifecycle {
        birth: Birth::Idempotent {
            key: &["sequence", "contactId"],
            renew: Some(Renew { annotation: RE_ENROLL, noun: "re-enrollment", event: "ReEnrolled" }),
        },
        change: Change::Never {
            hint: "Gary can neither change nor cancel an enrollment: put the manifest back as it was; to enroll the contact again on purpose, set gary.seqops.dev/re-enroll: \"<a new token>\"",
        },
        gone: Gone::Report { terminal },
        end: End::Never,
    },
    &[
        Field::new("sequence").fixed(),
        Field::new("contactId").fixed(),
        // Gary's POST answer does not show metadata; a listing may. What is
        // not shown is taken to be what seqops sent.
        Field::new("metadata").fixed().write_only(),
        Field::new("status").observed(),
        Field::new("currentStep").observed(),
        Field::new("nextRunAt").observed(),
        Field::new("enrolledAt").observed(),
        Field::new("pausedReason").observed(),
    ],
    Listing::Whole,
);

/// A new token enrolls the contact again on purpose.
pub const RE_ENROLL: &str = "gary.seqops.dev/re-enroll";

/// A finished ladder, a cancelled one, or one paused (auto-paused when the
/// contact replied): each is reported, and the contact is never enrolled
/// again for it, which would send the whole ladder a second time.
fn terminal(fields: &Fields) -> Option<String> {
    match fields.get("status").and_then(Value::as_str)? {
        "active" => None,
        "paused" => Some(match fields.get("pausedReason").and_then(Value::as_str) {
            Some("reply_received") => "paused (auto-paused: the contact replied)".into(),
            Some(reason) => format!("paused ({reason})"),
            None => "paused".into(),
        }),
        other => Some(other.to_string()),
    }
}

/// The remote id seqops keeps: Gary reads enrollments only through their
/// sequence, so the id carries both (`seq_…/enr_…`).
pub fn external_id(enrollment: &wire::Enrollment) -> String {
    format!("{}/{}", enrollment.sequence_id, enrollment.id)
}

/// The sequence and enrollment ids of an external id.
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(sequence, enrollment)| !sequence.is_empty() && !enrollment.is_empty())
}

pub fn observed(enrollment: &wire::Enrollment) -> Fields {
    let mut fields = Fields::new();
    fields.insert("sequence".into(), json!(enrollment.sequence_id));
    fields.insert("contactId".into(), json!(enrollment.contact_id));
    if !enrollment.metadata.is_null() {
        fields.insert("metadata".into(), enrollment.metadata.clone());
    }
    fields.insert("status".into(), json!(enrollment.status));
    fields.insert("currentStep".into(), json!(enrollment.current_step));
    fields.insert("nextRunAt".into(), json!(enrollment.next_run_at));
    fields.insert("enrolledAt".into(), json!(enrollment.enrolled_at));
    if let Some(reason) = &enrollment.paused_reason {
        fields.insert("pausedReason".into(), json!(reason));
    }
    fields
}

/// The export filter naming sequences to list.
pub const SEQUENCE_FILTER: &str = "sequence";
/// The export filter naming the enrollment statuses to keep.
pub const STATUS_FILTER: &str = "status";

/// The fields a manifest asks for, its sequence resolved to `sequence`.
pub fn desired(spec: &EnrollmentSpec, sequence: Value) -> Fields {
    let mut fields = Fields::new();
    fields.insert("sequence".into(), sequence);
    fields.insert("contactId".into(), json!(spec.contact_id));
    if let Some(metadata) = &spec.metadata {
        fields.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    fields
}

/// The sequence to enroll in and the `POST` body that enrolls the contact.
pub fn enroll_request(desired: &Fields) -> (String, wire::EnrollRequest) {
    let text = |field: &str| desired.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    let request = wire::EnrollRequest { contact_id: text("contactId"), metadata: desired.get("metadata").cloned() };
    (text("sequence"), request)
}

/// A spec that asks for exactly the observed enrollment: its sequence by
/// name where no other sequence has it, else by id.
pub fn export(observed: &Fields, sequences: &[wire::Sequence]) -> Value {
    let id = observed.get("sequence").and_then(Value::as_str).unwrap_or_default();
    let named: Vec<&wire::Sequence> =
        sequences.iter().filter(|s| sequences.iter().any(|t| t.id == id && t.name == s.name)).collect();
    let sequence = match named.as_slice() {
        [one] => json!({ "lookup": one.name }),
        _ => json!({ "id": id }),
    };
    let mut spec = serde_json::Map::new();
    spec.insert("sequence".into(), sequence);
    spec.insert("contactId".into(), observed.get("contactId").cloned().unwrap_or(Value::Null));
    if let Some(metadata) = observed.get("metadata").filter(|m| m.as_object().is_some_and(|m| !m.is_empty())) {
        spec.insert("metadata".into(), metadata.clone());
    }
    Value::Object(spec)
}

/// The sequence a spec names, read on its own: a spec kept in state by an
/// older seqops need not read whole as today's type to say it.
pub fn scoped_sequence(spec: &Value) -> Option<Selector> {
    #[derive(serde::Deserialize)]
    struct Named {
        sequence: Selector,
    }
    <Named as serde::Deserialize>::deserialize(spec).ok().map(|n| n.sequence)
}

/// How plans name the enrollment a manifest asks for.
pub fn spec_display_name(spec: &EnrollmentSpec) -> String {
    let (Selector::Lookup(sequence) | Selector::Id(sequence)) = &spec.sequence;
    display_name(sequence, &spec.contact_id)
}

/// What the sequence lookup stands for: `sequence` → `lookup Nurture`.
pub fn lookup_labels(spec: &EnrollmentSpec) -> std::collections::BTreeMap<String, String> {
    match &spec.sequence {
        Selector::Lookup(name) => [("sequence".to_string(), format!("lookup {name}"))].into(),
        Selector::Id(_) => Default::default(),
    }
}

/// `con_EXAMPLE_bbbb in seq_EXAMPLE_aaaa`: how plans name an enrollment.
pub fn display_name(sequence: &str, contact: &str) -> String {
    format!("{contact} in {sequence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_in_state_names_its_sequence_whatever_else_it_holds() {
        let spec = json!({"sequence": {"lookup": "Nurture"}, "contactId": "con_1", "addedLater": true});
        assert_eq!(scoped_sequence(&spec), Some(Selector::Lookup("Nurture".into())));
        assert_eq!(scoped_sequence(&json!({"contactId": "con_1"})), None);
    }
}
