//! Platforms without Unix permissions and `*at` system calls: no ownership checks are
//! possible here, so the cache trusts its directory, and files are opened by path after a
//! check (not following symlinks) of what the name is. Best effort: a name swapped between
//! the check and the open is caught only by the second check, on the open handle.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use super::{FileInfo, FileKind, Opened};
use crate::CacheError;

fn info(meta: &Metadata) -> FileInfo {
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_dir() {
        FileKind::Directory
    } else if file_type.is_file() {
        FileKind::Regular
    } else {
        FileKind::Other
    };
    FileInfo {
        kind,
        owned_by_us: true,
        writable_by_others: false,
        len: meta.len(),
        modified: meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH),
        dev: 0,
        ino: 0,
    }
}

/// The metadata of an open file.
pub(crate) fn file_info(file: &File) -> io::Result<FileInfo> {
    Ok(info(&file.metadata()?))
}

/// The cache directory, by path.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
}

impl Dir {
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        if !fs::metadata(path)?.is_dir() {
            return Err(io::ErrorKind::NotADirectory.into());
        }
        Ok(Dir {
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn check_secure(
        &self,
        _path: &Path,
        _allow_shared_sticky: bool,
    ) -> Result<(), CacheError> {
        Ok(())
    }

    pub(crate) fn open_file(&self, name: &str) -> io::Result<Opened> {
        let path = self.path.join(name);
        if let Some(reason) = info(&fs::symlink_metadata(&path)?).foreign() {
            return Ok(Opened::Foreign(reason));
        }
        let file = File::open(&path)?;
        let opened = file_info(&file)?;
        Ok(match opened.foreign() {
            Some(reason) => Opened::Foreign(reason),
            None => Opened::Ours(file, opened),
        })
    }

    pub(crate) fn stat(&self, name: &str) -> io::Result<FileInfo> {
        Ok(info(&fs::symlink_metadata(self.path.join(name))?))
    }

    pub(crate) fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(self.path.join(name))
    }

    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path.join(from), self.path.join(to))
    }

    pub(crate) fn unlink(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path.join(name))
    }

    pub(crate) fn reopen(&self) -> io::Result<File> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "directory locks need Unix",
        ))
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir_all(path)
}
