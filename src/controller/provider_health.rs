//! A Provider's status: whether its credentials can be read (and may go
//! to its base URL), whether its API answers, and the budget left, so
//! `kubectl get seqops` shows a broken Provider before its objects fail.
//! Judged from what the controller already knows: no request is spent on
//! it.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::ResourceExt;
use serde_json::json;

use super::cluster;
use super::conditions::Verdict;
use super::reconcile::{AccountHealth, Context};
use super::report::write_status;

/// How often a Provider's status is refreshed when nothing wakes it.
pub const EVERY: Duration = Duration::from_secs(300);

/// Writes the Provider's `Ready` (credentials), `Synced` (the API) and
/// `atProvider` (requests and budget).
pub async fn report(
    context: &Context,
    api: &Api<DynamicObject>,
    provider: &DynamicObject,
    namespace: &str,
) -> Result<(), kube::Error> {
    // A change to the credential's Secret reports again at once.
    let secret = super::cluster::credential_secret_of(provider).map(|name| format!("Secret/{name}"));
    context.shared.references.note_reads(
        context.kind.key_kind,
        namespace,
        &provider.name_any(),
        &secret.into_iter().collect(),
    );
    let credentials = credentials(context, provider, namespace).await;
    let health = context.shared.account_health(namespace, &provider.name_any());
    let synced = api_verdict(health.as_ref());
    let at_provider = health.as_ref().map(|h| {
        json!({"requestsMade": h.made, "answers": h.answers, "budgetRemaining": h.remaining, "budgetLimit": h.limit})
    });
    write_status(api, provider, |status| {
        Verdict::credentials(credentials.as_deref().map_err(String::as_str)).set(status, provider);
        synced.set(status, provider);
        status.at_provider = at_provider.clone();
    })
    .await
}

/// The host the key goes to, or why it cannot be read or sent.
async fn credentials(context: &Context, provider: &DynamicObject, namespace: &str) -> Result<String, String> {
    let texts = [(cluster::label(provider), cluster::manifest_text(provider, &[crate::manifest::PROVIDER_KIND]))];
    let manifests = crate::manifest::load_texts(&texts, &context.shared.kinds).map_err(|e| e.to_string())?;
    let resource = manifests.providers().next().ok_or("the Provider did not load")?;
    let settings = context.account_settings(namespace, resource).await.map_err(|e| e.to_string())?;
    Ok(reqwest::Url::parse(&settings.base_url)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or(settings.base_url))
}

/// `Synced` from what the Provider's accounts have seen.
fn api_verdict(health: Option<&AccountHealth>) -> Verdict {
    let Some(health) = health.filter(|h| h.made > 0) else {
        return Verdict::api_not_contacted();
    };
    if let Some(refusal) = &health.refusal {
        return Verdict::api_refused(refusal.clone());
    }
    let answered: u64 = health.answers.iter().filter(|(code, _)| code.starts_with('2')).map(|(_, n)| n).sum();
    let codes: Vec<String> = health.answers.iter().map(|(code, n)| format!("{n}× {code}")).collect();
    let budget = match (health.remaining, health.limit) {
        (Some(left), Some(limit)) => format!("; {left} of {limit} requests left"),
        (Some(left), None) => format!("; {left} requests left"),
        _ => String::new(),
    };
    if answered == 0 {
        return Verdict::api_not_answering(format!("no request was answered ({}){budget}", codes.join(", ")));
    }
    Verdict::api_answering(format!("{} requests made, answers {}{budget}", health.made, codes.join(", ")))
}
