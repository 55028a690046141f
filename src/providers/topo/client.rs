//! Topo's API over the shared HTTP layer, and the SequenceRun client the
//! engine drives.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::spec::{Phase, SequenceRunSpec, StopScope};
use super::{mapping, wire};
use crate::providers::http::segment;
use crate::providers::paging::all_pages;
use crate::providers::probe::{self, Probe, ProbePath};
use crate::providers::sources::SourceValues;
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
    UpdateRequest, Write,
};

/// The most runs Topo gives in one page.
const PAGE: u32 = 100;

/// One Topo workspace.
pub struct TopoApi {
    account: Arc<Account>,
}

impl TopoApi {
    pub fn new(account: Arc<Account>) -> Self {
        Self { account }
    }

    /// Every run the query selects, page after page.
    async fn runs(&self, query: &[(&str, &str)]) -> Result<Vec<wire::SequenceRun>, ProviderError> {
        let http = &self.account.http;
        let filters: String = query.iter().map(|(k, v)| format!("&{k}={}", segment(v))).collect();
        all_pages(|cursor| {
            let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
            let path = format!("/v1/sequences?size={PAGE}&page={page}{filters}");
            async move {
                let answer: wire::RunPage = http.get(&path).await?;
                Ok((answer.items, answer.has_more.then(|| (page + 1).to_string())))
            }
        })
        .await
    }

    async fn run(&self, id: &str) -> Result<Option<wire::SequenceRun>, ProviderError> {
        crate::providers::error::none_if_gone(self.account.http.get(&run_path(id, "")).await)
    }

    async fn post(&self, id: &str, action: &str, body: Option<Value>) -> Result<(), ProviderError> {
        self.account.http.send(Method::POST, &run_path(id, action), body.as_ref()).await.map(|_| ())
    }
}

fn run_path(id: &str, action: &str) -> String {
    format!("/v1/sequences/{}{action}", segment(id))
}

/// Topo sequence runs, as the engine sees them.
pub struct SequenceRunClient(pub Arc<TopoApi>);

#[async_trait]
impl ExternalClient for SequenceRunClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::RUN_FACTS
    }

    /// Variables are one call, a pause, resume or stop another.
    fn requests(&self, write: Write<'_>) -> u64 {
        match write {
            Write::Update { changes, .. } => mapping::update_requests(changes),
            _ => 0,
        }
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<SequenceRunSpec>().map(mapping::spec_display_name).unwrap_or_default()
    }

    fn labels(&self, spec: &Spec) -> BTreeMap<String, String> {
        spec.typed::<SequenceRunSpec>().map(mapping::state_labels).unwrap_or_default()
    }

    fn notes(&self, spec: &Spec) -> Vec<String> {
        match spec.typed::<SequenceRunSpec>().ok().and_then(mapping::elapsed_pause) {
            Some(until) => vec![format!("the pause until {until} has passed, so it is satisfied; nothing is sent")],
            None => Vec::new(),
        }
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let run = spec.typed::<SequenceRunSpec>()?;
        let company =
            run.state.as_ref().is_some_and(|s| s.phase == Phase::Stopped && s.scope == Some(StopScope::Company));
        let confirmed = context.annotations.get(mapping::CONFIRM_COMPANY_STOP).map(String::as_str);
        if company && confirmed != Some("true") {
            return Err(ProviderError::Lookup {
                field: "spec.state.scope".into(),
                message: format!(
                    "a COMPANY stop also stops every other live run of this template at the contact's company, which Topo gives no way to list; confirm it with {}: \"true\"",
                    mapping::CONFIRM_COMPANY_STOP
                ),
            });
        }
        Ok(mapping::desired(run))
    }

    /// The run by id, with its overrides; its state is left to the team to
    /// write, since Topo does not say how long a pause lasts.
    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        Ok(mapping::export(observed))
    }

    async fn list(&self, scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let runs = match scope {
            ListScope::Specs(specs) => {
                let templates: Option<std::collections::BTreeSet<&str>> = specs
                    .iter()
                    .map(|s| s.spec.typed::<SequenceRunSpec>().ok()?.selector.as_ref().map(|r| r.template_id.as_str()))
                    .collect();
                match templates {
                    // Every run is named by selector: only their templates.
                    Some(templates) => {
                        let mut runs = Vec::new();
                        for template in templates {
                            runs.extend(self.0.runs(&[("sequence_template_id", template)]).await?);
                        }
                        runs
                    }
                    None => self.0.runs(&[]).await?,
                }
            }
            ListScope::Export(filters) => export_runs(&self.0, filters).await?,
            ListScope::All => self.0.runs(&[]).await?,
        };
        Ok(runs
            .iter()
            .map(|run| RemoteSummary {
                id: run.id.clone(),
                display_name: mapping::display_name(run),
                fields: mapping::observed(run),
            })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        Ok(self.0.run(id).await?.as_ref().map(mapping::observed))
    }

    async fn create(&self, _desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        Err(ProviderError::Invalid("Topo makes sequence runs itself; seqops cannot create one".into()))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let id = request.id;
        let (variables, moves) = mapping::update_calls(request.changes, request.desired);
        if let Some(body) = variables {
            self.0.account.http.send(Method::PATCH, &run_path(id, ""), Some(&body)).await?;
        }
        match moves {
            Some(mapping::Call::Pause(body)) => self.0.post(id, "/pause", Some(body)).await,
            Some(mapping::Call::Resume) => self.0.post(id, "/resume", None).await,
            Some(mapping::Call::Stop(body)) => self.0.post(id, "/stop", Some(body)).await,
            None => Ok(()),
        }
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("Topo cannot delete sequence run {id}")))
    }
}

/// The runs an export selects, with Topo's own filters: a request set per
/// template and status asked for.
async fn export_runs(
    api: &TopoApi,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<wire::SequenceRun>, ProviderError> {
    let templates = filters.get(mapping::TEMPLATE_FILTER).cloned().unwrap_or_default();
    let statuses = filters.get(mapping::STATUS_FILTER).cloned().unwrap_or_default();
    let templates: Vec<Option<&str>> =
        if templates.is_empty() { vec![None] } else { templates.iter().map(|t| Some(t.as_str())).collect() };
    let statuses: Vec<Option<&str>> =
        if statuses.is_empty() { vec![None] } else { statuses.iter().map(|s| Some(s.as_str())).collect() };
    let mut runs = Vec::new();
    for template in &templates {
        for status in &statuses {
            let mut query = Vec::new();
            query.extend(template.map(|t| ("sequence_template_id", t)));
            query.extend(status.map(|s| ("status", s)));
            runs.extend(api.runs(&query).await?);
        }
    }
    Ok(runs)
}

/// Topo's `{status_code, type, message, data, request_id}`, with the
/// request id a support ticket needs.
pub fn error_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<wire::ErrorBody>(body) {
        Ok(error) => {
            let data = if error.data.is_null() || error.data == json!({}) {
                String::new()
            } else {
                format!(" {}", error.data)
            };
            format!("{}: {}{data} (request_id {})", error.kind, error.message, error.request_id)
        }
        Err(_) => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// The endpoints this client reads, for `seqops check`.
pub const PROBES: &[Probe] = &[
    Probe {
        endpoint: "GET /v1/sequences",
        path: ProbePath::Fixed("/v1/sequences?size=100&page=1"),
        expect: |body| probe::ids::<wire::RunPage>(body, |page| page.items.iter().map(|r| r.id.clone()).collect()),
    },
    Probe {
        endpoint: "GET /v1/sequences/{id}",
        path: ProbePath::Under { parent: "GET /v1/sequences", path: |id| run_path(id, "") },
        expect: probe::shape::<wire::SequenceRun>,
    },
];
