//! Time sources for entry expiry: the real monotonic clock and a manual clock for tests.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source used to expire memoized results.
///
/// The cache asks the clock for the time on every lookup and insertion while a TTL is set, so
/// implementations should be cheap. Time must never go backwards.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock ([`Instant::now`]). This is the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to, so TTL behaviour is testable without sleeping.
///
/// Clones share the same time: keep one clone, hand another to the cache, then
/// [`advance`](ManualClock::advance) it.
///
/// ```
/// use std::time::Duration;
/// use wasm_sandbox_callopt::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(300));
/// assert_eq!(clock.now() - start, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    offset_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock standing at the current real instant.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            offset_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock (and every clone of it) forward by `by`.
    ///
    /// The total offset saturates at about 584 years instead of overflowing.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with a saturating add never fails because the closure always returns Some.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(cur.saturating_add(nanos))
            });
    }

    /// How far the clock has been advanced since it was created.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = self.elapsed();
        // `Instant + Duration` panics on overflow; fall back to the furthest representable time.
        self.start
            .checked_add(offset)
            .unwrap_or_else(|| far_future(self.start))
    }
}

/// The latest instant we can represent starting from `from`, found by halving.
fn far_future(from: Instant) -> Instant {
    let mut step = Duration::from_secs(u64::MAX / 4);
    let mut t = from;
    while step > Duration::from_nanos(0) {
        if let Some(next) = t.checked_add(step) {
            t = next;
        } else {
            step /= 2;
        }
    }
    t
}
