//! Values an API shows once, written to the Secret `writeSecretTo.secretRef`
//! names, owned by the object so that it goes with it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::cluster;
use super::context::Reconciling;
use super::error::ReconcileError;
use super::journal::MANAGER;
use crate::manifest::common::Common;
use crate::manifest::provider::SecretKeyRef;
use crate::providers::account::Secret;

/// Whether the Secret `writeSecretTo.secretRef` names is free for this
/// object: missing (it will be made), or already owned by it. The
/// controller never takes over a Secret someone else made, such as a
/// Provider's credential.
pub async fn secret_is_ours(at: &Reconciling<'_>) -> Result<(), ReconcileError> {
    let common = Common::of(&cluster::spec_of(at.object));
    let Some(name) = common.output_secret().map(|s| s.name.as_str()) else { return Ok(()) };
    let secrets: Api<KubeSecret> = Api::namespaced(at.context.shared.client.clone(), at.namespace);
    let Some(existing) = secrets.get_opt(name).await? else { return Ok(()) };
    let uid = at.object.uid().unwrap_or_default();
    let owned = existing
        .metadata
        .owner_references
        .unwrap_or_default()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true));
    if owned {
        return Ok(());
    }
    Err(ReconcileError::ManifestInvalid(format!(
        "writeSecretTo.secretRef names Secret {}/{name}, which exists and is not this object's: seqops writes only Secrets it made for the object; name another Secret",
        at.namespace
    )))
}

/// Writes the first of `values` to the object's Secret, if it names one.
pub async fn write(at: &Reconciling<'_>, values: &BTreeMap<String, Secret>) -> Result<(), ReconcileError> {
    let common = Common::of(&cluster::spec_of(at.object));
    let Some(SecretKeyRef { name, key }) = common.output_secret() else {
        return Ok(());
    };
    secret_is_ours(at).await?;
    let Some(value) = values.values().next() else { return Ok(()) };
    let types = at.object.types.clone().unwrap_or_default();
    let owner = OwnerReference {
        api_version: types.api_version,
        kind: types.kind,
        name: at.object.name_any(),
        uid: at.object.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    // `data` (base64, as ByteString serializes), not `stringData`: what
    // server-side apply owns field by field.
    let encoded = serde_json::to_value(k8s_openapi::ByteString(value.expose().as_bytes().to_vec()))
        .map_err(|e| ReconcileError::ManifestInvalid(e.to_string()))?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": at.namespace, "ownerReferences": [owner]},
        "data": {key: encoded},
    });
    let secrets: Api<KubeSecret> = Api::namespaced(at.context.shared.client.clone(), at.namespace);
    secrets.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&secret)).await?;
    Ok(())
}
