//! Many threads share one pool: contents are never corrupted and the stats add up.

use std::sync::{Arc, Barrier};
use std::thread;

use wasm_sandbox_mempool::{ExhaustedPolicy, MemoryPool, PoolConfig, PoolError, SizeClass};

const THREADS: usize = 8;
const ROUNDS: usize = 2_000;

/// A per-thread, per-round byte pattern, so a block shared by two live buffers would show.
fn fill(buf: &mut [u8], thread: usize, round: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (thread as u8) ^ (round as u8).wrapping_mul(7) ^ (i as u8).wrapping_mul(13);
    }
}

fn verify(buf: &[u8], thread: usize, round: usize) {
    for (i, &b) in buf.iter().enumerate() {
        let want = (thread as u8) ^ (round as u8).wrapping_mul(7) ^ (i as u8).wrapping_mul(13);
        assert_eq!(b, want, "thread {thread} round {round} byte {i}: corrupted");
    }
}

/// Run the same workload on `pool` from `THREADS` threads; returns (successful allocations,
/// refusals seen as errors).
fn hammer(pool: &MemoryPool) -> (u64, u64) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut held = Vec::new();
                let (mut ok, mut refused) = (0u64, 0u64);
                for round in 0..ROUNDS {
                    // Sizes across every class and a few oversize, mostly small so the
                    // byte-by-byte checks stay quick in debug builds.
                    let classes = if round % 8 == 0 { 11 } else { 6 };
                    let len = match (t * 31 + round * 17) % 23 {
                        22 => SizeClass::MAX_SIZE + 1 + round,
                        k => (SizeClass::MIN_SIZE << (k % classes)) - (round % 50),
                    };
                    match pool.alloc(len) {
                        Ok(mut buf) => {
                            ok += 1;
                            assert!(buf.iter().all(|&b| b == 0), "fresh buffer not zeroed");
                            fill(&mut buf, t, round);
                            if round % 5 == 0 {
                                buf.extend_from_slice(&[0; 100]).map_or_else(
                                    |e| assert!(matches!(e, PoolError::Exhausted { .. })),
                                    |()| ok += 1,
                                );
                                buf.truncate(len);
                            }
                            held.push((buf, round));
                        }
                        Err(PoolError::Exhausted { .. }) => refused += 1,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                    if !held.is_empty() && (held.len() > 6 || round % 3 == 0) {
                        let (buf, r) = held.swap_remove(round % held.len());
                        verify(&buf, t, r);
                    }
                }
                for (buf, r) in held {
                    verify(&buf, t, r);
                }
                (ok, refused)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("worker panicked"))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
}

fn check_quiescent(pool: &MemoryPool) {
    let stats = pool.stats();
    for c in &stats.classes {
        assert_eq!(c.allocations, c.hits + c.fresh + c.refusals, "{}", c.class);
        assert!(
            c.owned <= u64::from(c.capacity),
            "{} over capacity",
            c.class
        );
        assert_eq!(c.idle, c.owned, "{}: every block is back", c.class);
        // Every pooled block handed out came back: hits + fresh allocations were released.
        assert_eq!(c.hits + c.fresh, c.releases, "{}", c.class);
    }
}

#[test]
fn threads_with_heap_fallback() {
    let pool = MemoryPool::new(PoolConfig::new().capacity(16));
    let (ok, refused) = hammer(&pool);
    assert_eq!(refused, 0);
    check_quiescent(&pool);
    let stats = pool.stats();
    // Every successful alloc and growth is counted once: in a class or as oversize.
    assert_eq!(stats.total_allocations(), ok);
}

#[test]
fn threads_with_exhaustion_errors_and_no_zeroing() {
    let pool = MemoryPool::new(
        PoolConfig::new()
            .capacity(4)
            .on_exhausted(ExhaustedPolicy::Error)
            .zero_on_release(false)
            .front_cache(2),
    );
    let (ok, refused) = hammer(&pool);
    check_quiescent(&pool);
    let stats = pool.stats();
    let refusals: u64 = stats.classes.iter().map(|c| c.refusals).sum();
    assert!(refused <= refusals, "growth refusals are counted too");
    assert_eq!(stats.total_allocations(), ok + refusals);
}

#[test]
fn trim_and_stats_race_with_workers() {
    let pool = MemoryPool::new(PoolConfig::new().capacity(8));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trimmer = {
        let pool = pool.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                pool.trim();
                let _ = pool.stats();
                thread::yield_now();
            }
        })
    };
    hammer(&pool);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trimmer.join().expect("trimmer");
    let stats = pool.stats();
    for c in &stats.classes {
        assert_eq!(c.idle, c.owned, "{}", c.class);
        assert!(c.owned <= u64::from(c.capacity));
    }
}
