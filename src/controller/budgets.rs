//! The request budgets: one value per vendor key (with its base URL and
//! pacing), shared by every reconcile, kind and namespace that spends it,
//! so that the controller never spends more than the vendor allows however
//! many objects and Providers use one key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::manifest::provider::Rate;
use crate::providers::ratelimit::RateLimiter;
use crate::providers::Account;

/// One vendor key's budget: its rate limiter (with the share it leaves to
/// changes people make), the objects it serves, over which drift checks
/// are spread, and the accounts (one per Provider) that spend it.
pub struct Budget {
    pub limiter: Arc<RateLimiter>,
    /// By uid.
    objects: Mutex<HashSet<String>>,
    /// By Provider (`namespace/name`): each keeps its own name and
    /// settings, while all share the limiter.
    accounts: Mutex<HashMap<String, Arc<Account>>>,
}

impl Budget {
    fn new(rate: Option<Rate>) -> Self {
        Budget {
            limiter: Arc::new(RateLimiter::new(rate, None)),
            objects: Mutex::default(),
            accounts: Mutex::default(),
        }
    }

    /// Counts the object among those the budget serves: how many it
    /// serves now.
    pub fn serve(&self, uid: &str) -> usize {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.insert(uid.to_string());
        objects.len()
    }

    /// The account of Provider `label` (`namespace/name`) on this budget,
    /// made by `connect` (given the budget's limiter) the first time.
    pub fn account(&self, label: &str, connect: impl FnOnce(Arc<RateLimiter>) -> Arc<Account>) -> Arc<Account> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.entry(label.to_string()).or_insert_with(|| connect(self.limiter.clone())).clone()
    }
}

/// Every budget, by its key.
#[derive(Default)]
pub struct Budgets(Mutex<HashMap<String, Arc<Budget>>>);

impl Budgets {
    /// The budget of `key`, made with `rate` the first time.
    pub fn of(&self, key: &str, rate: Option<Rate>) -> Arc<Budget> {
        let mut budgets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        budgets.entry(key.to_string()).or_insert_with(|| Arc::new(Budget::new(rate))).clone()
    }

    /// An account of Provider `label` (`namespace/name`), on whichever
    /// budget it spends.
    pub fn account_of(&self, label: &str) -> Option<Arc<Account>> {
        let budgets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        budgets.values().find_map(|b| b.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(label).cloned())
    }

    /// Forgets an object gone from the cluster.
    pub fn forget(&self, uid: &str) {
        for budget in self.0.lock().unwrap_or_else(|e| e.into_inner()).values() {
            budget.objects.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_is_one_budget_whatever_its_objects_and_each_object_counts_once() {
        let budgets = Budgets::default();
        let one = budgets.of("key-a", None);
        assert!(Arc::ptr_eq(&one, &budgets.of("key-a", None)));
        assert!(!Arc::ptr_eq(&one, &budgets.of("key-b", None)));
        assert_eq!((one.serve("uid-1"), one.serve("uid-1"), one.serve("uid-2")), (1, 1, 2));
        budgets.forget("uid-1");
        assert_eq!(one.serve("uid-3"), 2);
    }
}
