//! Providers in use are kept until their objects are gone: deleting a
//! namespace deletes the Provider and its objects at once, and an object's
//! remote delete needs the Provider's credentials. Each Provider carries a
//! finalizer that comes off only when no seqops object uses it any more.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::Value;

use super::reconcile::{Context, ReconcileError};
use super::{cluster, finalizers};
use crate::manifest::common::Common;
use crate::manifest::provider::ProviderType;

/// The finalizer that keeps a Provider while objects use it.
pub const IN_USE: &str = "seqops.dev/provider-in-use";
/// The finalizer that keeps a Provider's credential Secret while the
/// Provider is there: a key cached in memory would not outlive a restart,
/// nor reach another replica.
pub const CREDENTIALS_IN_USE: &str = "seqops.dev/credentials-in-use";

/// Whether an object with `spec` of a kind of `provider_type` uses the
/// Provider `name` of `type`: it names it, or names none and it is of its
/// type (the one Provider of that type the namespace may hold).
pub fn uses(spec: &Value, provider_type: Option<ProviderType>, name: &str, type_: &str) -> bool {
    match Common::of(spec).provider_name() {
        Some(named) => named == name,
        None => provider_type.is_some_and(|t| t.as_str() == type_),
    }
}

pub async fn reconcile(provider: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = provider.namespace().unwrap_or_else(|| "default".into());
    let api: Api<DynamicObject> = Api::namespaced_with(context.shared.client.clone(), &namespace, &context.resource);
    let held = finalizers::has(provider.as_ref(), IN_USE);
    if provider.metadata.deletion_timestamp.is_none() {
        if !held {
            finalizers::add(&api, provider.as_ref(), IN_USE).await?;
        }
        hold_credentials(&context, &namespace, &provider, true).await?;
        super::provider_health::report(&context, &api, &provider, &namespace).await?;
        return Ok(Action::requeue(super::provider_health::EVERY));
    }
    if !held {
        return Ok(Action::await_change());
    }
    let users = users(&context, &namespace, &provider).await?;
    if !users.is_empty() {
        tracing::info!("Provider {namespace}/{} waits for {}", provider.name_any(), users.join(", "));
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    hold_credentials(&context, &namespace, &provider, false).await?;
    finalizers::remove(&api, provider.as_ref(), IN_USE).await?;
    Ok(Action::await_change())
}

/// Puts the [`CREDENTIALS_IN_USE`] finalizer on the Secret the Provider's
/// credentials name (`hold`), or takes it off. A Secret that is not there
/// is nothing to hold.
async fn hold_credentials(
    context: &Context,
    namespace: &str,
    provider: &DynamicObject,
    hold: bool,
) -> Result<(), kube::Error> {
    let Some(name) = cluster::credential_secret_of(provider) else { return Ok(()) };
    let secrets: Api<Secret> = Api::namespaced(context.shared.client.clone(), namespace);
    let Some(secret) = secrets.get_metadata_opt(&name).await? else { return Ok(()) };
    let secret = Secret { metadata: secret.metadata, ..Secret::default() };
    match (hold, finalizers::has(&secret, CREDENTIALS_IN_USE)) {
        (true, false) if secret.metadata.deletion_timestamp.is_none() => {
            finalizers::add(&secrets, &secret, CREDENTIALS_IN_USE).await
        }
        (false, true) => finalizers::remove(&secrets, &secret, CREDENTIALS_IN_USE).await,
        _ => Ok(()),
    }
}

/// The seqops objects in the namespace that use the Provider (listed from
/// the API: after a restart nothing else knows them all yet).
async fn users(context: &Context, namespace: &str, provider: &DynamicObject) -> Result<Vec<String>, kube::Error> {
    let type_ = cluster::provider_view_of(provider).type_name.unwrap_or_default();
    let type_ = type_.as_str();
    let mut found = Vec::new();
    for kind in context.shared.kinds.iter().filter(|k| k.provider_type.is_some()) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.shared.client.clone(), namespace, &cluster::api_resource(kind));
        for object in api.list(&ListParams::default()).await?.items {
            if uses(&cluster::spec_of(&object), kind.provider_type, &provider.name_any(), type_) {
                found.push(format!("{}/{}", kind.key_kind, object.name_any()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_object_uses_the_provider_it_names_or_the_one_of_its_type() {
        let named = json!({"providerRef": {"name": "eu"}});
        assert!(uses(&named, Some(crate::providers::orsay::TYPE), "eu", "orsay"));
        assert!(!uses(&named, Some(crate::providers::orsay::TYPE), "us", "orsay"));
        assert!(uses(&json!({}), Some(crate::providers::orsay::TYPE), "main", "orsay"));
        assert!(!uses(&json!({}), Some(crate::providers::orqis::TYPE), "main", "orsay"));
    }
}
