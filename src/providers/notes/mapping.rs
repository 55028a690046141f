//! Between notes on the wire and the fields the engine compares.

use serde_json::{json, Value};

use super::spec::NoteSpec;
use super::wire;
use crate::providers::{Change, Field, Fields, Json, KindFacts, Lifecycle, Listing, ReplaceOrder, CRUD};

pub static NOTE_FACTS: KindFacts = KindFacts::new(
    Lifecycle { change: Change::InPlaceOrReplace(ReplaceOrder::CreateFirst), ..CRUD },
    &[Field::new("title").fixed(), Field::new("pinned").default(Json::Bool(false))],
    Listing::Whole,
);

/// What a manifest asks of a note.
pub fn desired(spec: &NoteSpec) -> Fields {
    let mut fields = Fields::new();
    fields.insert("title".into(), json!(spec.title));
    if let Some(body) = &spec.body {
        fields.insert("body".into(), json!(body));
    }
    if let Some(pinned) = spec.pinned {
        fields.insert("pinned".into(), json!(pinned));
    }
    fields
}

/// The fields of a note as the API shows it.
pub fn observed(note: &wire::Note) -> Fields {
    let mut fields = Fields::new();
    fields.insert("title".into(), json!(note.title));
    if let Some(body) = &note.body {
        fields.insert("body".into(), json!(body));
    }
    fields.insert("pinned".into(), json!(note.pinned));
    fields
}

/// The `POST /notes` body that makes the desired note.
pub fn new_note(desired: &Fields) -> wire::NewNote {
    wire::NewNote {
        title: desired.get("title").and_then(Value::as_str).unwrap_or_default().to_string(),
        body: desired.get("body").and_then(Value::as_str).map(String::from),
        pinned: desired.get("pinned").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// The `PATCH` body that makes `changes`.
pub fn patch(changes: &Fields) -> wire::NotePatch {
    wire::NotePatch {
        body: changes.get("body").map(|body| body.as_str().map(String::from)),
        pinned: changes.get("pinned").and_then(Value::as_bool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_removed_from_the_manifest_is_cleared_and_a_pin_reset() {
        let changes = json!({"body": null, "pinned": false}).as_object().cloned().unwrap_or_default();
        assert_eq!(patch(&changes), wire::NotePatch { body: Some(None), pinned: Some(false) });
    }
}
