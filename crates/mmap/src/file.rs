//! [`MappedFile`]: one read-only mapping behind an `Arc`.

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};

use crate::MmapError;
use crate::identity::FileIdentity;

/// A read-only memory map of a whole file, shared by reference counting.
///
/// Cloning is cheap (one atomic increment). The mapping is removed when the last clone
/// is dropped, so a `&[u8]` obtained through [`Deref`] can never outlive it.
///
/// See the [crate documentation](crate) for the contract on how mapped files may change:
/// only by rename, never in place.
#[derive(Clone)]
pub struct MappedFile {
    inner: Arc<Inner>,
}

struct Inner {
    map: Mmap,
    path: PathBuf,
    identity: FileIdentity,
}

impl MappedFile {
    /// Opens `path` read-only and maps the whole file.
    ///
    /// An empty file gives an empty mapping.
    ///
    /// # Errors
    ///
    /// [`MmapError::Open`] if the file cannot be opened, [`MmapError::NotAFile`] if the
    /// path is not a regular file, [`MmapError::Metadata`] or [`MmapError::Map`] if the
    /// operating system refuses.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MmapError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| MmapError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file(&file, path)
    }

    /// Maps the whole of an already open file. `path` is only recorded, for messages and
    /// [`MappedFile::path`]; the mapping is of `file` itself, so whatever the path names
    /// now does not matter.
    ///
    /// Mapping an open handle rather than a path lets a caller check the very bytes it
    /// will later hand to another consumer of the same handle, with no window in which
    /// the path could be pointed at another file.
    ///
    /// # Errors
    ///
    /// [`MmapError::NotAFile`] if `file` is not a regular file, [`MmapError::Metadata`] or
    /// [`MmapError::Map`] if the operating system refuses.
    pub fn from_file(file: &File, path: impl AsRef<Path>) -> Result<Self, MmapError> {
        Self::map_file(file, path.as_ref(), false)
    }

    /// As [`MappedFile::from_file`], but faults every page in while mapping (Linux's
    /// `MAP_POPULATE`; elsewhere the same as `from_file`).
    ///
    /// For a caller that reads the whole file once, as a checksum does, one populating
    /// `mmap` replaces a page fault per 4 KiB page.
    ///
    /// # Errors
    ///
    /// As [`MappedFile::from_file`].
    pub fn from_file_populated(file: &File, path: impl AsRef<Path>) -> Result<Self, MmapError> {
        Self::map_file(file, path.as_ref(), true)
    }

    fn map_file(file: &File, path: &Path, populate: bool) -> Result<Self, MmapError> {
        let meta = file.metadata().map_err(|source| MmapError::Metadata {
            path: path.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(MmapError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: `MmapOptions::map` is unsafe because the mapped bytes are only as stable as the
        // file: if the file is written in place the slice changes under its borrowers, and
        // if it is truncated, touching pages past the new end raises SIGBUS. We map
        // read-only (writes through the map are impossible) and hand the bytes out only
        // through `MappedFile`, whose `Arc` keeps the mapping alive for as long as any
        // slice borrows from it, so no slice outlives its mapping. What remains is the
        // documented contract of this crate (see the crate docs): mapped files are only
        // ever replaced by rename, which leaves the mapped inode untouched, and they live
        // in directories no other user can write to. Every producer of mapped files in
        // wasm-sandbox (the compilation cache) follows it. This is the same contract that
        // wasmtime's own `Module::deserialize_file` places on its callers.
        let mut options = MmapOptions::new();
        if populate {
            options.populate();
        }
        let map = unsafe { options.map(file) }.map_err(|source| MmapError::Map {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(MappedFile {
            inner: Arc::new(Inner {
                map,
                path: path.to_path_buf(),
                identity: FileIdentity::of(&meta),
            }),
        })
    }

    /// The path the file was mapped from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The mapped bytes (the same as dereferencing the handle).
    pub fn as_bytes(&self) -> &[u8] {
        &self.inner.map
    }

    /// How many handles share this mapping, this one included.
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Whether two handles share one mapping.
    pub fn ptr_eq(&self, other: &MappedFile) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn identity(&self) -> FileIdentity {
        self.inner.identity
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.inner.map
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.inner.map
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.inner.path)
            .field("len", &self.inner.map.len())
            .finish()
    }
}
