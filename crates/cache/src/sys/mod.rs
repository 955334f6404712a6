//! Platform-specific file access: the cache directory's handle, how files in it are
//! opened and judged, directory security, private directories.
//!
//! Every opener of a cache file goes through [`Dir`]: on Unix each file is opened
//! relative to the directory handle that was checked when the cache opened, with
//! `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, and judged by `fstat` of the open
//! handle (a [`FileInfo`]) before anything reads or maps it.

use std::fs::File;
use std::time::SystemTime;

use crate::SkipReason;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(not(unix))]
mod other;
#[cfg(not(unix))]
pub(crate) use other::*;

/// What a directory entry is, as `fstat` of an open handle or `fstatat` without following
/// symlinks reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Regular,
    Symlink,
    Fifo,
    Socket,
    Device,
    Directory,
    Other,
}

/// The facts about a file that the cache decides on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileInfo {
    pub(crate) kind: FileKind,
    /// Owned by the effective user.
    pub(crate) owned_by_us: bool,
    /// Group or others may write it (mode `0o022`).
    pub(crate) writable_by_others: bool,
    pub(crate) len: u64,
    pub(crate) modified: SystemTime,
    dev: u64,
    ino: u64,
}

impl FileInfo {
    /// Why the cache must leave this entry alone (never read, map, replace or remove it),
    /// or `None` for a regular file of ours: one the cache could have written. A file of
    /// ours that others can write is still ours (it may be removed), but never loaded.
    pub(crate) fn foreign(&self) -> Option<SkipReason> {
        match self.kind {
            FileKind::Regular if self.owned_by_us => None,
            FileKind::Regular => Some(SkipReason::OwnedByAnotherUser),
            FileKind::Symlink => Some(SkipReason::Symlink),
            FileKind::Fifo => Some(SkipReason::Fifo),
            FileKind::Socket => Some(SkipReason::Socket),
            FileKind::Device => Some(SkipReason::Device),
            FileKind::Directory => Some(SkipReason::Directory),
            FileKind::Other => Some(SkipReason::OtherFileType),
        }
    }

    /// Whether both describe the same inode. Where the platform has no inode numbers, a
    /// file that still has its name is taken to be the same (no other process cleans up
    /// on such platforms: they have no directory locks).
    pub(crate) fn same_file(&self, other: &FileInfo) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// An existing cache file, opened (without following a symlink, without blocking) and
/// judged on its handle.
pub(crate) enum Opened {
    /// A regular file owned by the effective user, with the `fstat` of the handle.
    Ours(File, FileInfo),
    /// Something the cache did not create: never read, and the handle (if any) is closed.
    Foreign(SkipReason),
}
