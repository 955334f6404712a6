//! The crate's error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in the cache that the caller has to know about.
///
/// Problems with individual cache entries (truncated, corrupted, foreign or stale
/// artifacts, a disk that filled up) are *not* errors: the cache removes the entry,
/// recompiles, counts the event in [`CacheStats`](crate::CacheStats) and logs it with
/// `tracing`. What reaches the caller is a module that does not compile, or a cache
/// directory that cannot be used safely.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The WebAssembly module is invalid or could not be compiled by this engine.
    #[error("WebAssembly module failed to compile: {message}")]
    Compile {
        /// wasmtime's message, with its chain of causes.
        message: String,
    },
    /// A file system operation on the cache directory failed.
    #[error("cache I/O error on `{path}`: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// The cache directory can be written by other users, who could plant artifacts
    /// that this process would then execute as native code, or it is owned by another
    /// user (other than root), who could replace it.
    ///
    /// A sticky directory writable by others (`mode & 0o1000 != 0`, such as `/tmp`) is
    /// refused too unless [`CacheConfig::allow_shared_sticky_directory`] is set; the
    /// message then says so. A directory writable by others without the sticky bit, or
    /// owned by another user, is always refused.
    ///
    /// [`CacheConfig::allow_shared_sticky_directory`]: crate::CacheConfig::allow_shared_sticky_directory
    #[error("{}", insecure_directory_message(path, *mode, *owner))]
    InsecureDirectory {
        /// The cache directory.
        path: PathBuf,
        /// Its permission bits (including the sticky bit, `0o1000`).
        mode: u32,
        /// Its owner's user id.
        owner: u32,
    },
    /// The cache path exists but is not a directory.
    #[error("cache path `{path}` exists but is not a directory; remove it or choose another path")]
    NotADirectory {
        /// The cache path.
        path: PathBuf,
    },
    /// The remote tier's configuration cannot be used: a malformed store URL, an
    /// unknown scheme, a bad integrity key (feature `remote`). Failures of the store
    /// itself are never errors: they are counted misses.
    #[error("remote compilation cache: {message}")]
    Remote {
        /// What is wrong, without secrets.
        message: String,
    },
    /// A worker thread of [`CompilationCache::compile_many`](crate::CompilationCache::compile_many)
    /// panicked while compiling this item (a bug in the compiler, not in the input).
    #[error("a compilation worker thread panicked while compiling this module")]
    WorkerPanicked,
}

fn insecure_directory_message(path: &Path, mode: u32, owner: u32) -> String {
    let path = path.display();
    let writable_by_others = mode & 0o022 != 0;
    let sticky = mode & 0o1000 != 0;
    if writable_by_others && sticky {
        format!(
            "refusing to use cache directory `{path}`: it is a shared sticky directory, \
             writable by other users (mode {mode:o}, owner uid {owner}), where anyone can \
             plant entries; use a private subdirectory of it (created with mode 0700), or, \
             if it is owned by you or by root, opt in with \
             `CacheConfig::allow_shared_sticky_directory(true)`"
        )
    } else {
        format!(
            "refusing to use cache directory `{path}`: it is writable by other users or \
             owned by another user (mode {mode:o}, owner uid {owner}); run `chmod go-w` on \
             it, or choose a directory only you can write to"
        )
    }
}

impl CacheError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        CacheError::Io {
            path: path.into(),
            source,
        }
    }
}
