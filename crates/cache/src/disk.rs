//! The on-disk layer: artifacts and their headers in one private directory.
//!
//! Writers create a temporary file, fsync it, and rename it into place; the pair of
//! renames (`.cwasm` then `.meta`) happens under an exclusive `flock` of the directory,
//! and readers read the header and open the artifact under a shared one, so a reader in
//! any process sees a matching pair. After that the reader works on its open file handle
//! only: it maps it, checks its length and blake3 checksum against the header, and hands
//! that same handle to wasmtime.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use wasm_sandbox_mmap::MappedFile;

use crate::format::{ARTIFACT_EXT, META_EXT, META_LEN, Meta, TEMP_PREFIX};
use crate::index::{EvictionIndex, EvictionPolicy};
use crate::{CacheError, CacheKey, RemovedArtifact, VerifyReport, sys};

/// Temporary files whose lock cannot be probed are removed after this long.
const UNPROBED_TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

pub(crate) struct DiskLayer {
    dir: PathBuf,
    index: Mutex<EvictionIndex<CacheKey>>,
    abort_after_temp_write: bool,
}

/// The result of looking a key up on disk.
pub(crate) enum Lookup {
    /// A verified artifact, opened, with its size on disk (artifact plus header).
    Found(File, u64),
    /// No entry.
    Missing,
    /// An entry that must not be loaded, and why.
    Corrupt(String),
}

/// What a store did.
pub(crate) struct Stored {
    pub(crate) written: bool,
    pub(crate) evicted: u64,
}

/// What opening the directory cleaned up.
#[derive(Default)]
pub(crate) struct Cleanup {
    pub(crate) temp_files_removed: u64,
    pub(crate) removed: Vec<RemovedArtifact>,
    pub(crate) evicted: u64,
}

/// A `flock` on the cache directory, released on drop. Best effort: where the platform
/// or file system cannot lock, the cache still works, with the rename order and the
/// checksums as the only protection against mismatched pairs.
struct DirLock(#[allow(dead_code, reason = "held for its Drop")] Option<File>);

impl DiskLayer {
    /// Opens (creating if missing) the cache directory. `Ok(None)` means the directory
    /// cannot be written and the cache must run compile-only.
    pub(crate) fn open(
        dir: &Path,
        policy: EvictionPolicy,
        max_bytes: u64,
        abort_after_temp_write: bool,
    ) -> Result<(Option<DiskLayer>, Cleanup), CacheError> {
        match fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => {
                return Err(CacheError::NotADirectory {
                    path: dir.to_path_buf(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Err(e) = sys::create_private_dir(dir) {
                    tracing::warn!(
                        dir = %dir.display(),
                        error = %e,
                        "cannot create the compilation cache directory; compiling without a disk cache"
                    );
                    return Ok((None, Cleanup::default()));
                }
            }
            Err(e) => {
                tracing::warn!(
                    dir = %dir.display(),
                    error = %e,
                    "cannot use the compilation cache directory; compiling without a disk cache"
                );
                return Ok((None, Cleanup::default()));
            }
        }
        let meta = fs::metadata(dir).map_err(|e| CacheError::io(dir, e))?;
        sys::check_dir_secure(dir, &meta)?;

        // Probe: can we create files here?
        if let Err(e) = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
        {
            tracing::warn!(
                dir = %dir.display(),
                error = %e,
                "the compilation cache directory is not writable; compiling without a disk cache"
            );
            return Ok((None, Cleanup::default()));
        }

        let layer = DiskLayer {
            dir: dir.to_path_buf(),
            index: Mutex::new(EvictionIndex::new(policy, max_bytes, usize::MAX)),
            abort_after_temp_write,
        };
        let cleanup = layer.rebuild_index();
        Ok((Some(layer), cleanup))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.index.lock().total_bytes()
    }

    pub(crate) fn entries(&self) -> usize {
        self.index.lock().len()
    }

    fn paths(&self, key: &CacheKey) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{key}.{ARTIFACT_EXT}")),
            self.dir.join(format!("{key}.{META_EXT}")),
        )
    }

    fn lock(&self, exclusive: bool) -> DirLock {
        let Ok(dir) = sys::open_dir(&self.dir) else {
            return DirLock(None);
        };
        let locked = if exclusive {
            dir.lock()
        } else {
            dir.lock_shared()
        };
        DirLock(locked.ok().map(|()| dir))
    }

    /// Finds `key` and verifies it: header, key, ownership, length and checksum, all on
    /// the one open handle that is returned.
    ///
    /// The first attempt takes no lock: almost every lookup finds a complete pair, and the
    /// directory lock costs three system calls. Only a writer replacing the pair at that
    /// moment could make it see halves of two pairs, so anything but a verified hit is
    /// looked up again under the shared lock before it is believed (and, if corrupt,
    /// removed).
    pub(crate) fn lookup(&self, key: &CacheKey) -> Result<Lookup, CacheError> {
        match self.read_entry(key) {
            Ok(found @ Lookup::Found(..)) => Ok(found),
            _ => {
                let _lock = self.lock(false);
                self.read_entry(key)
            }
        }
    }

    fn read_entry(&self, key: &CacheKey) -> Result<Lookup, CacheError> {
        let (art_path, meta_path) = self.paths(key);
        let (header, file) = {
            let header = match read_header(&meta_path) {
                Ok(Ok(h)) => h,
                Ok(Err(reason)) => return Ok(Lookup::Corrupt(reason.to_owned())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Missing),
                Err(e) => return Err(CacheError::io(meta_path, e)),
            };
            let file = match File::open(&art_path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Lookup::Corrupt("header without artifact".to_owned()));
                }
                Err(e) => return Err(CacheError::io(art_path, e)),
            };
            (header, file)
        };
        let meta = match Meta::decode(&header) {
            Ok(m) => m,
            Err(reason) => return Ok(Lookup::Corrupt(reason.to_owned())),
        };
        if meta.key != *key {
            return Ok(Lookup::Corrupt("header belongs to another key".to_owned()));
        }
        let fmeta = file
            .metadata()
            .map_err(|e| CacheError::io(art_path.clone(), e))?;
        if let Err(reason) = sys::check_file_trusted(&fmeta) {
            return Ok(Lookup::Corrupt(format!("artifact {reason}")));
        }
        if fmeta.len() != meta.artifact_len {
            return Ok(Lookup::Corrupt(format!(
                "artifact is {} bytes, header says {} (truncated or extended)",
                fmeta.len(),
                meta.artifact_len
            )));
        }
        let sum = checksum_file(&file, meta.artifact_len, &art_path)?;
        if *sum.as_bytes() != meta.checksum {
            return Ok(Lookup::Corrupt("artifact checksum mismatch".to_owned()));
        }
        Ok(Lookup::Found(file, meta.artifact_len + META_LEN as u64))
    }

    /// Whether both files of `key`'s entry exist (not verified).
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        let (art_path, meta_path) = self.paths(key);
        meta_path.is_file() && art_path.is_file()
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

    /// Removes `key`'s files and index entry.
    pub(crate) fn remove(&self, key: &CacheKey) {
        self.index.lock().remove(key);
        self.delete_files(&[(*key, 0)]);
    }

    /// Stores an artifact: evicts to make room, writes temporary files, fsyncs them and
    /// renames them into place.
    pub(crate) fn store(&self, key: &CacheKey, artifact: &[u8]) -> Result<Stored, CacheError> {
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
        if let Err(e) = self.write_pair(key, artifact) {
            self.index.lock().remove(key);
            return Err(e);
        }
        Ok(Stored {
            written: true,
            evicted,
        })
    }

    fn write_pair(&self, key: &CacheKey, artifact: &[u8]) -> Result<(), CacheError> {
        let (art_path, meta_path) = self.paths(key);
        let header = Meta::for_artifact(*key, artifact).encode();
        let art_tmp = self.write_temp(artifact)?;
        if self.abort_after_temp_write {
            // Fault injection for the crash-safety tests: die like a killed process would,
            // with the temporary file written and no destructor run.
            std::process::abort();
        }
        let meta_tmp = self.write_temp(&header)?;
        {
            let _lock = self.lock(true);
            art_tmp
                .persist(&art_path)
                .map_err(|e| CacheError::io(art_path.clone(), e.error))?;
            if let Err(e) = meta_tmp.persist(&meta_path) {
                // Never leave half a pair behind: no entry is only a miss.
                let _ = fs::remove_file(&meta_path);
                let _ = fs::remove_file(&art_path);
                return Err(CacheError::io(meta_path.clone(), e.error));
            }
        }
        // Make the renames durable. Best effort: a lost rename is only a cache miss.
        if let Ok(dir) = sys::open_dir(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    fn write_temp(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, CacheError> {
        let mut tmp = self.locked_temp()?;
        let path = tmp.path().to_path_buf();
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| CacheError::io(path, e))?;
        Ok(tmp)
    }

    /// A new temporary file in the cache directory, locked as being written: the cleaner
    /// (`remove_dead_temps`, in any process) skips temporary files it cannot lock, and the
    /// kernel drops the lock when this process dies.
    ///
    /// Between creating the file and locking it, a cleaner can find it unlocked, take it
    /// for a dead writer's, and unlink it (a write into it would then vanish, and a pair
    /// could lose its header). So the lock is waited for, not tried, and the file is kept
    /// only if its path still names it once locked; otherwise another one is made.
    fn locked_temp(&self) -> Result<tempfile::NamedTempFile, CacheError> {
        const ATTEMPTS: usize = 8;
        let io_err = |e| CacheError::io(self.dir.clone(), e);
        for _ in 0..ATTEMPTS {
            let tmp = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(&self.dir)
                .map_err(io_err)?;
            // Blocks only while a cleaner that found the file first holds it; such a
            // cleaner unlinks it before letting go.
            if let Err(e) = tmp.as_file().lock()
                && e.kind() != io::ErrorKind::Unsupported
            {
                return Err(io_err(e));
            }
            let ours = tmp.as_file().metadata().map_err(io_err)?;
            match fs::symlink_metadata(tmp.path()) {
                Ok(linked) if sys::same_file(&ours, &linked) => return Ok(tmp),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Err(io_err(io::Error::other(format!(
            "{ATTEMPTS} temporary files in a row were removed by a concurrent cleaner"
        ))))
    }

    /// Unlinks the files of `keys`. Unlinking is safe for modules loaded from them: the
    /// mapping keeps the inode alive.
    fn delete_files(&self, keys: &[(CacheKey, u64)]) {
        if keys.is_empty() {
            return;
        }
        let _lock = self.lock(true);
        for (key, _) in keys {
            let (art_path, meta_path) = self.paths(key);
            // The header goes first: without it the artifact is never loaded.
            for path in [meta_path, art_path] {
                if let Err(e) = fs::remove_file(&path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove cache file");
                }
            }
        }
    }

    /// Scans the directory: removes dead temporary files and half-written pairs, and
    /// rebuilds the index from what is left, oldest first, evicting beyond the bound.
    fn rebuild_index(&self) -> Cleanup {
        let mut cleanup = Cleanup::default();
        let listing = {
            let _lock = self.lock(true);
            let listing = match list_dir(&self.dir) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list the cache directory");
                    return cleanup;
                }
            };
            cleanup.temp_files_removed = remove_dead_temps(&listing.temps);
            for (path, reason) in &listing.orphans {
                if fs::remove_file(path).is_ok() {
                    cleanup.removed.push(RemovedArtifact {
                        path: path.clone(),
                        reason: (*reason).to_owned(),
                    });
                }
            }
            listing
        };
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
    /// half-written pairs.
    pub(crate) fn verify(&self) -> Result<VerifyReport, CacheError> {
        let cleanup = self.rebuild_index();
        let mut report = VerifyReport {
            checked: 0,
            valid: 0,
            removed: cleanup.removed,
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
                        path: self.paths(&key).0,
                        reason,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Removes every entry and every dead temporary file.
    pub(crate) fn clear(&self) -> Result<(), CacheError> {
        let _lock = self.lock(true);
        let listing = list_dir(&self.dir).map_err(|e| CacheError::io(self.dir.clone(), e))?;
        remove_dead_temps(&listing.temps);
        for (path, _) in &listing.orphans {
            remove_if_present(path)?;
        }
        for pair in &listing.pairs {
            let (art_path, meta_path) = self.paths(&pair.key);
            remove_if_present(&meta_path)?;
            remove_if_present(&art_path)?;
        }
        self.index.lock().clear();
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::io(path, e)),
        _ => Ok(()),
    }
}

/// Reads a header file, refusing one that is not ours or not header-sized.
fn read_header(path: &Path) -> io::Result<Result<Vec<u8>, &'static str>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if let Err(reason) = sys::check_file_trusted(&meta) {
        return Ok(Err(match reason {
            "owned by another user" => "header owned by another user",
            "writable by other users" => "header writable by other users",
            _ => "header is not a regular file",
        }));
    }
    let mut bytes = Vec::with_capacity(META_LEN);
    file.take(META_LEN as u64 + 1).read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

struct PairEntry {
    key: CacheKey,
    size: u64,
    modified: SystemTime,
}

struct Listing {
    pairs: Vec<PairEntry>,
    orphans: Vec<(PathBuf, &'static str)>,
    temps: Vec<PathBuf>,
}

fn list_dir(dir: &Path) -> io::Result<Listing> {
    #[derive(Default)]
    struct Halves {
        artifact: Option<(u64, SystemTime)>,
        meta: Option<u64>,
    }
    let mut halves: HashMap<CacheKey, Halves> = HashMap::new();
    let mut temps = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(TEMP_PREFIX) {
            temps.push(entry.path());
            continue;
        }
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        let Some(key) = CacheKey::from_hex(stem) else {
            continue;
        };
        // Only the canonical (lowercase) spelling is ours.
        if key.to_string() != stem {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let h = halves.entry(key).or_default();
        if ext == ARTIFACT_EXT {
            h.artifact = Some((
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ));
        } else if ext == META_EXT {
            h.meta = Some(meta.len());
        }
    }
    let mut pairs = Vec::new();
    let mut orphans = Vec::new();
    for (key, h) in halves {
        match (h.artifact, h.meta) {
            (Some((len, modified)), Some(meta_len)) => pairs.push(PairEntry {
                key,
                size: len + meta_len,
                modified,
            }),
            (Some(_), None) => {
                orphans.push((
                    dir.join(format!("{key}.{ARTIFACT_EXT}")),
                    "artifact without header",
                ));
            }
            (None, Some(_)) => {
                orphans.push((
                    dir.join(format!("{key}.{META_EXT}")),
                    "header without artifact",
                ));
            }
            (None, None) => {}
        }
    }
    Ok(Listing {
        pairs,
        orphans,
        temps,
    })
}

/// Removes temporary files whose writer is gone: a live writer holds a `flock` on its
/// file, which the kernel releases when the writer dies.
fn remove_dead_temps(temps: &[PathBuf]) -> u64 {
    let mut removed = 0;
    for path in temps {
        let Ok(file) = File::open(path) else { continue };
        let dead = match file.try_lock() {
            Ok(()) => true,
            Err(fs::TryLockError::WouldBlock) => false,
            Err(fs::TryLockError::Error(_)) => file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNPROBED_TEMP_MAX_AGE),
        };
        if dead && fs::remove_file(path).is_ok() {
            removed += 1;
        }
    }
    removed
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
