//! Runtime metrics: a snapshot readable from the sandbox, also emitted
//! through the `metrics` crate facade.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Counters and latency histograms of one sandbox. Recording is skipped
/// entirely when metrics are disabled.
#[derive(Debug)]
pub struct Metrics {
    enabled: bool,
    compiles: AtomicU64,
    compile_nanos: AtomicU64,
    instantiations: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    preinits: AtomicU64,
    preinit_nanos: AtomicU64,
    instantiate_latency: Mutex<Histogram<u64>>,
    call_latency: Mutex<Histogram<u64>>,
}

/// Latency summary in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
    /// Mean.
    pub mean_ns: f64,
}

/// A point-in-time copy of a sandbox's metrics.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsSnapshot {
    /// Modules compiled (cache hits are not compiles).
    pub compiles: u64,
    /// Total time spent compiling, in microseconds.
    pub compile_time_us: u64,
    /// Instances created.
    pub instantiations: u64,
    /// Instantiation latency.
    pub instantiate: LatencySummary,
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls that returned an error of any kind.
    pub errors: u64,
    /// Calls that ended in a trap (timeouts excluded).
    pub traps: u64,
    /// Calls stopped by their wall-clock limit.
    pub timeouts: u64,
    /// Call latency.
    pub call: LatencySummary,
    /// Pre-initializations run ([`Sandbox::preinitialize`](crate::Sandbox::preinitialize)):
    /// init steps that ran to a snapshot. A snapshot found in a cache runs none.
    pub preinits: u64,
    /// Total time spent pre-initializing (compiling the instrumented module,
    /// the init step, the snapshot), in microseconds.
    pub preinit_time_us: u64,
}

/// A latency histogram: 1 ns to 1 hour, 3 significant digits, when
/// recording is on (about 200 µs to allocate and zero: every sandbox makes
/// two); else the smallest one, which nothing records into.
fn histogram(enabled: bool) -> Histogram<u64> {
    let (high, digits) = if enabled {
        (3_600_000_000_000, 3)
    } else {
        (2, 0)
    };
    // These bounds are valid, so the constructor cannot fail.
    Histogram::new_with_bounds(1, high, digits).expect("valid histogram bounds")
}

fn summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        p50_ns: h.value_at_quantile(0.50),
        p95_ns: h.value_at_quantile(0.95),
        p99_ns: h.value_at_quantile(0.99),
        max_ns: h.max(),
        mean_ns: h.mean(),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl Metrics {
    /// Metrics that record when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Metrics {
            enabled,
            compiles: AtomicU64::new(0),
            compile_nanos: AtomicU64::new(0),
            instantiations: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            preinits: AtomicU64::new(0),
            preinit_nanos: AtomicU64::new(0),
            instantiate_latency: Mutex::new(histogram(enabled)),
            call_latency: Mutex::new(histogram(enabled)),
        }
    }

    /// Whether recording is on.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records one compilation.
    pub fn record_compile(&self, took: Duration) {
        if !self.enabled {
            return;
        }
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.compile_nanos.fetch_add(nanos(took), Ordering::Relaxed);
        metrics::counter!("wasm_sandbox_compiles_total").increment(1);
        metrics::histogram!("wasm_sandbox_compile_seconds").record(took.as_secs_f64());
    }

    /// Records one pre-initialization.
    pub fn record_preinit(&self, took: Duration) {
        if !self.enabled {
            return;
        }
        self.preinits.fetch_add(1, Ordering::Relaxed);
        self.preinit_nanos.fetch_add(nanos(took), Ordering::Relaxed);
        metrics::counter!("wasm_sandbox_preinits_total").increment(1);
        metrics::histogram!("wasm_sandbox_preinit_seconds").record(took.as_secs_f64());
    }

    /// Records one instantiation.
    pub fn record_instantiate(&self, took: Duration) {
        if !self.enabled {
            return;
        }
        self.instantiations.fetch_add(1, Ordering::Relaxed);
        let _ = self.instantiate_latency.lock().record(nanos(took));
        metrics::counter!("wasm_sandbox_instantiations_total").increment(1);
        metrics::histogram!("wasm_sandbox_instantiate_seconds").record(took.as_secs_f64());
    }

    /// Records one call and its outcome.
    pub fn record_call(&self, took: Duration, outcome: Result<(), &crate::Error>) {
        if !self.enabled {
            return;
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let _ = self.call_latency.lock().record(nanos(took));
        metrics::counter!("wasm_sandbox_calls_total").increment(1);
        metrics::histogram!("wasm_sandbox_call_seconds").record(took.as_secs_f64());
        if let Err(e) = outcome {
            self.errors.fetch_add(1, Ordering::Relaxed);
            match e {
                crate::Error::Timeout { .. } => {
                    self.timeouts.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("wasm_sandbox_timeouts_total").increment(1);
                }
                crate::Error::Trap { .. } => {
                    self.traps.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("wasm_sandbox_traps_total").increment(1);
                }
                _ => {}
            }
            metrics::counter!("wasm_sandbox_call_errors_total").increment(1);
        }
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            compiles: self.compiles.load(Ordering::Relaxed),
            compile_time_us: self.compile_nanos.load(Ordering::Relaxed) / 1000,
            instantiations: self.instantiations.load(Ordering::Relaxed),
            instantiate: summary(&self.instantiate_latency.lock()),
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            call: summary(&self.call_latency.lock()),
            preinits: self.preinits.load(Ordering::Relaxed),
            preinit_time_us: self.preinit_nanos.load(Ordering::Relaxed) / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_metrics_record_nothing() {
        let m = Metrics::new(false);
        m.record_call(Duration::from_micros(3), Ok(()));
        assert_eq!(m.snapshot(), MetricsSnapshot::default());
    }

    #[test]
    fn percentiles_follow_the_samples() {
        let m = Metrics::new(true);
        for i in 1..=100u64 {
            m.record_call(Duration::from_micros(i), Ok(()));
        }
        let e = crate::Error::Timeout {
            limit: Duration::from_secs(1),
        };
        m.record_call(Duration::from_secs(1), Err(&e));
        let s = m.snapshot();
        assert_eq!(s.calls, 101);
        assert_eq!(s.timeouts, 1);
        assert_eq!(s.errors, 1);
        // 3 significant digits: within 0.1 %.
        assert!(
            (s.call.p50_ns as f64 - 51_000.0).abs() <= 51.0,
            "{:?}",
            s.call
        );
        assert!(
            s.call.p99_ns >= 100_000 && s.call.p99_ns <= 100_100,
            "{:?}",
            s.call
        );
        assert!(s.call.max_ns >= 999_000_000);
    }
}
