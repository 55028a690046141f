//! The accounts a run talks to, and one client per account and kind, so
//! that per-run caches (lookups) are shared.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::EngineError;
use crate::providers::sources::ClusterValues;
use crate::providers::{self, Account, ExternalClient};

pub struct Connections {
    accounts: BTreeMap<String, Arc<Account>>,
    clients: Mutex<BTreeMap<(String, String), Arc<dyn ExternalClient>>>,
    /// Kubernetes Secret values `secretKeyRef` sources read from.
    cluster_values: ClusterValues,
}

/// What one account spent in this run, and what it has left.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct AccountUsage {
    pub account: String,
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl Connections {
    pub fn new(accounts: impl IntoIterator<Item = Arc<Account>>) -> Self {
        let accounts = accounts.into_iter().map(|a| (a.settings.name.clone(), a)).collect();
        Self { accounts, clients: Mutex::new(BTreeMap::new()), cluster_values: ClusterValues::default() }
    }

    /// Gives `secretKeyRef` sources the Kubernetes Secret values read ahead.
    pub fn with_cluster_values(mut self, secrets: ClusterValues) -> Self {
        self.cluster_values = secrets;
        self
    }

    pub fn cluster_values(&self) -> &ClusterValues {
        &self.cluster_values
    }

    pub fn client(&self, provider: &str, key_kind: &str) -> Result<Arc<dyn ExternalClient>, EngineError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (provider.to_string(), key_kind.to_string());
        if let Some(client) = clients.get(&slot) {
            return Ok(client.clone());
        }
        let account = self
            .accounts
            .get(provider)
            .ok_or_else(|| EngineError::Connection(format!("no Provider named `{provider}` is configured")))?;
        let client = providers::client_for(account, key_kind).ok_or_else(|| {
            EngineError::Connection(format!(
                "provider `{}` does not manage {key_kind}",
                account.settings.provider_type.as_str()
            ))
        })?;
        clients.insert(slot, client.clone());
        Ok(client)
    }

    pub fn usage(&self) -> Vec<AccountUsage> {
        self.accounts
            .values()
            .map(|a| AccountUsage {
                account: a.label(),
                requests: a.usage.made(),
                remaining: a.limiter.remaining(),
                limit: a.limiter.limit().or_else(|| a.limiter.server_limit()),
            })
            .collect()
    }
}
