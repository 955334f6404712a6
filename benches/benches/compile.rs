//! Criterion: compilation (after wasmtime's `benches/compile.rs`): a cold Cranelift compile
//! against a warm load from wasm-sandbox's compilation cache and from wasmtime's own cache.

use criterion::{Criterion, criterion_group, criterion_main};
use wasm_sandbox_benches::suite::cache;
use wasm_sandbox_cache::{CacheConfig, CompilationCache};

fn compile(c: &mut Criterion) {
    let engine = cache::sandbox_engine().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = CompilationCache::open(CacheConfig::new(dir.path().join("ours"))).unwrap();
    let wengine = cache::wasmtime_cached_engine(&dir.path().join("wasmtime")).unwrap();
    let settings = cache::settings();
    for (name, wasm) in [
        ("abi", wasm_sandbox_guests::ABI_WASM),
        ("sqlite", wasm_sandbox_guests::SQLITE_WASM),
    ] {
        ours.get_or_compile(&engine, wasm, &settings).unwrap();
        wasmtime::Module::new(&wengine, wasm).unwrap();
        let mut g = c.benchmark_group(format!("compile/{name}"));
        g.sample_size(10);
        g.bench_function("cranelift-cold", |b| {
            b.iter(|| wasmtime::Module::new(&engine, wasm).unwrap())
        });
        g.bench_function("wasmtime-cache-warm", |b| {
            b.iter(|| wasmtime::Module::new(&wengine, wasm).unwrap())
        });
        g.bench_function("wasm-sandbox-cache-disk", |b| {
            b.iter(|| {
                ours.clear_memory();
                ours.get_or_compile(&engine, wasm, &settings).unwrap()
            })
        });
        g.bench_function("wasm-sandbox-cache-memory", |b| {
            b.iter(|| ours.get_or_compile(&engine, wasm, &settings).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, compile);
criterion_main!(benches);
