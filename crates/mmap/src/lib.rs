//! Read-only, reference-counted memory maps of files for wasm-sandbox.
//!
//! Modules and compiled artifacts are read far more often than they are written, and
//! reading them through a memory map avoids copying them into the heap: the pages come
//! straight from the kernel's page cache and are shared between every process that maps
//! the same file.
//!
//! This crate wraps [`memmap2`] in a safe API:
//!
//! - [`MappedFile`] is a cheap, clonable handle to one read-only mapping. It dereferences
//!   to `[u8]`, and the bytes stay mapped for as long as any clone of the handle lives.
//!   No `&[u8]` can outlive its mapping, because every slice borrows from a handle.
//! - [`MappedMemoryManager`] keeps mappings keyed by path, counts accesses, remembers
//!   when each mapping was last used, unmaps idle ones ([`MappedMemoryManager::unmap_unused`])
//!   and reports [`MmapStats`]. Unmapping from the manager only drops the manager's own
//!   reference: handles that callers still hold stay valid.
//!
//! # The file contract: replace by rename, never in place
//!
//! A memory map shows the *current* contents of the file's inode, not a snapshot. Two
//! ways of changing a mapped file behave very differently:
//!
//! - **Rename over** (write a new file next to it, then `rename(2)` it onto the old
//!   name): the old inode lives on, unnamed, until its last mapping goes away. Existing
//!   handles keep seeing the old bytes; new [`MappedMemoryManager::map`] calls notice the
//!   new inode and map the new file. This is safe and is what the wasm-sandbox cache does.
//! - **Write or truncate in place**: existing handles see the new bytes change under
//!   them, and after a truncation any access past the new end raises `SIGBUS`, which
//!   kills the process. This is why [`MappedFile::open`] relies on a contract that the
//!   type system cannot check: *files that are mapped are only ever replaced by rename,
//!   never written or truncated in place, and they live in directories that no other
//!   user can write to.* The crate's tests demonstrate both behaviours (the truncation
//!   in a child process).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use wasm_sandbox_mmap::MappedMemoryManager;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("module.wasm");
//! std::fs::write(&path, b"\0asm\x01\0\0\0")?;
//!
//! let manager = MappedMemoryManager::new();
//! let bytes = manager.map(&path)?;
//! assert_eq!(&bytes[..4], b"\0asm");
//!
//! // A second request is served from the existing mapping.
//! let again = manager.map(&path)?;
//! assert_eq!(manager.stats().hits, 1);
//!
//! // Dropping the manager's reference leaves our handles valid.
//! manager.unmap_unused(Duration::ZERO);
//! assert_eq!(manager.stats().mappings, 0);
//! assert_eq!(&again[..4], b"\0asm");
//! # drop(bytes);
//! # Ok(())
//! # }
//! ```
#![allow(
    unsafe_code,
    reason = "memmap2's `Mmap::map` is unsafe; this crate is the one place that calls it, \
              under the rename-only file contract documented above"
)]

mod error;
mod file;
mod identity;
mod manager;

pub use error::MmapError;
pub use file::MappedFile;
pub use manager::{MappedMemoryManager, MappingInfo, MmapStats};
