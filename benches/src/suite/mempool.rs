//! Host-side buffer pooling (`wasm-sandbox-mempool`) against plain `Vec<u8>` allocation.
//!
//! The last row set measures the pool where the sandbox uses it: serde calls marshal their
//! arguments and results through a per-sandbox pool (`SandboxConfig::host_buffer_pool`),
//! against the same calls with plain `Vec`s.

use std::hint::black_box;

use wasm_sandbox_bench::{InputSize, Phase, compare};
use wasm_sandbox_mempool::{MemoryPool, PoolConfig};

use super::{Ctx, RowResult, RowSet, Scale};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "mempool/1-thread",
            run: one_thread,
        },
        RowSet {
            id: "mempool/2-threads",
            run: two_threads,
        },
        RowSet {
            id: "mempool/serde",
            run: serde_marshalling,
        },
    ]
}

/// Serde calls of `process_batch` (ABI_WASM) with pooled marshalling (the default) against
/// `host_buffer_pool: false`, for a small and a larger payload.
fn serde_marshalling(ctx: &Ctx) -> RowResult {
    use wasm_sandbox_core::{Codec, Sandbox, SandboxConfig};
    let instance = |pooled: bool| -> Result<wasm_sandbox_core::Instance, super::BoxError> {
        let sandbox = Sandbox::new(SandboxConfig {
            host_buffer_pool: pooled,
            ..SandboxConfig::default()
        })?;
        Ok(sandbox
            .compile(wasm_sandbox_guests::ABI_WASM)?
            .instantiate()?)
    };
    let (mut plain, mut pooled) = (instance(false)?, instance(true)?);
    let mut rows = Vec::new();
    for (n, label) in [(8usize, "8 x i32"), (1000, "1000 x i32")] {
        let payload: Vec<i32> = (0..n as i32).collect();
        let call = |inst: &mut wasm_sandbox_core::Instance| -> Vec<i32> {
            inst.call(Codec::Json, "process_batch", black_box(&payload))
                .expect("serde call")
        };
        assert_eq!(call(&mut plain), call(&mut pooled));
        let row = compare(
            format!("serde call {label} JSON, pooled marshalling vs Vec"),
            || call(&mut plain),
            || call(&mut pooled),
            &ctx.config(Scale::Fast),
        )
        .with_group("mempool")
        .with_phase(Phase::Execution)
        .with_names(
            "Instance::call, host_buffer_pool: false",
            "Instance::call, host_buffer_pool: true",
        )
        .with_measures(format!(
            "A serde call of `process_batch` with {label} in JSON (encode, ABI steps, decode). \
             With the pool the argument is encoded into, and the result copied out of guest \
             memory into, pooled buffers; without it into fresh Vecs. Same guest, same \
             instance reuse."
        ));
        rows.push(row);
    }
    Ok(rows)
}

/// The size classes measured: the smallest, a page, the largest.
const SIZES: [(usize, &str); 3] = [(64, "64 B"), (4096, "4 KiB"), (64 * 1024, "64 KiB")];

fn vec_op(size: usize) -> u8 {
    let mut v = vec![0u8; black_box(size)];
    v[size - 1] = 1;
    black_box(&v)[0]
}

fn pool_op(pool: &MemoryPool, size: usize) -> u8 {
    let mut b = pool.alloc(black_box(size)).expect("pool alloc");
    b[size - 1] = 1;
    black_box(&b)[0]
}

fn one_thread(ctx: &Ctx) -> RowResult {
    let pool = MemoryPool::new(PoolConfig::new());
    let mut rows = Vec::new();
    for (size, label) in SIZES {
        let row = compare(
            format!("alloc+free {label}, 1 thread"),
            || vec_op(size),
            || pool_op(&pool, size),
            &ctx.config(Scale::Fast),
        )
        .with_group("mempool")
        .with_phase(Phase::Execution)
        .with_names("vec![0u8; n] + drop", "MemoryPool::alloc + drop")
        .with_measures(format!(
            "One zeroed {label} buffer allocated, its last byte written, and freed: the system \
             allocator (glibc, whose per-thread cache makes this its best case) against the \
             pool (default PoolConfig: zeroing on release, per-shard front cache)."
        ));
        rows.push(row);
    }
    Ok(rows)
}

fn two_threads(ctx: &Ctx) -> RowResult {
    let pool = MemoryPool::new(PoolConfig::new());
    let mut rows = Vec::new();
    for (size, label) in SIZES {
        let ops: usize = ctx.pick(
            2,
            if size >= 65536 { 2000 } else { 20_000 },
            if size >= 65536 { 2000 } else { 20_000 },
        );
        let both = |f: &(dyn Fn() -> u8 + Sync)| {
            std::thread::scope(|s| {
                let a = s.spawn(|| (0..ops).map(|_| u64::from(f())).sum::<u64>());
                let mine = (0..ops).map(|_| u64::from(f())).sum::<u64>();
                mine + a.join().expect("worker thread")
            })
        };
        let row = compare(
            format!("alloc+free {label}, 2 threads"),
            || both(&|| vec_op(size)),
            || both(&|| pool_op(&pool, size)),
            &ctx.config(Scale::Medium),
        )
        .with_group("mempool")
        .with_phase(Phase::Execution)
        .with_names("vec![0u8; n] + drop", "MemoryPool::alloc + drop")
        .with_throughput(InputSize::Items(2 * ops as u64))
        .with_measures(format!(
            "As the 1-thread row, on 2 threads at once sharing one pool ({ops} buffers per thread \
             per sample, one scoped thread spawned per sample on both sides)."
        ));
        rows.push(row);
    }
    Ok(rows)
}
