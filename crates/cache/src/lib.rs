//! A content-addressed, crash-safe, bounded compilation cache for wasmtime modules.
//!
//! [`CompilationCache::get_or_compile`] turns WebAssembly bytes into a
//! [`wasmtime::Module`] as cheaply as it can:
//!
//! 1. **Memory**: a bounded map of compiled modules (entry count and approximate bytes;
//!    clones of a `Module` are cheap).
//! 2. **Disk**: raw [`wasmtime::Module::serialize`] artifacts, loaded with
//!    [`wasmtime::Module::deserialize_open_file`], which maps the file instead of copying
//!    it (several times faster than deserializing from bytes).
//! 3. **Compile**, then store the artifact in both layers.
//!
//! # Keys
//!
//! A [`CacheKey`] is a blake3 hash over the wasm bytes' [`WasmDigest`], the engine's
//! [`precompile_compatibility_hash`](wasmtime::Engine::precompile_compatibility_hash)
//! (Cranelift flags, target, features, tunables and wasmtime's version) and the caller's
//! [`CompileSettings`] (tier label, optimization level, target, extra pairs). An
//! artifact of another wasmtime version, configuration or tier has another key, and is
//! never loaded.
//!
//! # Integrity before trust
//!
//! Loading an artifact runs native code from disk, so nothing is deserialized before it
//! is verified. Each `<key>.cwasm` has a sidecar `<key>.meta` header (format version,
//! key, length, blake3 checksum of the artifact, and a checksum of the header itself;
//! see `docs/cache-format.md`). The reader opens the artifact once, checks ownership,
//! length and checksum on an mmap of that open file, and passes the same handle to
//! wasmtime, so no one can swap the file in between. Truncated, bit-flipped, foreign or
//! stale entries are removed and recompiled; the call still succeeds, and
//! [`CacheStats::corrupt_removed`] counts it.
//!
//! The directory must not be writable by other users ([`CacheError::InsecureDirectory`]),
//! sticky shared directories such as `/tmp` included unless the embedder opts in with
//! [`CacheConfig::allow_shared_sticky_directory`]; a missing one is created with mode
//! `0o700`; one that cannot be written makes the cache degrade to compile-only with a
//! `tracing` warning.
//!
//! # Hostile directory entries
//!
//! The directory is opened once and every file is opened relative to that handle, never
//! following a symlink and never blocking (`O_NOFOLLOW | O_NONBLOCK`), then judged by
//! `fstat` of the open handle: only regular files owned by the effective user are read,
//! and only those not writable by others are loaded. Anything else under one of the
//! cache's names (a symlink, FIFO, socket, device, directory, another user's file) is a
//! [`SkippedEntry`]: scans never open it, lookups treat it as a miss, and nothing ever
//! replaces or removes it. [`CacheStats::skipped_entries`] counts them and
//! [`VerifyReport::skipped`] lists them. The directory lock is waited for at most
//! [`CacheConfig::lock_timeout`], so a process holding it cannot stall the cache either.
//!
//! # Crash safety and concurrency
//!
//! Files are written to a temporary file (prefix `.wsc-tmp-`) in the cache directory,
//! fsynced, and renamed into place; the two renames of a pair happen under an exclusive
//! `flock` of the directory and readers take a shared one, so processes sharing the
//! directory always see matching pairs and any number of writers leave one valid entry.
//! A writer that dies leaves only its temporary file, which the next
//! [`CompilationCache::open`] removes. Within a process, concurrent requests for one key
//! compile once.
//!
//! Files are only replaced by rename and removed by unlink, never changed in place, so a
//! module loaded from an artifact stays valid after the artifact is evicted.
//!
//! # Bounded size
//!
//! [`CacheConfig::max_cache_size`] bounds the bytes on disk; inserts evict first
//! ([`EvictionPolicy::Lru`] or [`EvictionPolicy::Lfu`]), using an in-process
//! [`EvictionIndex`] rebuilt from the directory on open. Other processes sharing the
//! directory keep their own index, so with several writers the bound holds per process
//! and is restored by the next open.
//!
//! # Remote tier (feature `remote`)
//!
//! [`CacheConfig::remote`] adds a third layer under the disk, on object storage shared by
//! a fleet (`s3://`, `gs://`, `az://`, `file://`, `memory://`, through the
//! `object_store` crate): a key missing from memory and disk is fetched, verified as a
//! disk entry is (header, key, length, blake3, and a keyed MAC when the fleet has an
//! integrity key), written to disk by temporary file and rename, and loaded from there.
//! Compiled artifacts are published put-if-absent; a lease object makes one host of the
//! fleet compile a cold key while the others wait for its artifact. Remote failures and
//! timeouts are counted misses: the module is compiled here. See `docs/remote-cache.md`.
//!
//! # Parallel compilation
//!
//! Within one module, wasmtime compiles functions in parallel when the engine's
//! [`wasmtime::Config::parallel_compilation`] is on; the caller owns that setting.
//! Across modules, [`CompilationCache::compile_many`] runs a scoped thread pool.
//!
//! # Metrics
//!
//! Besides [`CompilationCache::stats`], the cache reports through the `metrics` facade:
//! counters `wasm_sandbox_cache_{memory_hits,disk_hits,misses,compiles,compile_errors,
//! evictions,memory_evictions,corrupt_removed,store_failures,temp_files_removed,
//! skipped_entries,lock_timeouts}_total`,
//! histograms `wasm_sandbox_cache_compile_seconds` and `wasm_sandbox_cache_load_seconds`,
//! and gauges `wasm_sandbox_cache_disk_bytes` and `wasm_sandbox_cache_disk_entries`. With
//! the remote tier: counters `wasm_sandbox_cache_remote_{hits,misses,verify_failures,errors,
//! lease_waits,published,fetched_bytes}_total` and histograms
//! `wasm_sandbox_cache_remote_fetch_seconds` and `wasm_sandbox_cache_remote_lease_wait_seconds`.
//!
//! # Example
//!
//! ```
//! use wasm_sandbox_cache::{CacheConfig, CompilationCache, CompileSettings};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let cache = CompilationCache::open(CacheConfig::new(dir.path().join("cache")))?;
//! let engine = wasmtime::Engine::default();
//! let wat = br#"(module (func (export "answer") (result i32) i32.const 42))"#;
//! let settings = CompileSettings::new("optimized");
//!
//! let module = cache.get_or_compile(&engine, wat, &settings)?; // compiles
//! let again = cache.get_or_compile(&engine, wat, &settings)?; // from memory
//! cache.clear_memory();
//! let loaded = cache.get_or_compile(&engine, wat, &settings)?; // from disk
//!
//! let stats = cache.stats();
//! assert_eq!((stats.compiles, stats.memory_hits, stats.disk_hits), (1, 1, 1));
//!
//! let mut store = wasmtime::Store::new(&engine, ());
//! let instance = wasmtime::Instance::new(&mut store, &loaded, &[])?;
//! let answer = instance.get_typed_func::<(), i32>(&mut store, "answer")?;
//! assert_eq!(answer.call(&mut store, ())?, 42);
//! # drop((module, again));
//! # Ok(())
//! # }
//! ```
#![allow(
    unsafe_code,
    reason = "loading a cached artifact needs wasmtime's unsafe `Module::deserialize_open_file`, \
              called in one place after the artifact's checksum was verified; and the hashing \
              helper thread reads a borrowed slice that its caller keeps alive until it replies"
)]

mod cache;
mod disk;
mod error;
mod format;
mod hash;
pub mod index;
mod key;
mod memory;
#[cfg(feature = "remote")]
mod remote;
mod stats;
mod sys;

use std::path::PathBuf;

pub use cache::{CacheConfig, CompilationCache};
pub use error::CacheError;
pub use index::{EvictionIndex, EvictionPolicy};
pub use key::{CacheKey, CompileSettings, WasmDigest};
/// The `object_store` crate the remote tier is built on, for
/// [`RemoteConfig::store`] (feature `remote`).
#[cfg(feature = "remote")]
pub use object_store;
#[cfg(feature = "remote")]
pub use remote::{KEY_ENV, KEY_FILE_ENV, RemoteConfig, RemoteEngine, RemoteListing};
pub use stats::CacheStats;

/// The platform's per-user cache directory joined with `wasm-sandbox` (for example
/// `~/.cache/wasm-sandbox` on Linux), or `None` where the platform has none.
pub fn default_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("wasm-sandbox"))
}

/// What [`CompilationCache::verify`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Complete entries (artifact and header) checked.
    pub checked: usize,
    /// Entries that passed every check.
    pub valid: usize,
    /// Files removed, with the reason.
    pub removed: Vec<RemovedArtifact>,
    /// Entries with one of the cache's names that are not regular files of ours, left
    /// alone (not opened, not removed); for the operator to look at.
    pub skipped: Vec<SkippedEntry>,
    /// Temporary files of dead writers removed.
    pub temp_files_removed: u64,
}

/// One file removed by [`CompilationCache::verify`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RemovedArtifact {
    /// The removed file.
    pub path: PathBuf,
    /// Why it was removed.
    pub reason: String,
}

/// A directory entry with one of the cache's names (`<key>.cwasm`, `<key>.meta`,
/// `.wsc-tmp-*`) that the cache did not create, found by a scan, a lookup or a store.
///
/// The cache never reads, maps, follows, replaces or removes such an entry: it is skipped
/// (its key is a miss, and is not stored while the entry is there), counted in
/// [`CacheStats::skipped_entries`](crate::CacheStats::skipped_entries) and, by
/// [`CompilationCache::verify`], listed in [`VerifyReport::skipped`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SkippedEntry {
    /// The entry's path (never resolved: for a symlink, the link itself).
    pub path: PathBuf,
    /// What it is.
    pub reason: SkipReason,
}

/// Why a [`SkippedEntry`] was left alone: what the entry is, as `fstat` of its open handle
/// or `lstat` of its name (symlinks never followed) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A symbolic link (whatever it points to).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character or block device.
    Device,
    /// A directory.
    Directory,
    /// A file of some other type.
    OtherFileType,
    /// A regular file owned by another user.
    OwnedByAnotherUser,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Symlink => "symbolic link",
            SkipReason::Fifo => "FIFO",
            SkipReason::Socket => "socket",
            SkipReason::Device => "device node",
            SkipReason::Directory => "directory",
            SkipReason::OtherFileType => "file of an unknown type",
            SkipReason::OwnedByAnotherUser => "file owned by another user",
        })
    }
}
