//! The compilation cache never hands one engine configuration another's
//! artifact, and the memo cache never changes a result or keeps a trap.

use wasm_sandbox::WasmSandbox;
use wasm_sandbox_cache::{CacheConfig, CacheKey, CompilationCache, CompileSettings};
use wasm_sandbox_core::{
    Codec, Error, PerformanceConfig, ResourceLimits, SandboxConfig, Tier, TrapCode, build_engine,
    wasmtime,
};
use wasm_sandbox_guests as guests;

const WAT: &str = r#"(module (memory 1) (func (export "answer") (result i32) i32.const 42))"#;

fn config(fuel: bool, pool: bool) -> SandboxConfig {
    SandboxConfig {
        limits: ResourceLimits {
            fuel: fuel.then_some(1_000_000),
            max_memory: 1 << 20,
            ..ResourceLimits::default()
        },
        performance: PerformanceConfig {
            memory_pool_size: if pool { 4 << 20 } else { 0 },
            ..PerformanceConfig::default()
        },
        ..SandboxConfig::default()
    }
}

fn answer(engine: &wasmtime::Engine, module: &wasmtime::Module, fuel: bool) -> i32 {
    let mut store = wasmtime::Store::new(engine, ());
    store.set_epoch_deadline(1 << 40);
    if fuel {
        store.set_fuel(1_000_000).unwrap();
    }
    let i = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
    i.get_typed_func::<(), i32>(&mut store, "answer")
        .unwrap()
        .call(&mut store, ())
        .unwrap()
}

/// Pairs of configurations that must never share an artifact, compiled into
/// one directory under the *same* settings label, so only the engine's own
/// compatibility hash keeps them apart.
#[test]
fn artifacts_of_another_engine_configuration_never_load() {
    let t = Tier::HighlyOptimized;
    let pairs = [
        (
            "fuel vs no fuel",
            (t, config(true, false)),
            (t, config(false, false)),
        ),
        (
            "interpreter vs optimizing",
            (Tier::Interpreter, config(false, false)),
            (t, config(false, false)),
        ),
        (
            "baseline vs optimizing",
            (Tier::Baseline, config(false, false)),
            (t, config(false, false)),
        ),
    ];
    for (what, (ta, ca), (tb, cb)) in pairs {
        let dir = tempfile::tempdir().unwrap();
        let settings = CompileSettings::new("same-label");
        let a = build_engine(ta, &ca).unwrap();
        let b = build_engine(tb, &cb).unwrap();
        let cache = CompilationCache::open(CacheConfig::new(dir.path().join("c"))).unwrap();
        let ma = cache.get_or_compile(&a, WAT.as_bytes(), &settings).unwrap();
        assert_ne!(
            CacheKey::new(&a, WAT.as_bytes(), &settings),
            CacheKey::new(&b, WAT.as_bytes(), &settings),
            "{what}: the keys must differ"
        );
        cache.clear_memory();
        let before = cache.stats();
        let mb = cache.get_or_compile(&b, WAT.as_bytes(), &settings).unwrap();
        let after = cache.stats();
        assert_eq!(
            after.disk_hits, before.disk_hits,
            "{what}: loaded the other engine's artifact"
        );
        assert_eq!(after.compiles, before.compiles + 1, "{what}");
        assert_eq!(answer(&a, &ma, ca.limits.fuel.is_some()), 42);
        assert_eq!(answer(&b, &mb, cb.limits.fuel.is_some()), 42);

        // Worse: A's artifact planted under B's key with a valid header. The
        // cache's checks pass (it is a well-formed entry); wasmtime's own
        // compatibility check must refuse it, and the cache recompiles.
        let kb = CacheKey::new(&b, WAT.as_bytes(), &settings);
        let foreign = ma.serialize().unwrap();
        let cdir = dir.path().join("c");
        let _ = std::fs::remove_file(cdir.join(format!("{kb}.meta")));
        let _ = std::fs::remove_file(cdir.join(format!("{kb}.cwasm")));
        std::fs::write(cdir.join(format!("{kb}.cwasm")), &foreign).unwrap();
        std::fs::write(cdir.join(format!("{kb}.meta")), forge_meta(&kb, &foreign)).unwrap();
        let cache = CompilationCache::open(CacheConfig::new(&cdir)).unwrap();
        let mb = cache.get_or_compile(&b, WAT.as_bytes(), &settings).unwrap();
        let s = cache.stats();
        assert_eq!(
            s.disk_hits, 0,
            "{what}: a planted foreign artifact was loaded"
        );
        assert_eq!(s.compiles, 1, "{what}");
        assert_eq!(answer(&b, &mb, cb.limits.fuel.is_some()), 42);
    }
}

/// A valid header (docs/cache-format.md) for `artifact` under `key`.
fn forge_meta(key: &CacheKey, artifact: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    out[0..8].copy_from_slice(b"WSCMETA\0");
    out[8..12].copy_from_slice(&1u32.to_le_bytes());
    out[16..48].copy_from_slice(key.as_bytes());
    out[48..56].copy_from_slice(&(artifact.len() as u64).to_le_bytes());
    out[56..88].copy_from_slice(blake3::hash(artifact).as_bytes());
    let sum = blake3::hash(&out[..96]);
    out[96..128].copy_from_slice(sum.as_bytes());
    out
}

/// The allocation strategy is not part of wasmtime's compatibility hash: code
/// compiled for an on-demand engine is the code a pooled engine would compile
/// (same tunables), so the two share an artifact, and it must run correctly
/// from pool slots.
#[test]
fn pooled_and_on_demand_engines_share_artifacts_safely() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CompileSettings::new("same-label");
    let plain = build_engine(Tier::HighlyOptimized, &config(false, false)).unwrap();
    let pooled = build_engine(Tier::HighlyOptimized, &config(false, true)).unwrap();
    assert_eq!(
        CacheKey::new(&plain, WAT.as_bytes(), &settings),
        CacheKey::new(&pooled, WAT.as_bytes(), &settings)
    );
    let cache = CompilationCache::open(CacheConfig::new(dir.path().join("c"))).unwrap();
    cache
        .get_or_compile(&plain, WAT.as_bytes(), &settings)
        .unwrap();
    cache.clear_memory();
    let m = cache
        .get_or_compile(&pooled, WAT.as_bytes(), &settings)
        .unwrap();
    assert_eq!(cache.stats().disk_hits, 1);
    for _ in 0..8 {
        assert_eq!(answer(&pooled, &m, false), 42);
    }
}

#[test]
fn a_module_mapped_from_disk_survives_the_eviction_of_its_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let engine = build_engine(Tier::Baseline, &config(false, false)).unwrap();
    let settings = CompileSettings::new("baseline");
    let first = guests::SCALAR_WAT;
    // Room for about one artifact: every insert evicts the previous one.
    let probe = CompilationCache::open(CacheConfig::new(dir.path().join("probe"))).unwrap();
    probe
        .get_or_compile(&engine, first.as_bytes(), &settings)
        .unwrap();
    let one = probe.stats().bytes_on_disk;
    let cache = CompilationCache::open(
        CacheConfig::new(dir.path().join("c")).max_cache_size(one + one / 2),
    )
    .unwrap();
    cache
        .get_or_compile(&engine, first.as_bytes(), &settings)
        .unwrap();
    cache.clear_memory();
    let mapped = cache
        .get_or_compile(&engine, first.as_bytes(), &settings)
        .unwrap();
    assert_eq!(cache.stats().disk_hits, 1, "loaded from disk (mapped)");
    cache.clear_memory();
    for k in 0..4 {
        let other = format!(
            r#"(module (func (export "f") (result i32) i32.const {k}) (func (export "g") (param i32) (result i32) local.get 0 i32.const {k} i32.add))"#
        );
        cache
            .get_or_compile(&engine, other.as_bytes(), &settings)
            .unwrap();
    }
    assert!(cache.stats().evictions >= 1, "{:?}", cache.stats());
    assert!(
        !cache.contains(&engine, first.as_bytes(), &settings),
        "the first artifact was evicted"
    );
    // The evicted, still-mapped module runs.
    let mut store = wasmtime::Store::new(&engine, ());
    store.set_epoch_deadline(1 << 40);
    let i = wasmtime::Instance::new(&mut store, &mapped, &[]).unwrap();
    let add = i
        .get_typed_func::<(i32, i32), i32>(&mut store, "add")
        .unwrap();
    for k in 0..1000 {
        assert_eq!(add.call(&mut store, (k, 1)).unwrap(), k + 1);
    }
}

#[test]
fn memoized_and_plain_results_agree_and_traps_are_never_memoized() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let memo = WasmSandbox::builder()
            .pure_export("process_batch")
            .pure_export("abort_now")
            .pure_export("fail")
            .build()
            .await
            .unwrap();
        let plain = WasmSandbox::builder().build().await.unwrap();
        memo.load(guests::ABI_WASM).await.unwrap();
        plain.load(guests::ABI_WASM).await.unwrap();
        for round in 0..3 {
            for k in 0..20i32 {
                let input: Vec<i32> = (0..k).map(|x| x * 7 - k).collect();
                let a: Vec<i32> = memo.call("process_batch", &input).await.unwrap();
                let b: Vec<i32> = plain.call("process_batch", &input).await.unwrap();
                assert_eq!(a, b, "round {round}, k {k}");
            }
        }
        let stats = memo.call_optimizer().unwrap().stats();
        assert!(stats.hits >= 40, "{stats:?}");
        for _ in 0..3 {
            let err = memo
                .call::<_, Vec<i32>>("abort_now", &[1])
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Trap {
                        code: TrapCode::UnreachableCodeReached,
                        ..
                    }
                ),
                "{err}"
            );
            let err = memo.call::<_, Vec<i32>>("fail", &[1]).await.unwrap_err();
            assert!(matches!(err, Error::Guest { .. }), "{err}");
        }
        let after = memo.call_optimizer().unwrap().stats();
        assert_eq!(
            after.hits, stats.hits,
            "an error was answered from the memo cache"
        );
        assert_eq!(after.insertions, stats.insertions, "an error was stored");
        // Codec choice does not leak between memoized calls.
        let _ = Codec::Json;
    });
}
