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
    /// Asynchronous calls of a pure export that missed while an identical call was executing,
    /// and waited for its result instead of executing (single flight). A call whose flight
    /// failed then executes itself, without being counted again.
    pub coalesced: u64,
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

/// One counter kept outside the shards: an atomic for [`CallOptStats`] and its `metrics`
/// series.
#[derive(Debug)]
pub(crate) struct Count {
    n: AtomicU64,
    series: metrics::Counter,
}

impl Count {
    fn new(series: metrics::Counter) -> Self {
        Count {
            n: AtomicU64::new(0),
            series,
        }
    }

    pub(crate) fn bump(&self, by: u64) {
        if by == 0 {
            return;
        }
        self.n.fetch_add(by, Ordering::Relaxed);
        self.series.increment(by);
    }

    fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// Event counts of one cache shard, kept under its lock: counting a hit, a miss or an
/// eviction is a plain add to a line the shard's lock already owns, not an atomic
/// read-modify-write on a line that every thread shares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) coalesced: u64,
    pub(crate) insertions: u64,
    pub(crate) replacements: u64,
    pub(crate) rejected_oversize: u64,
    pub(crate) evictions_capacity: u64,
    pub(crate) evictions_ttl: u64,
    pub(crate) invalidations: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, o: &Tally) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.coalesced += o.coalesced;
        self.insertions += o.insertions;
        self.replacements += o.replacements;
        self.rejected_oversize += o.rejected_oversize;
        self.evictions_capacity += o.evictions_capacity;
        self.evictions_ttl += o.evictions_ttl;
        self.invalidations += o.invalidations;
    }
}

/// The `metrics` series of the shard-kept counts.
#[derive(Debug)]
struct Series {
    hits: metrics::Counter,
    misses: metrics::Counter,
    coalesced: metrics::Counter,
    insertions: metrics::Counter,
    replacements: metrics::Counter,
    rejected_oversize: metrics::Counter,
    evictions_capacity: metrics::Counter,
    evictions_ttl: metrics::Counter,
    invalidations: metrics::Counter,
}

/// The counters outside the shards and the `metrics` handles. Hits, misses, insertions and
/// evictions are counted in each shard's [`Tally`]; `entries`/`bytes` are maintained here,
/// from changes made under the shard locks.
///
/// The `metrics` series are registered once, when the cache is built, through whatever
/// recorder is installed then (so install it first); looking a series up by name on every
/// event was a large share of a cache miss under callgrind.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) bypasses: Count,
    pub(crate) errors: Count,
    series: Series,
    entries: AtomicU64,
    bytes: AtomicU64,
    entries_gauge: metrics::Gauge,
    bytes_gauge: metrics::Gauge,
}

/// Names of the `metrics` series, all prefixed `wasm_sandbox_callopt_`.
pub(crate) mod names {
    pub(crate) const HITS: &str = "wasm_sandbox_callopt_hits_total";
    pub(crate) const MISSES: &str = "wasm_sandbox_callopt_misses_total";
    pub(crate) const COALESCED: &str = "wasm_sandbox_callopt_coalesced_total";
    pub(crate) const BYPASSES: &str = "wasm_sandbox_callopt_bypasses_total";
    pub(crate) const INSERTIONS: &str = "wasm_sandbox_callopt_insertions_total";
    pub(crate) const REPLACEMENTS: &str = "wasm_sandbox_callopt_replacements_total";
    pub(crate) const REJECTED: &str = "wasm_sandbox_callopt_rejected_oversize_total";
    pub(crate) const EVICTIONS: &str = "wasm_sandbox_callopt_evictions_total";
    pub(crate) const INVALIDATIONS: &str = "wasm_sandbox_callopt_invalidations_total";
    pub(crate) const ERRORS: &str = "wasm_sandbox_callopt_errors_total";
    pub(crate) const ENTRIES: &str = "wasm_sandbox_callopt_entries";
    pub(crate) const BYTES: &str = "wasm_sandbox_callopt_bytes";
}

impl Counters {
    /// Zeroed counters, with their `metrics` series registered now.
    pub(crate) fn new() -> Self {
        use metrics::counter;
        Counters {
            bypasses: Count::new(counter!(names::BYPASSES)),
            errors: Count::new(counter!(names::ERRORS)),
            series: Series {
                hits: counter!(names::HITS),
                misses: counter!(names::MISSES),
                coalesced: counter!(names::COALESCED),
                insertions: counter!(names::INSERTIONS),
                replacements: counter!(names::REPLACEMENTS),
                rejected_oversize: counter!(names::REJECTED),
                evictions_capacity: counter!(names::EVICTIONS, "cause" => "capacity"),
                evictions_ttl: counter!(names::EVICTIONS, "cause" => "ttl"),
                invalidations: counter!(names::INVALIDATIONS),
            },
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            entries_gauge: metrics::gauge!(names::ENTRIES),
            bytes_gauge: metrics::gauge!(names::BYTES),
        }
    }

    /// Publishes what one shard operation did (already added to the shard's tally): the
    /// `metrics` series, and the cache's size when it changed.
    pub(crate) fn publish(&self, t: &Tally, entries_delta: i64, bytes_delta: i64) {
        let s = &self.series;
        // One test per count (a hit touches one): no array of pairs built per call.
        let bump = |series: &metrics::Counter, n: u64| {
            if n != 0 {
                series.increment(n);
            }
        };
        bump(&s.hits, t.hits);
        bump(&s.misses, t.misses);
        bump(&s.coalesced, t.coalesced);
        bump(&s.insertions, t.insertions);
        bump(&s.replacements, t.replacements);
        bump(&s.rejected_oversize, t.rejected_oversize);
        bump(&s.evictions_capacity, t.evictions_capacity);
        bump(&s.evictions_ttl, t.evictions_ttl);
        bump(&s.invalidations, t.invalidations);
        if entries_delta == 0 && bytes_delta == 0 {
            return;
        }
        let entries = add_signed(&self.entries, entries_delta);
        let bytes = add_signed(&self.bytes, bytes_delta);
        #[allow(clippy::cast_precision_loss)]
        {
            self.entries_gauge.set(entries as f64);
            self.bytes_gauge.set(bytes as f64);
        }
    }

    /// The stats, given the sum of the shards' tallies.
    pub(crate) fn snapshot(&self, t: &Tally) -> CallOptStats {
        CallOptStats {
            hits: t.hits,
            misses: t.misses,
            coalesced: t.coalesced,
            bypasses: self.bypasses.get(),
            insertions: t.insertions,
            replacements: t.replacements,
            rejected_oversize: t.rejected_oversize,
            evictions_capacity: t.evictions_capacity,
            evictions_ttl: t.evictions_ttl,
            invalidations: t.invalidations,
            errors: self.errors.get(),
            entries: self.entries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
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
