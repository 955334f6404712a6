//! The cache directory: refused when others can write it, created when missing,
//! compile-only when it cannot be written.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use wasm_sandbox_cache::{CacheConfig, CacheError, CompilationCache};

use crate::*;

#[test]
fn directories_others_can_write_are_refused() {
    let parent = tempfile::tempdir().unwrap();
    for mode in [0o777, 0o770, 0o722, 0o702] {
        let dir = dir_with_mode(parent.path(), &format!("dir-{mode:o}"), mode);
        let err = CompilationCache::open(CacheConfig::new(&dir)).unwrap_err();
        let message = insecure(err, &dir, mode);
        assert!(message.contains("chmod go-w"), "{message}");
        assert!(message.contains(&dir.display().to_string()), "{message}");
    }
    // Sticky world-writable directories (like /tmp) are refused too unless the embedder
    // opts in: `hostile::sticky_shared_directories_are_refused_unless_allowed`.
}

#[test]
fn directories_owned_by_another_user_are_refused() {
    if !rustix::process::geteuid().is_root() {
        return; // only root can give a directory away
    }
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(12345), Some(12345)).unwrap();
    let err = CompilationCache::open(CacheConfig::new(&dir)).unwrap_err();
    assert!(
        matches!(err, CacheError::InsecureDirectory { owner: 12345, .. }),
        "{err:?}"
    );
}

#[test]
fn missing_directories_are_created_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("a/b/cache");
    let cache = open(&dir);
    assert!(cache.is_disk_enabled());
    let meta = std::fs::metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o777, 0o700);
    let engine = engine();
    cache.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    assert_eq!(files_with_suffix(&dir, ".cwasm").len(), 1);
    assert_eq!(files_with_suffix(&dir, ".meta").len(), 1);
}

#[test]
fn a_file_as_directory_is_refused() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = CompilationCache::open(CacheConfig::new(&file)).unwrap_err();
    assert!(matches!(err, CacheError::NotADirectory { .. }), "{err:?}");
}

fn assert_compile_only(cache: &CompilationCache) {
    assert!(!cache.is_disk_enabled());
    assert_eq!(cache.directory(), None);
    let engine = engine();
    let a = cache.get_or_compile(&engine, &wat(3), &settings()).unwrap();
    let b = cache.get_or_compile(&engine, &wat(3), &settings()).unwrap();
    assert_eq!(answer(&engine, &a), 3);
    assert_eq!(answer(&engine, &b), 3);
    let stats = cache.stats();
    assert!(!stats.disk_enabled);
    assert_eq!((stats.compiles, stats.memory_hits), (1, 1));
    assert_eq!(stats.bytes_on_disk, 0);
    assert_eq!(cache.verify().unwrap().checked, 0);
    cache.clear().unwrap();
}

/// Tests run as root, where permission bits do not stop writes, so "cannot be written"
/// is produced in ways that fail for root too: a path below a regular file (the
/// directory cannot be created), and a procfs directory (which no one can create files
/// in, yet is owned by us and not writable by others, so it passes the security check).
/// As a non-root user, a `0o500` directory is used as well.
#[test]
fn unwritable_directories_degrade_to_compile_only() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert_compile_only(&open(&file.join("cache")));

    let procfs = Path::new("/proc/self/fdinfo");
    if procfs.is_dir() {
        assert_compile_only(&open(procfs));
    }

    if !rustix::process::geteuid().is_root() {
        let dir = parent.path().join("read-only");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o500);
        assert_compile_only(&open(&dir));
    }
}

#[test]
fn default_cache_dir_is_under_the_user_cache_dir() {
    if let Some(dir) = wasm_sandbox_cache::default_cache_dir() {
        assert!(dir.ends_with("wasm-sandbox"));
    }
}
