//! Unix: permission bits and owners decide whom the cache directory trusts.

use std::fs::{DirBuilder, File, Metadata};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use crate::CacheError;

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses a directory that someone other than us (or root) could plant files in.
///
/// The directory must be owned by the effective user or by root, and must not be
/// writable by group or others unless the sticky bit is set (as on `/tmp`; there others
/// can still create files, which [`check_file_trusted`] then refuses to load).
pub(crate) fn check_dir_secure(path: &Path, meta: &Metadata) -> Result<(), CacheError> {
    let mode = meta.mode() & 0o7777;
    let owner = meta.uid();
    let owner_ok = owner == euid() || owner == 0;
    let writable_by_others = mode & GROUP_OR_OTHER_WRITE != 0 && mode & STICKY == 0;
    if !owner_ok || writable_by_others {
        return Err(CacheError::InsecureDirectory {
            path: path.to_path_buf(),
            mode,
            owner,
        });
    }
    Ok(())
}

/// Checks that a cache file was written by us and cannot be changed by anyone else.
pub(crate) fn check_file_trusted(meta: &Metadata) -> Result<(), &'static str> {
    if !meta.is_file() {
        return Err("not a regular file");
    }
    if meta.uid() != euid() {
        return Err("owned by another user");
    }
    if meta.mode() & GROUP_OR_OTHER_WRITE != 0 {
        return Err("writable by other users");
    }
    Ok(())
}

/// Creates `path` and any missing parents with mode 0o700.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Opens a directory so that it can be `flock`ed and `fsync`ed.
pub(crate) fn open_dir(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Whether two metadata describe the same inode.
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}
