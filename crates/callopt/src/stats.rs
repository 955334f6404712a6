//! Counters of the call optimizer, readable as a snapshot and emitted through `metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A point-in-time snapshot of the optimizer's counters.
///
/// Counters only grow; `entries` and `bytes` describe the cache right now. At any quiescent
/// moment, `entries == insertions - replacements - evictions_capacity - evictions_ttl -
/// invalidations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptStats {
    /// Lookups of a pure export answered from the cache.
    pub hits: u64,
    /// Lookups of a pure export that had to execute the call.
    pub misses: u64,
    /// Calls of exports not declared pure, which skip the cache entirely.
    pub bypasses: u64,
    /// Results stored in the cache.
    pub insertions: u64,
    /// Stored results that replaced an existing entry for the same key (concurrent misses).
    pub replacements: u64,
    /// Results not stored because they alone exceed a shard's byte budget.
    pub rejected_oversize: u64,
    /// Entries evicted to respect the entry or byte bound (least recently used first).
    pub evictions_capacity: u64,
    /// Entries dropped because their TTL elapsed.
    pub evictions_ttl: u64,
    /// Entries removed explicitly (`invalidate_*`, `clear`).
    pub invalidations: u64,
    /// Executions of a pure export that returned an error (never memoized).
    pub errors: u64,
    /// Entries currently cached.
    pub entries: u64,
    /// Bytes currently charged to the cache (see [`MemoCache`](crate::MemoCache) for the formula).
    pub bytes: u64,
}

impl CallOptStats {
    /// `hits / (hits + misses)`, or `0.0` before the first lookup of a pure export.
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            // Precision loss above 2^53 lookups is irrelevant for a ratio.
            #[allow(clippy::cast_precision_loss)]
            let ratio = self.hits as f64 / lookups as f64;
            ratio
        }
    }
}

/// The live counters. `entries`/`bytes` are maintained under the shard locks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) bypasses: AtomicU64,
    pub(crate) insertions: AtomicU64,
    pub(crate) replacements: AtomicU64,
    pub(crate) rejected_oversize: AtomicU64,
    pub(crate) evictions_capacity: AtomicU64,
    pub(crate) evictions_ttl: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// Names of the `metrics` series, all prefixed `wasm_sandbox_callopt_`.
pub(crate) mod names {
    pub(crate) const HITS: &str = "wasm_sandbox_callopt_hits_total";
    pub(crate) const MISSES: &str = "wasm_sandbox_callopt_misses_total";
    pub(crate) const BYPASSES: &str = "wasm_sandbox_callopt_bypasses_total";
    pub(crate) const INSERTIONS: &str = "wasm_sandbox_callopt_insertions_total";
    pub(crate) const REJECTED: &str = "wasm_sandbox_callopt_rejected_oversize_total";
    pub(crate) const EVICTIONS: &str = "wasm_sandbox_callopt_evictions_total";
    pub(crate) const ERRORS: &str = "wasm_sandbox_callopt_errors_total";
    pub(crate) const ENTRIES: &str = "wasm_sandbox_callopt_entries";
    pub(crate) const BYTES: &str = "wasm_sandbox_callopt_bytes";
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, metric: &'static str, by: u64) {
        if by == 0 {
            return;
        }
        counter.fetch_add(by, Ordering::Relaxed);
        metrics::counter!(metric).increment(by);
    }

    pub(crate) fn evicted(&self, by_ttl: u64, by_capacity: u64) {
        if by_ttl > 0 {
            self.evictions_ttl.fetch_add(by_ttl, Ordering::Relaxed);
            metrics::counter!(names::EVICTIONS, "cause" => "ttl").increment(by_ttl);
        }
        if by_capacity > 0 {
            self.evictions_capacity
                .fetch_add(by_capacity, Ordering::Relaxed);
            metrics::counter!(names::EVICTIONS, "cause" => "capacity").increment(by_capacity);
        }
    }

    /// Applies a change of the cache's size and publishes the gauges.
    pub(crate) fn resize(&self, entries_delta: i64, bytes_delta: i64) {
        if entries_delta == 0 && bytes_delta == 0 {
            return;
        }
        let entries = add_signed(&self.entries, entries_delta);
        let bytes = add_signed(&self.bytes, bytes_delta);
        #[allow(clippy::cast_precision_loss)]
        {
            metrics::gauge!(names::ENTRIES).set(entries as f64);
            metrics::gauge!(names::BYTES).set(bytes as f64);
        }
    }

    pub(crate) fn snapshot(&self) -> CallOptStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CallOptStats {
            hits: l(&self.hits),
            misses: l(&self.misses),
            bypasses: l(&self.bypasses),
            insertions: l(&self.insertions),
            replacements: l(&self.replacements),
            rejected_oversize: l(&self.rejected_oversize),
            evictions_capacity: l(&self.evictions_capacity),
            evictions_ttl: l(&self.evictions_ttl),
            invalidations: l(&self.invalidations),
            errors: l(&self.errors),
            entries: l(&self.entries),
            bytes: l(&self.bytes),
        }
    }
}

/// Adds a signed delta and returns the new value.
fn add_signed(counter: &AtomicU64, delta: i64) -> u64 {
    let magnitude = delta.unsigned_abs();
    if delta >= 0 {
        counter
            .fetch_add(magnitude, Ordering::Relaxed)
            .wrapping_add(magnitude)
    } else {
        counter
            .fetch_sub(magnitude, Ordering::Relaxed)
            .wrapping_sub(magnitude)
    }
}
