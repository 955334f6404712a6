//! The on-disk layer: artifacts and their headers in one private directory.
//!
//! Writers create a temporary file, fsync it, and rename it into place; the pair of
//! renames (`.cwasm` then `.meta`) happens under an exclusive `flock` of the directory,
//! and readers read the header and open the artifact under a shared one, so a reader in
//! any process sees a matching pair. After that the reader works on its open file handle
//! only: it maps it, checks its length and blake3 checksum against the header, and hands
//! that same handle to wasmtime.
//!
//! The directory is opened once, in [`DiskLayer::open`], and checked on that handle;
//! every file operation afterwards is relative to it ([`sys::Dir`]). Existing files are
//! opened with `O_NOFOLLOW | O_NONBLOCK` and judged by `fstat` of the handle before
//! anything reads or maps them. Entries with the cache's names that are not regular files
//! of ours (symlinks, FIFOs, sockets, devices, directories, other users' files) are
//! skipped and counted: a scan never opens them, a lookup is a miss, a store does not
//! replace them, and nothing removes them. No lock is waited for longer than the
//! configured timeout.

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use wasm_sandbox_mmap::MappedFile;

use crate::format::{ARTIFACT_EXT, META_EXT, META_LEN, Meta, TEMP_PREFIX};
use crate::index::{EvictionIndex, EvictionPolicy};
use crate::stats::bump;
use crate::sys::{self, FileInfo, Opened};
use crate::{CacheError, CacheKey, RemovedArtifact, SkipReason, SkippedEntry, VerifyReport};

/// Temporary files whose lock cannot be probed are removed after this long.
const UNPROBED_TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

/// The longest pause between two attempts to take a contended `flock`.
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(20);

/// How the disk layer is set up (from `CacheConfig`).
pub(crate) struct DiskOptions {
    pub(crate) policy: EvictionPolicy,
    pub(crate) max_bytes: u64,
    pub(crate) abort_after_temp_write: bool,
    pub(crate) allow_shared_sticky_directory: bool,
    pub(crate) lock_timeout: Duration,
}

pub(crate) struct DiskLayer {
    /// The configured path, for messages only: nothing is opened through it after `open`.
    path: PathBuf,
    dir: sys::Dir,
    index: Mutex<EvictionIndex<CacheKey>>,
    /// Threads of this process queue here (blocking, in order) before they contend for the
    /// directory's `flock` with other processes (polling, bounded by `lock_timeout`).
    local_lock: RwLock<()>,
    lock_timeout: Duration,
    abort_after_temp_write: bool,
    skipped: AtomicU64,
    lock_timeouts: AtomicU64,
}

/// The result of looking a key up on disk.
pub(crate) enum Lookup {
    /// A verified artifact, opened, with its size on disk (artifact plus header).
    Found(File, u64),
    /// No entry.
    Missing,
    /// An entry that must not be loaded, and why.
    Corrupt(String),
    /// One of the entry's names holds something the cache did not create: a miss, and the
    /// thing is left alone.
    Skipped(SkippedEntry),
}

/// Where a stored artifact comes from, which decides how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Compiled here: fsynced (the entry survives a crash; it is costly to make again).
    Compiled,
    /// Fetched from the remote tier and verified against a header whose artifact checksum
    /// is `checksum`: not fsynced (a crash can lose it, or leave a pair whose checksum
    /// fails and is removed; fetching again is cheap), and not hashed again for the new
    /// header (the load verifies the written file against it anyway).
    #[cfg_attr(
        not(feature = "remote"),
        allow(dead_code, reason = "used by the remote tier")
    )]
    Fetched {
        /// blake3 of the artifact, as the verified remote header gives it.
        checksum: [u8; 32],
    },
}

/// What a store did.
pub(crate) struct Stored {
    pub(crate) written: bool,
    pub(crate) evicted: u64,
}

/// What opening the directory (or a verify) cleaned up, and what it left alone.
#[derive(Default)]
pub(crate) struct Cleanup {
    pub(crate) temp_files_removed: u64,
    pub(crate) removed: Vec<RemovedArtifact>,
    pub(crate) skipped: Vec<SkippedEntry>,
    pub(crate) evicted: u64,
}

/// A lock on the cache directory, released on drop: this process's reader-writer lock
/// and, where it could be taken in time, a `flock` on the directory. Best effort: where
/// the platform or file system cannot lock, or another process holds the `flock` past the
/// timeout, the cache still works, with the rename order and the checksums as the only
/// protection against mismatched pairs.
struct DirLock<'a> {
    _flock: Option<File>,
    _shared: Option<RwLockReadGuard<'a, ()>>,
    _exclusive: Option<RwLockWriteGuard<'a, ()>>,
}

/// A temporary file of ours in the cache directory, unlinked on drop unless renamed into
/// place (or found no longer to be ours under its name).
struct TempFile<'a> {
    dir: &'a sys::Dir,
    name: String,
    file: File,
    linked: bool,
}

impl TempFile<'_> {
    fn persist(mut self, to: &str) -> io::Result<()> {
        self.dir.rename(&self.name, to)?;
        self.linked = false;
        Ok(())
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.linked {
            let _ = self.dir.unlink(&self.name);
        }
    }
}

/// What [`DiskLayer::remove_ours`] did.
enum Removal {
    Removed,
    Absent,
    /// Something the cache did not create: left alone.
    Foreign,
}

/// A fresh temporary file name: the prefix and 64 random bits (std's per-process random
/// hash keys), so that another user cannot predict it in a shared directory.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{TEMP_PREFIX}{:016x}", hasher.finish())
}

fn entry_names(key: &CacheKey) -> (String, String) {
    (format!("{key}.{ARTIFACT_EXT}"), format!("{key}.{META_EXT}"))
}

/// Takes a `flock` on `file`, trying without blocking and pausing between attempts (from
/// 0.2 ms, doubling, up to 20 ms) until `timeout` has passed. `Ok(false)`: timed out.
fn lock_within(file: &File, exclusive: bool, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now().checked_add(timeout);
    let mut pause = Duration::from_micros(200);
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(true),
            Err(fs::TryLockError::Error(e)) => return Err(e),
            Err(fs::TryLockError::WouldBlock) => {}
        }
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => pause,
        };
        if left.is_zero() {
            return Ok(false);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(MAX_LOCK_PAUSE);
    }
}

impl DiskLayer {
    /// Opens (creating if missing) the cache directory. `Ok(None)` means the directory
    /// cannot be used or written and the cache must run compile-only.
    pub(crate) fn open(
        path: &Path,
        options: DiskOptions,
    ) -> Result<(Option<DiskLayer>, Cleanup), CacheError> {
        let compile_only = |error: &dyn std::fmt::Display, what: &str| {
            tracing::warn!(dir = %path.display(), error = %error, "{what}; compiling without a disk cache");
            Ok((None, Cleanup::default()))
        };
        match fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => {
                return Err(CacheError::NotADirectory {
                    path: path.to_path_buf(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Err(e) = sys::create_private_dir(path) {
                    return compile_only(&e, "cannot create the compilation cache directory");
                }
            }
            Err(e) => return compile_only(&e, "cannot use the compilation cache directory"),
        }
        let dir = match sys::Dir::open(path) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(CacheError::NotADirectory {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return compile_only(&e, "cannot open the compilation cache directory"),
        };
        dir.check_secure(path, options.allow_shared_sticky_directory)?;

        // Probe: can we create files here?
        let probe = temp_name();
        match dir.create_new(&probe) {
            Ok(file) => {
                drop(file);
                let _ = dir.unlink(&probe);
            }
            Err(e) => {
                return compile_only(&e, "the compilation cache directory is not writable");
            }
        }

        let layer = DiskLayer {
            path: path.to_path_buf(),
            dir,
            index: Mutex::new(EvictionIndex::new(
                options.policy,
                options.max_bytes,
                usize::MAX,
            )),
            local_lock: RwLock::new(()),
            lock_timeout: options.lock_timeout,
            abort_after_temp_write: options.abort_after_temp_write,
            skipped: AtomicU64::new(0),
            lock_timeouts: AtomicU64::new(0),
        };
        let cleanup = layer.rebuild_index();
        Ok((Some(layer), cleanup))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.path
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.index.lock().total_bytes()
    }

    pub(crate) fn entries(&self) -> usize {
        self.index.lock().len()
    }

    /// Entries skipped so far (see [`SkippedEntry`]).
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Directory locks given up on after the lock timeout.
    pub(crate) fn lock_timeouts(&self) -> u64 {
        self.lock_timeouts.load(Ordering::Relaxed)
    }

    fn count_skipped(&self, n: usize) {
        bump(
            &self.skipped,
            "wasm_sandbox_cache_skipped_entries_total",
            n as u64,
        );
    }

    fn io(&self, name: &str, e: io::Error) -> CacheError {
        CacheError::io(self.path.join(name), e)
    }

    fn skipped_entry(&self, name: &str, reason: SkipReason) -> SkippedEntry {
        SkippedEntry {
            path: self.path.join(name),
            reason,
        }
    }

    fn lock(&self, exclusive: bool) -> DirLock<'_> {
        let (shared, excl) = if exclusive {
            (None, Some(self.local_lock.write()))
        } else {
            (Some(self.local_lock.read()), None)
        };
        let flock = self.dir.reopen().ok().and_then(|file| {
            match lock_within(&file, exclusive, self.lock_timeout) {
                Ok(true) => Some(file),
                Ok(false) => {
                    bump(
                        &self.lock_timeouts,
                        "wasm_sandbox_cache_lock_timeouts_total",
                        1,
                    );
                    tracing::warn!(
                        dir = %self.path.display(),
                        timeout = ?self.lock_timeout,
                        "another process holds the cache directory lock; going ahead without it"
                    );
                    None
                }
                Err(_) => None,
            }
        });
        DirLock {
            _flock: flock,
            _shared: shared,
            _exclusive: excl,
        }
    }

    /// Finds `key` and verifies it: header, key, ownership, length and checksum, all on
    /// the one open handle that is returned.
    ///
    /// The first attempt takes no lock: almost every lookup finds a complete pair, and the
    /// directory lock costs three system calls. Only a writer replacing the pair at that
    /// moment could make it see halves of two pairs, so anything but a verified hit (or a
    /// planted entry, which no writer makes) is looked up again under the shared lock
    /// before it is believed (and, if corrupt, removed).
    pub(crate) fn lookup(&self, key: &CacheKey) -> Result<Lookup, CacheError> {
        let result = match self.read_entry(key) {
            Ok(done @ (Lookup::Found(..) | Lookup::Skipped(_))) => Ok(done),
            _ => {
                let _lock = self.lock(false);
                self.read_entry(key)
            }
        };
        if let Ok(Lookup::Skipped(_)) = &result {
            self.count_skipped(1);
        }
        result
    }

    fn read_entry(&self, key: &CacheKey) -> Result<Lookup, CacheError> {
        let (art_name, meta_name) = entry_names(key);
        let header = match self.dir.open_file(&meta_name) {
            Ok(Opened::Ours(file, info)) => {
                if info.writable_by_others {
                    return Ok(Lookup::Corrupt("header writable by other users".to_owned()));
                }
                read_header(file).map_err(|e| self.io(&meta_name, e))?
            }
            Ok(Opened::Foreign(reason)) => {
                return Ok(Lookup::Skipped(self.skipped_entry(&meta_name, reason)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(e) => return Err(self.io(&meta_name, e)),
        };
        let (file, info) = match self.dir.open_file(&art_name) {
            Ok(Opened::Ours(file, info)) => (file, info),
            Ok(Opened::Foreign(reason)) => {
                return Ok(Lookup::Skipped(self.skipped_entry(&art_name, reason)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Lookup::Corrupt("header without artifact".to_owned()));
            }
            Err(e) => return Err(self.io(&art_name, e)),
        };
        let meta = match Meta::decode(&header) {
            Ok(m) => m,
            Err(reason) => return Ok(Lookup::Corrupt(reason.to_owned())),
        };
        if meta.key != *key {
            return Ok(Lookup::Corrupt("header belongs to another key".to_owned()));
        }
        if info.writable_by_others {
            return Ok(Lookup::Corrupt(
                "artifact writable by other users".to_owned(),
            ));
        }
        if info.len != meta.artifact_len {
            return Ok(Lookup::Corrupt(format!(
                "artifact is {} bytes, header says {} (truncated or extended)",
                info.len, meta.artifact_len
            )));
        }
        let sum = checksum_file(&file, meta.artifact_len, &self.path.join(&art_name))?;
        if *sum.as_bytes() != meta.checksum {
            return Ok(Lookup::Corrupt("artifact checksum mismatch".to_owned()));
        }
        Ok(Lookup::Found(file, meta.artifact_len + META_LEN as u64))
    }

    /// Whether both files of `key`'s entry exist as regular files of ours (not verified,
    /// not opened, symlinks not followed).
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        let (art_name, meta_name) = entry_names(key);
        let ours = |name: &str| self.dir.stat(name).is_ok_and(|i| i.foreign().is_none());
        ours(&meta_name) && ours(&art_name)
    }

    /// Records a hit on `key` (or learns about an entry another process wrote).
    pub(crate) fn record_hit(&self, key: &CacheKey, size: u64) -> u64 {
        let evicted = {
            let mut index = self.index.lock();
            if index.touch(key) {
                return 0;
            }
            index.insert(*key, size).evicted
        };
        self.delete_files(&evicted);
        evicted.len() as u64
    }

    /// Removes `key`'s files (those that are ours) and index entry.
    pub(crate) fn remove(&self, key: &CacheKey) {
        self.index.lock().remove(key);
        self.delete_files(&[(*key, 0)]);
    }

    /// Stores an artifact: evicts to make room, writes temporary files, fsyncs them and
    /// renames them into place.
    pub(crate) fn store(&self, key: &CacheKey, artifact: &[u8]) -> Result<Stored, CacheError> {
        self.store_with(key, artifact, Source::Compiled)
    }

    /// [`store`](Self::store) of an artifact from `source` (see [`Source`]: a fetched one is
    /// written without `fsync`; the fsyncs were two thirds of a new host's time to install
    /// SQLite's artifact).
    pub(crate) fn store_with(
        &self,
        key: &CacheKey,
        artifact: &[u8],
        source: Source,
    ) -> Result<Stored, CacheError> {
        let size = artifact.len() as u64 + META_LEN as u64;
        let insertion = self.index.lock().insert(*key, size);
        if !insertion.admitted {
            return Ok(Stored {
                written: false,
                evicted: 0,
            });
        }
        self.delete_files(&insertion.evicted);
        let evicted = insertion.evicted.len() as u64;
        if let Err(e) = self.write_pair(key, artifact, source) {
            self.index.lock().remove(key);
            return Err(e);
        }
        Ok(Stored {
            written: true,
            evicted,
        })
    }

    fn write_pair(
        &self,
        key: &CacheKey,
        artifact: &[u8],
        source: Source,
    ) -> Result<(), CacheError> {
        let (art_name, meta_name) = entry_names(key);
        let (header, sync) = match source {
            Source::Compiled => (Meta::for_artifact(*key, artifact), true),
            Source::Fetched { checksum } => (Meta::with_checksum(*key, artifact, checksum), false),
        };
        let header = header.encode();
        let art_tmp = self.write_temp(artifact, sync)?;
        if self.abort_after_temp_write {
            // Fault injection for the crash-safety tests: die like a killed process would,
            // with the temporary file written and no destructor run.
            std::process::abort();
        }
        let meta_tmp = self.write_temp(&header, sync)?;
        {
            let _lock = self.lock(true);
            // A rename would replace whatever holds the name; never replace what is not
            // ours. Such an entry keeps the key out of the cache (a miss every time) until
            // someone removes it.
            for name in [&art_name, &meta_name] {
                match self.dir.stat(name) {
                    Ok(info) => {
                        if let Some(reason) = info.foreign() {
                            self.count_skipped(1);
                            return Err(self.io(
                                name,
                                io::Error::new(
                                    io::ErrorKind::AlreadyExists,
                                    format!(
                                        "a {reason} that the cache did not create holds this \
                                         name; it is left alone and the entry is not stored"
                                    ),
                                ),
                            ));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io(name, e)),
                }
            }
            art_tmp
                .persist(&art_name)
                .map_err(|e| self.io(&art_name, e))?;
            if let Err(e) = meta_tmp.persist(&meta_name) {
                // Never leave half a pair behind: no entry is only a miss.
                let _ = self.remove_ours(&meta_name);
                let _ = self.remove_ours(&art_name);
                return Err(self.io(&meta_name, e));
            }
        }
        // Make the renames durable. Best effort: a lost rename is only a cache miss.
        if sync {
            let _ = self.dir.sync();
        }
        Ok(())
    }

    fn write_temp(&self, bytes: &[u8], sync: bool) -> Result<TempFile<'_>, CacheError> {
        let mut tmp = self.locked_temp()?;
        let written = tmp.file.write_all(bytes);
        if let Err(e) = written.and_then(|()| if sync { tmp.file.sync_all() } else { Ok(()) }) {
            return Err(self.io(&tmp.name, e));
        }
        Ok(tmp)
    }

    /// A new temporary file in the cache directory, locked as being written: the cleaner
    /// (`remove_dead_temps`, in any process) skips temporary files it cannot lock, and the
    /// kernel drops the lock when this process dies.
    ///
    /// Between creating the file and locking it, a cleaner can find it unlocked, take it
    /// for a dead writer's, and unlink it (a write into it would then vanish, and a pair
    /// could lose its header). So the lock is waited for (within the lock timeout), not
    /// tried, and the file is kept only if its name still names it once locked; otherwise
    /// another one is made. A name that is taken (`O_EXCL`) is never written through.
    fn locked_temp(&self) -> Result<TempFile<'_>, CacheError> {
        const ATTEMPTS: usize = 8;
        for _ in 0..ATTEMPTS {
            let name = temp_name();
            let file = match self.dir.create_new(&name) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io(&name, e)),
            };
            let mut tmp = TempFile {
                dir: &self.dir,
                name,
                file,
                linked: true,
            };
            // Blocks only while a cleaner that found the file first holds it; such a
            // cleaner unlinks it before letting go.
            match lock_within(&tmp.file, true, self.lock_timeout) {
                Ok(true) => {}
                Ok(false) => {
                    // Whoever holds it will unlink it: it is no longer ours to remove.
                    tmp.linked = false;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
                Err(e) => return Err(self.io(&tmp.name, e)),
            }
            let ours = sys::file_info(&tmp.file).map_err(|e| self.io(&tmp.name, e))?;
            match self.dir.stat(&tmp.name) {
                Ok(linked) if linked.same_file(&ours) => return Ok(tmp),
                Ok(_) => tmp.linked = false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => tmp.linked = false,
                Err(e) => return Err(self.io(&tmp.name, e)),
            }
        }
        Err(CacheError::io(
            self.path.clone(),
            io::Error::other(format!(
                "{ATTEMPTS} temporary files in a row were taken or removed by someone else"
            )),
        ))
    }

    /// Unlinks `name` if it is a regular file of ours; leaves anything else alone.
    fn remove_ours(&self, name: &str) -> io::Result<Removal> {
        let info = match self.dir.stat(name) {
            Ok(info) => info,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Removal::Absent),
            Err(e) => return Err(e),
        };
        if info.foreign().is_some() {
            return Ok(Removal::Foreign);
        }
        match self.dir.unlink(name) {
            Ok(()) => Ok(Removal::Removed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Removal::Absent),
            Err(e) => Err(e),
        }
    }

    /// Unlinks the files of `keys` (those that are ours). Unlinking is safe for modules
    /// loaded from them: the mapping keeps the inode alive.
    fn delete_files(&self, keys: &[(CacheKey, u64)]) {
        if keys.is_empty() {
            return;
        }
        let _lock = self.lock(true);
        let mut skipped = 0;
        for (key, _) in keys {
            let (art_name, meta_name) = entry_names(key);
            // The header goes first: without it the artifact is never loaded.
            for name in [meta_name, art_name] {
                match self.remove_ours(&name) {
                    Ok(Removal::Removed | Removal::Absent) => {}
                    Ok(Removal::Foreign) => skipped += 1,
                    Err(e) => {
                        tracing::warn!(path = %self.path.join(&name).display(), error = %e, "cannot remove cache file");
                    }
                }
            }
        }
        self.count_skipped(skipped);
    }

    /// Scans the directory: removes dead temporary files and half-written pairs, and
    /// rebuilds the index from what is left, oldest first, evicting beyond the bound.
    fn rebuild_index(&self) -> Cleanup {
        let mut cleanup = Cleanup::default();
        let listing = {
            let _lock = self.lock(true);
            let listing = match self.list() {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(dir = %self.path.display(), error = %e, "cannot list the cache directory");
                    return cleanup;
                }
            };
            cleanup.temp_files_removed = self.remove_dead_temps(&listing.temps);
            for (name, reason) in &listing.orphans {
                if let Ok(Removal::Removed) = self.remove_ours(name) {
                    cleanup.removed.push(RemovedArtifact {
                        path: self.path.join(name),
                        reason: (*reason).to_owned(),
                    });
                }
            }
            listing
        };
        if let Some(first) = listing.skipped.first() {
            tracing::warn!(
                dir = %self.path.display(),
                count = listing.skipped.len(),
                first = %first.path.display(),
                reason = %first.reason,
                "entries with the cache's file names that it did not create were left alone \
                 (never opened, replaced or removed); remove them if they are not needed"
            );
        }
        self.count_skipped(listing.skipped.len());
        cleanup.skipped = listing.skipped;
        let mut pairs = listing.pairs;
        pairs.sort_by_key(|p| (p.modified, p.key));
        let mut evicted = Vec::new();
        {
            let mut index = self.index.lock();
            index.clear();
            for pair in &pairs {
                let insertion = index.insert(pair.key, pair.size);
                if !insertion.admitted {
                    evicted.push((pair.key, pair.size));
                }
                evicted.extend(insertion.evicted);
            }
        }
        cleanup.evicted = evicted.len() as u64;
        self.delete_files(&evicted);
        cleanup
    }

    /// Checks every entry, removing the bad ones; also cleans temporary files and
    /// half-written pairs, and reports the entries it left alone.
    pub(crate) fn verify(&self) -> Result<VerifyReport, CacheError> {
        let cleanup = self.rebuild_index();
        let mut report = VerifyReport {
            checked: 0,
            valid: 0,
            removed: cleanup.removed,
            skipped: cleanup.skipped,
            temp_files_removed: cleanup.temp_files_removed,
        };
        let keys: Vec<CacheKey> = self.index.lock().keys().copied().collect();
        for key in keys {
            report.checked += 1;
            match self.lookup(&key) {
                Ok(Lookup::Found(..)) => report.valid += 1,
                Ok(Lookup::Missing) => {
                    // Removed by another process meanwhile.
                    self.index.lock().remove(&key);
                }
                Ok(Lookup::Corrupt(reason)) => {
                    self.remove(&key);
                    report.removed.push(RemovedArtifact {
                        path: self.path.join(entry_names(&key).0),
                        reason,
                    });
                }
                Ok(Lookup::Skipped(entry)) => {
                    // Planted since the scan.
                    self.index.lock().remove(&key);
                    report.skipped.push(entry);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Removes every entry and every dead temporary file; leaves what is not ours.
    pub(crate) fn clear(&self) -> Result<(), CacheError> {
        let _lock = self.lock(true);
        let listing = self
            .list()
            .map_err(|e| CacheError::io(self.path.clone(), e))?;
        let mut skipped = listing.skipped.len();
        self.remove_dead_temps(&listing.temps);
        let names = listing.orphans.iter().map(|(name, _)| name.clone()).chain(
            listing.pairs.iter().flat_map(|pair| {
                let (art_name, meta_name) = entry_names(&pair.key);
                [meta_name, art_name]
            }),
        );
        for name in names {
            match self.remove_ours(&name) {
                Ok(Removal::Removed | Removal::Absent) => {}
                Ok(Removal::Foreign) => skipped += 1,
                Err(e) => {
                    self.count_skipped(skipped);
                    return Err(self.io(&name, e));
                }
            }
        }
        self.count_skipped(skipped);
        self.index.lock().clear();
        Ok(())
    }

    /// Lists the cache's entries. Each name of ours (`<key>.cwasm`, `<key>.meta`,
    /// `.wsc-tmp-*`) is `lstat`ed, never opened; anything but a regular file of ours is
    /// skipped. Other names are ignored.
    fn list(&self) -> io::Result<Listing> {
        #[derive(Default)]
        struct Halves {
            artifact: Option<(u64, SystemTime)>,
            meta: Option<u64>,
        }
        let mut halves: HashMap<CacheKey, Halves> = HashMap::new();
        let mut temps = Vec::new();
        let mut skipped = Vec::new();
        for name in self.dir.names()? {
            let Some(named) = parse_name(&name) else {
                continue;
            };
            // Gone since the listing: nothing to do.
            let Ok(info) = self.dir.stat(&name) else {
                continue;
            };
            if let Some(reason) = info.foreign() {
                skipped.push(self.skipped_entry(&name, reason));
                continue;
            }
            match named {
                Named::Temp => temps.push((name, info)),
                Named::Artifact(key) => {
                    halves.entry(key).or_default().artifact = Some((info.len, info.modified));
                }
                Named::Meta(key) => halves.entry(key).or_default().meta = Some(info.len),
            }
        }
        let mut pairs = Vec::new();
        let mut orphans = Vec::new();
        for (key, h) in halves {
            let (art_name, meta_name) = entry_names(&key);
            match (h.artifact, h.meta) {
                (Some((len, modified)), Some(meta_len)) => pairs.push(PairEntry {
                    key,
                    size: len + meta_len,
                    modified,
                }),
                (Some(_), None) => orphans.push((art_name, "artifact without header")),
                (None, Some(_)) => orphans.push((meta_name, "header without artifact")),
                (None, None) => {}
            }
        }
        Ok(Listing {
            pairs,
            orphans,
            temps,
            skipped,
        })
    }

    /// Removes temporary files whose writer is gone: a live writer holds a `flock` on its
    /// file, which the kernel releases when the writer dies. Each one is opened without
    /// following a symlink or blocking, and only if it is still the regular file of ours
    /// that the listing saw.
    fn remove_dead_temps(&self, temps: &[(String, FileInfo)]) -> u64 {
        let mut removed = 0;
        for (name, listed) in temps {
            let file = match self.dir.open_file(name) {
                Ok(Opened::Ours(file, info)) if info.same_file(listed) => file,
                _ => continue,
            };
            let dead = match file.try_lock() {
                Ok(()) => true,
                Err(fs::TryLockError::WouldBlock) => false,
                Err(fs::TryLockError::Error(_)) => listed
                    .modified
                    .elapsed()
                    .is_ok_and(|age| age > UNPROBED_TEMP_MAX_AGE),
            };
            if dead && self.dir.unlink(name).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// Reads a header file (at most one byte more than a header, so that a longer file is
/// seen to be too long).
fn read_header(file: File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(META_LEN + 1);
    file.take(META_LEN as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What a directory entry's name says it is.
enum Named {
    Temp,
    Artifact(CacheKey),
    Meta(CacheKey),
}

/// Whether `name` is one of the cache's names: a temporary file, or the artifact or header
/// of a key spelled canonically (lowercase).
fn parse_name(name: &str) -> Option<Named> {
    if name.starts_with(TEMP_PREFIX) {
        return Some(Named::Temp);
    }
    let (stem, ext) = name.rsplit_once('.')?;
    let key = CacheKey::from_hex(stem)?;
    if key.to_string() != stem {
        return None;
    }
    match ext {
        ARTIFACT_EXT => Some(Named::Artifact(key)),
        META_EXT => Some(Named::Meta(key)),
        _ => None,
    }
}

struct PairEntry {
    key: CacheKey,
    size: u64,
    modified: SystemTime,
}

struct Listing {
    pairs: Vec<PairEntry>,
    orphans: Vec<(String, &'static str)>,
    temps: Vec<(String, FileInfo)>,
    skipped: Vec<SkippedEntry>,
}

/// The blake3 checksum of an open artifact of `len` bytes, read through the handle
/// itself. Small artifacts are read into memory (cheaper than setting up and tearing down
/// a mapping); large ones are mapped with every page faulted in by one system call, then
/// hashed on two threads.
fn checksum_file(file: &File, len: u64, path: &Path) -> Result<blake3::Hash, CacheError> {
    const MAP_FROM: u64 = 256 * 1024;
    if len < MAP_FROM {
        let mut bytes = Vec::with_capacity(len as usize);
        let mut handle = file;
        handle
            .take(len)
            .read_to_end(&mut bytes)
            .and_then(|_| handle.seek(io::SeekFrom::Start(0)))
            .map_err(|e| CacheError::io(path.to_path_buf(), e))?;
        return Ok(blake3::hash(&bytes));
    }
    let mapped = MappedFile::from_file_populated(file, path)
        .map_err(|e| CacheError::io(path.to_path_buf(), io::Error::other(e.to_string())))?;
    Ok(crate::hash::blake3_hash(&mapped))
}
