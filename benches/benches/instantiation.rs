//! Criterion: instantiation (after wasmtime's `benches/instantiation.rs`): the sandbox's
//! pooled, pre-linked instantiation against plain wasmtime's `Instance::new` with the
//! default allocator, on the 16-page memory-image guest.

use criterion::{Criterion, criterion_group, criterion_main};
use wasm_sandbox_benches::{plain, suite};

fn instantiation(c: &mut Criterion) {
    let wasm = suite::guests::memory_image();
    let ours = suite::instantiate::pooled_module().expect("pooled module");
    let engine = plain::engine();
    let module = wasmtime::Module::new(&engine, &wasm).unwrap();
    let pre = wasmtime::Linker::<()>::new(&engine)
        .instantiate_pre(&module)
        .unwrap();
    let mut g = c.benchmark_group("instantiation/memory-image");
    g.bench_function("wasmtime-Instance::new", |b| {
        b.iter(|| {
            let mut store = wasmtime::Store::new(&engine, ());
            wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        })
    });
    g.bench_function("wasmtime-InstancePre", |b| {
        b.iter(|| {
            let mut store = wasmtime::Store::new(&engine, ());
            pre.instantiate(&mut store).unwrap();
        })
    });
    g.bench_function("wasm-sandbox-pooled", |b| {
        b.iter(|| ours.instantiate().unwrap())
    });
    g.finish();
}

criterion_group!(benches, instantiation);
criterion_main!(benches);
