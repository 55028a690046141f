//! Adding and removing one finalizer on an object, with its resourceVersion
//! so that a patch made on a stale copy is refused rather than undoing
//! someone else's change.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

pub fn has(object: &DynamicObject, finalizer: &str) -> bool {
    object.finalizers().iter().any(|f| f == finalizer)
}

pub async fn add(api: &Api<DynamicObject>, object: &DynamicObject, finalizer: &str) -> Result<(), kube::Error> {
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.into());
    set(api, object, finalizers).await
}

pub async fn remove(api: &Api<DynamicObject>, object: &DynamicObject, finalizer: &str) -> Result<(), kube::Error> {
    let finalizers = object.finalizers().iter().filter(|f| *f != finalizer).cloned().collect();
    set(api, object, finalizers).await
}

async fn set(api: &Api<DynamicObject>, object: &DynamicObject, finalizers: Vec<String>) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.resource_version()}});
    api.patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}
