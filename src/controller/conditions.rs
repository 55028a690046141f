//! Every condition the controller writes, made in one place: the type,
//! status and reason of each are chosen here, from what happened (a
//! [`ReconcileError`], a policy, a terminal state), never spelt out where
//! a status is written.

use kube::api::DynamicObject;

use super::error::ReconcileError;
use crate::engine::state::now_rfc3339;
use crate::manifest::crd::{Condition, ResourceStatus};

/// One condition as it is to be set.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub condition_type: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

impl Verdict {
    fn new(condition_type: &'static str, status: &'static str, reason: &'static str, message: String) -> Self {
        Verdict { condition_type, status, reason, message }
    }

    /// `Synced=False`: the reconcile did not end in sync, for this reason.
    pub fn failed(error: &ReconcileError) -> Self {
        Verdict::new("Synced", "False", error.reason(), error.to_string())
    }

    /// `Synced=True`: what was applied, if anything.
    pub fn applied(what: String) -> Self {
        Verdict::new("Synced", "True", "ReconcileSuccess", what)
    }

    /// `Synced` of an object seqops only observes: whether it drifted.
    pub fn observed_sync(drifted: bool) -> Self {
        if drifted {
            Verdict::new("Synced", "False", "Drifted", "differs from the spec; see status.drift".into())
        } else {
            Verdict::new("Synced", "True", "UpToDate", "matches the spec".into())
        }
    }

    /// `Ready` of an object seqops only observes: whether it exists, and
    /// why it is only observed (ObserveOnly, or a policy that refuses the
    /// change it needs).
    pub fn observed_ready(exists: bool, refused: Option<String>) -> Self {
        let status = if exists { "True" } else { "False" };
        match refused {
            Some(policy) => Verdict::new(
                "Ready",
                status,
                "PolicyForbids",
                format!("observed; managementPolicies do not allow {policy}"),
            ),
            None => Verdict::new(
                "Ready",
                status,
                "ObserveOnly",
                "observed; seqops changes nothing under ObserveOnly".into(),
            ),
        }
    }

    /// `Ready=True`: the remote object exists.
    pub fn available() -> Self {
        Verdict::new("Ready", "True", "Available", "the remote object exists".into())
    }

    /// `Ready=True`: the remote object is in a state nothing follows.
    pub fn terminal(state: &str) -> Self {
        let message = format!("the remote object is {state}, which is final: nothing more is done to it");
        Verdict::new("Ready", "True", "Terminal", message)
    }

    /// A Provider's `Ready`: whether its key can be read, and where it goes.
    pub fn credentials(readable: Result<&str, &str>) -> Self {
        match readable {
            Ok(host) => {
                Verdict::new("Ready", "True", "CredentialsReadable", format!("the key is readable and goes to {host}"))
            }
            Err(why) => Verdict::new("Ready", "False", "CredentialsUnreadable", why.to_string()),
        }
    }

    /// A Provider's `Synced` before any object used it.
    pub fn api_not_contacted() -> Self {
        let message = "no object has used this Provider since the controller started".into();
        Verdict::new("Synced", "Unknown", "NotContactedYet", message)
    }

    /// A Provider's `Synced` once its API refused a write.
    pub fn api_refused(refusal: String) -> Self {
        Verdict::new("Synced", "False", "Refused", refusal)
    }

    /// A Provider's `Synced` once its API answered requests.
    pub fn api_answering(message: String) -> Self {
        Verdict::new("Synced", "True", "Answering", message)
    }

    /// A Provider's `Synced` when none of its requests was answered.
    pub fn api_not_answering(message: String) -> Self {
        Verdict::new("Synced", "False", "NotAnswering", message)
    }

    /// Sets it in `status`, keeping its transition time when its status
    /// stays.
    pub fn set(self, status: &mut ResourceStatus, object: &DynamicObject) {
        let now = now_rfc3339();
        let generation = object.metadata.generation;
        match status.conditions.iter_mut().find(|c| c.condition_type == self.condition_type) {
            Some(condition) => {
                if condition.status != self.status {
                    condition.last_transition_time = Some(now);
                }
                condition.status = self.status.into();
                condition.reason = Some(self.reason.into());
                condition.message = Some(self.message);
                condition.observed_generation = generation;
            }
            None => status.conditions.push(Condition {
                condition_type: self.condition_type.into(),
                status: self.status.into(),
                reason: Some(self.reason.into()),
                message: Some(self.message),
                last_transition_time: Some(now),
                observed_generation: generation,
            }),
        }
    }
}
