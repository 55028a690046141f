//! One kind's controller, the object a reconcile is about, and how it
//! reaches the object's account.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::ResourceExt;

use super::budgets::Budget;
use super::cluster::{self, ClusterError, World};
use super::journal::Written;
use super::shared::Shared;
use crate::engine::Connections;
use crate::manifest::kind::KindSpec;
use crate::manifest::Resource;
use crate::providers::ratelimit::{BudgetHandle, Priority};
use crate::providers::{self, Account, AccountSettings};

/// The longest Retry-After a reconcile waits out in place: a vendor that
/// asks for more ends the reconcile as
/// [`super::ReconcileError::Throttled`], and the object comes back when it
/// asked, without holding a worker.
const LONGEST_WAIT_IN_PLACE: Duration = Duration::from_secs(10);

/// One kind's controller.
pub struct Context {
    pub shared: Arc<Shared>,
    pub kind: KindSpec,
    pub resource: ApiResource,
}

/// The object one reconcile is about, where it lives, and what the
/// journal wrote of its status so far.
pub struct Reconciling<'a> {
    pub object: &'a DynamicObject,
    pub context: &'a Context,
    pub api: &'a Api<DynamicObject>,
    pub namespace: &'a str,
    pub written: &'a Written,
    /// A change someone asked for, or a drift check, which leaves a share
    /// of the budget to changes.
    pub priority: Priority,
}

/// An object's account, and the budget it spends.
pub struct Connected {
    pub connections: Connections,
    /// The budget as this reconcile spends it: at its priority, with the
    /// slot a check reserves.
    pub handle: BudgetHandle,
    /// How many objects the budget serves, this one counted.
    pub objects: usize,
}

impl Context {
    pub fn new(shared: Arc<Shared>, kind: KindSpec) -> Self {
        let resource = cluster::api_resource(&kind);
        Self { shared, kind, resource }
    }

    /// The account of the object's Provider, shared by every reconcile
    /// that uses it, so its rate limiter sees all their requests, and the
    /// Secret values the object's sources name. Notes which Secrets the
    /// object reads.
    pub async fn connect(
        &self,
        world: &World,
        object: &DynamicObject,
        namespace: &str,
        priority: Priority,
    ) -> Result<Connected, ClusterError> {
        let provider = self.provider_of(world, object, namespace)?;
        let settings = self.account_settings(namespace, provider).await?;
        // The vendor's budget is per key, not per Provider object: Providers
        // in several namespaces with one key share one limiter, while each
        // keeps its own name and settings.
        let key = format!("{}/{}/{:?}", settings.budget_id(), settings.base_url, settings.rate);
        let budget = self.shared.budgets.of(&key, settings.rate);
        let account = self.account(&budget, namespace, settings);
        let account = if priority == Priority::Change { account } else { account.at_priority(priority) };
        let handle = account.http.budget().clone();
        let objects = budget.serve(&object.uid().unwrap_or_default());
        let connections =
            Connections::new(providers::Accounts::new([account])).with_cluster_values(world.values.clone());
        let connections = connections.with_policy(self.shared.policy.clone());
        Ok(Connected { connections, handle, objects })
    }

    /// How to reach a Provider's account from this controller: its
    /// credential from the cluster, the base URL override (tests, the
    /// sandbox), and the hosts the operator allows.
    pub async fn account_settings(
        &self,
        namespace: &str,
        provider: &Resource,
    ) -> Result<AccountSettings, ClusterError> {
        let (client, hosts) = (&self.shared.client, &self.shared.policy.hosts);
        cluster::account_settings(client, namespace, provider, self.shared.base_url_override(), hosts).await
    }

    /// The object's Provider in the world loaded for it; notes what the
    /// object reads (its sources, its Provider and the Provider's Secret).
    fn provider_of<'w>(
        &self,
        world: &'w World,
        object: &DynamicObject,
        namespace: &str,
    ) -> Result<&'w Resource, ClusterError> {
        let resource =
            world.manifests.get(&world.key).ok_or_else(|| ClusterError::Invalid("the object did not load".into()))?;
        let provider_name = resource.provider.clone().unwrap_or_default();
        let provider = world
            .manifests
            .providers()
            .find(|p| p.metadata.name == provider_name)
            .ok_or_else(|| ClusterError::Invalid(format!("no Provider `{provider_name}` in {namespace}")))?;
        let mut reads = world.reads.clone();
        let credential =
            provider.spec.typed::<crate::manifest::ProviderSpec>().ok().and_then(|s| s.credentials.secret_ref.as_ref());
        reads.extend(credential.map(|secret| format!("Secret/{}", secret.name)));
        reads.insert(provider.key.to_string());
        self.shared.references.note_reads(self.kind.key_kind, namespace, &object.name_any(), &reads);
        Ok(provider)
    }

    /// The Provider's account on `budget`, connected the first time.
    fn account(&self, budget: &Budget, namespace: &str, settings: AccountSettings) -> Arc<Account> {
        let label = format!("{namespace}/{}", settings.name);
        budget.account(&label, |limiter| {
            let dialect = providers::http::Dialect {
                longest_wait: LONGEST_WAIT_IN_PLACE,
                ..providers::dialect(settings.provider_type)
            };
            let notify = Arc::new(|m: String| tracing::info!("{m}"));
            let account = Account::connect_sharing(settings, dialect, notify, limiter);
            self.shared.metrics.watch_account(&label, account.clone());
            account
        })
    }
}
