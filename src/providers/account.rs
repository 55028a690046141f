//! One configured account of one provider: its settings, its HTTP client
//! and what it has spent of its request budget.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::http::{Dialect, HttpClient, Notifier};
use super::ratelimit::{Priority, RateLimiter};
pub use crate::external::Secret;
use crate::manifest::provider::{ProviderType, Rate};

/// Everything needed to talk to one account.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    /// The Provider manifest's name.
    pub name: String,
    pub provider_type: ProviderType,
    pub base_url: String,
    pub credential: Secret,
    /// Where the credential came from, for error messages (`$ORSAY_API_KEY`).
    pub credential_source: String,
    /// The pace seqops allows itself; `None` for no pacing.
    pub rate: Option<Rate>,
    /// Headers sent with every request that are not credentials
    /// (`X-Gary-Client-Id`).
    pub headers: BTreeMap<String, String>,
    /// Where the budget spent is remembered across runs.
    pub budget_file: Option<PathBuf>,
}

impl AccountSettings {
    /// A label for messages: `orsay/main`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider_type.as_str(), self.name)
    }

    /// Identifies the account across runs without revealing its key: the
    /// vendor's budget is per organization, that is per key.
    pub fn budget_id(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.credential.expose().as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("{}:{hex}", self.provider_type.as_str())
    }
}

/// Requests made through an account during this run, and their answers
/// by status code.
#[derive(Debug, Default)]
pub struct Usage {
    made: AtomicU64,
    answers: Mutex<BTreeMap<String, u64>>,
    /// Why the API refused a write (401, 403), once it has.
    refused: Mutex<Option<String>>,
}

impl Usage {
    pub fn record(&self) {
        self.made.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer's status code, or `none` for a request that got no
    /// answer.
    pub fn record_answer(&self, status: Option<u16>) {
        let code = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        *self.answers.lock().unwrap_or_else(|e| e.into_inner()).entry(code).or_default() += 1;
    }

    /// Records the first write the API refused for want of permission.
    pub fn refuse(&self, why: String) {
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
    }

    pub fn refusal(&self) -> Option<String> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Answers by status code (`none` for requests that got none).
    pub fn answers(&self) -> BTreeMap<String, u64> {
        self.answers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A connected account.
pub struct Account {
    pub settings: AccountSettings,
    pub http: HttpClient,
    pub usage: Arc<Usage>,
    pub limiter: Arc<RateLimiter>,
    /// What a provider keeps per account across clients (the controller
    /// makes a client per reconcile), by name.
    shared: Arc<Mutex<BTreeMap<&'static str, Arc<dyn std::any::Any + Send + Sync>>>>,
}

impl Account {
    pub fn connect(settings: AccountSettings, dialect: Dialect, notify: Notifier) -> Arc<Self> {
        let limiter = Arc::new(RateLimiter::new(
            settings.rate,
            settings.budget_file.clone().map(|file| (file, settings.budget_id())),
        ));
        Self::connect_sharing(settings, dialect, notify, limiter)
    }

    /// Connects with a rate limiter other accounts of the same vendor key
    /// share (the controller's Providers in several namespaces).
    pub fn connect_sharing(
        settings: AccountSettings,
        dialect: Dialect,
        notify: Notifier,
        limiter: Arc<RateLimiter>,
    ) -> Arc<Self> {
        let usage = Arc::new(Usage::default());
        let http = HttpClient::new(&settings, limiter.clone(), usage.clone(), dialect, notify);
        Arc::new(Self { settings, http, usage, limiter, shared: Arc::default() })
    }

    /// The same account, its requests at `priority` (the controller's drift
    /// checks), sharing its budget, usage and caches: the priority rides
    /// with the account a reconcile is given, not with the task.
    pub fn at_priority(&self, priority: Priority) -> Arc<Self> {
        Arc::new(Self {
            settings: self.settings.clone(),
            http: self.http.at_priority(priority),
            usage: self.usage.clone(),
            limiter: self.limiter.clone(),
            shared: self.shared.clone(),
        })
    }

    /// The value kept under `name` for this account, made by `make` the
    /// first time: a listing cache every client of the account shares.
    pub fn shared<T: Send + Sync + 'static>(&self, name: &'static str, make: impl FnOnce() -> T) -> Arc<T> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = shared.get(name).and_then(|v| v.clone().downcast::<T>().ok()) {
            return found;
        }
        let made = Arc::new(make());
        shared.insert(name, made.clone());
        made
    }

    pub fn label(&self) -> String {
        self.settings.label()
    }
}
