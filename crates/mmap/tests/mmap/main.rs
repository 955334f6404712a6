//! Integration tests of `wasm-sandbox-mmap`: mapping, hits, unmapping, and what happens
//! to mapped bytes when the file is replaced by rename or truncated in place.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wasm_sandbox_mmap::{MappedFile, MappedMemoryManager, MmapError};

/// Set in a child copy of this test binary to make `child_entry` do something.
const CHILD_ENV: &str = "WASM_SANDBOX_MMAP_TEST_CHILD";

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write test file");
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`.
fn replace_by_rename(path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("path has a parent");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).expect("temp file");
    tmp.write_all(bytes).expect("write temp file");
    tmp.persist(path).expect("rename over");
}

#[test]
fn maps_and_counts_hits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bin");
    write(&path, b"hello world");
    let manager = MappedMemoryManager::new();

    let first = manager.map(&path).unwrap();
    let second = manager.map(&path).unwrap();
    assert_eq!(&*first, b"hello world");
    assert!(first.ptr_eq(&second), "a hit shares the mapping");
    assert_eq!(first.path(), path);

    let stats = manager.stats();
    assert_eq!(stats.mappings, 1);
    assert_eq!(stats.bytes_mapped, 11);
    assert_eq!(stats.maps, 1);
    assert_eq!(stats.hits, 1);
    assert_eq!(stats.unmaps, 0);

    let info = manager.info(&path).unwrap();
    assert_eq!(info.access_count, 2);
    assert_eq!(info.len, 11);
    assert_eq!(info.external_handles, 2);

    assert!(manager.get(&path).is_some());
    assert_eq!(manager.stats().hits, 2);
}

#[test]
fn unmapping_keeps_handles_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bin");
    write(&path, &[7u8; 10_000]);
    let manager = MappedMemoryManager::new();
    let handle = manager.map(&path).unwrap();

    assert!(manager.unmap(&path));
    assert!(!manager.unmap(&path));
    assert_eq!(manager.stats().mappings, 0);
    assert_eq!(manager.stats().unmaps, 1);
    // Even with the file gone the handle still reads the old bytes.
    std::fs::remove_file(&path).unwrap();
    assert!(handle.iter().all(|&b| b == 7));
    assert_eq!(handle.len(), 10_000);
}

#[test]
fn unmap_unused_respects_age() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.bin");
    let b = dir.path().join("b.bin");
    write(&a, b"a");
    write(&b, b"b");
    let manager = MappedMemoryManager::new();
    let _a = manager.map(&a).unwrap();
    let held_b = manager.map(&b).unwrap();

    assert_eq!(manager.unmap_unused(Duration::from_secs(3600)), 0);
    assert_eq!(manager.stats().mappings, 2);
    assert_eq!(manager.unmap_unused(Duration::ZERO), 2);
    assert_eq!(manager.stats().mappings, 0);
    assert_eq!(manager.stats().bytes_mapped, 0);
    assert_eq!(&*held_b, b"b");
}

#[test]
fn rename_over_keeps_old_contents_for_holders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("artifact.bin");
    write(&path, &[1u8; 8192]);
    let manager = MappedMemoryManager::new();
    let old = manager.map(&path).unwrap();

    replace_by_rename(&path, &[2u8; 100]);

    // Holders of the old mapping still see the old inode's bytes, all of them.
    assert_eq!(old.len(), 8192);
    assert!(old.iter().all(|&b| b == 1));
    // The manager notices the new inode and maps the new file.
    let new = manager.map(&path).unwrap();
    assert!(!new.ptr_eq(&old));
    assert_eq!(&*new, &[2u8; 100][..]);
    let stats = manager.stats();
    assert_eq!(stats.maps, 2);
    assert_eq!(stats.unmaps, 1, "the stale mapping was replaced");
    assert_eq!(stats.bytes_mapped, 100);
}

#[test]
fn writing_in_place_is_visible_to_holders() {
    // This is the hazard the rename-only contract rules out: a mapping is not a snapshot.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bin");
    write(&path, b"aaaa");
    let handle = MappedFile::open(&path).unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all(b"bb").unwrap();
    file.sync_all().unwrap();
    assert_eq!(&*handle, b"bbaa");
}

#[test]
fn empty_file_maps_to_empty_slice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    write(&path, b"");
    let handle = MappedFile::open(&path).unwrap();
    assert!(handle.is_empty());
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let manager = MappedMemoryManager::new();
    let err = manager.map(&missing).unwrap_err();
    assert!(matches!(err, MmapError::Open { .. }), "{err:?}");
    assert_eq!(err.path(), missing);
    assert!(err.to_string().contains("missing.bin"), "{err}");

    let err = MappedFile::open(dir.path()).unwrap_err();
    assert!(matches!(err, MmapError::NotAFile { .. }), "{err:?}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(manager.stats().mappings, 0);
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MappedFile>();
    assert_send_sync::<MappedMemoryManager>();
}

/// Truncating a mapped file in place and touching a page past the new end kills the
/// process with SIGBUS. Run in a child copy of this binary so the test binary survives.
#[cfg(target_os = "linux")]
#[test]
fn truncation_in_place_raises_sigbus_in_a_child() {
    use std::os::unix::process::ExitStatusExt;
    const SIGBUS: i32 = 7;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim.bin");
    write(&path, &[9u8; 3 * 4096]);
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .output()
        .unwrap();
    assert_eq!(
        output.status.signal(),
        Some(SIGBUS),
        "the child should die of SIGBUS; status {:?}, stdout {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
    );
}

/// The child half of the truncation test; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let handle = MappedFile::open(&path).unwrap();
    assert_eq!(handle[2 * 4096], 9);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    // Touching the now nonexistent third page raises SIGBUS.
    let byte = std::hint::black_box(&handle[..])[2 * 4096];
    println!("read {byte} after truncation: no SIGBUS?");
}
