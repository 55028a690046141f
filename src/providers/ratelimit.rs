//! Pacing requests so an account's budget (Orsay's 200 an hour) is never
//! exceeded in the first place, remembered across runs.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::manifest::provider::Rate;

pub use crate::clock::now_ms;

/// A rolling-window limiter: at most `limit` requests in any `window`.
pub struct RateLimiter {
    limit: Option<u32>,
    window_ms: u64,
    inner: Mutex<Window>,
    /// The budget file and this account's id in it.
    store: Option<(PathBuf, String)>,
}

#[derive(Default)]
struct Window {
    /// When each request in the window was sent, in unix milliseconds.
    sent: VecDeque<u64>,
    /// The API asked us to wait (429 Retry-After) until then.
    blocked_until: u64,
    /// What the API last said is left of its own budget, and of how much.
    server: Option<(u64, Option<u64>)>,
}

/// What a request is for: a change someone asked for goes before a check
/// that nothing drifted, so checks leave a share of the budget unspent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// A change someone made (an edited manifest, a new object): may spend
    /// the whole budget.
    Change,
    /// A background check (the controller's drift reads): may spend all but
    /// [`reserved_for_changes`].
    Check,
}

/// A hold on a rate limiter for one run or one reconcile: the priority of
/// the requests made through it, and the slot a check reserved before it
/// began. The account a request goes through carries it, not the task: a
/// reconcile's requests are checks because its account says so.
#[derive(Clone)]
pub struct BudgetHandle {
    limiter: Arc<RateLimiter>,
    priority: Priority,
    /// When the slot [`BudgetHandle::reserve_check`] took was counted.
    ticket: Arc<Mutex<Option<u64>>>,
}

impl BudgetHandle {
    pub fn new(limiter: Arc<RateLimiter>, priority: Priority) -> Self {
        BudgetHandle { limiter, priority, ticket: Arc::default() }
    }

    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Waits until a request may be sent, then counts it, and returns when
    /// it was counted (for [`RateLimiter::settle`]): at once for the slot a
    /// check reserved. A check leaves the share [`reserved_for_changes`]
    /// unspent.
    pub async fn acquire(&self, on_wait: impl Fn(Duration)) -> u64 {
        if let Some(counted) = self.take_ticket() {
            return counted;
        }
        self.limiter.acquire(self.priority, on_wait).await
    }

    /// Takes a slot of the checks' share before the check starts, so that
    /// its first request goes without waiting: a check that would have to
    /// wait is told how long instead, and waits outside the controller's
    /// queue, never in it, holding a place an edit needs. `None` if it may
    /// go.
    pub fn reserve_check(&self) -> Option<Duration> {
        match self.limiter.reserve(Priority::Check) {
            Err(wait) => Some(wait),
            Ok(counted) => {
                *self.ticket.lock().unwrap_or_else(|e| e.into_inner()) = counted;
                None
            }
        }
    }

    /// The slot [`BudgetHandle::reserve_check`] took, if any: counted again
    /// as sent now. A 429 since then holds the check back like any request:
    /// its slot is given back, and it waits its turn.
    fn take_ticket(&self) -> Option<u64> {
        let reserved = self.ticket.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        self.limiter.redeem(reserved)
    }
}

/// The share of a budget of `limit` that checks leave to changes: a fifth,
/// and at least one request where the budget has more than one.
pub fn reserved_for_changes(limit: u32) -> u32 {
    if limit < 2 {
        0
    } else {
        (limit / 5).max(1)
    }
}

/// Serializes writers of budget files within this process.
static BUDGET_FILE_LOCK: Mutex<()> = Mutex::new(());

impl RateLimiter {
    /// A rate of `None` (or of 0 requests) turns pacing off.
    pub fn new(rate: Option<Rate>, store: Option<(PathBuf, String)>) -> Self {
        let limit = rate.map(|r| r.requests).filter(|l| *l > 0);
        let window = rate.map_or(Duration::from_secs(3600), |r| r.window);
        let store = store.filter(|_| limit.is_some());
        let mut window_state = Window::default();
        if let Some((file, id)) = &store {
            window_state.sent = read_budget(file).remove(id).unwrap_or_default().into();
        }
        Self { limit, window_ms: window.as_millis() as u64, inner: Mutex::new(window_state), store }
    }

    pub fn limit(&self) -> Option<u32> {
        self.limit
    }

    /// The pace this limiter keeps, if any.
    pub fn rate(&self) -> Option<Rate> {
        self.limit.map(|requests| Rate { requests, window: Duration::from_millis(self.window_ms) })
    }

    /// How long a request sent at `now` must wait; `None` if it may go now.
    fn delay_at(&self, window: &mut Window, now: u64) -> Option<Duration> {
        self.delay_for(window, now, Priority::Change)
    }

    /// How long a request of `priority` sent at `now` must wait.
    fn delay_for(&self, window: &mut Window, now: u64, priority: Priority) -> Option<Duration> {
        // A request is counted by the API when it arrives, a little after
        // seqops sent it: each is kept a moment longer than the window, so
        // that the slot it frees is taken only once the API let it go too.
        let held = self.window_ms.saturating_add((self.window_ms / 50).min(1_000));
        // Entries are kept in order; a clock that stepped back must not make
        // an old entry look new, so anything after `now` is dropped too.
        window.sent.retain(|sent| sent.saturating_add(held) > now && *sent <= now);
        if window.blocked_until > now {
            return Some(Duration::from_millis(window.blocked_until - now));
        }
        let mut limit = self.limit?;
        if priority == Priority::Check {
            limit -= reserved_for_changes(limit);
        }
        let limit = limit as usize;
        if window.sent.len() < limit {
            return None;
        }
        let oldest = window.sent[window.sent.len() - limit];
        Some(Duration::from_millis(oldest.saturating_add(held).saturating_sub(now).max(1)))
    }

    /// Waits until a request of `priority` may be sent, then counts it,
    /// and returns when it was counted (for [`RateLimiter::settle`]).
    /// `on_wait` hears of every wait before it starts.
    pub async fn acquire(&self, priority: Priority, on_wait: impl Fn(Duration)) -> u64 {
        loop {
            let wait = {
                let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                let now = now_ms();
                match self.delay_for(&mut window, now, priority) {
                    Some(wait) => wait,
                    None => {
                        if self.limit.is_some() {
                            window.sent.push_back(now);
                        }
                        self.persist(&window);
                        return now;
                    }
                }
            };
            on_wait(wait);
            crate::clock::sleep(wait).await;
        }
    }

    /// Counts a slot for a request of `priority` now, if one is free: when
    /// it was counted (nothing is counted without a limit), or how long to
    /// wait for one.
    fn reserve(&self, priority: Priority) -> Result<Option<u64>, Duration> {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        if let Some(wait) = self.delay_for(&mut window, now, priority) {
            return Err(wait);
        }
        if self.limit.is_none() {
            return Ok(None);
        }
        window.sent.push_back(now);
        self.persist(&window);
        Ok(Some(now))
    }

    /// A slot reserved at `reserved`, counted again as sent now; `None`
    /// (and the slot given back) when a 429 holds requests back since.
    fn redeem(&self, reserved: u64) -> Option<u64> {
        let blocked = {
            let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let blocked = window.blocked_until > now_ms();
            if let Some(at) = window.sent.iter().position(|sent| *sent == reserved).filter(|_| blocked) {
                window.sent.remove(at);
            }
            blocked
        };
        if blocked {
            return None;
        }
        self.settle(reserved);
        Some(now_ms().max(reserved))
    }

    /// Moves a request counted at `sent` to now, once its answer is in: the
    /// API counted it when it arrived, which may be well after it was sent
    /// (a slow answer), and never after the answer came back.
    pub fn settle(&self, sent: u64) {
        if self.limit.is_none() {
            return;
        }
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        if let Some(entry) = window.sent.iter_mut().rev().find(|at| **at == sent) {
            *entry = now.max(sent);
            window.sent.make_contiguous().sort_unstable();
            self.persist(&window);
        }
    }

    /// Holds every request back until `until` (unix ms), as a 429's
    /// Retry-After asks.
    pub fn block_until(&self, until: u64) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        window.blocked_until = window.blocked_until.max(until);
    }

    /// Takes in the API's own count (`X-RateLimit-*`): with none left, every
    /// request waits for the reset (unix seconds).
    pub fn observe_server(&self, remaining: u64, limit: Option<u64>, reset: u64) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        window.server = Some((remaining, limit));
        if remaining == 0 {
            // A daily budget resets at midnight; nobody waits a day for a
            // plan: an hour at most, then the API's 429 says the rest.
            let cap = now_ms().saturating_add(3_600_000);
            window.blocked_until = window.blocked_until.max(reset.saturating_mul(1000).min(cap));
        }
    }

    /// The API's own limit, when it reports one.
    pub fn server_limit(&self) -> Option<u32> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).server.and_then(|(_, l)| l).map(|l| l as u32)
    }

    /// Requests left in the current window: seqops's own pacing, or what the
    /// API last reported, whichever is less.
    pub fn remaining(&self) -> Option<u32> {
        let server =
            self.inner.lock().unwrap_or_else(|e| e.into_inner()).server.map(|(r, _)| r.min(u32::MAX as u64) as u32);
        let Some(limit) = self.limit else { return server };
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.delay_at(&mut window, now_ms());
        let own = limit.saturating_sub(window.sent.len() as u32);
        Some(server.map_or(own, |s| s.min(own)))
    }

    fn persist(&self, window: &Window) {
        let Some((file, id)) = &self.store else {
            return;
        };
        let _guard = BUDGET_FILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut budgets = read_budget(file);
        budgets.insert(id.clone(), window.sent.iter().copied().collect());
        // The budget file is an optimisation: failing to write it only
        // means a later run learns the spent budget from the API's 429s.
        if let Ok(text) = serde_json::to_vec(&budgets) {
            let _ = crate::files::write_atomically(file, &text);
        }
    }
}

fn read_budget(file: &Path) -> BTreeMap<String, Vec<u64>> {
    std::fs::read(file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_within_the_limit_go_at_once_and_the_next_waits_for_the_oldest_to_expire() {
        let limiter = RateLimiter::new(Some(Rate::per_hour(3)), None);
        let mut window = Window::default();
        for sent in [1_000, 2_000, 3_000] {
            assert_eq!(limiter.delay_at(&mut window, sent), None);
            window.sent.push_back(sent);
        }
        let margin = 1_000;
        assert_eq!(limiter.delay_at(&mut window, 4_000), Some(Duration::from_millis(3_600_000 - 3_000 + margin)));
        assert_eq!(limiter.delay_at(&mut window, 3_601_000 + margin), None);
    }

    #[test]
    fn checks_leave_a_fifth_of_the_budget_to_changes() {
        let limiter = RateLimiter::new(Some(Rate::per_hour(10)), None);
        let mut window = Window::default();
        for sent in 1..=8 {
            assert_eq!(limiter.delay_for(&mut window, sent, Priority::Check), None);
            window.sent.push_back(sent);
        }
        assert!(limiter.delay_for(&mut window, 9, Priority::Check).is_some(), "checks stop at 8 of 10");
        assert_eq!(limiter.delay_for(&mut window, 9, Priority::Change), None, "a change may still go");
        window.sent.extend([9, 10]);
        assert!(limiter.delay_for(&mut window, 11, Priority::Change).is_some(), "and the budget holds");
    }

    #[test]
    fn a_check_that_reserved_its_slot_goes_at_once_and_one_that_could_not_is_told_how_long_to_wait() {
        let limiter = Arc::new(RateLimiter::new(Some(Rate::per_hour(10)), None));
        futures::executor::block_on(async {
            for _ in 0..8 {
                let check = BudgetHandle::new(limiter.clone(), Priority::Check);
                assert_eq!(check.reserve_check(), None, "checks may take 8 of 10");
                check.acquire(|wait| panic!("a reserved check waited {wait:?}")).await;
            }
            let ninth = BudgetHandle::new(limiter.clone(), Priority::Check);
            assert!(ninth.reserve_check().is_some(), "the ninth is told to come back");
        });
        assert_eq!(limiter.remaining(), Some(2), "each check counted once; two left for changes");
    }

    #[test]
    fn a_reserved_check_still_waits_out_a_429_and_gives_its_slot_back() {
        let limiter = Arc::new(RateLimiter::new(Some(Rate::per_hour(10)), None));
        let check = BudgetHandle::new(limiter.clone(), Priority::Check);
        assert_eq!(check.reserve_check(), None);
        limiter.block_until(now_ms() + 60_000);
        assert_eq!(check.take_ticket(), None, "the check waits its turn in acquire");
        assert_eq!(limiter.remaining(), Some(10), "its slot is given back, not counted twice");
    }

    #[test]
    fn a_handle_carries_its_priority_and_its_own_reserved_slot() {
        let limiter = Arc::new(RateLimiter::new(Some(Rate::per_hour(10)), None));
        let (check, change) =
            (BudgetHandle::new(limiter.clone(), Priority::Check), BudgetHandle::new(limiter, Priority::Change));
        assert_eq!((check.priority(), change.priority()), (Priority::Check, Priority::Change));
        assert_eq!(check.reserve_check(), None);
        assert_eq!(change.take_ticket(), None, "the slot is the check's, not another handle's");
        assert!(check.take_ticket().is_some());
        assert_eq!(reserved_for_changes(200), 40);
        assert_eq!(reserved_for_changes(1), 0);
    }

    #[test]
    fn a_retry_after_holds_requests_back_even_with_budget_left() {
        let limiter = RateLimiter::new(Some(Rate::per_hour(200)), None);
        limiter.block_until(now_ms() + 60_000);
        let mut window = limiter.inner.lock().unwrap_or_else(|e| e.into_inner());
        let wait = limiter.delay_at(&mut window, now_ms());
        assert!(wait.is_some_and(|w| w > Duration::from_secs(50)));
    }

    #[test]
    fn the_budget_spent_is_remembered_across_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let file = dir.path().join("budget.json");
        let store = || Some((file.clone(), "orsay:abc".to_string()));
        let first = RateLimiter::new(Some(Rate::per_hour(5)), store());
        futures::executor::block_on(async {
            first.acquire(Priority::Change, |_| {}).await;
            first.acquire(Priority::Change, |_| {}).await;
        });
        let second = RateLimiter::new(Some(Rate::per_hour(5)), store());
        assert_eq!(second.remaining(), Some(3));
    }
}
