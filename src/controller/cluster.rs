//! What a reconcile reads from the cluster: the object, its Provider and
//! credentials, and the objects it refers to, turned into the engine's
//! manifests and state.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{ConfigMap, Secret as KubeSecret};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::engine::state::{now_rfc3339, Entry, State};
use crate::external::Stored;
use crate::manifest::common::lenient;
use crate::manifest::crd::ResourceStatus;
use crate::manifest::{KindSpec, Manifests, ResourceKey};
use crate::providers::account::Secret;
use crate::providers::sources::{ClusterKind, ClusterRef, ClusterValues};
use crate::providers::{self, AccountSettings};

/// The API resource of a kind, from its CRD.
pub fn api_resource(kind: &KindSpec) -> ApiResource {
    let crd = (kind.crd)();
    let (group, version) = kind.api_version.split_once('/').unwrap_or(("", kind.api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind.kind), &crd.spec.names.plural)
}

/// An object as a manifest document: only what a manifest holds (the
/// management policy is the controller's, not the engine's), with the
/// annotations its kind reads (`seqops.dev/` ones and its provider's).
pub fn manifest_text(object: &DynamicObject, kinds: &[KindSpec]) -> String {
    let types = object.types.clone().unwrap_or_default();
    let mut spec = Some(spec_of(object)).filter(|s| !s.is_null()).unwrap_or(json!({}));
    if let Some(map) = spec.as_object_mut() {
        map.remove("managementPolicy");
        map.remove("managementPolicies");
    }
    let kind = kinds.iter().find(|k| k.matches(&types.api_version, &types.kind));
    let reads = |name: &str| kind.map_or(name.starts_with("seqops.dev/"), |k| k.reads_annotation(name));
    let annotations: serde_json::Map<String, Value> =
        object.annotations().iter().filter(|(k, _)| reads(k)).map(|(k, v)| (k.clone(), json!(v))).collect();
    let document = json!({
        "apiVersion": types.api_version, "kind": types.kind,
        "metadata": {"name": object.name_any(), "annotations": annotations},
        "spec": spec,
    });
    serde_yaml::to_string(&document).unwrap_or_default()
}

/// The label errors about an object name it by: `namespace/Kind/name`.
pub fn label(object: &DynamicObject) -> PathBuf {
    let kind = object.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
    PathBuf::from(format!("{}/{kind}/{}", object.namespace().unwrap_or_default(), object.name_any()))
}

/// The status a cluster object holds; an empty one where it has none or
/// one that does not read.
pub fn status_of(object: &DynamicObject) -> ResourceStatus {
    #[derive(serde::Deserialize)]
    struct Part {
        #[serde(default)]
        status: ResourceStatus,
    }
    Part::deserialize(&object.data).map(|p| p.status).unwrap_or_default()
}

/// What says whether an object's last sync stands: read without the
/// status's records, which a drift check need not parse.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    #[serde(default)]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<ConditionView>,
    #[serde(default)]
    pub observed_annotations: std::collections::BTreeMap<String, String>,
}

/// A condition's type and status.
#[derive(Deserialize)]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
}

/// What says whether the object's last sync stands.
pub fn sync_of(object: &DynamicObject) -> SyncView {
    #[derive(Deserialize)]
    struct Part {
        #[serde(default)]
        status: SyncView,
    }
    Part::deserialize(&object.data).map(|p| p.status).unwrap_or_default()
}

/// A Provider object's spec, when it reads as one.
/// What the controller reads of a Provider object it guards: its type and
/// the Secret its key is in, each read on its own, so that a spec the API
/// server took but seqops's type would refuse still says them.
#[derive(Default, Deserialize)]
pub struct ProviderView {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    pub type_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    credentials: Option<CredentialsView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsView {
    #[serde(default, deserialize_with = "lenient")]
    secret_ref: Option<NamedView>,
}

#[derive(Deserialize)]
struct NamedView {
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
}

/// A Provider object's type and credential Secret.
pub fn provider_view_of(provider: &DynamicObject) -> ProviderView {
    ProviderView::deserialize(&spec_of(provider)).unwrap_or_default()
}

/// The Secret a Provider object takes its API key from.
pub fn credential_secret_of(provider: &DynamicObject) -> Option<String> {
    provider_view_of(provider).credentials?.secret_ref?.name
}

/// One of the object's annotations.
pub fn annotation<'a>(object: &'a DynamicObject, name: &str) -> Option<&'a str> {
    object.annotations().get(name).map(String::as_str)
}

/// The spec a cluster object holds, as JSON (`null` where it has none).
pub fn spec_of(object: &DynamicObject) -> Value {
    #[derive(serde::Deserialize)]
    struct Part {
        #[serde(default)]
        spec: Value,
    }
    Part::deserialize(&object.data).map(|p| p.spec).unwrap_or_default()
}

/// The salt of an object's secret digests: its uid, stable for the
/// object's life and different for every object.
pub fn salt_of(object: &DynamicObject) -> String {
    object.uid().unwrap_or_else(|| object.name_any())
}

/// The record an object's status holds, as state would hold it: read
/// whole, with what the object itself says (its kind, its Provider, and the
/// annotations that keep or protect its remote object); `None` when it
/// stands for no remote object.
pub fn record_of(object: &DynamicObject, provider: &str) -> Option<Entry> {
    let status = status_of(object);
    let mut record = status.record;
    // ObserveOnly says only `externalId` of what it finds, and a status
    // written before the record was one kept the id there alone.
    record.id = record.id.or(status.external_id);
    // Every record written has its observation time: one without it is a
    // status written before the record was one (or by ObserveOnly alone),
    // which kept the observation as `atProvider`.
    if record.observed_at.is_empty() {
        record.observed =
            Some(Stored::of(&status.at_provider.and_then(|v| v.as_object().cloned()).unwrap_or_default()));
        record.observed_at = now_rfc3339();
        if record.last_applied.is_null() {
            record.last_applied = Stored::of(&crate::external::Fields::new());
        }
    }
    if !record.is_remote() {
        return None;
    }
    if record.display_name.is_empty() {
        // A status written before the name was kept: the spec's.
        record.display_name = older_display_name(object);
    }
    let annotation = |name: &str| object.annotations().get(name).map(String::as_str);
    record.object_says(
        &object.types.as_ref().map(|t| t.api_version.clone()).unwrap_or_default(),
        provider,
        annotation(crate::manifest::annotations::DELETION_POLICY) == Some("orphan"),
        annotation(crate::manifest::annotations::PREVENT_DESTROY) == Some("true"),
    );
    Some(record)
}

/// The display name a status written before it was recorded stands for.
fn older_display_name(object: &DynamicObject) -> String {
    #[derive(serde::Deserialize)]
    struct Named {
        name: Option<String>,
        provider: Option<String>,
    }
    let named = Named::deserialize(&spec_of(object)).ok();
    named.and_then(|n| n.name.or(n.provider)).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Invalid(String),
    /// A referenced object has no external id yet.
    #[error("waiting for {0}, which has no external id yet")]
    ReferenceNotReady(ResourceKey),
    /// The Provider's credential: no Secret named, or none (or no key) there.
    #[error("{0}")]
    CredentialsMissing(String),
}

/// The engine's view of one object: manifests (the object, the namespace's
/// Providers, the objects it refers to) and state (from their statuses).
pub struct World {
    pub manifests: Manifests,
    pub state: State,
    pub key: ResourceKey,
    /// The values `secretKeyRef` and `configMapKeyRef` sources name.
    pub values: ClusterValues,
    /// The Secrets and ConfigMaps read (`Secret/name`), so that a change to
    /// one reconciles the object.
    pub reads: BTreeSet<String>,
}

/// Reads what reconciling `object` needs.
pub async fn load(
    shared: &super::reconcile::Shared,
    object: &DynamicObject,
    kind: &KindSpec,
) -> Result<World, ClusterError> {
    let (client, kinds) = (&shared.client, shared.kinds.as_slice());
    let namespace = object.namespace().unwrap_or_else(|| "default".into());
    let providers_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &namespace, &api_resource(&crate::manifest::PROVIDER_KIND));
    let providers = providers_api.list(&ListParams::default()).await?;
    let mut texts: Vec<(PathBuf, String)> =
        providers.items.iter().map(|p| (label(p), manifest_text(p, kinds))).collect();
    texts.push((label(object), manifest_text(object, kinds)));
    let spec = crate::external::Spec::from_json(spec_of(object));
    let mut referenced = Vec::new();
    // A name by remote name (a Service's `secretNames`) may be managed
    // elsewhere: nothing waits for it.
    let named = (kind.references)(&spec).into_iter().filter(|r| r.by == crate::manifest::Naming::Manifest);
    for reference in named {
        let Some(target_kind) = kinds.iter().find(|k| k.key_kind == reference.kind) else { continue };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &api_resource(target_kind));
        match api.get_opt(&reference.name).await? {
            Some(target) => {
                texts.push((label(&target), manifest_text(&target, kinds)));
                referenced.push(target);
            }
            None => return Err(ClusterError::ReferenceNotReady(ResourceKey::new(reference.kind, reference.name))),
        }
    }
    let manifests = crate::manifest::load_texts_within(&texts, kinds, &shared.limits)
        .map_err(|e| ClusterError::Invalid(e.to_string()))?;
    let key = ResourceKey::new(kind.key_kind, object.name_any());
    let mut state = State::new(false);
    for target in referenced.iter().chain(std::iter::once(object)) {
        let target_key = manifests
            .resources
            .iter()
            .find(|r| {
                // Kinds of one group (an orchagent Agent and Workspace) may
                // share names: the kind tells them apart.
                r.metadata.name == target.name_any()
                    && target.types.as_ref().is_some_and(|t| t.api_version == r.api_version && t.kind == r.kind)
            })
            .map(|r| r.key.clone());
        let Some(target_key) = target_key else { continue };
        let provider = manifests.get(&target_key).and_then(|r| r.provider.clone()).unwrap_or_default();
        state.salts.insert(target_key.clone(), salt_of(target));
        match record_of(target, &provider) {
            Some(entry) => {
                state.resources.insert(target_key, entry);
            }
            None if target_key != key => return Err(ClusterError::ReferenceNotReady(target_key)),
            None => {}
        }
    }
    for provider in manifests.providers() {
        if let Ok(record) = provider_record(provider) {
            state.providers.insert(provider.metadata.name.clone(), record);
        }
    }
    let mut values = ClusterValues::from_cluster();
    // A referenced object that gets a new id reconciles this one.
    let mut reads: BTreeSet<String> = state.resources.keys().filter(|k| **k != key).map(ToString::to_string).collect();
    for target in referenced.iter().chain(std::iter::once(object)) {
        reads.extend(read_sources(client, &namespace, &spec_of(target), &mut values).await?);
    }
    Ok(World { manifests, state, key, values, reads })
}

/// Reads the values a spec's `secretKeyRef`s and `configMapKeyRef`s name
/// into `values`; returns the objects read (`Secret/name`). A missing one
/// is the source reader's error, where a value is read: deleting an object
/// needs none.
pub async fn read_sources(
    client: &kube::Client,
    namespace: &str,
    spec: &Value,
    values: &mut ClusterValues,
) -> Result<Vec<String>, ClusterError> {
    let mut read = Vec::new();
    for reference in crate::external::sources::Sources::of(spec).cluster_refs() {
        read.push(reference.object());
        if let Some(value) = cluster_value(client, namespace, &reference).await? {
            values.insert(reference, Secret::new(value));
        }
    }
    Ok(read)
}

/// The value a `secretKeyRef` or `configMapKeyRef` names, or `None` when
/// its object or key is missing.
pub async fn cluster_value(
    client: &kube::Client,
    namespace: &str,
    reference: &ClusterRef,
) -> Result<Option<String>, ClusterError> {
    if reference.kind == ClusterKind::ConfigMap {
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let map = maps.get_opt(&reference.name).await?;
        return Ok(map.and_then(|m| m.data).and_then(|mut d| d.remove(&reference.key)));
    }
    secret_value(client, namespace, &reference.name, &reference.key).await
}

/// One key of a Secret, or `None` when the Secret or the key is missing.
pub async fn secret_value(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>, ClusterError> {
    let secrets: Api<KubeSecret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get_opt(name).await?;
    let value = secret.as_ref().and_then(|s| s.data.as_ref()).and_then(|d| d.get(key));
    Ok(value.map(|v| String::from_utf8_lossy(&v.0).trim_end_matches('\n').to_string()))
}

fn provider_record(
    provider: &crate::manifest::Resource,
) -> Result<crate::engine::state::ProviderRecord, serde_json::Error> {
    let spec = provider.spec.typed::<crate::manifest::ProviderSpec>().map_err(serde::de::Error::custom)?;
    Ok(crate::engine::state::ProviderRecord { credentials_env: None, ..crate::engine::state::ProviderRecord::of(spec) })
}

/// The API key a Provider names with `credentials.secretRef`.
pub async fn credential(
    client: &kube::Client,
    namespace: &str,
    provider: &crate::manifest::Resource,
) -> Result<String, ClusterError> {
    let reference =
        provider.spec.typed::<crate::manifest::ProviderSpec>().ok().and_then(|s| s.credentials.secret_ref.as_ref());
    let Some(crate::manifest::provider::SecretKeyRef { name, key }) = reference else {
        return Err(ClusterError::CredentialsMissing(format!(
            "Provider {}: the controller reads credentials from a Secret: set spec.credentials.secretRef",
            provider.metadata.name
        )));
    };
    let value = secret_value(client, namespace, name, key).await?.map(|v| v.trim().to_string());
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ClusterError::CredentialsMissing(format!(
            "Secret {namespace}/{name} has no key `{key}` for Provider {}",
            provider.metadata.name
        ))
    })
}

/// How to reach a Provider's account: its credential from the cluster, and
/// the sandbox's origin in place of the vendor's when one is given.
pub async fn account_settings(
    client: &kube::Client,
    namespace: &str,
    provider: &crate::manifest::Resource,
    base_url_override: Option<&str>,
    allowed: &[String],
) -> Result<AccountSettings, ClusterError> {
    let name = &provider.metadata.name;
    let spec =
        provider.spec.typed::<crate::manifest::ProviderSpec>().map_err(|e| ClusterError::Invalid(e.to_string()))?;
    let credential = credential(client, namespace, provider).await?;
    let pacing = spec.rate_limit.as_ref().map(crate::manifest::provider::RateLimit::rate);
    let (base_url, rate) =
        providers::endpoint(spec.provider_type, spec.base_url.as_deref(), pacing, base_url_override, allowed)
            .map_err(|e| ClusterError::Invalid(format!("Provider {namespace}/{name}: {e}")))?;
    Ok(AccountSettings {
        name: name.clone(),
        provider_type: spec.provider_type,
        base_url,
        credential: Secret::new(credential),
        credential_source: format!("the Secret named by Provider {namespace}/{name}"),
        rate,
        headers: spec.headers.clone(),
        budget_file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(spec: Value) -> DynamicObject {
        let object = json!({"apiVersion": "seqops.dev/v1alpha1", "kind": "Provider",
            "metadata": {"name": "orsay", "namespace": "default"}, "spec": spec});
        serde_json::from_value(object).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_providers_type_and_credential_secret_are_read_even_where_its_whole_spec_would_not_be() {
        let spec = json!({"type": "orsay", "credentials": {"secretRef": {"name": "orsay-key", "key": "apiKey"}},
                          "rateLimit": {"requests": 99_999_999_999u64}});
        let object = provider(spec);
        assert!(crate::manifest::ProviderSpec::deserialize(&spec_of(&object)).is_err(), "the whole spec does not read");
        assert_eq!(credential_secret_of(&object).as_deref(), Some("orsay-key"));
        assert_eq!(provider_view_of(&object).type_name.as_deref(), Some("orsay"));
        assert_eq!(credential_secret_of(&provider(json!({"type": 5, "credentials": {"env": "KEY"}}))), None);
    }
}
