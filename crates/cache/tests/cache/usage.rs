//! Everyday behaviour: layers, eviction with live modules, verify, clear, compile_many.

use wasm_sandbox_cache::{CacheConfig, CacheError, CompilationCache, EvictionPolicy};

use crate::*;

#[test]
fn memory_then_disk_then_compile() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = open(dir.path());
    let m = cache.get_or_compile(&engine, &wat(5), &settings()).unwrap();
    assert_eq!(answer(&engine, &m), 5);
    cache.get_or_compile(&engine, &wat(5), &settings()).unwrap();
    cache.clear_memory();
    let loaded = cache.get_or_compile(&engine, &wat(5), &settings()).unwrap();
    assert_eq!(answer(&engine, &loaded), 5);
    let s = cache.stats();
    assert_eq!(
        (s.misses, s.compiles, s.memory_hits, s.disk_hits),
        (1, 1, 1, 1)
    );
    assert_eq!(s.memory_entries, 1);
    assert!(s.memory_bytes > 0);
    assert_eq!(s.entries_on_disk, 1);
    // The bytes on disk are what the directory holds.
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(s.bytes_on_disk, on_disk);
    // A new process (here: a new cache) finds it on disk.
    let fresh = open(dir.path());
    assert_eq!(fresh.stats().entries_on_disk, 1);
    fresh.get_or_compile(&engine, &wat(5), &settings()).unwrap();
    assert_eq!(fresh.stats().disk_hits, 1);
    // The snapshot serializes.
    let json = serde_json_like(&s);
    assert!(json.contains("disk_hits"));
}

/// `CacheStats` implements `serde::Serialize`; check it with a tiny serializer-free probe
/// (its `Debug` names the same fields).
fn serde_json_like(stats: &wasm_sandbox_cache::CacheStats) -> String {
    fn assert_serialize<T: serde::Serialize>(_: &T) {}
    assert_serialize(stats);
    format!("{stats:?}")
}

#[test]
fn evicting_a_loaded_artifact_keeps_its_module_working() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let probe = open(dir.path());
    probe.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    let one_entry = probe.stats().bytes_on_disk;
    probe.clear().unwrap();
    drop(probe);

    // Room for one entry only.
    let cache = CompilationCache::open(
        CacheConfig::new(dir.path()).max_cache_size(one_entry + one_entry / 2),
    )
    .unwrap();
    cache.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    cache.clear_memory();
    // Loaded from disk: this module's code is a mapping of the artifact file.
    let mapped = cache.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    assert_eq!(cache.stats().disk_hits, 1);

    // Module 2 evicts module 1's artifact.
    cache.get_or_compile(&engine, &wat(2), &settings()).unwrap();
    let s = cache.stats();
    assert_eq!(s.evictions, 1);
    assert_eq!(s.entries_on_disk, 1);
    assert!(s.bytes_on_disk <= one_entry + one_entry / 2);
    let key1 = wasm_sandbox_cache::CacheKey::new(&engine, &wat(1), &settings());
    assert!(!artifact_path(dir.path(), &key1).exists());

    // The unlinked file stays mapped: instantiate and call.
    assert_eq!(answer(&engine, &mapped), 1);
    cache.clear_memory();
    drop(cache);
    assert_eq!(answer(&engine, &mapped), 1);
}

#[test]
fn disk_bound_holds_under_both_policies() {
    let engine = engine();
    for policy in [EvictionPolicy::Lru, EvictionPolicy::Lfu] {
        let dir = tempfile::tempdir().unwrap();
        let probe = open(dir.path());
        probe.get_or_compile(&engine, &wat(0), &settings()).unwrap();
        let entry = probe.stats().bytes_on_disk;
        probe.clear().unwrap();
        let bound = entry * 3 + entry / 2;
        let cache = CompilationCache::open(
            CacheConfig::new(dir.path())
                .max_cache_size(bound)
                .eviction_policy(policy)
                .memory_max_entries(0),
        )
        .unwrap();
        for n in 0..8 {
            cache.get_or_compile(&engine, &wat(n), &settings()).unwrap();
            // Make module 0 the most used and most recent.
            cache.get_or_compile(&engine, &wat(0), &settings()).unwrap();
            let s = cache.stats();
            assert!(s.bytes_on_disk <= bound, "{policy:?}: {s:?}");
            let files: u64 = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            assert!(files <= bound, "{policy:?}: {files} bytes on disk");
        }
        let key0 = wasm_sandbox_cache::CacheKey::new(&engine, &wat(0), &settings());
        assert!(
            artifact_path(dir.path(), &key0).exists(),
            "{policy:?} kept the hot entry"
        );
        let s = cache.stats();
        assert_eq!(s.entries_on_disk, 3);
        assert_eq!(s.evictions, 5);
        assert_eq!(s.memory_hits, 0);
        assert_eq!(s.misses + s.disk_hits, 16);
        // A reopened cache sees the same entries, within a smaller bound it evicts.
        drop(cache);
        let smaller =
            CompilationCache::open(CacheConfig::new(dir.path()).max_cache_size(entry + 10))
                .unwrap();
        assert_eq!(smaller.stats().entries_on_disk, 1);
        assert_eq!(smaller.stats().evictions, 2);
    }
}

#[test]
fn verify_removes_bad_entries_orphans_and_dead_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = open(dir.path());
    cache.get_or_compile(&engine, &wat(1), &settings()).unwrap();
    cache.get_or_compile(&engine, &wat(2), &settings()).unwrap();
    let key2 = wasm_sandbox_cache::CacheKey::new(&engine, &wat(2), &settings());
    let mut bytes = std::fs::read(artifact_path(dir.path(), &key2)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    replace(&artifact_path(dir.path(), &key2), &bytes);
    // An artifact without a header and a temporary file no one holds.
    let orphan = dir.path().join(format!("{}.cwasm", "ab".repeat(32)));
    std::fs::write(&orphan, b"orphan").unwrap();
    std::fs::write(dir.path().join(".wsc-tmp-dead"), b"partial").unwrap();
    // Files that are not ours are left alone.
    std::fs::write(dir.path().join("README"), b"mine").unwrap();

    let report = cache.verify().unwrap();
    assert_eq!(report.checked, 2);
    assert_eq!(report.valid, 1);
    assert_eq!(report.temp_files_removed, 1);
    let removed: Vec<_> = report.removed.iter().map(|r| r.path.clone()).collect();
    assert!(removed.contains(&orphan), "{report:?}");
    assert!(
        removed.contains(&artifact_path(dir.path(), &key2)),
        "{report:?}"
    );
    assert!(dir.path().join("README").exists());
    assert_eq!(cache.stats().entries_on_disk, 1);
    assert_eq!(cache.verify().unwrap().removed.len(), 0);

    cache.clear().unwrap();
    assert_eq!(cache.stats().entries_on_disk, 0);
    assert_eq!(cache.stats().bytes_on_disk, 0);
    assert!(files_with_suffix(dir.path(), ".cwasm").is_empty());
    assert!(files_with_suffix(dir.path(), ".meta").is_empty());
}

#[test]
fn compile_many_keeps_order_and_compiles_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = open(dir.path());
    let modules: Vec<Vec<u8>> = (0..4).map(wat).collect();
    let mut items: Vec<(&[u8], wasm_sandbox_cache::CompileSettings)> = Vec::new();
    for m in modules.iter().chain(modules.iter()) {
        items.push((m, settings()));
    }
    items.push((b"(module (oops))", settings()));
    let results = cache.compile_many(&engine, &items, 3);
    assert_eq!(results.len(), 9);
    for (i, r) in results.iter().take(8).enumerate() {
        assert_eq!(answer(&engine, r.as_ref().unwrap()), (i % 4) as i32);
    }
    assert!(matches!(results[8], Err(CacheError::Compile { .. })));
    assert_eq!(cache.stats().compiles, 4);
    assert!(cache.compile_many(&engine, &[], 4).is_empty());
    assert_eq!(cache.compile_many(&engine, &items[..1], 0).len(), 1);
}

#[test]
fn memory_layer_is_bounded() {
    let engine = engine();
    let cache = CompilationCache::open(CacheConfig::in_memory().memory_max_entries(2)).unwrap();
    for n in 0..5 {
        cache.get_or_compile(&engine, &wat(n), &settings()).unwrap();
    }
    let s = cache.stats();
    assert_eq!(s.memory_entries, 2);
    assert_eq!(s.memory_evictions, 3);
    assert!(!s.disk_enabled);
}

#[test]
fn cache_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompilationCache>();
    assert_send_sync::<CacheError>();
}
