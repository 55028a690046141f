//! The notes API's JSON.

use serde::{Deserialize, Serialize};

/// A note as the API shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub pinned: bool,
}

/// The `POST /notes` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewNote {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub pinned: bool,
}

/// The `PATCH /notes/{id}` body: the fields that change (`body: null`
/// clears the body).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
}

/// An error: `{"detail": "…"}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Error {
    pub detail: String,
}
