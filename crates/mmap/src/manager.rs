//! [`MappedMemoryManager`]: mappings keyed by path, with access accounting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::identity::FileIdentity;
use crate::{MappedFile, MmapError};

/// Keeps read-only mappings of files keyed by path.
///
/// [`map`](Self::map) returns the existing mapping when the path still names the same
/// file (same inode, length and modification time) and maps it afresh when the file was
/// replaced, so a file updated by rename is picked up on the next request while earlier
/// handles keep the old bytes.
///
/// Paths are used as given, without canonicalization: `a/../b` and `b` are two keys.
///
/// The manager is `Send + Sync`; share it through an `Arc`.
#[derive(Debug, Default)]
pub struct MappedMemoryManager {
    slots: Mutex<HashMap<PathBuf, Slot>>,
    hits: AtomicU64,
    maps: AtomicU64,
    unmaps: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    file: MappedFile,
    access_count: u64,
    last_access: Instant,
}

/// A snapshot of the manager's counters, from [`MappedMemoryManager::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MmapStats {
    /// Mappings the manager holds now.
    pub mappings: usize,
    /// Bytes covered by the mappings the manager holds now.
    pub bytes_mapped: u64,
    /// Requests served from an existing mapping.
    pub hits: u64,
    /// Mappings created (first requests and files that changed since they were mapped).
    pub maps: u64,
    /// Mappings the manager dropped (explicitly, as idle, or because the file changed).
    pub unmaps: u64,
}

/// What the manager knows about one mapping, from [`MappedMemoryManager::info`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MappingInfo {
    /// The mapped length in bytes.
    pub len: usize,
    /// Requests for this path served by this mapping, the first one included.
    pub access_count: u64,
    /// When the mapping was last handed out.
    pub last_access: Instant,
    /// Handles held outside the manager.
    pub external_handles: usize,
}

impl MappedMemoryManager {
    /// Creates an empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns a handle to the mapping of `path`, mapping the file if it is not mapped
    /// yet or if it changed since it was mapped.
    ///
    /// Every call costs one `stat(2)` of the path, to notice replaced files.
    ///
    /// # Errors
    ///
    /// Any [`MmapError`] from opening or mapping the file. A failed request leaves an
    /// existing mapping of the path in place.
    pub fn map(&self, path: impl AsRef<Path>) -> Result<MappedFile, MmapError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|source| MmapError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let current = FileIdentity::of(&meta);
        {
            let mut slots = self.slots.lock();
            if let Some(slot) = slots.get_mut(path)
                && slot.file.identity() == current
            {
                slot.access_count += 1;
                slot.last_access = Instant::now();
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(slot.file.clone());
            }
        }

        // Map outside the lock: mapping touches the file system.
        let file = MappedFile::open(path)?;
        self.maps.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock();
        let replaced = slots.insert(
            path.to_path_buf(),
            Slot {
                file: file.clone(),
                access_count: 1,
                last_access: Instant::now(),
            },
        );
        if replaced.is_some() {
            self.unmaps.fetch_add(1, Ordering::Relaxed);
        }
        Ok(file)
    }

    /// Returns the existing mapping of `path`, if any, without touching the file system
    /// and without checking whether the file changed. Counts as a hit.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<MappedFile> {
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(path.as_ref())?;
        slot.access_count += 1;
        slot.last_access = Instant::now();
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(slot.file.clone())
    }

    /// Drops the manager's mapping of `path`. Returns whether there was one.
    ///
    /// Handles held elsewhere stay valid; the memory is unmapped when the last goes.
    pub fn unmap(&self, path: impl AsRef<Path>) -> bool {
        let removed = self.slots.lock().remove(path.as_ref());
        if removed.is_some() {
            self.unmaps.fetch_add(1, Ordering::Relaxed);
        }
        removed.is_some()
    }

    /// Drops every mapping that was not handed out during the last `max_age`, and returns
    /// how many were dropped. `Duration::ZERO` drops them all.
    ///
    /// Handles held elsewhere stay valid, as with [`unmap`](Self::unmap).
    pub fn unmap_unused(&self, max_age: Duration) -> usize {
        let now = Instant::now();
        let removed: Vec<Slot> = {
            let mut slots = self.slots.lock();
            let stale: Vec<PathBuf> = slots
                .iter()
                .filter(|(_, slot)| now.saturating_duration_since(slot.last_access) >= max_age)
                .map(|(path, _)| path.clone())
                .collect();
            stale.iter().filter_map(|p| slots.remove(p)).collect()
        };
        // The mappings themselves are released here, outside the lock.
        let count = removed.len();
        self.unmaps.fetch_add(count as u64, Ordering::Relaxed);
        count
    }

    /// What the manager knows about the mapping of `path`, if it holds one.
    pub fn info(&self, path: impl AsRef<Path>) -> Option<MappingInfo> {
        let slots = self.slots.lock();
        let slot = slots.get(path.as_ref())?;
        Some(MappingInfo {
            len: slot.file.len(),
            access_count: slot.access_count,
            last_access: slot.last_access,
            external_handles: slot.file.handle_count() - 1,
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MmapStats {
        let slots = self.slots.lock();
        MmapStats {
            mappings: slots.len(),
            bytes_mapped: slots.values().map(|s| s.file.len() as u64).sum(),
            hits: self.hits.load(Ordering::Relaxed),
            maps: self.maps.load(Ordering::Relaxed),
            unmaps: self.unmaps.load(Ordering::Relaxed),
        }
    }
}
