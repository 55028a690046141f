//! Lists read once and shared by every client of an account (one per kind,
//! and in the controller one per reconcile): a collection two kinds both
//! need (orchagent's workspaces) costs one request a run, not one per kind.
//! Concurrent readers of one list wait for the same request. A list is
//! kept for a short while, so a long-lived controller still sees what
//! changed elsewhere, and amended or forgotten when seqops changes what it
//! holds.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// How long a list is served from memory, at least.
pub const TTL_MS: u64 = 30_000;

/// A list re-read under a budget costs at most this share of it (1 in 20):
/// at Orsay's 200 an hour, a list is kept six minutes, not 30 seconds
/// (which would spend 120 of the 200 on lists).
const BUDGET_SHARE: u64 = 20;

type Cell<T> = Arc<OnceCell<(u64, T)>>;

/// When the list a write's change is applied to was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Before the write: it cannot show it.
    Before,
    /// While the write was made: it may show it already.
    During,
}

/// A change a write made to a list still being read: applied to it once
/// it lands, with [`Read::During`].
type Amendment<T> = Box<dyn FnOnce(&mut T, Read) + Send>;

/// A list, read or being read, and what writes since its read began did.
struct Entry<T> {
    cell: Cell<T>,
    pending: Vec<Amendment<T>>,
}

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Self { cell: Arc::default(), pending: Vec::new() }
    }
}

/// Lists by key (a path), each with when it was read.
pub struct Listings<T> {
    entries: Mutex<BTreeMap<String, Entry<T>>>,
    ttl_ms: u64,
}

impl<T> Default for Listings<T> {
    fn default() -> Self {
        Self::with_ttl(TTL_MS)
    }
}

impl<T> Listings<T> {
    fn with_ttl(ttl_ms: u64) -> Self {
        Self { entries: Mutex::new(BTreeMap::new()), ttl_ms }
    }

    /// Lists kept as long as a budget of `rate` makes worth it.
    pub fn paced(rate: Option<crate::manifest::provider::Rate>) -> Self {
        let per_request_ms =
            rate.filter(|r| r.requests > 0).map_or(0, |r| r.window.as_millis() as u64 / u64::from(r.requests));
        Self::with_ttl(TTL_MS.max(per_request_ms.saturating_mul(BUDGET_SHARE)))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
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
            let mut entries = self.entries();
            let ttl = self.ttl_ms;
            let stale = |entry: &Entry<T>| {
                entry.cell.get().is_some_and(|(at, _)| crate::clock::now_ms().saturating_sub(*at) >= ttl)
            };
            if entries.get(key).is_some_and(stale) {
                entries.remove(key);
            }
            entries.entry(key.to_string()).or_default().cell.clone()
        };
        let read = cell.get_or_try_init(|| async { Ok((crate::clock::now_ms(), fetch().await?)) }).await?;
        Ok(self.landed(key, &cell).unwrap_or_else(|| read.1.clone()))
    }

    /// The list `cell` read, with what writes did while it was read, if it
    /// is still the one held under `key`.
    fn landed(&self, key: &str, cell: &Cell<T>) -> Option<T> {
        let mut entries = self.entries();
        let entry = entries.get_mut(key).filter(|entry| Arc::ptr_eq(&entry.cell, cell))?;
        if !entry.pending.is_empty() {
            let (at, mut list) = entry.cell.get()?.clone();
            for amendment in entry.pending.drain(..) {
                amendment(&mut list, Read::During);
            }
            entry.cell = Arc::new(OnceCell::new_with(Some((at, list))));
        }
        entry.cell.get().map(|(_, list)| list.clone())
    }

    /// Forgets the list under `key`: seqops changed what it holds.
    pub fn forget(&self, key: &str) {
        self.entries().remove(key);
    }

    /// Changes the list held under `key` as a write just changed the
    /// remote collection, so the next reader needs no request. A list
    /// still being read gets the change when it lands, told it was read
    /// [`Read::During`] the write: it may show it already.
    pub fn amend(&self, key: &str, change: impl FnOnce(&mut T, Read) + Send + 'static) {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(key) else { return };
        // Behind the changes still waiting for their list, in order.
        if entry.cell.get().is_none() || !entry.pending.is_empty() {
            return entry.pending.push(Box::new(change));
        }
        // In place when no reader holds the list (an apply's thousands of
        // creates must not copy it each), else on a copy.
        if let Some((_, list)) = Arc::get_mut(&mut entry.cell).and_then(OnceCell::get_mut) {
            return change(list, Read::Before);
        }
        if let Some((at, mut list)) = entry.cell.get().cloned() {
            change(&mut list, Read::Before);
            entry.cell = Arc::new(OnceCell::new_with(Some((at, list))));
        }
    }

    /// Forgets every list.
    pub fn clear(&self) {
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::provider::Rate;
    use std::time::Duration;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    async fn read(listings: &Listings<Vec<String>>, answer: &[&str]) -> Vec<String> {
        let answer = list(answer);
        listings.get("/x", || async { Ok::<_, ()>(answer) }).await.unwrap_or_default()
    }

    fn add(name: &'static str) -> impl FnOnce(&mut Vec<String>, Read) + Send + 'static {
        move |items, read| {
            if read == Read::Before || !items.iter().any(|i| i == name) {
                items.push(name.to_string());
            }
        }
    }

    #[test]
    fn under_orsays_budget_a_list_is_kept_six_minutes_and_without_one_thirty_seconds() {
        let rate = Rate { requests: 200, window: Duration::from_secs(3600) };
        assert_eq!(Listings::<()>::paced(Some(rate)).ttl_ms, 360_000);
        assert_eq!(Listings::<()>::paced(None).ttl_ms, TTL_MS);
        let generous = Rate { requests: 100_000, window: Duration::from_secs(3600) };
        assert_eq!(Listings::<()>::paced(Some(generous)).ttl_ms, TTL_MS);
    }

    #[tokio::test]
    async fn a_write_amends_the_list_held_and_the_next_reader_makes_no_request() {
        let listings = Listings::default();
        assert_eq!(read(&listings, &["a"]).await, list(&["a"]));
        listings.amend("/x", add("b"));
        assert_eq!(read(&listings, &["a", "never read"]).await, list(&["a", "b"]));
    }

    #[tokio::test]
    async fn a_write_while_the_list_is_read_is_applied_once_it_lands_and_only_once() {
        let listings = Arc::new(Listings::default());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let listings = listings.clone();
            tokio::spawn(async move {
                listings
                    .get("/x", || async move {
                        let _ = wait.await;
                        // The list was read after "b" was made: it shows it.
                        Ok::<_, ()>(list(&["a", "b"]))
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        listings.amend("/x", add("b"));
        listings.amend("/x", add("c"));
        let _ = go.send(());
        assert_eq!(reader.await.ok().and_then(Result::ok), Some(list(&["a", "b", "c"])));
        assert_eq!(read(&listings, &["never read"]).await, list(&["a", "b", "c"]));
    }

    #[tokio::test]
    async fn a_list_not_held_is_not_made_up_from_a_write() {
        let listings = Listings::default();
        listings.amend("/x", add("b"));
        assert_eq!(read(&listings, &["a"]).await, list(&["a"]));
    }
}
