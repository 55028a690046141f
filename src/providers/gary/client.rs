//! Gary Club's API over the shared HTTP layer, and the Enrollment client the
//! engine drives.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::spec::EnrollmentSpec;
use super::{mapping, wire};
use crate::manifest::selector::Selector;
use crate::providers::http::segment;
use crate::providers::listings::Listings;
use crate::providers::paging::all_pages;
use crate::providers::probe::{self, Probe, ProbePath};
use crate::providers::sources::SourceValues;
use crate::providers::{
    Account, Created, DesiredContext, ExternalClient, Fields, KindFacts, ListScope, ProviderError, RemoteSummary, Spec,
    UpdateRequest,
};

/// The most rows Gary gives in one page.
const PAGE: u32 = 200;

/// One Gary tenant. Sequences are listed at most once per client, and each
/// sequence's enrollments once per account until they are 30 s old
/// ([`crate::providers::listings::TTL_MS`]) or seqops enrolls someone in it: Gary has no read of one enrollment, so
/// every read is served from these listings.
pub struct GaryApi {
    account: Arc<Account>,
    sequences: OnceCell<Vec<wire::Sequence>>,
    /// Each sequence's enrollments, shared by every client of the account.
    listings: Arc<Listings<Vec<wire::Enrollment>>>,
}

impl GaryApi {
    pub fn new(account: Arc<Account>) -> Self {
        let listings = account.shared("gary enrollments", Listings::default);
        Self { account, sequences: OnceCell::new(), listings }
    }

    pub async fn sequences(&self) -> Result<&[wire::Sequence], ProviderError> {
        let http = &self.account.http;
        let list = || {
            all_pages(|cursor| async move {
                let page: wire::Page<wire::Sequence> = http.get(&page_path("/sequences", cursor)).await?;
                Ok((page.data, page.next_page_token))
            })
        };
        self.sequences.get_or_try_init(list).await.map(Vec::as_slice)
    }

    /// A sequence's enrollments, every page; `None` when the sequence is
    /// gone (or belongs to another tenant, which Gary answers alike).
    pub async fn enrollments(&self, sequence: &str) -> Result<Option<Vec<wire::Enrollment>>, ProviderError> {
        let http = &self.account.http;
        let path = format!("/sequences/{}/enrollments", segment(sequence));
        let listed = self
            .listings
            .get(sequence, || {
                all_pages(|cursor| {
                    let path = page_path(&path, cursor);
                    async move {
                        let page: wire::Page<wire::Enrollment> = http.get(&path).await?;
                        Ok((page.data, page.next_page_token))
                    }
                })
            })
            .await;
        crate::providers::error::none_if_gone(listed)
    }

    /// Enrolls a contact; `idempotent` says Gary returned a live row instead.
    async fn enroll(&self, sequence: &str, request: &wire::EnrollRequest) -> Result<wire::Enrolled, ProviderError> {
        let path = format!("/sequences/{}/enrollments", segment(sequence));
        let body = serde_json::to_value(request).map_err(|e| ProviderError::Invalid(e.to_string()))?;
        let http = &self.account.http;
        let response = http.send(Method::POST, &path, Some(&body)).await;
        // Whatever the answer, the listing no longer says what is there.
        self.listings.forget(sequence);
        http.decode(&Method::POST, &path, &response?)
    }

    /// The id a sequence selector names: `{id}` as written, `{lookup}` the
    /// one sequence with that name.
    async fn sequence_id(&self, selector: &Selector) -> Result<String, ProviderError> {
        let name = match selector {
            Selector::Id(id) => return Ok(id.clone()),
            Selector::Lookup(name) => name.as_str(),
        };
        let sequences = self.sequences().await?;
        let matches: Vec<&wire::Sequence> = sequences.iter().filter(|s| s.name == name).collect();
        match matches.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => {
                let names: Vec<String> = sequences.iter().map(|s| format!("{:?} ({})", s.name, s.status)).collect();
                Err(ProviderError::Lookup {
                    field: "spec.sequence.lookup".into(),
                    message: format!("no Gary sequence is named {name:?}; there are {}", names.join(", ")),
                })
            }
            several => Err(ProviderError::Lookup {
                field: "spec.sequence.lookup".into(),
                message: format!(
                    "{} Gary sequences are named {name:?} (ids {}): use `id:` to choose one",
                    several.len(),
                    several.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

fn page_path(path: &str, cursor: Option<String>) -> String {
    match cursor {
        Some(cursor) => format!("{path}?limit={PAGE}&page_token={}", segment(&cursor)),
        None => format!("{path}?limit={PAGE}"),
    }
}

/// Gary enrollments, as the engine sees them.
pub struct EnrollmentClient(pub Arc<GaryApi>);

impl EnrollmentClient {
    /// The sequences a listing of `scope` must read: those the specs name,
    /// or every active sequence for an export.
    async fn sequences_of(&self, scope: &ListScope<'_>) -> Result<Vec<String>, ProviderError> {
        let mut ids = std::collections::BTreeSet::new();
        match scope {
            ListScope::Export(filters) if filters.contains_key(mapping::SEQUENCE_FILTER) => {
                for named in filters.get(mapping::SEQUENCE_FILTER).into_iter().flatten() {
                    let sequences = self.0.sequences().await?;
                    let found = sequences.iter().find(|s| &s.id == named).map(|s| s.id.clone());
                    let selector = Selector::Lookup(named.clone());
                    ids.insert(match found {
                        Some(id) => id,
                        None => self.0.sequence_id(&selector).await?,
                    });
                }
            }
            ListScope::All | ListScope::Export(_) => {
                let sequences = self.0.sequences().await?;
                ids.extend(sequences.iter().filter(|s| s.status == "active").map(|s| s.id.clone()));
            }
            ListScope::Specs(specs) => {
                for scoped in specs {
                    let known = scoped.reusable("sequence", "sequence").and_then(|id| id.as_str().map(String::from));
                    match (known, mapping::scoped_sequence(scoped.spec.json())) {
                        (Some(id), _) => ids.insert(id),
                        (None, Some(selector)) => ids.insert(self.0.sequence_id(&selector).await?),
                        (None, None) => false,
                    };
                }
            }
        }
        Ok(ids.into_iter().collect())
    }
}

#[async_trait]
impl ExternalClient for EnrollmentClient {
    fn facts(&self) -> &'static KindFacts {
        &mapping::ENROLLMENT_FACTS
    }

    fn display_name(&self, spec: &Spec) -> String {
        spec.typed::<EnrollmentSpec>().map(mapping::spec_display_name).unwrap_or_default()
    }

    fn labels(&self, spec: &Spec) -> BTreeMap<String, String> {
        spec.typed::<EnrollmentSpec>().map(mapping::lookup_labels).unwrap_or_default()
    }

    async fn desired(&self, spec: &Spec, context: &DesiredContext<'_>) -> Result<Fields, ProviderError> {
        let enrollment = spec.typed::<EnrollmentSpec>()?;
        let sequence = match context.reusable(spec, "sequence", "sequence") {
            Some(id) => id,
            None => json!(self.0.sequence_id(&enrollment.sequence).await?),
        };
        Ok(mapping::desired(enrollment, sequence))
    }

    async fn export(&self, observed: &Fields) -> Result<Option<Value>, ProviderError> {
        let sequences = self.0.sequences().await?;
        Ok(Some(mapping::export(observed, sequences)))
    }

    async fn list(&self, scope: &ListScope<'_>) -> Result<Vec<RemoteSummary>, ProviderError> {
        let statuses = match scope {
            ListScope::Export(filters) => filters.get(mapping::STATUS_FILTER).cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut summaries = Vec::new();
        for sequence in self.sequences_of(scope).await? {
            let rows = self.0.enrollments(&sequence).await?.unwrap_or_default();
            // Filtered here rather than with Gary's `status=`: the rows are
            // read once for the listing and again from it for each export.
            for enrollment in rows.into_iter().filter(|e| statuses.is_empty() || statuses.contains(&e.status)) {
                summaries.push(RemoteSummary {
                    id: mapping::external_id(&enrollment),
                    display_name: mapping::display_name(&enrollment.sequence_id, &enrollment.contact_id),
                    fields: mapping::observed(&enrollment),
                });
            }
        }
        Ok(summaries)
    }

    async fn observe(&self, id: &str) -> Result<Option<Fields>, ProviderError> {
        let Some((sequence, enrollment)) = mapping::split_id(id) else {
            return Err(ProviderError::Invalid(format!(
                "{id} is not a Gary enrollment id as seqops keeps them (`seq_…/enr_…`)"
            )));
        };
        let rows = self.0.enrollments(sequence).await?.unwrap_or_default();
        Ok(rows.iter().find(|row| row.id == enrollment).map(mapping::observed))
    }

    async fn create(&self, desired: &Fields, _sources: &SourceValues) -> Result<Created, ProviderError> {
        let (sequence, request) = mapping::enroll_request(desired);
        let enrolled = self.0.enroll(&sequence, &request).await?;
        let mut created = Created::id(mapping::external_id(&enrolled.enrollment));
        created.observed = mapping::observed(&enrolled.enrollment);
        // The answer does not show metadata: what was sent stands.
        created.observed.remove("metadata");
        if enrolled.idempotent {
            created.note = Some(format!(
                "Gary already had {} actively enrolled: its enrollment {} is adopted",
                request.contact_id, enrolled.enrollment.id
            ));
        }
        Ok(created)
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("Gary cannot change enrollment {}", request.id)))
    }

    async fn delete(&self, id: &str) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("Gary cannot cancel enrollment {id}")))
    }
}

/// Gary's `{error, message, details}`, with what to do about each code.
pub fn error_detail(body: &[u8]) -> String {
    let Ok(error) = serde_json::from_slice::<wire::ErrorBody>(body) else {
        return String::from_utf8_lossy(body).chars().take(200).collect();
    };
    let advice = match error.error.as_str() {
        "authentication_required" => "send a key: set the Provider's credentials",
        "invalid_api_key" => "the key is not a Gary key: use a `gc_live_…` agency key or a `cl_live_…` client key",
        "revoked_api_key" => "the key was revoked: create a new one in Gary and update the credential",
        "expired_api_key" => "the key expired: create a new one in Gary and update the credential",
        "fuel_exhausted" => "the account is out of credit: top it up in Gary, then apply again",
        "feature_disabled" => "the account's plan does not include the public API for sequences",
        "forbidden" => "the key may not do this (a client key cannot act for another client)",
        "not_found" => "no such object for this key: Gary answers the same for another tenant's objects, so check the key and `headers: {X-Gary-Client-Id}`",
        "invalid_request" => "Gary refused the request as written",
        "unprocessable" => "Gary understood the request but cannot do it (a contact of another tenant, a sequence that is not active)",
        _ => "",
    };
    let mut text = format!("{}: {}", error.error, error.message);
    if !error.details.is_null() && error.details != json!({}) {
        text.push_str(&format!(" ({})", error.details));
    }
    if !advice.is_empty() {
        text.push_str(&format!(" — {advice}"));
    }
    text
}

/// The endpoints this client reads, for `seqops check`.
pub const PROBES: &[Probe] = &[
    Probe {
        endpoint: "GET /sequences",
        path: ProbePath::Fixed("/sequences?limit=100"),
        expect: |body| {
            probe::ids::<wire::Page<wire::Sequence>>(body, |page| page.data.iter().map(|s| s.id.clone()).collect())
        },
    },
    Probe {
        endpoint: "GET /sequences/{id}/enrollments",
        path: ProbePath::Under {
            parent: "GET /sequences",
            path: |id| format!("/sequences/{}/enrollments?limit=100", segment(id)),
        },
        expect: |body| {
            probe::ids::<wire::Page<wire::Enrollment>>(body, |page| page.data.iter().map(|e| e.id.clone()).collect())
        },
    },
];
