//! Host-side buffer pooling (`wasm-sandbox-mempool`) against plain `Vec<u8>` allocation.
//!
//! Serde calls with pooled marshalling (the facade using the pool for argument and result
//! buffers) get their row when the facade supports it; today `Instance::call` allocates
//! plain `Vec`s, so there is nothing to compare yet.

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
    ]
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
