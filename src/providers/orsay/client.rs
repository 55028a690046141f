//! Orsay's API over the shared HTTP layer, and the Sequence client the
//! engine drives.

use std::sync::Arc;

use async_trait::async_trait;

use crate::providers::http::segment;
use crate::providers::listings::{Listings, Read};
use crate::providers::probe::{self, Probe, ProbePath};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::spec::{ProfileSelector, SequenceSpec};
use super::{mapping, wire};
use crate::manifest::selector::Selector;
use crate::providers::sources::SourceValues;
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
    UpdateRequest,
};

/// One Orsay organization. Agents and profiles are listed at most once per
/// run, and only when a manifest looks one up. The sequences' list is
/// shared by every client of the account (the controller makes one per
/// reconcile) and kept up to date by its own writes: a thousand new
/// objects cost one list, not a thousand.
pub struct OrsayApi {
    account: Arc<Account>,
    agents: OnceCell<Vec<wire::Agent>>,
    profiles: OnceCell<wire::Profiles>,
    sequences: Arc<Listings<Vec<wire::SequenceSummary>>>,
}

/// The key the sequences' list is kept under.
const SEQUENCES: &str = "/sequences";

impl OrsayApi {
    pub fn new(account: Arc<Account>) -> Self {
        let rate = account.limiter.rate();
        let sequences = account.shared("orsay sequences", || Listings::paced(rate));
        Self { account, agents: OnceCell::new(), profiles: OnceCell::new(), sequences }
    }

    pub async fn agents(&self) -> Result<&[wire::Agent], ProviderError> {
        self.agents.get_or_try_init(|| self.account.http.get("/agents")).await.map(Vec::as_slice)
    }

    pub async fn profiles(&self) -> Result<&wire::Profiles, ProviderError> {
        self.profiles.get_or_try_init(|| self.account.http.get("/profiles")).await
    }

    pub async fn sequences(&self) -> Result<Vec<wire::SequenceSummary>, ProviderError> {
        self.sequences.get(SEQUENCES, || self.account.http.get(SEQUENCES)).await
    }

    /// Keeps the shared list as a write left the collection: `change` for
    /// a write that succeeded; forgotten for one that failed, whose effect
    /// is unknown (a lost create must be looked for in a fresh list).
    fn written<T>(
        &self,
        outcome: &Result<T, ProviderError>,
        change: impl FnOnce(&mut Vec<wire::SequenceSummary>, Read) + Send + 'static,
    ) {
        match outcome {
            Ok(_) => self.sequences.amend(SEQUENCES, change),
            Err(_) => self.sequences.forget(SEQUENCES),
        }
    }

    pub async fn sequence(&self, id: &str) -> Result<Option<wire::Sequence>, ProviderError> {
        let read = crate::providers::error::none_if_gone(self.account.http.get(&sequence_path(id)).await);
        if matches!(read, Ok(None)) {
            // Gone, maybe since the list was read: the list that confirms
            // it is read afresh.
            self.sequences.forget(SEQUENCES);
        }
        read
    }

    /// Resolves an agent selector (`{lookup}` or `{id}`) to an id.
    async fn agent_id(&self, selector: &Selector, field: &str) -> Result<Value, ProviderError> {
        let name = match selector {
            Selector::Id(id) => return Ok(json!(id)),
            Selector::Lookup(name) => name.as_str(),
        };
        let agents = self.agents().await?;
        let names = agents.iter().map(|a| a.name.as_str());
        let matches: Vec<&str> = agents.iter().filter(|a| a.name == name).map(|a| a.id.as_str()).collect();
        one_match(&format!("{field}.lookup"), "agent", name, &matches, names).map(|id| json!(id))
    }

    async fn profile_id(&self, selector: &ProfileSelector) -> Result<Value, ProviderError> {
        let name = match selector {
            ProfileSelector::Id(id) => return Ok(json!(id)),
            ProfileSelector::Whatsapp(name) => name.as_str(),
            ProfileSelector::Instagram(username) => {
                let profiles = self.profiles().await?;
                let matches: Vec<&str> =
                    profiles.instagram.iter().filter(|p| &p.username == username).map(|p| p.id.as_str()).collect();
                let names = profiles.instagram.iter().map(|p| p.username.as_str());
                return one_match("spec.profile.instagram", "Instagram profile", username, &matches, names)
                    .map(|id| json!(id));
            }
        };
        let profiles = self.profiles().await?;
        let matches: Vec<&str> = profiles.whatsapp.iter().filter(|p| p.name == name).map(|p| p.id.as_str()).collect();
        let names = profiles.whatsapp.iter().map(|p| p.name.as_str());
        one_match("spec.profile.whatsapp", "WhatsApp profile", name, &matches, names).map(|id| json!(id))
    }
}

impl OrsayApi {
    /// `{lookup: name}` for an agent whose name no other agent has, else `{id}`.
    async fn agent_selector(&self, id: &Value) -> Result<Value, ProviderError> {
        let agents = self.agents().await?;
        let name = agents.iter().find(|a| Some(a.id.as_str()) == id.as_str()).map(|a| a.name.as_str());
        Ok(match name {
            Some(name) if agents.iter().filter(|a| a.name == name).count() == 1 => {
                json!({ "lookup": name })
            }
            _ => json!({ "id": id }),
        })
    }

    /// `{instagram: username}` or `{whatsapp: name}` when unambiguous, else `{id}`.
    async fn profile_selector(&self, id: &Value) -> Result<Value, ProviderError> {
        let profiles = self.profiles().await?;
        let id_text = id.as_str().unwrap_or_default();
        if let Some(found) = profiles.instagram.iter().find(|p| p.id == id_text) {
            if profiles.instagram.iter().filter(|p| p.username == found.username).count() == 1 {
                return Ok(json!({ "instagram": found.username }));
            }
        }
        if let Some(found) = profiles.whatsapp.iter().find(|p| p.id == id_text) {
            if profiles.whatsapp.iter().filter(|p| p.name == found.name).count() == 1 {
                return Ok(json!({ "whatsapp": found.name }));
            }
        }
        Ok(json!({ "id": id }))
    }
}

/// The one id a lookup found, or an error naming what there is.
fn one_match<'a>(
    field: &str,
    what: &str,
    name: &str,
    matches: &[&str],
    candidates: impl Iterator<Item = &'a str>,
) -> Result<String, ProviderError> {
    match matches {
        [id] => Ok(id.to_string()),
        [] => {
            let candidates: Vec<String> = candidates.map(|c| format!("{c:?}")).collect();
            let known = if candidates.is_empty() {
                "there are none".to_string()
            } else {
                format!("there are {}", candidates.join(", "))
            };
            Err(ProviderError::Lookup {
                field: field.into(),
                message: format!("no Orsay {what} is named {name:?}; {known}"),
            })
        }
        several => Err(ProviderError::Lookup {
            field: field.into(),
            message: format!(
                "{} Orsay {what}s are named {name:?} (ids {}): use `id:` to choose one",
                several.len(),
                several.join(", ")
            ),
        }),
    }
}

fn sequence_path(id: &str) -> String {
    format!("/sequences/{}", segment(id))
}

/// Orsay sequences, as the engine sees them.
pub struct SequenceClient {
    api: OrsayApi,
}

impl SequenceClient {
    pub fn new(api: OrsayApi) -> Self {
        Self { api }
    }

    /// The id a lookup field's selector names.
    async fn resolve(&self, name: &str, lookup: mapping::SpecField<'_>) -> Result<Value, ProviderError> {
        match lookup {
            mapping::SpecField::Agent(selector) => self.api.agent_id(selector, &format!("spec.{name}")).await,
            mapping::SpecField::Profile(selector) => self.api.profile_id(selector).await,
            mapping::SpecField::Value(value) => Ok(value),
        }
    }

    fn invalid(&self, error: String) -> ProviderError {
        ProviderError::Invalid(format!("{}: {error}", self.api.account.label()))
    }
}

#[async_trait]
impl ExternalClient for SequenceClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::SEQUENCE_FACTS
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<SequenceSpec>().map(|s| s.name.clone()).unwrap_or_default()
    }

    fn labels(&self, spec: &Spec) -> std::collections::BTreeMap<String, String> {
        spec.typed::<SequenceSpec>().map(mapping::lookup_labels).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let sequence = spec.typed::<SequenceSpec>()?;
        let mut fields = Fields::new();
        for (name, value) in mapping::spec_fields(sequence) {
            let resolved = match value {
                mapping::SpecField::Value(value) => value,
                lookup => match context.reusable(spec, name, name) {
                    Some(id) => id,
                    None => self.resolve(name, lookup).await?,
                },
            };
            fields.insert(name.to_string(), resolved);
        }
        Ok(fields)
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        let mut spec = serde_json::Map::new();
        for (name, value) in observed {
            let exported = match name.as_str() {
                _ if value.is_null() => continue,
                "agent" | "filteringAgent" => self.api.agent_selector(value).await?,
                "profile" => self.api.profile_selector(value).await?,
                _ => value.clone(),
            };
            spec.insert(name.clone(), exported);
        }
        Ok(Some(Value::Object(spec)))
    }

    async fn list(&self, _scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let sequences = self.api.sequences().await?;
        Ok(sequences
            .iter()
            .map(|s| RemoteSummary { id: s.id.clone(), display_name: s.name.clone(), fields: mapping::summary(s) })
            .collect())
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        Ok(self.api.sequence(id).await?.as_ref().map(mapping::observed))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let body = Value::Object(mapping::to_wire(desired).map_err(|e| self.invalid(e))?);
        let http = &self.api.account.http;
        let created = http
            .send(Method::POST, SEQUENCES, Some(&body))
            .await
            .and_then(|response| http.decode::<wire::Created>(&Method::POST, SEQUENCES, &response));
        let made = created.as_ref().ok().map(|made| mapping::listed(&made.id, &body));
        self.api.written(&created, move |list, read| {
            // A list read while the create was made may show it already.
            let shown = |made: &wire::SequenceSummary| read == Read::During && list.iter().any(|s| s.id == made.id);
            if let Some(made) = made.filter(|made| !shown(made)) {
                list.push(made);
            }
        });
        Ok(Created::id(created?.id))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        let id = request.id;
        let body = Value::Object(mapping::to_wire(request.changes).map_err(|e| self.invalid(e))?);
        let updated = self.api.account.http.send(Method::PUT, &sequence_path(id), Some(&body)).await;
        let (changed, body) = (id.to_string(), body.clone());
        self.api.written(&updated, move |list, _| {
            if let Some(listed) = list.iter_mut().find(|s| s.id == changed) {
                mapping::update_listed(listed, &body);
            }
        });
        updated.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        let deleted = crate::providers::error::ok_if_gone(
            self.api.account.http.send(Method::DELETE, &sequence_path(id), None).await,
        );
        let gone = id.to_string();
        self.api.written(&deleted, move |list, _| list.retain(|s| s.id != gone));
        deleted
    }
}

/// The endpoints this client reads, for `seqops check`.
pub const PROBES: &[Probe] = &[
    Probe {
        endpoint: "GET /agents",
        path: ProbePath::Fixed("/agents"),
        expect: |body| probe::ids::<Vec<wire::Agent>>(body, |agents| agents.iter().map(|a| a.id.clone()).collect()),
    },
    Probe { endpoint: "GET /profiles", path: ProbePath::Fixed("/profiles"), expect: probe::shape::<wire::Profiles> },
    Probe {
        endpoint: "GET /sequences",
        path: ProbePath::Fixed("/sequences"),
        expect: |body| {
            probe::ids::<Vec<wire::SequenceSummary>>(body, |list| list.iter().map(|s| s.id.clone()).collect())
        },
    },
    Probe {
        endpoint: "GET /sequences/{id}",
        path: ProbePath::Under { parent: "GET /sequences", path: sequence_path },
        expect: probe::shape::<wire::Sequence>,
    },
];
