//! Lists read once and shared by every client of an account (one per kind,
//! and in the controller one per reconcile): a collection two kinds both
//! need (orchagent's workspaces) costs one request a run, not one per kind.
//! Concurrent readers of one list wait for the same request. A list is
//! kept for a short while, so a long-lived controller still sees what
//! changed elsewhere, and forgotten when seqops changes what it holds.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// How long a list is served from memory.
pub const TTL_MS: u64 = 30_000;

type Cell<T> = Arc<OnceCell<(u64, T)>>;

/// Lists by key (a path), each with when it was read.
pub struct Listings<T> {
    cells: Mutex<BTreeMap<String, Cell<T>>>,
}

impl<T> Default for Listings<T> {
    fn default() -> Self {
        Self { cells: Mutex::new(BTreeMap::new()) }
    }
}

impl<T: Clone> Listings<T> {
    /// The list under `key`, read by `fetch` unless a fresh one is held.
    pub async fn get<E, F, Fut>(&self, key: &str, fetch: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            let stale =
                |cell: &Cell<T>| cell.get().is_some_and(|(at, _)| crate::clock::now_ms().saturating_sub(*at) >= TTL_MS);
            if cells.get(key).is_some_and(stale) {
                cells.remove(key);
            }
            cells.entry(key.to_string()).or_default().clone()
        };
        let read = cell.get_or_try_init(|| async { Ok((crate::clock::now_ms(), fetch().await?)) }).await?;
        Ok(read.1.clone())
    }

    /// Forgets the list under `key`: seqops changed what it holds.
    pub fn forget(&self, key: &str) {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Forgets every list.
    pub fn clear(&self) {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
