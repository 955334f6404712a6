//! Counters, the [`CacheStats`] snapshot, and the `metrics` facade.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the cache's counters, from
/// [`CompilationCache::stats`](crate::CompilationCache::stats).
///
/// Every request ends as exactly one of a memory hit, a disk hit, or a miss, so
/// `memory_hits + disk_hits + misses` is the number of requests; a miss either compiles
/// (`compiles`) or fails (`compile_errors`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Requests served from the in-memory layer (including requests that waited for
    /// another thread compiling the same key).
    pub memory_hits: u64,
    /// Requests served by loading a verified artifact from disk.
    pub disk_hits: u64,
    /// Requests that had to compile.
    pub misses: u64,
    /// Successful compilations.
    pub compiles: u64,
    /// Compilations that failed (invalid modules).
    pub compile_errors: u64,
    /// Artifacts evicted from disk to respect the size bound.
    pub evictions: u64,
    /// Modules evicted from the in-memory layer.
    pub memory_evictions: u64,
    /// Artifacts found truncated, corrupted, foreign or stale, and removed.
    pub corrupt_removed: u64,
    /// Artifacts that could not be written (disk full, directory became read-only, ...).
    pub store_failures: u64,
    /// Temporary files of dead writers removed.
    pub temp_files_removed: u64,
    /// Entries with one of the cache's names that the cache did not create (symlinks,
    /// FIFOs, sockets, devices, directories, other users' files), left alone: counted
    /// each time a scan (open, verify, clear), a lookup or a store meets one.
    pub skipped_entries: u64,
    /// Times the cache directory's lock was held by another process past
    /// [`CacheConfig::lock_timeout`](crate::CacheConfig::lock_timeout), and the operation
    /// went ahead without it.
    pub lock_timeouts: u64,
    /// Bytes of artifacts and headers on disk, as this process's index knows them.
    pub bytes_on_disk: u64,
    /// Entries on disk, as this process's index knows them.
    pub entries_on_disk: usize,
    /// Modules in the in-memory layer.
    pub memory_entries: usize,
    /// Approximate bytes of the modules in the in-memory layer (their code images).
    pub memory_bytes: u64,
    /// Total time spent compiling.
    pub compile_time: Duration,
    /// Total time spent loading artifacts from disk, verification included.
    pub load_time: Duration,
    /// Whether the disk layer is in use (`false`: compile-only, see
    /// [`CompilationCache::open`](crate::CompilationCache::open)).
    pub disk_enabled: bool,
    /// Whether a remote tier is in use (feature `remote`).
    pub remote_enabled: bool,
    /// Requests served by an artifact fetched from the remote store, verified, written to
    /// disk and loaded from there (so also counted in `disk_hits`).
    pub remote_hits: u64,
    /// Requests that went to the remote store and compiled (also counted in `misses`).
    pub remote_misses: u64,
    /// Remote objects refused: truncated, corrupted, too large, of another key or engine,
    /// without a valid MAC when an integrity key is configured. Never loaded, never
    /// deleted; the request compiled.
    pub remote_verify_failures: u64,
    /// Remote operations that failed or timed out (the request compiled), and
    /// publications that failed.
    pub remote_errors: u64,
    /// Bytes of remote objects fetched.
    pub remote_bytes_fetched: u64,
    /// Total time spent fetching from the remote store (retries included).
    pub remote_fetch_time: Duration,
    /// Requests that waited for another host compiling the same key (its lease).
    pub remote_lease_waits: u64,
    /// Total time spent in those waits.
    pub remote_lease_wait_time: Duration,
    /// Artifacts this cache published to the remote store.
    pub remote_published: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) memory_hits: AtomicU64,
    pub(crate) disk_hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) compiles: AtomicU64,
    pub(crate) compile_errors: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) memory_evictions: AtomicU64,
    pub(crate) corrupt_removed: AtomicU64,
    pub(crate) store_failures: AtomicU64,
    pub(crate) temp_files_removed: AtomicU64,
    pub(crate) compile_nanos: AtomicU64,
    pub(crate) load_nanos: AtomicU64,
}

/// Adds `n` to a counter and to the `metrics` counter `name`.
pub(crate) fn bump(counter: &AtomicU64, name: &'static str, n: u64) {
    if n == 0 {
        return;
    }
    counter.fetch_add(n, Ordering::Relaxed);
    metrics::counter!(name).increment(n);
}

/// Adds a duration to a nanosecond counter and records it in the histogram `name`.
pub(crate) fn time(counter: &AtomicU64, name: &'static str, d: Duration) {
    counter.fetch_add(
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    metrics::histogram!(name).record(d.as_secs_f64());
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            memory_hits: get(&self.memory_hits),
            disk_hits: get(&self.disk_hits),
            misses: get(&self.misses),
            compiles: get(&self.compiles),
            compile_errors: get(&self.compile_errors),
            evictions: get(&self.evictions),
            memory_evictions: get(&self.memory_evictions),
            corrupt_removed: get(&self.corrupt_removed),
            store_failures: get(&self.store_failures),
            temp_files_removed: get(&self.temp_files_removed),
            compile_time: Duration::from_nanos(get(&self.compile_nanos)),
            load_time: Duration::from_nanos(get(&self.load_nanos)),
            ..CacheStats::default()
        }
    }
}
