//! Unit tests for scratch arenas.

use crate::{ArenaPool, PoolError, ScratchArena};

#[test]
fn reset_records_high_water() {
    let mut arena = ScratchArena::with_capacity(1024);
    assert_eq!(arena.stats().used, 0);
    arena.alloc_zeroed(100);
    arena.alloc_slice_copy(&[1; 200]);
    let used = arena.used();
    assert!(used >= 300, "{used}");
    arena.reset();
    let stats = arena.stats();
    assert_eq!((stats.used, stats.resets), (0, 1));
    assert_eq!(stats.high_water, used);
    arena.alloc_zeroed(10);
    arena.reset();
    assert_eq!(
        arena.stats().high_water,
        used,
        "a smaller call keeps the mark"
    );
}

#[test]
fn warm_arena_keeps_its_chunk() {
    let mut arena = ScratchArena::new();
    arena.alloc_zeroed(10_000);
    arena.reset();
    let footprint = arena.stats().footprint;
    assert!(footprint >= 10_000);
    arena.alloc_zeroed(5_000);
    assert_eq!(arena.stats().footprint, footprint, "no new chunk");
}

#[test]
fn limit_is_an_error_in_try_methods() {
    let arena = ScratchArena::with_limit(4096);
    assert!(arena.try_alloc_zeroed(100).is_ok());
    assert_eq!(
        arena.try_alloc_zeroed(1 << 20).map(|_| ()),
        Err(PoolError::ScratchLimit)
    );
    assert_eq!(
        arena.try_alloc_slice_copy(&vec![1; 1 << 20]).map(|_| ()),
        Err(PoolError::ScratchLimit)
    );
}

#[test]
fn arena_pool_reuses_resets_and_shrinks() {
    let arenas = ArenaPool::new(1, 64 * 1024);
    {
        let mut lease = arenas.lease();
        lease.alloc_zeroed(1000);
        lease.reset(); // a lease is a full arena
        lease.alloc_str("x");
    }
    assert_eq!(arenas.idle(), 1);
    {
        let lease = arenas.lease();
        assert_eq!(arenas.idle(), 0);
        assert_eq!(lease.stats().used, 0, "returned reset");
        assert_eq!(lease.stats().resets, 2);
        lease.alloc_zeroed(1 << 20);
    }
    let lease = arenas.lease();
    assert!(
        lease.stats().footprint < 64 * 1024,
        "an arena that grew past max_footprint was shrunk"
    );
    // Surplus arenas are dropped, not kept.
    let second = arenas.lease();
    drop((lease, second));
    assert_eq!(arenas.idle(), 1);
    assert!(format!("{arenas:?}").contains("max_idle: 1"));
}

#[test]
fn arenas_move_between_threads() {
    fn send<T: Send>() {}
    send::<ScratchArena>();
    send::<crate::ScratchLease>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ArenaPool>();
}
