//! The time, for records and for pacing.
//!
//! Pacing (the rate limiter, and the emulators' own limits) reads
//! [`now_ms`] and waits with [`sleep`]. A test may turn on the virtual
//! clock: waits then move the clock instead of passing, so that an apply
//! paced over hours is proven in milliseconds, with the network calls
//! themselves still made for real. (tokio's paused time jumps whenever the
//! runtime idles, which includes a request in flight over loopback, so it
//! would fire the HTTP client's timeouts.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static VIRTUAL: AtomicBool = AtomicBool::new(false);
/// How far the virtual clock is ahead of the wall clock, in milliseconds.
static AHEAD_MS: AtomicU64 = AtomicU64::new(0);

/// The wall clock in unix milliseconds, plus what virtual waits added.
pub fn now_ms() -> u64 {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    wall.saturating_add(AHEAD_MS.load(Ordering::SeqCst))
}

/// Waits `duration`, or, on the virtual clock, moves the clock on to the end
/// of the wait (waits that overlap end together, as they would in time).
pub async fn sleep(duration: Duration) {
    if !VIRTUAL.load(Ordering::SeqCst) {
        return tokio::time::sleep(duration).await;
    }
    let deadline = now_ms().saturating_add(duration.as_millis() as u64);
    let _ = AHEAD_MS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ahead| {
        let wall = now_ms().saturating_sub(ahead);
        Some(ahead.max(deadline.saturating_sub(wall)))
    });
    tokio::task::yield_now().await;
}

/// Turns the virtual clock on for the rest of the process (tests and
/// benchmarks only).
pub fn use_virtual_time() {
    VIRTUAL.store(true, Ordering::SeqCst);
}

/// The current time as RFC 3339, for records.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::UNIX_EPOCH + Duration::from_millis(now_ms());
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
