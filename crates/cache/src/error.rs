//! The crate's error type.

use std::io;
use std::path::PathBuf;

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
    /// that this process would then execute as native code.
    #[error(
        "refusing to use cache directory `{path}`: it is writable by other users or owned by \
         another user (mode {mode:o}, owner uid {owner}); run `chmod go-w` on it, or choose \
         a directory only you can write to"
    )]
    InsecureDirectory {
        /// The cache directory.
        path: PathBuf,
        /// Its permission bits.
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
    /// A worker thread of [`CompilationCache::compile_many`](crate::CompilationCache::compile_many)
    /// panicked while compiling this item (a bug in the compiler, not in the input).
    #[error("a compilation worker thread panicked while compiling this module")]
    WorkerPanicked,
}

impl CacheError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        CacheError::Io {
            path: path.into(),
            source,
        }
    }
}
