//! Criterion: call overhead of wasm-sandbox against plain wasmtime (after wasmtime's
//! `benches/call.rs`). The suite's `call` rows measure the same pairs interleaved.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasm_sandbox_benches::suite::call;
use wasm_sandbox_core::Codec;

fn typed(c: &mut Criterion) {
    let (mut ours, mut plain) = call::scalar_pair().expect("scalar guest");
    let mut g = c.benchmark_group("call/typed-sync");
    g.bench_function("wasmtime", |b| {
        b.iter(|| plain.add.call(&mut plain.store, black_box((2, 3))).unwrap())
    });
    g.bench_function("wasm-sandbox", |b| {
        b.iter(|| {
            ours.add
                .call(&mut ours.instance, black_box((2, 3)))
                .unwrap()
        })
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("call/typed-async");
    g.bench_function("wasmtime", |b| {
        b.iter(|| {
            rt.block_on(plain.add.call_async(&mut plain.store, black_box((2, 3))))
                .unwrap()
        })
    });
    g.bench_function("wasm-sandbox", |b| {
        b.iter(|| {
            rt.block_on(ours.add.call_async(&mut ours.instance, black_box((2, 3))))
                .unwrap()
        })
    });
    g.finish();
}

fn serde(c: &mut Criterion) {
    let (mut ours, mut plain) = call::abi_pair().expect("abi guest");
    let f = plain.func("process_batch").unwrap();
    let payload = call::small_payload();
    let mut g = c.benchmark_group("call/serde-small");
    g.bench_function("wasmtime-hand-written", |b| {
        b.iter(|| -> Vec<i32> { plain.call_json(&f, black_box(&payload)).unwrap() })
    });
    g.bench_function("wasm-sandbox", |b| {
        b.iter(|| -> Vec<i32> {
            ours.call(Codec::Json, "process_batch", black_box(&payload))
                .unwrap()
        })
    });
    g.finish();

    let echo = plain.func("echo").unwrap();
    let input = vec![7u8; call::BYTES_LEN];
    let mut g = c.benchmark_group("call/bytes-64k");
    g.throughput(Throughput::Bytes(call::BYTES_LEN as u64));
    g.bench_function("wasmtime-hand-written", |b| {
        b.iter(|| plain.call_bytes(&echo, black_box(&input)).unwrap())
    });
    g.bench_function("wasm-sandbox", |b| {
        b.iter(|| ours.call_bytes("echo", black_box(&input)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, typed, serde);
criterion_main!(benches);
