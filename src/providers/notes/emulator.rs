//! A local notes API: notes by id under one bearer key each, a `404` for
//! one that is not there, `{"detail": …}` errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire;
use crate::sandbox::{Emulator, EmulatorConfig};

pub const BASE_PATH: &str = "/notes-api";

pub struct NotesEmulator {
    data: Mutex<Data>,
}

#[derive(Default, Serialize, Deserialize)]
struct Data {
    /// Notes by account key, then id.
    notes: BTreeMap<String, BTreeMap<String, wire::Note>>,
    made: u64,
}

fn error(status: StatusCode, detail: &str) -> Response {
    (status, Json(wire::Error { detail: detail.to_string() })).into_response()
}

fn key(headers: &HeaderMap) -> Option<String> {
    crate::sandbox::bearer_token(headers).map(String::from)
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "a bearer key is needed")
}

fn gone(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no note {id}"))
}

impl NotesEmulator {
    pub fn new(_config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Self { data: Mutex::default() })
    }

    fn with<T>(&self, change: impl FnOnce(&mut Data) -> T) -> T {
        change(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

async fn list(State(emulator): State<Arc<NotesEmulator>>, headers: HeaderMap) -> Response {
    let Some(key) = key(&headers) else { return unauthorized() };
    let notes: Vec<wire::Note> =
        emulator.with(|data| data.notes.get(&key).map(|n| n.values().cloned().collect()).unwrap_or_default());
    Json(notes).into_response()
}

async fn create(
    State(emulator): State<Arc<NotesEmulator>>,
    headers: HeaderMap,
    Json(new): Json<wire::NewNote>,
) -> Response {
    let Some(key) = key(&headers) else { return unauthorized() };
    if new.title.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "a note needs a title");
    }
    let note = emulator.with(|data| {
        data.made += 1;
        let note =
            wire::Note { id: format!("note_{}", data.made), title: new.title, body: new.body, pinned: new.pinned };
        data.notes.entry(key).or_default().insert(note.id.clone(), note.clone());
        note
    });
    (StatusCode::CREATED, Json(note)).into_response()
}

async fn read(State(emulator): State<Arc<NotesEmulator>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(key) = key(&headers) else { return unauthorized() };
    let note = emulator.with(|data| data.notes.get(&key).and_then(|n| n.get(&id)).cloned());
    note.map_or_else(|| gone(&id), |n| Json(n).into_response())
}

async fn change(
    State(emulator): State<Arc<NotesEmulator>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<wire::NotePatch>,
) -> Response {
    let Some(key) = key(&headers) else { return unauthorized() };
    let note = emulator.with(|data| {
        let note = data.notes.get_mut(&key)?.get_mut(&id)?;
        if let Some(body) = patch.body {
            note.body = body;
        }
        if let Some(pinned) = patch.pinned {
            note.pinned = pinned;
        }
        Some(note.clone())
    });
    note.map_or_else(|| gone(&id), |n| Json(n).into_response())
}

async fn remove(State(emulator): State<Arc<NotesEmulator>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(key) = key(&headers) else { return unauthorized() };
    let removed = emulator.with(|data| data.notes.get_mut(&key).and_then(|n| n.remove(&id)));
    removed.map_or_else(|| gone(&id), |_| StatusCode::NO_CONTENT.into_response())
}

impl Emulator for NotesEmulator {
    fn id(&self) -> &'static str {
        "notes"
    }

    fn base_path(&self) -> &'static str {
        BASE_PATH
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/notes", get(list).post(create))
            .route("/notes/{id}", get(read).patch(change).delete(remove))
            .with_state(self)
    }

    fn snapshot(&self) -> Value {
        crate::sandbox::snapshot_of(&self.data)
    }

    fn restore(&self, snapshot: Value) -> Result<(), String> {
        crate::sandbox::restore_into(&self.data, snapshot)
    }
}
