//! What every kind's controller shares, one value per concern, each reached
//! through its own key: the request budgets (by vendor key), the
//! mass-delete windows (by namespace and Provider), the backoffs (by
//! object), the reference index (by namespace and what is read), and the
//! kinds.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::DynamicObject;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, ResourceExt};

use super::budgets::Budgets;
use super::digest_key::DigestKeyError;
pub use super::references::ReferenceIndex;
use crate::external::digest::{DigestKey, Digests};
use crate::manifest::kind::{KindId, KindSpec};
use crate::operator::Policy;
use crate::providers;

/// The most remote deletes an account sees a minute before the rest wait
/// for the Provider's `seqops.dev/allow-mass-delete`.
pub const MASS_DELETE_LIMIT: usize = 10;
const MASS_DELETE_WINDOW: Duration = Duration::from_secs(60);

pub struct Shared {
    pub client: Client,
    pub kinds: Vec<KindSpec>,
    pub budgets: Budgets,
    pub deletes: DeleteWindows,
    pub backoffs: Backoffs,
    pub references: ReferenceIndex,
    /// Replaces every Provider's base URL (tests and the sandbox).
    base_url_override: Option<String>,
    pub metrics: Arc<super::metrics::Metrics>,
    /// Replaces the drift interval computed from the budget.
    pub drift_interval: Option<Duration>,
    /// What the operator allows: the hosts beside the vendors' that keys
    /// may go to.
    pub policy: Policy,
    /// How much an object's manifest may hold and nest.
    pub limits: crate::manifest::limits::Limits,
    /// Kubernetes Events about the objects (repeats become a series).
    pub recorder: Recorder,
    /// Where the digest key's Secret is: the controller's namespace.
    pub key_namespace: String,
    digest_key: tokio::sync::OnceCell<Arc<DigestKey>>,
}

impl Shared {
    pub fn new(client: Client, base_url_override: Option<String>) -> Self {
        Self {
            client: client.clone(),
            kinds: providers::kinds(),
            budgets: Budgets::default(),
            deletes: DeleteWindows::default(),
            backoffs: Backoffs::default(),
            references: ReferenceIndex::default(),
            base_url_override,
            metrics: Arc::default(),
            drift_interval: None,
            policy: Policy::default(),
            limits: crate::manifest::limits::Limits::default(),
            key_namespace: "default".into(),
            digest_key: tokio::sync::OnceCell::new(),
            recorder: Recorder::new(
                client.clone(),
                Reporter { controller: "seqops-controller".into(), instance: std::env::var("POD_NAME").ok() },
            ),
        }
    }

    /// The base URL every Provider is sent to instead of its own (tests
    /// and the sandbox).
    pub fn base_url_override(&self) -> Option<&str> {
        self.base_url_override.as_deref()
    }

    /// What the accounts of Provider `namespace/name` have seen of its
    /// API since the controller started: requests made, answers by status
    /// code, a refusal, the budget left and the limit.
    pub fn account_health(&self, namespace: &str, name: &str) -> Option<AccountHealth> {
        let account = self.budgets.account_of(&format!("{namespace}/{name}"))?;
        Some(AccountHealth {
            made: account.usage.made(),
            answers: account.usage.answers(),
            refusal: account.usage.refusal(),
            remaining: account.limiter.remaining(),
            limit: account.limiter.limit(),
        })
    }

    /// How secrets are digested: under the key of the controller's
    /// Secret, read (or made) once.
    pub async fn digests(&self) -> Result<Digests, DigestKeyError> {
        let key = self
            .digest_key
            .get_or_try_init(|| super::digest_key::load_or_create(&self.client, &self.key_namespace))
            .await?;
        Ok(Digests::keyed(Some(key.clone())))
    }

    /// Drops what is kept about an object once it is gone.
    pub fn forget(&self, kind: KindId, object: &DynamicObject) {
        let uid = object.uid().unwrap_or_default();
        let namespace = object.namespace().unwrap_or_default();
        self.references.note_reads(kind, &namespace, &object.name_any(), &BTreeSet::new());
        self.backoffs.reset(&uid);
        self.budgets.forget(&uid);
    }
}

/// What a Provider's accounts have seen of its API.
pub struct AccountHealth {
    pub made: u64,
    pub answers: BTreeMap<String, u64>,
    pub refusal: Option<String>,
    pub remaining: Option<u32>,
    pub limit: Option<u32>,
}

/// When each Provider's (`namespace/name`) objects were last deleted
/// remotely: a burst (a namespace deleted, a GitOps prune) waits for the
/// Provider's `seqops.dev/allow-mass-delete`.
#[derive(Default)]
pub struct DeleteWindows(Mutex<HashMap<String, VecDeque<Instant>>>);

impl DeleteWindows {
    /// Whether one more remote delete of Provider `provider` may go now:
    /// at most [`MASS_DELETE_LIMIT`] a minute, unless the Provider allows
    /// more.
    pub fn admit(&self, provider: &str, allowed: bool) -> bool {
        let now = Instant::now();
        let mut deletions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let recent = deletions.entry(provider.to_string()).or_default();
        while recent.front().is_some_and(|t| now.duration_since(*t) > MASS_DELETE_WINDOW) {
            recent.pop_front();
        }
        if !allowed && recent.len() >= MASS_DELETE_LIMIT {
            return false;
        }
        recent.push_back(now);
        true
    }
}

/// Failures in a row, by object (uid): what its backoff grows with.
#[derive(Default)]
pub struct Backoffs(Mutex<HashMap<String, u32>>);

impl Backoffs {
    /// Counts one more failure of the object: how many in a row now.
    pub fn failed(&self, uid: &str) -> u32 {
        let mut failures = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(uid.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// The object succeeded (or is gone): its next failure is its first.
    pub fn reset(&self, uid: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_deletes_past_ten_a_minute_wait_unless_it_allows_more() {
        let windows = DeleteWindows::default();
        assert!((0..MASS_DELETE_LIMIT).all(|_| windows.admit("team/orsay", false)));
        assert!(!windows.admit("team/orsay", false), "the eleventh waits");
        assert!(windows.admit("team/orsay", true), "unless the Provider allows a mass delete");
        assert!(windows.admit("other/orsay", false), "another Provider has its own window");
    }

    #[test]
    fn failures_count_in_a_row_until_a_success() {
        let backoffs = Backoffs::default();
        assert_eq!((backoffs.failed("uid-1"), backoffs.failed("uid-1"), backoffs.failed("uid-2")), (1, 2, 1));
        backoffs.reset("uid-1");
        assert_eq!(backoffs.failed("uid-1"), 1);
    }
}
