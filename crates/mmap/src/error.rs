//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Why a file could not be mapped.
///
/// Every variant names the file, so the message alone tells the user where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MmapError {
    /// The file could not be opened for reading.
    #[error(
        "cannot open `{path}` for memory mapping: {source} (check that it exists and is readable)"
    )]
    Open {
        /// The file that was to be mapped.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// The file's metadata could not be read.
    #[error("cannot read the metadata of `{path}`: {source}")]
    Metadata {
        /// The file that was to be mapped.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// The path does not name a regular file (it is a directory, a device, a pipe, ...).
    #[error("`{path}` is not a regular file; only regular files can be memory mapped")]
    NotAFile {
        /// The path that was to be mapped.
        path: PathBuf,
    },
    /// The operating system refused to create the mapping.
    #[error(
        "cannot memory-map `{path}`: {source} (the file system may not support mmap, or the \
         address space or the process's map limit is exhausted)"
    )]
    Map {
        /// The file that was to be mapped.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
}

impl MmapError {
    /// The path of the file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            MmapError::Open { path, .. }
            | MmapError::Metadata { path, .. }
            | MmapError::NotAFile { path }
            | MmapError::Map { path, .. } => path,
        }
    }
}
