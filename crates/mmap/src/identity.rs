//! Which inode a path named when it was mapped, to notice files replaced by rename.

use std::fs::Metadata;
use std::time::SystemTime;

/// What identifies one version of a file: its inode (on Unix), length and modification
/// time. A file replaced by rename gets a new inode; any change to the length or the
/// modification time is also treated as a new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileIdentity {
    #[cfg(unix)]
    pub(crate) fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(meta: &Metadata) -> Self {
        FileIdentity {
            dev: 0,
            ino: 0,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}
