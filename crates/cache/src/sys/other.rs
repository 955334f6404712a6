//! Platforms without Unix permissions: no ownership checks are possible here, so the
//! cache trusts its directory. Document this to users on such platforms.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

use crate::CacheError;

pub(crate) fn check_dir_secure(_path: &Path, _meta: &Metadata) -> Result<(), CacheError> {
    Ok(())
}

pub(crate) fn check_file_trusted(meta: &Metadata) -> Result<(), &'static str> {
    if meta.is_file() {
        Ok(())
    } else {
        Err("not a regular file")
    }
}

pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
}

pub(crate) fn open_dir(_path: &Path) -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "directory locks need Unix",
    ))
}

/// Whether two metadata describe the same file. Without inode numbers, a file that still
/// has a path is taken to be ours (no other process cleans up on these platforms: they
/// have no directory locks).
pub(crate) fn same_file(_a: &Metadata, _b: &Metadata) -> bool {
    true
}
