//! [`CompilationCache`] and its [`CacheConfig`].

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;
use wasmtime::{Engine, Module};

use crate::disk::{DiskLayer, DiskOptions, Lookup};
use crate::index::EvictionPolicy;
use crate::memory::MemoryLayer;
use crate::stats::{Counters, bump, time};
use crate::{
    CacheError, CacheKey, CacheStats, CompileSettings, VerifyReport, WasmDigest, default_cache_dir,
};

/// How a [`CompilationCache`] is set up. Built with chained setters:
///
/// ```
/// use wasm_sandbox_cache::{CacheConfig, EvictionPolicy};
/// let config = CacheConfig::new("/var/cache/my-app/wasm")
///     .max_cache_size(256 << 20)
///     .eviction_policy(EvictionPolicy::Lfu)
///     .memory_max_entries(64);
/// assert_eq!(config.directory().unwrap().to_str(), Some("/var/cache/my-app/wasm"));
/// ```
#[derive(Clone, Debug)]
pub struct CacheConfig {
    directory: Option<PathBuf>,
    max_cache_size: u64,
    eviction_policy: EvictionPolicy,
    memory_max_entries: usize,
    memory_max_bytes: u64,
    allow_shared_sticky_directory: bool,
    lock_timeout: Duration,
    abort_after_temp_write: bool,
    /// The remote tier; its setters are in `remote/mod.rs`.
    #[cfg(feature = "remote")]
    pub(crate) remote: Option<crate::RemoteConfig>,
}

impl Default for CacheConfig {
    /// The same as [`CacheConfig::with_default_directory`].
    fn default() -> Self {
        Self::with_default_directory()
    }
}

impl CacheConfig {
    /// The default of [`CacheConfig::lock_timeout`]: 5 seconds.
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

    /// A cache with both layers, its disk layer in `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        CacheConfig {
            directory: Some(directory.into()),
            ..Self::in_memory()
        }
    }

    /// A cache on [`default_cache_dir()`], or in memory only on a platform without a
    /// user cache directory.
    pub fn with_default_directory() -> Self {
        CacheConfig {
            directory: default_cache_dir(),
            ..Self::in_memory()
        }
    }

    /// A cache with the in-memory layer only.
    pub fn in_memory() -> Self {
        CacheConfig {
            directory: None,
            max_cache_size: 512 << 20,
            eviction_policy: EvictionPolicy::Lru,
            memory_max_entries: 256,
            memory_max_bytes: 256 << 20,
            allow_shared_sticky_directory: false,
            lock_timeout: Self::DEFAULT_LOCK_TIMEOUT,
            abort_after_temp_write: false,
            #[cfg(feature = "remote")]
            remote: None,
        }
    }

    /// The bound, in bytes, on the artifacts and headers on disk. Enforced on every
    /// insert by evicting first; an artifact larger than the bound is not stored.
    /// Default: 512 MiB.
    pub fn max_cache_size(mut self, bytes: u64) -> Self {
        self.max_cache_size = bytes;
        self
    }

    /// Which artifact the disk layer evicts when full. Default: [`EvictionPolicy::Lru`].
    /// (The in-memory layer is always LRU.)
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.eviction_policy = policy;
        self
    }

    /// The most modules the in-memory layer holds; 0 disables it. Default: 256.
    pub fn memory_max_entries(mut self, entries: usize) -> Self {
        self.memory_max_entries = entries;
        self
    }

    /// The bound, in bytes of code images, on the in-memory layer. Default: 256 MiB.
    pub fn memory_max_bytes(mut self, bytes: u64) -> Self {
        self.memory_max_bytes = bytes;
        self
    }

    /// Whether a *sticky* directory that other users can write (mode `1777` or `1770`,
    /// such as `/tmp` itself) is accepted as the cache directory. Default: `false`, and
    /// [`CompilationCache::open`] refuses one with [`CacheError::InsecureDirectory`].
    /// Prefer a private subdirectory (created with mode `0700`) to this switch.
    ///
    /// This does not accept a directory that others can write without the sticky bit,
    /// nor one owned by another user (other than root): those are always refused, since
    /// whoever can rename or remove our files there could swap them.
    ///
    /// In an accepted sticky directory, a user who can write it **can**:
    ///
    /// * plant entries under any of the cache's names (`<key>.cwasm`, `<key>.meta`,
    ///   `.wsc-tmp-*`; keys are derived from public inputs, so they can be predicted):
    ///   files of their own, symlinks, FIFOs, sockets, directories. Each is skipped
    ///   ([`SkippedEntry`](crate::SkippedEntry)): its key is a miss and is compiled again
    ///   in every process, and never stored while the entry is there. That costs compile
    ///   time, nothing else;
    /// * fill the directory or the disk, so that stores fail (counted in
    ///   [`CacheStats::store_failures`]), and slow down the scan on open with many
    ///   entries;
    /// * list the directory, and so learn which keys (module, engine and settings
    ///   hashes) are cached, with their sizes and times (the files themselves are mode
    ///   `0600`: their contents cannot be read);
    /// * hold the directory's `flock` (anyone who can open the directory can), which makes
    ///   lookups that miss, stores, scans and clears wait up to
    ///   [`CacheConfig::lock_timeout`] each and then go on without the lock;
    /// * if the kernel does not protect hard links (`fs.protected_hardlinks = 0`), link
    ///   our own files under other names: a header names its key and the artifact's
    ///   checksum, so such a link either loads the artifact we wrote for that very key
    ///   or is removed as corrupt.
    ///
    /// They **cannot**: make the cache load anything they wrote (a file must be owned by
    /// the effective user and not writable by others, checked by `fstat` on the handle
    /// that is then checksummed and given to wasmtime; headers and artifacts are checked
    /// against each other and the key before anything is deserialized), remove, rename
    /// or replace the cache's files (the sticky bit), make the cache follow a symlink
    /// (nothing is opened with symlinks followed), block on a FIFO (files are opened
    /// non-blocking and checked before they are read), or make it remove or replace
    /// anything of theirs (the cache only ever unlinks regular files it owns, and does
    /// not rename over an entry that is not ours: checked just before the rename, and
    /// for a cache not running as root, forbidden by the sticky bit anyway).
    pub fn allow_shared_sticky_directory(mut self, allow: bool) -> Self {
        self.allow_shared_sticky_directory = allow;
        self
    }

    /// How long an operation waits for the cache directory's `flock` while another
    /// process holds it, before going on without it (logged, and counted in
    /// [`CacheStats::lock_timeouts`]). Default: [`CacheConfig::DEFAULT_LOCK_TIMEOUT`].
    ///
    /// The lock keeps readers in other processes from seeing half-replaced entries; it
    /// is held for a few renames, or for one scan of the directory. Going on without it
    /// is safe (a half-replaced entry fails its checksum and is recompiled), so a process
    /// that holds it forever (a stopped process, or anyone else who can open the
    /// directory) slows the cache down but never stalls it. Lookups that find a verified
    /// entry take no lock at all. Threads of one process wait for each other without a
    /// timeout (each holds the lock only briefly).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Fault injection for crash-safety tests: abort the process after the first
    /// temporary file of a store is written. Not part of the stable API.
    #[doc(hidden)]
    pub fn abort_after_temp_write_for_tests(mut self, abort: bool) -> Self {
        self.abort_after_temp_write = abort;
        self
    }

    /// The disk layer's directory, if any.
    pub fn directory(&self) -> Option<&Path> {
        self.directory.as_deref()
    }
}

/// One in-flight compilation: the first requester fills it, the others wait on it.
type Slot = Arc<Mutex<Option<Module>>>;

/// A two-layer, content-addressed cache of compiled modules. See the
/// [crate documentation](crate) for the design.
///
/// `CompilationCache` is `Send + Sync`; share one per process through an `Arc`.
pub struct CompilationCache {
    config: CacheConfig,
    memory: MemoryLayer,
    disk: Option<DiskLayer>,
    inflight: DashMap<CacheKey, Slot>,
    counters: Counters,
    #[cfg(feature = "remote")]
    pub(crate) remote: Option<crate::remote::RemoteTier>,
}

impl std::fmt::Debug for CompilationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompilationCache")
            .field("config", &self.config)
            .field("disk_enabled", &self.disk.is_some())
            .finish_non_exhaustive()
    }
}

impl CompilationCache {
    /// Opens a cache.
    ///
    /// With a directory configured: a missing directory is created with mode `0o700`;
    /// dead temporary files and half-written entries are removed; the index is rebuilt
    /// from the artifacts present, evicting beyond [`CacheConfig::max_cache_size`]. If
    /// the directory cannot be created or written, the cache logs a `tracing` warning and
    /// runs compile-only (with its in-memory layer): every call still works.
    ///
    /// # Errors
    ///
    /// [`CacheError::InsecureDirectory`] if other users can write to the directory (a
    /// sticky one such as `/tmp` included, unless
    /// [`CacheConfig::allow_shared_sticky_directory`] is set) or another user owns it;
    /// [`CacheError::NotADirectory`] if the path is a file (or a FIFO, or anything else
    /// but a directory); [`CacheError::Io`] if the opened directory cannot be `fstat`ed.
    /// Problems with the entries inside are fixed, not reported: entries that the cache
    /// did not create (symlinks, FIFOs, sockets, devices, directories, other users' files
    /// under the cache's names) are skipped without being opened, and counted in
    /// [`CacheStats::skipped_entries`].
    pub fn open(config: CacheConfig) -> Result<Self, CacheError> {
        let counters = Counters::default();
        let disk = match &config.directory {
            None => None,
            Some(dir) => {
                let (disk, cleanup) = DiskLayer::open(
                    dir,
                    DiskOptions {
                        policy: config.eviction_policy,
                        max_bytes: config.max_cache_size,
                        abort_after_temp_write: config.abort_after_temp_write,
                        allow_shared_sticky_directory: config.allow_shared_sticky_directory,
                        lock_timeout: config.lock_timeout,
                    },
                )?;
                bump(
                    &counters.temp_files_removed,
                    "wasm_sandbox_cache_temp_files_removed_total",
                    cleanup.temp_files_removed,
                );
                bump(
                    &counters.evictions,
                    "wasm_sandbox_cache_evictions_total",
                    cleanup.evicted,
                );
                for removed in &cleanup.removed {
                    tracing::warn!(path = %removed.path.display(), reason = %removed.reason, "removed a broken cache entry");
                }
                bump(
                    &counters.corrupt_removed,
                    "wasm_sandbox_cache_corrupt_removed_total",
                    cleanup.removed.len() as u64,
                );
                disk
            }
        };
        let memory = MemoryLayer::new(
            EvictionPolicy::Lru,
            config.memory_max_bytes,
            config.memory_max_entries,
        );
        #[cfg(feature = "remote")]
        let remote = crate::remote::RemoteTier::open_for(&config, disk.is_some())?;
        let cache = CompilationCache {
            config,
            memory,
            disk,
            inflight: DashMap::new(),
            counters,
            #[cfg(feature = "remote")]
            remote,
        };
        cache.publish_gauges();
        Ok(cache)
    }

    /// The configuration the cache was opened with.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The disk layer's directory, or `None` when the cache is in memory only or
    /// degraded to compile-only.
    pub fn directory(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir())
    }

    /// Whether the disk layer is in use.
    pub fn is_disk_enabled(&self) -> bool {
        self.disk.is_some()
    }

    /// Returns the module compiled from `wasm` (binary or, with wasmtime's `wat` feature,
    /// text) by `engine` with `settings`: from memory, else from a verified artifact on
    /// disk, else by compiling it (and storing the artifact).
    ///
    /// Concurrent calls for the same key in this process compile once; the others wait
    /// for the result. Bad artifacts are removed and recompiled; failures to write the
    /// disk layer are logged and counted, never returned.
    ///
    /// Function-level parallelism inside one compilation is wasmtime's
    /// [`wasmtime::Config::parallel_compilation`], set by whoever built `engine`.
    ///
    /// # Errors
    ///
    /// [`CacheError::Compile`] if the module is invalid or cannot be compiled.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        settings: &CompileSettings,
    ) -> Result<Module, CacheError> {
        self.get_or_compile_digest(engine, wasm, &WasmDigest::of(wasm), settings)
    }

    /// [`get_or_compile`](Self::get_or_compile) for a caller that already has the wasm
    /// bytes' [`WasmDigest`] (`blake3::hash(wasm)`), which saves hashing them again: about
    /// 0.1 ms per MB of wasm.
    ///
    /// `digest` must be the digest of `wasm`; a wrong one files the module under another
    /// module's key (checked in debug builds).
    ///
    /// # Errors
    ///
    /// As [`get_or_compile`](Self::get_or_compile).
    pub fn get_or_compile_digest(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &WasmDigest,
        settings: &CompileSettings,
    ) -> Result<Module, CacheError> {
        debug_assert_eq!(*digest, WasmDigest::of(wasm), "digest of other wasm bytes");
        self.get_or_compile_with(engine, digest, settings, || {
            Ok::<_, CacheError>(Cow::Borrowed(wasm))
        })
    }

    /// [`get_or_compile_digest`](Self::get_or_compile_digest) for wasm that is costly to
    /// produce and derived from something the caller can name: the bytes come from
    /// `wasm`, which runs only on a miss of both layers (once per key in this process:
    /// concurrent callers wait for it). `digest` and `settings` are the key, and must
    /// identify the bytes `wasm` would produce: a pre-initialized snapshot is filed under
    /// its original module's digest with the init step in `settings`, so a restarted
    /// process finds it without producing it again.
    ///
    /// # Errors
    ///
    /// `wasm`'s own error, unchanged, or a [`CacheError`] (converted) as from
    /// [`get_or_compile`](Self::get_or_compile). Nothing is stored when either fails.
    pub fn get_or_compile_with<'w, E: From<CacheError>>(
        &self,
        engine: &Engine,
        digest: &WasmDigest,
        settings: &CompileSettings,
        wasm: impl FnOnce() -> Result<Cow<'w, [u8]>, E>,
    ) -> Result<Module, E> {
        let key = CacheKey::from_digest(engine, digest, settings);
        if let Some(module) = self.memory.get(&key) {
            bump(
                &self.counters.memory_hits,
                "wasm_sandbox_cache_memory_hits_total",
                1,
            );
            return Ok(module);
        }

        let slot: Slot = self.inflight.entry(key).or_default().clone();
        let mut filled = slot.lock();
        let found = filled.clone().or_else(|| self.memory.get(&key));
        let result = match found {
            Some(module) => {
                bump(
                    &self.counters.memory_hits,
                    "wasm_sandbox_cache_memory_hits_total",
                    1,
                );
                Ok(module)
            }
            None => {
                let result = self.load_or_compile(engine, &key, wasm);
                if let Ok(module) = &result {
                    *filled = Some(module.clone());
                    let evicted = self.memory.insert(key, module.clone());
                    bump(
                        &self.counters.memory_evictions,
                        "wasm_sandbox_cache_memory_evictions_total",
                        evicted,
                    );
                }
                result
            }
        };
        drop(filled);
        self.inflight.remove_if(&key, |_, s| Arc::ptr_eq(s, &slot));
        result
    }

    /// Whether [`get_or_compile`](Self::get_or_compile) would find this module without
    /// compiling it: in memory, or as a complete entry (artifact and header) on disk.
    ///
    /// Cheap (a hash of `wasm`, a map lookup and at most two `lstat` calls: a symlink is
    /// not an entry) and read-only:
    /// it neither verifies nor loads the artifact, and does not count as a hit. An entry
    /// found here that later fails verification is removed and recompiled by
    /// `get_or_compile`, as always. The tiering crate uses this to start a restarted
    /// process on its best cached tier.
    pub fn contains(&self, engine: &Engine, wasm: &[u8], settings: &CompileSettings) -> bool {
        self.contains_digest(engine, &WasmDigest::of(wasm), settings)
    }

    /// [`contains`](Self::contains) by the wasm bytes' [`WasmDigest`].
    pub fn contains_digest(
        &self,
        engine: &Engine,
        digest: &WasmDigest,
        settings: &CompileSettings,
    ) -> bool {
        let key = CacheKey::from_digest(engine, digest, settings);
        self.memory.contains(&key) || self.disk.as_ref().is_some_and(|d| d.contains(&key))
    }

    fn load_or_compile<'w, E: From<CacheError>>(
        &self,
        engine: &Engine,
        key: &CacheKey,
        wasm: impl FnOnce() -> Result<Cow<'w, [u8]>, E>,
    ) -> Result<Module, E> {
        if let Some(disk) = &self.disk
            && let Some(module) = self.load_from_disk(disk, engine, key)
        {
            return Ok(module);
        }
        #[cfg(feature = "remote")]
        let lease = match self.load_from_remote(engine, key) {
            Ok(module) => return Ok(module),
            Err(lease) => lease,
        };

        bump(&self.counters.misses, "wasm_sandbox_cache_misses_total", 1);
        let wasm = wasm()?;
        let wasm = &*wasm;
        let start = Instant::now();
        let compiled = Module::new(engine, wasm);
        time(
            &self.counters.compile_nanos,
            "wasm_sandbox_cache_compile_seconds",
            start.elapsed(),
        );
        let module = match compiled {
            Ok(m) => m,
            Err(e) => {
                bump(
                    &self.counters.compile_errors,
                    "wasm_sandbox_cache_compile_errors_total",
                    1,
                );
                // wasmtime reads anything without the binary magic as WAT text.
                let message = if !wasm.starts_with(b"\0asm") && std::str::from_utf8(wasm).is_err() {
                    "neither a WebAssembly binary (no `\\0asm` header) nor WAT text (not UTF-8)"
                        .into()
                } else {
                    format!("{e:#}")
                };
                return Err(CacheError::Compile { message }.into());
            }
        };
        bump(
            &self.counters.compiles,
            "wasm_sandbox_cache_compiles_total",
            1,
        );

        if let Some(disk) = &self.disk {
            let stored = module
                .serialize()
                .map_err(|e| format!("cannot serialize the module: {e:#}"))
                .and_then(|bytes| {
                    #[cfg(feature = "remote")]
                    self.publish_remote(engine, key, &bytes, lease);
                    disk.store(key, &bytes).map_err(|e| e.to_string())
                });
            match stored {
                Ok(stored) => {
                    bump(
                        &self.counters.evictions,
                        "wasm_sandbox_cache_evictions_total",
                        stored.evicted,
                    );
                    if !stored.written {
                        tracing::debug!(%key, "artifact larger than the cache bound; not stored");
                    }
                }
                Err(error) => {
                    bump(
                        &self.counters.store_failures,
                        "wasm_sandbox_cache_store_failures_total",
                        1,
                    );
                    tracing::warn!(%key, %error, "cannot store a compiled artifact; continuing without it");
                }
            }
            self.publish_gauges();
        }
        Ok(module)
    }

    fn load_from_disk(&self, disk: &DiskLayer, engine: &Engine, key: &CacheKey) -> Option<Module> {
        let start = Instant::now();
        let (file, size) = match disk.lookup(key) {
            Ok(Lookup::Found(file, size)) => (file, size),
            Ok(Lookup::Missing) => return None,
            Ok(Lookup::Corrupt(reason)) => {
                self.discard(disk, key, &reason);
                return None;
            }
            Ok(Lookup::Skipped(entry)) => {
                tracing::warn!(
                    %key,
                    path = %entry.path.display(),
                    reason = %entry.reason,
                    "an entry the cache did not create holds this key's name; left alone, compiling instead"
                );
                return None;
            }
            Err(error) => {
                tracing::warn!(%key, %error, "cannot read the cache; compiling instead");
                return None;
            }
        };
        // SAFETY: `deserialize_open_file` trusts its input to be an unmodified artifact
        // from `Module::serialize` of this wasmtime version, and needs the file to stay
        // unchanged while the module lives. Both hold here:
        // - Integrity: `lookup` checked, on this very open handle (so no path race), that
        //   the file's length and blake3 checksum match the header, which itself carries a
        //   checksum and this entry's key. Headers are written only by this cache, right
        //   after `Module::serialize`, so the bytes are exactly what wasmtime produced.
        // - Provenance: the key covers the engine's `precompile_compatibility_hash` (its
        //   flags, target, features and wasmtime version), so an artifact from another
        //   engine configuration is never looked up under this key; wasmtime checks the
        //   embedded engine configuration again while deserializing.
        // - No tampering: `open` refused a directory that other users can write to (or,
        //   if the embedder allowed a sticky shared one, others cannot replace our files
        //   there), and every file was opened relative to that directory's handle without
        //   following a symlink; `lookup` refused, by `fstat` of this handle, anything but
        //   a regular file owned by us and not writable by others.
        // - Stability: the cache only ever replaces files by rename and removes them by
        //   unlink; neither changes the inode that wasmtime maps, so the mapping stays
        //   valid for the module's whole life, evicted or not.
        let loaded = unsafe { Module::deserialize_open_file(engine, file) };
        match loaded {
            Ok(module) => {
                time(
                    &self.counters.load_nanos,
                    "wasm_sandbox_cache_load_seconds",
                    start.elapsed(),
                );
                bump(
                    &self.counters.disk_hits,
                    "wasm_sandbox_cache_disk_hits_total",
                    1,
                );
                bump(
                    &self.counters.evictions,
                    "wasm_sandbox_cache_evictions_total",
                    disk.record_hit(key, size),
                );
                Some(module)
            }
            Err(e) => {
                self.discard(disk, key, &format!("wasmtime rejected the artifact: {e:#}"));
                None
            }
        }
    }

    fn discard(&self, disk: &DiskLayer, key: &CacheKey, reason: &str) {
        tracing::warn!(%key, reason, "removing a broken cache entry; it will be recompiled");
        disk.remove(key);
        bump(
            &self.counters.corrupt_removed,
            "wasm_sandbox_cache_corrupt_removed_total",
            1,
        );
    }

    /// Compiles (through the cache) every item on up to `threads` scoped threads
    /// (at least one), returning the results in the order of `items`.
    ///
    /// This parallelizes across modules; wasmtime's
    /// [`wasmtime::Config::parallel_compilation`] parallelizes across the functions of
    /// one module. With both on, keep `threads` small.
    ///
    /// # Errors
    ///
    /// Each item's result carries its own error, as from
    /// [`get_or_compile`](Self::get_or_compile), or [`CacheError::WorkerPanicked`].
    pub fn compile_many(
        &self,
        engine: &Engine,
        items: &[(&[u8], CompileSettings)],
        threads: usize,
    ) -> Vec<Result<Module, CacheError>> {
        let threads = threads.clamp(1, items.len().max(1));
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Result<Module, CacheError>>>> =
            items.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((wasm, settings)) = items.get(i) else {
                            break;
                        };
                        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            self.get_or_compile(engine, wasm, settings)
                        }))
                        .unwrap_or(Err(CacheError::WorkerPanicked));
                        *results[i].lock() = Some(result);
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|r| r.into_inner().unwrap_or(Err(CacheError::WorkerPanicked)))
            .collect()
    }

    /// A snapshot of the counters and sizes.
    pub fn stats(&self) -> CacheStats {
        let mut stats = self.counters.snapshot();
        let (entries, bytes) = self.memory.usage();
        stats.memory_entries = entries;
        stats.memory_bytes = bytes;
        if let Some(disk) = &self.disk {
            stats.bytes_on_disk = disk.bytes();
            stats.entries_on_disk = disk.entries();
            stats.skipped_entries = disk.skipped();
            stats.lock_timeouts = disk.lock_timeouts();
            stats.disk_enabled = true;
        }
        #[cfg(feature = "remote")]
        if let Some(remote) = &self.remote {
            remote.fill(&mut stats);
        }
        stats
    }

    /// Checks every artifact on disk (header, key, ownership, length, checksum), removes
    /// the bad ones and dead temporary files, and reports what it did, including the
    /// entries it left alone ([`VerifyReport::skipped`]: symlinks, FIFOs and other things
    /// the cache did not create, never opened). With no disk layer the report is empty.
    /// The index is rebuilt from the directory first, which also picks up entries other
    /// processes wrote (and resets recency to file age).
    ///
    /// # Errors
    ///
    /// [`CacheError::Io`] if an entry cannot be read for a reason other than its content.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let Some(disk) = &self.disk else {
            return Ok(VerifyReport::default());
        };
        let report = disk.verify()?;
        bump(
            &self.counters.corrupt_removed,
            "wasm_sandbox_cache_corrupt_removed_total",
            report.removed.len() as u64,
        );
        bump(
            &self.counters.temp_files_removed,
            "wasm_sandbox_cache_temp_files_removed_total",
            report.temp_files_removed,
        );
        self.publish_gauges();
        Ok(report)
    }

    /// Empties both layers. Modules already handed out stay valid. Entries the cache did
    /// not create are left in place (and counted in [`CacheStats::skipped_entries`]).
    ///
    /// # Errors
    ///
    /// [`CacheError::Io`] if the directory cannot be listed or a file of the cache cannot
    /// be removed.
    pub fn clear(&self) -> Result<(), CacheError> {
        self.memory.clear();
        if let Some(disk) = &self.disk {
            disk.clear()?;
        }
        self.publish_gauges();
        Ok(())
    }

    /// Empties the in-memory layer only, so the next request for each key loads from
    /// disk. Meant for benchmarks that time disk loads.
    pub fn clear_memory(&self) {
        self.memory.clear();
    }

    fn publish_gauges(&self) {
        if let Some(disk) = &self.disk {
            metrics::gauge!("wasm_sandbox_cache_disk_bytes").set(disk.bytes() as f64);
            metrics::gauge!("wasm_sandbox_cache_disk_entries").set(disk.entries() as f64);
        }
    }
}

/// The remote tier's hooks (feature `remote`; the tier itself is `remote/mod.rs`).
#[cfg(feature = "remote")]
impl CompilationCache {
    /// After a disk miss: the module from the remote tier, or what to compile with (this
    /// host's lease on the key, if it won one).
    fn load_from_remote(
        &self,
        engine: &Engine,
        key: &CacheKey,
    ) -> Result<Module, Option<crate::remote::LeaseGuard>> {
        let (Some(remote), Some(disk)) = (&self.remote, &self.disk) else {
            return Err(None);
        };
        let fingerprint = crate::key::engine_fingerprint(engine);
        match remote.obtain(&fingerprint, key, |artifact, checksum| {
            self.install_remote(disk, engine, key, artifact, checksum)
        }) {
            crate::remote::Obtained::Module(module) => Ok(module),
            crate::remote::Obtained::Compile(lease) => Err(lease),
        }
    }

    /// Writes a remote artifact (already checked against the key, its header's checksum
    /// and the MAC) into the disk layer by the usual temporary file and rename, then loads
    /// it exactly as a disk hit: verified again on the handle wasmtime maps.
    fn install_remote(
        &self,
        disk: &DiskLayer,
        engine: &Engine,
        key: &CacheKey,
        artifact: &[u8],
        checksum: [u8; 32],
    ) -> crate::remote::Installed<Module> {
        use crate::remote::Installed;
        match disk.store_with(key, artifact, crate::disk::Source::Fetched { checksum }) {
            Ok(stored) => {
                bump(
                    &self.counters.evictions,
                    "wasm_sandbox_cache_evictions_total",
                    stored.evicted,
                );
                self.publish_gauges();
                if !stored.written {
                    tracing::debug!(%key, "remote artifact larger than the disk bound; compiling instead");
                    return Installed::NotStored;
                }
            }
            Err(error) => {
                bump(
                    &self.counters.store_failures,
                    "wasm_sandbox_cache_store_failures_total",
                    1,
                );
                tracing::warn!(%key, %error, "cannot store a remote artifact on disk; compiling instead");
                return Installed::NotStored;
            }
        }
        match self.load_from_disk(disk, engine, key) {
            Some(module) => Installed::Loaded(module),
            None => Installed::Rejected,
        }
    }

    /// Publishes a freshly compiled artifact (in the background) and releases the lease.
    fn publish_remote(
        &self,
        engine: &Engine,
        key: &CacheKey,
        artifact: &[u8],
        lease: Option<crate::remote::LeaseGuard>,
    ) {
        if let Some(remote) = &self.remote {
            remote.publish(
                &crate::key::engine_fingerprint(engine),
                key,
                artifact,
                lease,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_sees_memory_and_disk_entries_without_counting_hits() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompilationCache::open(CacheConfig::new(dir.path().join("c"))).unwrap();
        let engine = Engine::default();
        let wat = br#"(module (func (export "f") (result i32) i32.const 7))"#;
        let baseline = CompileSettings::new("baseline");
        let optimized = CompileSettings::new("optimized");
        assert!(!cache.contains(&engine, wat, &baseline));
        cache.get_or_compile(&engine, wat, &baseline).unwrap();
        assert!(cache.contains(&engine, wat, &baseline), "in memory");
        assert!(
            !cache.contains(&engine, wat, &optimized),
            "the settings are part of the key"
        );
        cache.clear_memory();
        assert!(cache.contains(&engine, wat, &baseline), "on disk");
        let stats = cache.stats();
        assert_eq!(
            (stats.memory_hits, stats.disk_hits, stats.compiles),
            (0, 0, 1)
        );
        cache.clear().unwrap();
        assert!(!cache.contains(&engine, wat, &baseline), "cleared");

        let memory_only = CompilationCache::open(CacheConfig::in_memory()).unwrap();
        memory_only.get_or_compile(&engine, wat, &baseline).unwrap();
        assert!(memory_only.contains(&engine, wat, &baseline));
    }
}
