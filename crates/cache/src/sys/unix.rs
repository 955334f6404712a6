//! Unix: the cache directory is held open, every file in it is opened relative to that
//! handle with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, and permission bits and
//! owners (from `fstat` of the open handle) decide what the cache trusts.

use std::fs::{DirBuilder, File};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawMode, Stat};

use super::{FileInfo, FileKind, Opened};
use crate::CacheError;

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// How every existing cache file is opened. `NOFOLLOW`: a symlink is never followed
/// (names have no `/`, so the last component is the only one, and it is resolved relative
/// to the directory handle). `NONBLOCK`: a FIFO opens at once instead of waiting for a
/// writer (and is then refused by `fstat`); on regular files it changes nothing. `NOCTTY`:
/// a terminal device never becomes the process's controlling terminal. `CLOEXEC`: no
/// child process inherits the handle.
const OPEN_EXISTING: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// How temporary files are created: `EXCL` fails on any existing entry of that name
/// (symlinks included, dangling or not), so a planted name is never written through.
const CREATE_NEW: OFlags = OFlags::RDWR
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// How directory handles are opened (the configured path once; `.` for each lock).
const OPEN_DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[allow(
    clippy::unnecessary_cast,
    clippy::useless_conversion,
    reason = "the field types of `struct stat` differ between platforms"
)]
fn info(st: &Stat) -> FileInfo {
    let mode = st.st_mode as u32;
    let kind = match FileType::from_raw_mode(st.st_mode as RawMode) {
        FileType::RegularFile => FileKind::Regular,
        FileType::Symlink => FileKind::Symlink,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        FileType::CharacterDevice | FileType::BlockDevice => FileKind::Device,
        FileType::Directory => FileKind::Directory,
        _ => FileKind::Other,
    };
    let secs = u64::try_from(st.st_mtime as i64).unwrap_or(0);
    let nanos = u32::try_from(st.st_mtime_nsec as u64)
        .unwrap_or(0)
        .min(999_999_999);
    FileInfo {
        kind,
        owned_by_us: st.st_uid as u32 == euid(),
        writable_by_others: mode & GROUP_OR_OTHER_WRITE != 0,
        len: u64::try_from(st.st_size as i64).unwrap_or(0),
        modified: SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .unwrap_or(SystemTime::UNIX_EPOCH),
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
    }
}

#[allow(
    clippy::unnecessary_cast,
    reason = "the field types of `struct stat` differ between platforms"
)]
fn mode_and_owner(st: &Stat) -> (u32, u32) {
    (st.st_mode as u32 & 0o7777, st.st_uid as u32)
}

/// The `fstat` of an open file.
pub(crate) fn file_info(file: &File) -> io::Result<FileInfo> {
    Ok(info(&rustix::fs::fstat(file)?))
}

/// The cache directory, held open from [`Dir::open`] on: every operation on its entries
/// is relative to this handle, so renaming the directory's path, or swapping it or an
/// ancestor for a symlink, after the cache opened changes nothing.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Opens the configured directory. Symlinks in the configured path are followed (the
    /// embedder chose it); the directory it leads to is what [`Dir::check_secure`]
    /// checks and what the cache uses from then on. A FIFO or any other non-directory
    /// fails at once with `ENOTDIR`.
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(path, OPEN_DIR, Mode::empty())?;
        Ok(Dir { fd })
    }

    /// Refuses a directory that someone other than us (or root) could plant files in.
    ///
    /// The directory (the `fstat` of the open handle, not its path) must be owned by the
    /// effective user or by root, and must not be writable by group or others. A sticky
    /// directory writable by others (`/tmp`) is accepted only with
    /// `allow_shared_sticky`: there others cannot remove or rename our files, and the
    /// files they create are refused one by one (see `CacheConfig`).
    pub(crate) fn check_secure(
        &self,
        path: &Path,
        allow_shared_sticky: bool,
    ) -> Result<(), CacheError> {
        let st = rustix::fs::fstat(&self.fd).map_err(|e| CacheError::io(path, e.into()))?;
        let (mode, owner) = mode_and_owner(&st);
        let owner_ok = owner == euid() || owner == 0;
        let shared = mode & GROUP_OR_OTHER_WRITE != 0;
        let allowed_shared = allow_shared_sticky && mode & STICKY != 0;
        if !owner_ok || (shared && !allowed_shared) {
            return Err(CacheError::InsecureDirectory {
                path: path.to_path_buf(),
                mode,
                owner,
            });
        }
        Ok(())
    }

    /// Opens the existing entry `name` for reading and judges it by `fstat` of the
    /// handle. Never follows a symlink, never blocks (a FIFO opens at once with
    /// `O_NONBLOCK`), never reads anything. A missing entry is `ErrorKind::NotFound`.
    pub(crate) fn open_file(&self, name: &str) -> io::Result<Opened> {
        match rustix::fs::openat(&self.fd, name, OPEN_EXISTING, Mode::empty()) {
            Ok(fd) => {
                let info = info(&rustix::fs::fstat(&fd)?);
                Ok(match info.foreign() {
                    Some(reason) => Opened::Foreign(reason),
                    None => Opened::Ours(File::from(fd), info),
                })
            }
            Err(errno) => {
                let error = io::Error::from(errno);
                if error.kind() == io::ErrorKind::NotFound {
                    return Err(error);
                }
                // `ELOOP` (a symlink; `EMLINK` or `EFTYPE` on some BSDs), `ENXIO` (a
                // socket), `EACCES`, ...: say what the entry is, without opening it.
                match self.stat(name).map(|info| info.foreign()) {
                    Ok(Some(reason)) => Ok(Opened::Foreign(reason)),
                    _ => Err(error),
                }
            }
        }
    }

    /// `fstatat` of the entry `name`, not following a symlink.
    pub(crate) fn stat(&self, name: &str) -> io::Result<FileInfo> {
        Ok(info(&rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?))
    }

    /// The names of the directory's entries that are valid UTF-8 (the cache's names all
    /// are), without `.` and `..`. Nothing is opened or stat'ed.
    pub(crate) fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            if let Ok(name) = entry.file_name().to_str()
                && name != "."
                && name != ".."
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Creates the new entry `name` with mode `0o600`, failing with
    /// `ErrorKind::AlreadyExists` if anything (a symlink included) has that name.
    pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
        let fd = rustix::fs::openat(&self.fd, name, CREATE_NEW, Mode::RUSR | Mode::WUSR)?;
        Ok(File::from(fd))
    }

    /// Atomically renames the entry `from` to `to` within the directory.
    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
    }

    /// Unlinks the entry `name` (a symlink itself, never its target).
    pub(crate) fn unlink(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// A new open file description of the directory, for a `flock` of its own (locks on
    /// one description do not exclude each other).
    pub(crate) fn reopen(&self) -> io::Result<File> {
        let fd = rustix::fs::openat(&self.fd, ".", OPEN_DIR, Mode::empty())?;
        Ok(File::from(fd))
    }

    /// `fsync`s the directory, making renames in it durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }
}

/// Creates `path` and any missing parents with mode 0o700.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}
