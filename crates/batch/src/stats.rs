//! Counters of a batch processor, readable as a snapshot and emitted through `metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A point-in-time snapshot of a processor's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchStats {
    /// Calls accepted into the queue.
    pub calls: u64,
    /// Batches flushed because they reached `batch_size`.
    pub batches_by_size: u64,
    /// Batches flushed because their oldest call reached `batch_timeout`.
    pub batches_by_timeout: u64,
    /// Partial batches flushed while shutting down.
    pub batches_by_shutdown: u64,
    /// Calls in all flushed batches.
    pub flushed_calls: u64,
    /// Calls rejected with [`BatchError::QueueFull`](crate::BatchError::QueueFull).
    pub queue_full: u64,
    /// Calls answered with `Ok`.
    pub succeeded: u64,
    /// Calls answered with an error (call errors, protocol errors, panics, missing state).
    pub errors: u64,
    /// Calls skipped because their caller had dropped its future before they ran.
    pub skipped: u64,
    /// Batches run through [`execute_batch`](crate::BatchExecutor::execute_batch).
    pub guest_batches: u64,
}

impl BatchStats {
    /// The number of batches flushed, for any reason.
    #[must_use]
    pub fn batches(&self) -> u64 {
        self.batches_by_size + self.batches_by_timeout + self.batches_by_shutdown
    }

    /// The mean number of calls per flushed batch, or `0.0` before the first flush.
    #[must_use]
    pub fn mean_batch_size(&self) -> f64 {
        let batches = self.batches();
        if batches == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let mean = self.flushed_calls as f64 / batches as f64;
            mean
        }
    }
}

/// Why a batch was flushed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FlushReason {
    Size,
    Timeout,
    Shutdown,
}

impl FlushReason {
    fn label(self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::Timeout => "timeout",
            Self::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    batches_by_size: AtomicU64,
    batches_by_timeout: AtomicU64,
    batches_by_shutdown: AtomicU64,
    flushed_calls: AtomicU64,
    queue_full: AtomicU64,
    succeeded: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    guest_batches: AtomicU64,
}

impl Counters {
    pub(crate) fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("wasm_sandbox_batch_calls_total").increment(1);
    }

    pub(crate) fn queue_full(&self) {
        self.queue_full.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("wasm_sandbox_batch_queue_full_total").increment(1);
    }

    pub(crate) fn flushed(&self, reason: FlushReason, calls: usize) {
        let counter = match reason {
            FlushReason::Size => &self.batches_by_size,
            FlushReason::Timeout => &self.batches_by_timeout,
            FlushReason::Shutdown => &self.batches_by_shutdown,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let calls = u64::try_from(calls).unwrap_or(u64::MAX);
        self.flushed_calls.fetch_add(calls, Ordering::Relaxed);
        metrics::counter!("wasm_sandbox_batch_batches_total", "reason" => reason.label())
            .increment(1);
        #[allow(clippy::cast_precision_loss)]
        metrics::histogram!("wasm_sandbox_batch_batch_size").record(calls as f64);
    }

    pub(crate) fn answered(&self, ok: bool) {
        if ok {
            self.succeeded.fetch_add(1, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("wasm_sandbox_batch_errors_total").increment(1);
        }
    }

    pub(crate) fn skipped(&self, n: usize) {
        if n > 0 {
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            self.skipped.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("wasm_sandbox_batch_skipped_total").increment(n);
        }
    }

    pub(crate) fn guest_batch(&self) {
        self.guest_batches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BatchStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BatchStats {
            calls: l(&self.calls),
            batches_by_size: l(&self.batches_by_size),
            batches_by_timeout: l(&self.batches_by_timeout),
            batches_by_shutdown: l(&self.batches_by_shutdown),
            flushed_calls: l(&self.flushed_calls),
            queue_full: l(&self.queue_full),
            succeeded: l(&self.succeeded),
            errors: l(&self.errors),
            skipped: l(&self.skipped),
            guest_batches: l(&self.guest_batches),
        }
    }
}
