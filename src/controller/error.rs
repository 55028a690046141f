//! Why a reconcile did not end in sync: one variant per cause a person acts
//! on differently. The condition reason, the metric label, whether it warns
//! in an Event, and when the object is tried again are read from the
//! variant, never from its words.

use std::time::Duration;

use super::cluster::ClusterError;
use crate::engine::{EngineError, Failure};
use crate::external::{Cause, ProviderError};
use crate::manifest::ResourceKey;

/// A wait for a referenced object's id: woken as soon as it has one, else
/// tried again after this.
const REFERENCE_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The object, its Provider or what it refers to is not a manifest
    /// seqops can act on, or its checks refuse it: the manifest is to fix.
    #[error("{0}")]
    ManifestInvalid(String),
    /// An object it refers to has no external id yet.
    #[error("waiting for {0}, which has no external id yet")]
    ReferenceNotReady(ResourceKey),
    /// The Provider names no credential Secret, or it (or its key) is
    /// missing.
    #[error("{0}")]
    CredentialsMissing(String),
    /// The vendor refused the Provider's key (401, 403).
    #[error("{0}")]
    CredentialsRefused(String),
    /// The vendor asks to wait (429), for as long as it said, if it did.
    #[error("{message}")]
    Throttled { message: String, retry_after: Option<Duration> },
    /// The vendor failed (5xx), could not be reached, or answered what
    /// cannot be read: tried again later.
    #[error("{0}")]
    VendorFailed(String),
    /// The vendor refused what the manifest asks (400, 404, 409, 422), or a
    /// lookup by name found nothing or several.
    #[error("{0}")]
    VendorRejected(String),
    /// The status was written from a stale copy of the object: tried again
    /// with a fresh one.
    #[error("{0}")]
    StatusConflict(String),
    /// The Kubernetes API server failed, or what records a remote change
    /// (the object's status) could not be written.
    #[error("{0}")]
    ApiServer(String),
}

impl ReconcileError {
    /// The reason of the object's `Synced` condition (and of its Event).
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::ManifestInvalid(_) => "ManifestInvalid",
            ReconcileError::ReferenceNotReady(_) => "ReferenceNotReady",
            ReconcileError::CredentialsMissing(_) => "CredentialsMissing",
            ReconcileError::CredentialsRefused(_) => "CredentialsRefused",
            ReconcileError::Throttled { .. } => "Throttled",
            ReconcileError::VendorFailed(_) => "VendorFailed",
            ReconcileError::VendorRejected(_) => "VendorRejected",
            ReconcileError::StatusConflict(_) => "StatusConflict",
            ReconcileError::ApiServer(_) => "ApiServerError",
        }
    }

    /// The `reason` label of `seqops_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ReconcileError::ManifestInvalid(_) => "manifest_invalid",
            ReconcileError::ReferenceNotReady(_) => "reference_not_ready",
            ReconcileError::CredentialsMissing(_) => "credentials_missing",
            ReconcileError::CredentialsRefused(_) => "credentials_refused",
            ReconcileError::Throttled { .. } => "throttled",
            ReconcileError::VendorFailed(_) => "vendor_failed",
            ReconcileError::VendorRejected(_) => "vendor_rejected",
            ReconcileError::StatusConflict(_) => "status_conflict",
            ReconcileError::ApiServer(_) => "api_server",
        }
    }

    /// Whether it is a failure to back off from and warn of: a wait for a
    /// reference is neither.
    pub fn is_failure(&self) -> bool {
        !matches!(self, ReconcileError::ReferenceNotReady(_))
    }

    /// When the object is tried again, after `failures` failures in a row
    /// (this one counted): the backoff, and never sooner than the vendor
    /// asked.
    pub fn requeue(&self, failures: u32) -> Duration {
        match self {
            ReconcileError::ReferenceNotReady(_) => REFERENCE_WAIT,
            ReconcileError::Throttled { retry_after: Some(wait), .. } => (*wait).max(backoff(failures)),
            _ => backoff(failures),
        }
    }

    /// A failure of the engine's, by what caused it.
    pub fn of_failure(failure: Failure) -> Self {
        let Failure { message, cause } = failure;
        match cause {
            Cause::Refused => ReconcileError::CredentialsRefused(message),
            Cause::Throttled(retry_after) => ReconcileError::Throttled { message, retry_after },
            Cause::Vendor => ReconcileError::VendorFailed(message),
            Cause::Rejected => ReconcileError::VendorRejected(message),
            Cause::Unrecorded => ReconcileError::ApiServer(message),
            Cause::Other => ReconcileError::ManifestInvalid(message),
        }
    }
}

/// Backs off exponentially per object: 5 s, 10 s, 20 s … up to 15 minutes.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(8))).min(Duration::from_secs(900))
}

impl From<kube::Error> for ReconcileError {
    fn from(error: kube::Error) -> Self {
        match &error {
            kube::Error::Api(status) if status.code == 409 => ReconcileError::StatusConflict(error.to_string()),
            _ => ReconcileError::ApiServer(error.to_string()),
        }
    }
}

impl From<ProviderError> for ReconcileError {
    fn from(error: ProviderError) -> Self {
        ReconcileError::of_failure(Failure::new(error.to_string(), error.cause()))
    }
}

impl From<ClusterError> for ReconcileError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Kube(error) => error.into(),
            ClusterError::Invalid(message) => ReconcileError::ManifestInvalid(message),
            ClusterError::ReferenceNotReady(key) => ReconcileError::ReferenceNotReady(key),
            ClusterError::CredentialsMissing(message) => ReconcileError::CredentialsMissing(message),
        }
    }
}

impl From<EngineError> for ReconcileError {
    /// A plan that failed for several objects is reported by the first
    /// one's cause (the controller plans one object and what it needs).
    fn from(error: EngineError) -> Self {
        let message = error.to_string();
        match error {
            EngineError::Failed(failures) if !failures.is_empty() => {
                ReconcileError::of_failure(Failure::new(message, failures[0].cause))
            }
            EngineError::State(_) => ReconcileError::ApiServer(message),
            _ => ReconcileError::ManifestInvalid(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_exponentially_up_to_fifteen_minutes() {
        let waits: Vec<u64> = [1, 2, 3, 4, 12].iter().map(|n| backoff(*n).as_secs()).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 900]);
    }

    #[test]
    fn a_throttled_object_waits_as_long_as_the_vendor_asks_and_no_less_than_its_backoff() {
        let asked =
            |secs| ReconcileError::Throttled { message: String::new(), retry_after: Some(Duration::from_secs(secs)) };
        assert_eq!(asked(120).requeue(1), Duration::from_secs(120));
        assert_eq!(asked(1).requeue(3), Duration::from_secs(20));
        let unsaid = ReconcileError::Throttled { message: String::new(), retry_after: None };
        assert_eq!(unsaid.requeue(1), Duration::from_secs(5));
    }

    #[test]
    fn a_wait_for_a_reference_is_not_a_failure_and_comes_back_in_fifteen_seconds() {
        let waiting = ReconcileError::ReferenceNotReady(ResourceKey::new("Sequence", "welcome"));
        assert!(!waiting.is_failure());
        assert_eq!(waiting.requeue(5), Duration::from_secs(15));
        assert_eq!(waiting.reason(), "ReferenceNotReady");
    }

    #[test]
    fn each_cause_of_the_engine_has_its_own_reason() {
        let reasons: Vec<&str> =
            [Cause::Refused, Cause::Throttled(None), Cause::Vendor, Cause::Rejected, Cause::Unrecorded, Cause::Other]
                .into_iter()
                .map(|cause| ReconcileError::of_failure(Failure::new("x", cause)).reason())
                .collect();
        assert_eq!(
            reasons,
            ["CredentialsRefused", "Throttled", "VendorFailed", "VendorRejected", "ApiServerError", "ManifestInvalid"]
        );
    }
}
