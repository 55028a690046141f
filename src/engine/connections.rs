//! The accounts a run talks to, and one client per account and kind, so
//! that per-run caches (lookups) are shared.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::EngineError;
use crate::external::sources::{ClusterValues, SourceReader};
pub use crate::external::AccountUsage;
use crate::external::{Clients, ExternalClient};
use crate::operator::Policy;

pub struct Connections {
    accounts: Arc<dyn Clients>,
    clients: Mutex<BTreeMap<(String, String), Arc<dyn ExternalClient>>>,
    /// Kubernetes Secret values `secretKeyRef` sources read from.
    cluster_values: ClusterValues,
    /// What the operator allows manifests to reach.
    policy: Policy,
}

impl Connections {
    /// A run over the accounts `accounts` reaches (the providers' registry,
    /// handed in as a value: the engine names no provider).
    pub fn new(accounts: Arc<dyn Clients>) -> Self {
        Self {
            accounts,
            clients: Mutex::new(BTreeMap::new()),
            cluster_values: ClusterValues::default(),
            policy: Policy::default(),
        }
    }

    /// Reads and writes manifests' files and variables as `policy` allows.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Gives `secretKeyRef` sources the Kubernetes Secret values read ahead.
    pub fn with_cluster_values(mut self, secrets: ClusterValues) -> Self {
        self.cluster_values = secrets;
        self
    }

    pub fn cluster_values(&self) -> &ClusterValues {
        &self.cluster_values
    }

    /// What reads a manifest's sources in this run, from the folder
    /// `base_dir`.
    pub fn source_reader(&self, base_dir: std::path::PathBuf, sandbox: bool) -> SourceReader<'_> {
        SourceReader { base_dir, sandbox, cluster: &self.cluster_values, policy: &self.policy }
    }

    pub fn client(&self, provider: &str, key_kind: &str) -> Result<Arc<dyn ExternalClient>, EngineError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (provider.to_string(), key_kind.to_string());
        if let Some(client) = clients.get(&slot) {
            return Ok(client.clone());
        }
        let client = self.accounts.client(provider, key_kind).map_err(EngineError::Connection)?;
        clients.insert(slot, client.clone());
        Ok(client)
    }

    /// Why an account refused a write in this run, if it did.
    pub fn refusal(&self, provider: &str) -> Option<String> {
        self.accounts.refusal(provider)
    }

    pub fn usage(&self) -> Vec<AccountUsage> {
        self.accounts.usage()
    }
}
