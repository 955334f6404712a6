//! Unit tests for [`MemoryPool`]'s bookkeeping.

use crate::{ExhaustedPolicy, MemoryPool, PoolConfig, PoolError, SizeClass};

fn class(size: usize) -> SizeClass {
    SizeClass::from_size(size).expect("a class size")
}

#[test]
fn pool_is_send_sync_and_buffers_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<MemoryPool>();
    send::<crate::PooledBuf>();
    send_sync::<crate::PooledBuf>();
}

#[test]
fn alloc_picks_class_and_reuses_blocks() {
    let pool = MemoryPool::default();
    let a = pool.alloc(65).expect("alloc");
    assert_eq!(
        (a.len(), a.capacity(), a.class()),
        (65, 128, Some(class(128)))
    );
    let ptr = a.as_ptr();
    drop(a);
    let b = pool.alloc(128).expect("alloc");
    assert_eq!(b.as_ptr(), ptr, "the idle block is reused");
    let stats = pool.stats();
    let c = stats.class(class(128));
    assert_eq!(
        (c.allocations, c.hits, c.fresh, c.releases, c.refusals),
        (2, 1, 1, 1, 0)
    );
    assert_eq!((c.owned, c.idle, c.in_use()), (1, 0, 1));
}

#[test]
fn zero_length_uses_smallest_class() {
    let pool = MemoryPool::default();
    let buf = pool.alloc(0).expect("alloc");
    assert!(buf.is_empty());
    assert_eq!(buf.class(), Some(SizeClass::ALL[0]));
}

#[test]
fn oversize_falls_back_to_heap_and_is_counted() {
    let pool = MemoryPool::default();
    let buf = pool.alloc(SizeClass::MAX_SIZE + 1).expect("alloc");
    assert_eq!(buf.class(), None);
    assert_eq!(buf.len(), SizeClass::MAX_SIZE + 1);
    assert!(buf.iter().all(|&b| b == 0));
    drop(buf);
    let stats = pool.stats();
    assert_eq!(stats.oversize, 1);
    assert_eq!(stats.total_allocations(), 1);
    assert!(stats.classes.iter().all(|c| c.owned == 0));
}

#[test]
fn absurd_oversize_is_an_error_not_an_abort() {
    let pool = MemoryPool::default();
    assert_eq!(
        pool.alloc(usize::MAX).map(drop),
        Err(PoolError::OutOfMemory)
    );
    assert_eq!(
        pool.with_capacity(isize::MAX as usize).map(drop),
        Err(PoolError::OutOfMemory)
    );
}

#[test]
fn exhausted_policy_error() {
    let pool = MemoryPool::new(
        PoolConfig::new()
            .capacity(2)
            .on_exhausted(ExhaustedPolicy::Error),
    );
    let a = pool.alloc(100).expect("first");
    let _b = pool.alloc(100).expect("second");
    let err = pool.alloc(100).expect_err("third is refused");
    assert_eq!(
        err,
        PoolError::Exhausted {
            class: class(128),
            capacity: 2
        }
    );
    // Other classes are independent.
    let _c = pool.alloc(10).expect("64 B class");
    drop(a);
    let _d = pool.alloc(100).expect("a block was released");
    let c = pool.stats().classes[1];
    assert_eq!(
        (c.allocations, c.hits, c.fresh, c.refusals, c.owned),
        (4, 1, 2, 1, 2)
    );
}

#[test]
fn exhausted_policy_heap() {
    let pool = MemoryPool::new(PoolConfig::new().capacity(1));
    let a = pool.alloc(1000).expect("pooled");
    let mut b = pool.alloc(1000).expect("heap fallback");
    assert_eq!(a.class(), Some(class(1024)));
    assert_eq!(b.class(), None);
    assert_eq!(
        b.capacity(),
        1024,
        "a fallback buffer behaves like its class"
    );
    b[999] = 1;
    drop(b); // freed, not pooled
    let c = pool.stats().classes[4];
    assert_eq!((c.refusals, c.releases, c.owned, c.idle), (1, 0, 1, 0));
}

#[test]
fn zero_capacity_class_always_refuses() {
    let pool = MemoryPool::new(
        PoolConfig::new()
            .class_capacity(class(64), 0)
            .on_exhausted(ExhaustedPolicy::Error),
    );
    assert!(matches!(
        pool.alloc(1),
        Err(PoolError::Exhausted { capacity: 0, .. })
    ));
    assert!(pool.alloc(65).is_ok());
}

#[test]
fn capacity_counts_idle_blocks_in_every_front_cache() {
    // A block released by another thread sits in that thread's shard; a thread at capacity
    // must find it rather than refuse.
    let pool = MemoryPool::new(
        PoolConfig::new()
            .capacity(1)
            .on_exhausted(ExhaustedPolicy::Error),
    );
    let other = pool.clone();
    std::thread::spawn(move || drop(other.alloc(10).expect("alloc")))
        .join()
        .expect("thread");
    let buf = pool
        .alloc(10)
        .expect("the idle block is stolen, not refused");
    drop(buf);
    let c = pool.stats().classes[0];
    assert_eq!((c.fresh, c.hits, c.refusals, c.owned), (1, 1, 0, 1));
}

#[test]
fn trim_frees_idle_blocks_only() {
    let pool = MemoryPool::new(PoolConfig::new().front_cache(2));
    let bufs: Vec<_> = (0..5).map(|_| pool.alloc(300).expect("alloc")).collect();
    let keep = pool.alloc(300).expect("alloc");
    drop(bufs);
    assert_eq!(pool.stats().classes[3].idle, 5);
    assert_eq!(pool.trim(), 5);
    let stats = pool.stats();
    assert_eq!((stats.classes[3].owned, stats.classes[3].idle), (1, 0));
    assert_eq!(stats.trimmed, 5);
    drop(keep);
    assert_eq!(pool.stats().classes[3].idle, 1);
}

#[test]
fn reset_stats_keeps_gauges() {
    let pool = MemoryPool::default();
    drop(pool.alloc(10).expect("alloc"));
    drop(pool.alloc(1 << 20).expect("alloc"));
    pool.reset_stats();
    let stats = pool.stats();
    assert_eq!(stats.total_allocations(), 0);
    assert_eq!(stats.oversize, 0);
    assert_eq!((stats.classes[0].owned, stats.classes[0].idle), (1, 1));
}

#[test]
fn zero_on_release_leaves_idle_blocks_clean() {
    let pool = MemoryPool::new(PoolConfig::new().zero_on_release(true).front_cache(1));
    let mut bufs = Vec::new();
    for len in [1, 64, 100, 4000, 65536] {
        let mut buf = pool.alloc(len).expect("alloc");
        buf.fill(0xAB);
        buf.extend_from_slice(&[0xCD; 70]).expect("grow");
        buf.truncate(1); // dirty bytes past len must still be wiped
        bufs.push(buf);
    }
    drop(bufs);
    assert!(pool.inner.idle_blocks_all_zero());
}

#[test]
fn without_zeroing_stale_bytes_stay_idle_but_are_never_exposed() {
    let pool = MemoryPool::new(PoolConfig::new().zero_on_release(false).front_cache(0));
    let mut buf = pool.alloc(64).expect("alloc");
    buf.fill(0xEE);
    drop(buf);
    assert!(
        !pool.inner.idle_blocks_all_zero(),
        "nothing wiped on release"
    );
    let buf = pool.alloc(64).expect("alloc");
    assert!(buf.iter().all(|&b| b == 0), "alloc zeroes what it exposes");
    drop(buf);
    let mut buf = pool.with_capacity(64).expect("alloc");
    assert!(buf.is_empty());
    buf.resize(64, 1).expect("in place");
    assert!(buf.iter().all(|&b| b == 1));
}

#[test]
fn pool_outlives_its_handles() {
    let pool = MemoryPool::default();
    let mut buf = pool.alloc(10).expect("alloc");
    let weak = std::sync::Arc::downgrade(&pool.inner);
    drop(pool);
    buf.extend_from_slice(&[1; 100])
        .expect("grow through the pool");
    assert!(weak.upgrade().is_some());
    drop(buf);
    assert!(weak.upgrade().is_none(), "the last buffer frees the pool");
}

#[test]
fn same_pool_and_debug() {
    let pool = MemoryPool::default();
    assert!(pool.same_pool(&pool.clone()));
    assert!(!pool.same_pool(&MemoryPool::default()));
    assert!(format!("{pool:?}").contains("MemoryPool"));
}

#[test]
fn dropping_the_last_handle_frees_the_pool_despite_cached_blocks() {
    let pool = MemoryPool::new(PoolConfig::new().front_cache(4));
    let weak = std::sync::Arc::downgrade(&pool.inner);
    let bufs: Vec<_> = (0..3).map(|_| pool.alloc(100).expect("alloc")).collect();
    drop(bufs); // cached in this thread's front, each with a handle
    assert_eq!(pool.stats().classes[1].idle, 3);
    drop(pool);
    assert!(weak.upgrade().is_none(), "the front let go of the pool");
}

#[test]
fn indexed_writes_mark_only_their_bytes_and_are_still_wiped() {
    let pool = MemoryPool::new(PoolConfig::new().front_cache(2));
    let mut a = pool.alloc(4096).expect("alloc");
    a[4000] = 1;
    a[10..20].fill(2);
    a[..3].fill(3);
    a[4090..=4091].fill(4);
    let mut b = pool.alloc(100).expect("alloc");
    b[99] = 7;
    let mut c = pool.alloc(300).expect("alloc");
    c.as_mut_slice()[150] = 9; // DerefMut: the whole length counts as written
    drop((a, b, c));
    assert!(pool.inner.idle_blocks_all_zero());
    let a = pool.alloc(4096).expect("alloc");
    assert!(a.iter().all(|&x| x == 0));
}
