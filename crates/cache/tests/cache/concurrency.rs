//! Threads and processes sharing a cache; a process dying in the middle of a write.

use std::path::Path;
use std::sync::{Arc, Barrier};

use wasm_sandbox_cache::{CacheConfig, CacheKey, CompilationCache};
use wasmtime::Engine;

use crate::*;

#[test]
fn eight_threads_one_key_compile_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = Arc::new(open(dir.path()));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (cache, barrier, engine) = (cache.clone(), barrier.clone(), engine.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let m = cache.get_or_compile(&engine, &wat(9), &settings()).unwrap();
                answer(&engine, &m)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 9);
    }
    let s = cache.stats();
    assert_eq!(s.compiles, 1, "{s:?}");
    assert_eq!(s.misses, 1);
    assert_eq!(s.memory_hits + s.disk_hits + s.misses, 8);
}

/// Child mode "write": repeatedly open the cache, request module 11, and now and then
/// clear the cache so that the processes keep rewriting the same key. Prints its stats.
pub(crate) fn child_write(engine: &Engine, dir: &Path) {
    let mut corrupt = 0;
    let mut compiles = 0;
    for round in 0..12 {
        let cache = open(dir);
        let module = cache.get_or_compile(engine, &wat(11), &settings()).unwrap();
        assert_eq!(answer(engine, &module), 11);
        let s = cache.stats();
        corrupt += s.corrupt_removed;
        compiles += s.compiles;
        if round % 3 == 0 && round < 11 {
            cache.clear().unwrap();
        }
    }
    println!("CHILD-STATS corrupt={corrupt} compiles={compiles}");
}

/// Child mode "abort": die after writing the first temporary file of a store.
pub(crate) fn child_abort(engine: &Engine, dir: &Path) {
    let cache =
        CompilationCache::open(CacheConfig::new(dir).abort_after_temp_write_for_tests(true))
            .unwrap();
    let _ = cache.get_or_compile(engine, &wat(13), &settings());
    unreachable!("the store should have aborted the process");
}

#[test]
fn four_processes_writing_one_key_leave_one_valid_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4).map(|_| spawn_child("write", dir.path())).collect();
    let mut total_compiles = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.find("CHILD-STATS").map(|at| &l[at..]))
            .expect("child printed its stats");
        // No reader in any process ever saw a mismatched or partial pair.
        assert!(
            line.contains("corrupt=0 "),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let compiles: u64 = line
            .rsplit("compiles=")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .expect("compile count");
        total_compiles += compiles;
    }
    assert!(total_compiles >= 4, "every child compiled at least once");

    let engine = engine();
    let key = CacheKey::new(&engine, &wat(11), &settings());
    assert_eq!(
        files_with_suffix(dir.path(), ".cwasm"),
        vec![format!("{key}.cwasm")]
    );
    assert_eq!(
        files_with_suffix(dir.path(), ".meta"),
        vec![format!("{key}.meta")]
    );
    assert!(files_with_prefix(dir.path(), ".wsc-tmp-").is_empty());
    let cache = open(dir.path());
    let report = cache.verify().unwrap();
    assert_eq!((report.checked, report.valid), (1, 1), "{report:?}");
    let module = cache
        .get_or_compile(&engine, &wat(11), &settings())
        .unwrap();
    assert_eq!(cache.stats().disk_hits, 1);
    assert_eq!(answer(&engine, &module), 11);
}

#[test]
fn a_writer_killed_mid_write_leaves_a_valid_cache() {
    use std::os::unix::process::ExitStatusExt;
    const SIGABRT: i32 = 6;

    let dir = tempfile::tempdir().unwrap();
    // One good entry from before the crash.
    let engine = engine();
    open(dir.path())
        .get_or_compile(&engine, &wat(1), &settings())
        .unwrap();

    let out = spawn_child("abort", dir.path()).wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(SIGABRT), "{:?}", out.status);
    // The dead writer left its temporary file and nothing else.
    assert_eq!(files_with_prefix(dir.path(), ".wsc-tmp-").len(), 1);
    assert_eq!(files_with_suffix(dir.path(), ".cwasm").len(), 1);

    let cache = open(dir.path());
    assert_eq!(cache.stats().temp_files_removed, 1);
    assert!(files_with_prefix(dir.path(), ".wsc-tmp-").is_empty());
    let report = cache.verify().unwrap();
    assert_eq!((report.checked, report.valid), (1, 1));
    // The old entry still loads; the interrupted one compiles and stores normally.
    cache.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    let m = cache
        .get_or_compile(&engine, &wat(13), &settings())
        .unwrap();
    assert_eq!(answer(&engine, &m), 13);
    let s = cache.stats();
    assert_eq!((s.disk_hits, s.compiles, s.corrupt_removed), (1, 1, 0));
    assert_eq!(s.entries_on_disk, 2);
}

#[test]
fn a_live_writers_temp_file_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path());
    // A temporary file whose writer (this test) is alive and holds its lock.
    let tmp = tempfile::Builder::new()
        .prefix(".wsc-tmp-")
        .tempfile_in(dir.path())
        .unwrap();
    tmp.as_file().lock().unwrap();
    let cache = open(dir.path());
    assert_eq!(cache.stats().temp_files_removed, 0);
    assert!(tmp.path().exists());
    drop(tmp);
}
