//! A quick, interleaved measurement of pooled buffers against `Vec<u8>` per size class, on 1
//! and 2 threads. Not a benchmark (`benches/` owns those): it prints the median of per-round
//! ratios so a change to the hot path can be judged in a few seconds.
//!
//! ```text
//! cargo run --release -p wasm-sandbox-mempool --example alloc_vs_vec [-- --quick]
//! ```
//!
//! Two workloads per size, each "acquire, touch, drop" of one buffer:
//! - `alloc`: `pool.alloc(n)` (zeroed) with its last byte written, against `vec![0u8; n]`
//!   (calloc). This is the `benches/` row.
//! - `write`: `pool.with_capacity(n)` filled with `n` bytes by `extend_from_slice`, against
//!   `Vec::with_capacity(n)` + `extend_from_slice` (what serialization does).
//!
//! Rounds alternate pool and `Vec` batches so drift (frequency, noisy neighbours) hits both
//! alike. The ratio column is `Vec time / pool time`: above 1 the pool is faster.

use std::hint::black_box;
use std::time::Instant;

use wasm_sandbox_mempool::{MemoryPool, PoolConfig};

/// One measured operation.
type Op<'a> = Box<dyn Fn() + Sync + 'a>;

const SIZES: [usize; 6] = [64, 256, 1024, 4096, 16 * 1024, 64 * 1024];

fn vec_alloc(n: usize) {
    let mut v = vec![0u8; black_box(n)];
    v[n - 1] = 1;
    black_box(&v);
}

fn pool_alloc(pool: &MemoryPool, n: usize) {
    let mut b = pool.alloc(black_box(n)).expect("pool alloc");
    b[n - 1] = 1;
    black_box(&b);
}

fn vec_write(n: usize, src: &[u8]) {
    let mut v = Vec::with_capacity(black_box(n));
    v.extend_from_slice(&src[..n]);
    black_box(&v);
}

fn pool_write(pool: &MemoryPool, n: usize, src: &[u8]) {
    let mut b = pool.with_capacity(black_box(n)).expect("pool alloc");
    b.extend_from_slice(&src[..n]).expect("in place");
    black_box(&b);
}

/// Nanoseconds per operation for `iters` runs of `f` on `threads` threads at once.
fn time(threads: usize, iters: usize, f: &(dyn Fn() + Sync)) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| (0..iters).for_each(|_| f()));
        }
        (0..iters).for_each(|_| f());
    });
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 5 } else { 15 };
    let src = vec![0xA5u8; 64 * 1024];
    let configs = [
        ("zero on release", PoolConfig::new()),
        ("no zeroing", PoolConfig::new().zero_on_release(false)),
    ];
    println!(
        "{:<16} {:>7} {:>3} {:>6} | {:>9} {:>9} {:>6} {:>11}",
        "config", "bytes", "thr", "work", "pool ns", "vec ns", "ratio", "ratio range"
    );
    for (name, config) in configs {
        let pool = MemoryPool::new(config);
        for threads in [1, 2] {
            for n in SIZES {
                let iters = (if quick { 2_000_000 } else { 8_000_000 } / n.max(256))
                    .max(if quick { 10_000 } else { 40_000 });
                for work in ["alloc", "write"] {
                    let (p, v): (Op<'_>, Op<'_>) = match work {
                        "alloc" => (Box::new(|| pool_alloc(&pool, n)), Box::new(|| vec_alloc(n))),
                        _ => (
                            Box::new(|| pool_write(&pool, n, &src)),
                            Box::new(|| vec_write(n, &src)),
                        ),
                    };
                    // Warm both paths.
                    time(threads, iters / 4, &*p);
                    time(threads, iters / 4, &*v);
                    let (mut ps, mut vs, mut rs) = (Vec::new(), Vec::new(), Vec::new());
                    for _ in 0..rounds {
                        let tp = time(threads, iters, &*p);
                        let tv = time(threads, iters, &*v);
                        ps.push(tp);
                        vs.push(tv);
                        rs.push(tv / tp);
                    }
                    let (lo, hi) = (
                        rs.iter().copied().fold(f64::MAX, f64::min),
                        rs.iter().copied().fold(0.0, f64::max),
                    );
                    println!(
                        "{:<16} {:>7} {:>3} {:>6} | {:>9.1} {:>9.1} {:>6.2} {:>5.2}-{:<5.2}",
                        name,
                        n,
                        threads,
                        work,
                        median(&mut ps),
                        median(&mut vs),
                        median(&mut rs),
                        lo,
                        hi
                    );
                }
            }
        }
    }
}
