//! Adding and removing one finalizer on an object, with its resourceVersion
//! so that a patch made on a stale copy is refused rather than undoing
//! someone else's change. Only `metadata.finalizers` is written.

use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

/// An object of any kind whose finalizers can be patched.
pub trait Finalized: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug {}

impl<K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug> Finalized for K {}

pub fn has<K: Finalized>(object: &K, finalizer: &str) -> bool {
    object.finalizers().iter().any(|f| f == finalizer)
}

pub async fn add<K: Finalized>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), kube::Error> {
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.into());
    set(api, object, finalizers).await
}

pub async fn remove<K: Finalized>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), kube::Error> {
    let finalizers = object.finalizers().iter().filter(|f| *f != finalizer).cloned().collect();
    set(api, object, finalizers).await
}

async fn set<K: Finalized>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.resource_version()}});
    api.patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}
