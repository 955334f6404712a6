//! Fault tests with real artifacts: truncation, bit flips, foreign artifacts.

use wasm_sandbox_cache::{CacheConfig, CacheKey, CompilationCache, CompileSettings};
use wasmtime::{Config, Engine, OptLevel};

use crate::*;

/// Compiles module 7 into a fresh cache in `dir`, returning its key and the artifact and
/// header bytes.
fn seed(dir: &std::path::Path) -> (CacheKey, Vec<u8>, Vec<u8>) {
    let engine = engine();
    let cache = open(dir);
    cache.get_or_compile(&engine, &wat(7), &settings()).unwrap();
    let key = CacheKey::new(&engine, &wat(7), &settings());
    let artifact = std::fs::read(artifact_path(dir, &key)).unwrap();
    let meta = std::fs::read(meta_path(dir, &key)).unwrap();
    assert_eq!(meta.len(), 128);
    (key, artifact, meta)
}

/// Damages the entry with `damage`, then asks for the module again: the damage must be
/// detected, the entry removed and recompiled, and the call must succeed.
fn assert_detected(cache: &CompilationCache, engine: &Engine, damages: &mut u64) {
    cache.clear_memory();
    let before = cache.stats();
    let module = cache.get_or_compile(engine, &wat(7), &settings()).unwrap();
    let after = cache.stats();
    *damages += 1;
    assert_eq!(after.corrupt_removed, *damages, "damage not detected");
    assert_eq!(
        after.disk_hits, before.disk_hits,
        "a damaged artifact was loaded"
    );
    assert_eq!(after.compiles, before.compiles + 1);
    assert_eq!(answer(engine, &module), 7);
}

/// Sample lengths: all below 256 and in the last 256 bytes, and a dense sample between.
fn truncation_lengths(len: usize) -> Vec<usize> {
    let mut lengths: Vec<usize> = (0..len.min(256)).collect();
    lengths.extend((256..len).step_by((len / 300).max(1)));
    lengths.extend(len.saturating_sub(256)..len);
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

#[test]
fn truncated_artifacts_are_detected_and_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let (key, artifact, _) = seed(dir.path());
    let engine = engine();
    let cache = open(dir.path());
    let mut damages = 0;
    for len in truncation_lengths(artifact.len()) {
        replace(&artifact_path(dir.path(), &key), &artifact[..len]);
        assert_detected(&cache, &engine, &mut damages);
    }
    // Extending the file is caught too.
    let mut longer = artifact.clone();
    longer.push(0);
    replace(&artifact_path(dir.path(), &key), &longer);
    assert_detected(&cache, &engine, &mut damages);
    // The entry is whole again: a fresh cache loads it from disk.
    let fresh = open(dir.path());
    fresh.get_or_compile(&engine, &wat(7), &settings()).unwrap();
    assert_eq!(fresh.stats().disk_hits, 1);
}

#[test]
fn truncated_headers_are_detected_and_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _, meta) = seed(dir.path());
    let engine = engine();
    let cache = open(dir.path());
    let mut damages = 0;
    for len in 0..meta.len() {
        replace(&meta_path(dir.path(), &key), &meta[..len]);
        assert_detected(&cache, &engine, &mut damages);
    }
}

#[test]
fn bit_flips_anywhere_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (key, artifact, meta) = seed(dir.path());
    let engine = engine();
    let cache = open(dir.path());
    let mut damages = 0;
    // 200 flips spread over the artifact, cycling through the bit positions.
    for i in 0..200 {
        let mut flipped = artifact.clone();
        let at = i * artifact.len() / 200;
        flipped[at] ^= 1 << (i % 8);
        replace(&artifact_path(dir.path(), &key), &flipped);
        assert_detected(&cache, &engine, &mut damages);
    }
    // And 64 in the header.
    for i in 0..64 {
        let mut flipped = meta.clone();
        flipped[i * 2] ^= 1 << (i % 8);
        replace(&meta_path(dir.path(), &key), &flipped);
        assert_detected(&cache, &engine, &mut damages);
    }
}

/// A header written by the rules of `docs/cache-format.md`, as an attacker or a buggy
/// tool that knows the format would write it.
fn forge_header(key: &CacheKey, artifact: &[u8], version: u32) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    out[0..8].copy_from_slice(b"WSCMETA\0");
    out[8..12].copy_from_slice(&version.to_le_bytes());
    out[16..48].copy_from_slice(key.as_bytes());
    out[48..56].copy_from_slice(&(artifact.len() as u64).to_le_bytes());
    out[56..88].copy_from_slice(blake3::hash(artifact).as_bytes());
    let sum = blake3::hash(&out[..96]);
    out[96..128].copy_from_slice(sum.as_bytes());
    out
}

#[test]
fn forged_header_matches_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let (key, artifact, meta) = seed(dir.path());
    let forged = forge_header(&key, &artifact, 1);
    // Everything but the creation time (bytes 88..96) and the header checksum agrees.
    assert_eq!(forged[..88], meta[..88]);
}

#[test]
fn foreign_engine_artifacts_are_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let ours = engine();
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::None);
    let foreign = Engine::new(&config).unwrap();

    let key = CacheKey::new(&ours, &wat(7), &settings());
    let foreign_key = CacheKey::new(&foreign, &wat(7), &settings());
    assert_ne!(
        key, foreign_key,
        "another engine configuration has another key"
    );

    let cache = open(dir.path());
    cache
        .get_or_compile(&foreign, &wat(7), &settings())
        .unwrap();
    let foreign_artifact = std::fs::read(artifact_path(dir.path(), &foreign_key)).unwrap();
    let foreign_meta = std::fs::read(meta_path(dir.path(), &foreign_key)).unwrap();

    // Our engine misses: the foreign artifact is under another name.
    let module = cache.get_or_compile(&ours, &wat(7), &settings()).unwrap();
    assert_eq!(cache.stats().compiles, 2);
    assert_eq!(answer(&ours, &module), 7);

    let mut damages = 0;
    // 1. The foreign pair renamed to our key: the header names another key.
    replace(&artifact_path(dir.path(), &key), &foreign_artifact);
    replace(&meta_path(dir.path(), &key), &foreign_meta);
    assert_detected(&cache, &ours, &mut damages);

    // 2. Only the foreign artifact under our name: the checksum differs.
    replace(&artifact_path(dir.path(), &key), &foreign_artifact);
    assert_detected(&cache, &ours, &mut damages);

    // 3. An artifact of an engine with other tunables (here: fuel metering), given a
    //    consistent, forged header for our key: our integrity checks pass (a checksum is
    //    not a signature; keeping others from writing the directory is what stops
    //    forgery), and wasmtime's own engine check rejects it.
    //    (An opt-level difference alone is *not* rejected by wasmtime, since such code is
    //    still compatible: there only the key keeps the artifacts apart.)
    let mut fuel = Config::new();
    fuel.consume_fuel(true);
    let fuel = Engine::new(&fuel).unwrap();
    cache.get_or_compile(&fuel, &wat(7), &settings()).unwrap();
    let fuel_key = CacheKey::new(&fuel, &wat(7), &settings());
    assert_ne!(fuel_key, key);
    let fuel_artifact = std::fs::read(artifact_path(dir.path(), &fuel_key)).unwrap();
    replace(&artifact_path(dir.path(), &key), &fuel_artifact);
    replace(
        &meta_path(dir.path(), &key),
        &forge_header(&key, &fuel_artifact, 1),
    );
    assert_detected(&cache, &ours, &mut damages);

    // 4. A header of another (stale) format version, otherwise consistent.
    let artifact = std::fs::read(artifact_path(dir.path(), &key)).unwrap();
    replace(
        &meta_path(dir.path(), &key),
        &forge_header(&key, &artifact, 0),
    );
    assert_detected(&cache, &ours, &mut damages);

    // The foreign engine's own entry was never touched and still loads for it.
    let fresh = open(dir.path());
    let module = fresh
        .get_or_compile(&foreign, &wat(7), &settings())
        .unwrap();
    assert_eq!(fresh.stats().disk_hits, 1);
    assert_eq!(answer(&foreign, &module), 7);
}

#[test]
fn other_settings_have_other_keys() {
    let engine = engine();
    let base = CompileSettings::new("optimized");
    let variants = [
        CompileSettings::new("baseline"),
        base.clone().with_opt_level(OptLevel::Speed),
        base.clone().with_opt_level(OptLevel::SpeedAndSize),
        base.clone().with_target("x86_64-unknown-linux-gnu"),
        base.clone().with("a", "b"),
        base.clone().with("ab", ""),
    ];
    let base_key = CacheKey::new(&engine, &wat(1), &base);
    assert_eq!(base_key, CacheKey::new(&engine, &wat(1), &base.clone()));
    assert_ne!(base_key, CacheKey::new(&engine, &wat(2), &base));
    let mut keys: Vec<CacheKey> = variants
        .iter()
        .map(|s| CacheKey::new(&engine, &wat(1), s))
        .collect();
    keys.push(base_key);
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "every setting changes the key");

    let dir = tempfile::tempdir().unwrap();
    let cache = CompilationCache::open(CacheConfig::new(dir.path())).unwrap();
    cache
        .get_or_compile(&engine, &wat(1), &variants[0])
        .unwrap();
    cache
        .get_or_compile(&engine, &wat(1), &variants[1])
        .unwrap();
    assert_eq!(
        cache.stats().compiles,
        2,
        "another tier never shares an artifact"
    );
}

#[test]
fn invalid_modules_are_typed_errors_not_panics() {
    let engine = engine();
    let cache = CompilationCache::open(CacheConfig::in_memory()).unwrap();
    for input in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0\0\x01",
        b"(module (func (result i32)))",
        b"not wasm at all",
    ] {
        let err = cache
            .get_or_compile(&engine, input, &settings())
            .unwrap_err();
        assert!(
            matches!(err, wasm_sandbox_cache::CacheError::Compile { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("WebAssembly module failed to compile: ")
        );
    }
    assert_eq!(cache.stats().compile_errors, 5);
    assert_eq!(cache.stats().misses, 5);
}

#[test]
fn engine_fingerprints_are_remembered_per_engine_not_mixed_up() {
    use wasm_sandbox_cache::WasmDigest;
    let settings = CompileSettings::new("optimized");
    let wasm = wat(1);
    let speed = engine();
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(OptLevel::None);
    config.consume_fuel(true);
    let other = Engine::new(&config).unwrap();
    // Alternate, so each lookup of the remembered fingerprints must pick the right engine.
    let first = (
        CacheKey::new(&speed, &wasm, &settings),
        CacheKey::new(&other, &wasm, &settings),
    );
    for _ in 0..3 {
        assert_eq!(CacheKey::new(&speed, &wasm, &settings), first.0);
        assert_eq!(CacheKey::new(&other, &wasm, &settings), first.1);
    }
    assert_ne!(
        first.0, first.1,
        "another engine configuration, another key"
    );
    // A dropped engine's slot is not inherited by a new engine with another configuration.
    drop(other);
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true);
    let third = Engine::new(&config).unwrap();
    assert_ne!(CacheKey::new(&third, &wasm, &settings), first.0);
    // The digest form gives the same key as hashing the bytes.
    assert_eq!(
        CacheKey::from_digest(&speed, &WasmDigest::of(&wasm), &settings),
        first.0
    );
    assert_eq!(
        WasmDigest::of(&wasm).as_bytes(),
        blake3::hash(&wasm).as_bytes()
    );
}
