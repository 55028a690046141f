//! The sandbox's test clock (Stripe's test clocks are the model): the time
//! the emulators' vendors live in, which a user, a CI job or a test moves
//! forward (`seqops sandbox clock advance 3d`, or `POST /_sandbox/clock`)
//! to watch an enrollment run to its end or a pause elapse without
//! waiting. Every emulator made from one [`super::EmulatorConfig`] shares
//! it, so one advance moves them all at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The vendors' time: the process's clock ([`crate::clock::now_ms`]) plus
/// what the sandbox was moved forward by. It never goes back.
#[derive(Clone, Debug, Default)]
pub struct SandboxClock {
    ahead_ms: Arc<AtomicU64>,
}

impl SandboxClock {
    /// The sandbox's time, in unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        crate::clock::now_ms().saturating_add(self.ahead_ms.load(Ordering::SeqCst))
    }

    /// How far the sandbox's time is ahead of the process's.
    pub fn ahead(&self) -> Duration {
        Duration::from_millis(self.ahead_ms.load(Ordering::SeqCst))
    }

    /// Moves the sandbox's time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self.ahead_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ahead| Some(ahead.saturating_add(by)));
    }

    /// The sandbox's time as RFC 3339, as the control endpoint says it.
    pub fn now_rfc3339(&self) -> String {
        let now = time::OffsetDateTime::UNIX_EPOCH + Duration::from_millis(self.now_ms());
        now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    }

    /// Whether two handles move the same time.
    pub fn same_as(&self, other: &SandboxClock) -> bool {
        Arc::ptr_eq(&self.ahead_ms, &other.ahead_ms)
    }
}

/// What `GET /_sandbox/clock` answers, and `POST` after it moved the time.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ClockReading {
    /// The sandbox's time, RFC 3339.
    pub now: String,
    /// How far it is ahead of the machine's clock, in seconds.
    pub ahead_seconds: u64,
}

/// What `POST /_sandbox/clock` takes: `{"advance": "3d"}` (humantime's
/// durations: `90s`, `2h`, `3d`, `1w 2d`).
#[derive(Debug, serde::Deserialize)]
pub struct Advance {
    pub advance: String,
}

/// A duration as the clock commands take it: `3d`, `12h`, `1w 2d`.
pub fn parse_advance(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. `90m`, `12h` or `3d`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handle_of_one_clock_moves_together_and_only_forward() {
        let clock = SandboxClock::default();
        let copy = clock.clone();
        let before = clock.now_ms();
        copy.advance(Duration::from_secs(3 * 86_400));
        assert!(clock.now_ms() >= before + 3 * 86_400_000);
        assert_eq!(clock.ahead(), Duration::from_secs(3 * 86_400));
        assert!(clock.same_as(&copy));
        assert!(!clock.same_as(&SandboxClock::default()));
    }

    #[test]
    fn days_and_weeks_are_durations_the_clock_takes() {
        assert_eq!(parse_advance("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_advance("1w 2d"), Ok(Duration::from_secs(9 * 86_400)));
        assert!(parse_advance("soon").unwrap_err().contains("`soon` is not a duration"));
    }
}
