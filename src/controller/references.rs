//! Which objects read what, by namespace and `Kind/name` (Secrets and
//! ConfigMaps they read, their Provider, the objects they refer to), and
//! how to wake them, so that a change to one reconciles its readers at
//! once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use crate::manifest::kind::KindId;

/// An object by its kind and its name.
pub type ObjectOfKind = (KindId, String);

/// Where to ask each kind's controller to reconcile an object at once.
pub type Triggers = HashMap<KindId, (mpsc::UnboundedSender<ObjectRef<DynamicObject>>, ApiResource)>;

#[derive(Default)]
pub struct ReferenceIndex {
    /// By namespace and what is read.
    readers: Mutex<HashMap<(String, String), BTreeSet<ObjectOfKind>>>,
    triggers: OnceLock<Triggers>,
}

impl ReferenceIndex {
    /// Records what an object read in its last reconcile (`Kind/name`), in
    /// place of what it read before.
    pub fn note_reads(&self, kind: KindId, namespace: &str, object: &str, reads: &BTreeSet<String>) {
        let user = (kind, object.to_string());
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.retain(|(ns, read), objects| {
            if ns == namespace && !reads.contains(read) {
                objects.remove(&user);
            }
            !objects.is_empty()
        });
        for read in reads {
            readers.entry((namespace.to_string(), read.clone())).or_default().insert(user.clone());
        }
    }

    /// The objects (kind, name) that read `read` (`Kind/name`).
    pub fn readers(&self, namespace: &str, read: &str) -> Vec<ObjectOfKind> {
        let readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.get(&(namespace.to_string(), read.to_string())).map(|u| u.iter().cloned().collect()).unwrap_or_default()
    }

    /// Gives the controllers' triggers, once they run.
    pub fn set_triggers(&self, triggers: Triggers) {
        let _ = self.triggers.set(triggers);
    }

    /// Reconciles at once the objects that read `read` (`Secret/name`,
    /// `ConfigMap/name`, or a seqops object's key such as `Provider/orsay`).
    pub fn wake(&self, namespace: &str, read: &str) {
        let Some(triggers) = self.triggers.get() else { return };
        for (kind, name) in self.readers(namespace, read) {
            if let Some((sender, resource)) = triggers.get(&kind) {
                let _ = sender.send(ObjectRef::new_with(&name, resource.clone()).within(namespace));
            }
        }
    }
}
