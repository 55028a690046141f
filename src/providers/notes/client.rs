//! The notes API over the shared HTTP layer: the Note client the engine
//! drives.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;

use super::spec::NoteSpec;
use super::{mapping, wire};
use crate::providers::error::{none_if_gone, ok_if_gone};
use crate::providers::http::segment;
use crate::providers::sources::SourceValues;
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
    UpdateRequest,
};

/// Notes in one account.
pub struct NoteClient(pub Arc<Account>);

const NOTES: &str = "/notes";

fn note_path(id: &str) -> String {
    format!("{NOTES}/{}", segment(id))
}

fn body<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(value).map_err(|e| ProviderError::Invalid(e.to_string()))
}

#[async_trait]
impl ExternalClient for NoteClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::NOTE_FACTS
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<NoteSpec>().map(|note| note.title.clone()).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, _context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        Ok(mapping::desired(spec.typed::<NoteSpec>()?))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let notes: Vec<wire::Note> = self.0.http.get(NOTES).await?;
        Ok(notes
            .iter()
            .map(|n| RemoteSummary { id: n.id.clone(), display_name: n.title.clone(), fields: mapping::observed(n) })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let note: Option<wire::Note> = none_if_gone(self.0.http.get(&note_path(id)).await)?;
        Ok(note.as_ref().map(mapping::observed))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let http = &self.0.http;
        let response = http.send(Method::POST, NOTES, Some(&body(&mapping::new_note(desired))?)).await?;
        let made: wire::Note = http.decode(&Method::POST, NOTES, &response)?;
        Ok(Created::id(made.id))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let patch = body(&mapping::patch(request.changes))?;
        self.0.http.send(Method::PATCH, &note_path(request.id), Some(&patch)).await.map(drop)
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        ok_if_gone(self.0.http.send(Method::DELETE, &note_path(id), None).await.map(drop))
    }
}
