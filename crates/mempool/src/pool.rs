//! [`MemoryPool`]: per-class lock-free queues behind a per-thread front cache.
//!
//! The hot path (a thread allocating a block of a class it released a moment ago) touches
//! only this thread's front cache ([`Front`]): no atomic read-modify-write, no lock, no
//! reference-count traffic. Each cached block travels with the [`MemoryPool`] handle of the
//! buffer that released it, so the next buffer takes over that handle instead of cloning one.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use crossbeam::queue::ArrayQueue;
use crossbeam::utils::CachePadded;

use crate::{ClassStats, ExhaustedPolicy, PoolConfig, PoolError, PoolStats, PooledBuf, SizeClass};

#[cfg(test)]
mod tests;

/// A thread-safe pool of byte buffers in power-of-two size classes (64 B to 64 KiB).
///
/// `MemoryPool` is a cheap handle (`Clone` shares one pool; it is `Send + Sync`). Buffers
/// ([`PooledBuf`]) keep the pool alive, so dropping every handle while buffers are live is
/// fine: the pool's memory is freed when the last buffer is dropped.
///
/// ```
/// use wasm_sandbox_mempool::{MemoryPool, PoolConfig};
///
/// let pool = MemoryPool::new(PoolConfig::new());
/// let mut buf = pool.alloc(100)?;
/// assert_eq!(buf.len(), 100);
/// assert_eq!(buf.capacity(), 128);
/// buf[0] = 7;
/// drop(buf); // back to the 128 B class
///
/// let buf = pool.alloc(120)?;
/// assert!(buf.iter().all(|&b| b == 0), "never another user's bytes");
/// let class = pool.stats().classes[1];
/// assert_eq!((class.allocations, class.hits, class.fresh), (2, 1, 1));
/// # Ok::<(), wasm_sandbox_mempool::PoolError>(())
/// ```
#[derive(Clone)]
pub struct MemoryPool {
    pub(crate) inner: Arc<Inner>,
}

/// The shared state behind every [`MemoryPool`] handle and [`PooledBuf`].
pub(crate) struct Inner {
    /// Unique for the life of the process: front caches recognise their pool by it (an
    /// address could be reused by a later pool).
    id: u64,
    classes: [Class; SizeClass::COUNT],
    config: PoolConfig,
    trimmed: AtomicU64,
    oversize: AtomicU64,
    /// Bumped by [`MemoryPool::trim`] and by an allocation about to refuse: every front cache
    /// of this pool returns its idle blocks to the queues at its next operation.
    flush_gen: AtomicU64,
}

/// The shared part of one size class.
struct Class {
    /// Idle blocks. Its capacity is the class capacity, so a push of an owned block never
    /// fails.
    queue: ArrayQueue<Box<[u8]>>,
    /// Blocks the class owns (in use, in `queue` or in a front cache). Only
    /// [`MemoryPool::reserve_fresh`] raises it, and never above `capacity`.
    owned: AtomicU32,
    capacity: u32,
    /// Counters folded in from front caches (and counted directly off the fast path).
    counters: CachePadded<Counters>,
    /// Idle blocks sitting in front caches, as last published by each front.
    cached: AtomicI64,
}

/// Per-class counters. `allocations` is derived: `hits + fresh + refusals`.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    fresh: AtomicU64,
    releases: AtomicU64,
    refusals: AtomicU64,
}

/// Where an acquisition found a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// An idle pooled block: it holds stale bytes unless the pool zeroes on release.
    Hit,
    /// A new pooled block, zeroed.
    Fresh,
    /// The class was at capacity; a zeroed heap block of the class size, not pooled.
    Heap,
}

/// Which counter an event goes to.
#[derive(Clone, Copy)]
enum Event {
    Hit = 0,
    Fresh = 1,
    Release = 2,
    Refusal = 3,
}

/// Fold a front's counters into the pool every this many operations, so `stats()` seen from
/// another thread lags a busy thread by at most this much.
const FLUSH_EVERY: u32 = 256;

/// Gives each pool its id.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static FRONT: RefCell<Front> = const { RefCell::new(Front::EMPTY) };
}

/// One thread's front cache, bound to one pool at a time (the last one this thread allocated
/// from; a thread rarely uses more than one).
///
/// Nothing here is shared, so the hot path is plain loads and stores. Each cached block keeps
/// the [`MemoryPool`] handle of the buffer that released it, so neither caching nor reuse
/// touches the reference count. What the design gives up, and how it bounds it:
///
/// - Another thread cannot take these blocks. An allocation that would refuse bumps the
///   pool's `flush_gen` first, and every front returns its blocks at its next operation on
///   the pool; at the latest when its thread exits ([`Drop`]).
/// - Counters are folded into the pool every [`FLUSH_EVERY`] operations, when the thread
///   calls `stats`/`trim`/`reset_stats`, switches pools or exits.
/// - A thread caches at most `front_cache` blocks per class, and never the block whose handle
///   is the last reference to the pool besides this front's own: dropping the last buffer and
///   handle frees the pool. If other threads' fronts still hold blocks at that moment, those
///   are freed when those threads next use any pool or exit.
struct Front {
    /// The pool's id, or 0 if unbound.
    id: u64,
    /// For folding counters in when the front is unbound from a pool it has no block of.
    pool: Weak<Inner>,
    /// Up to `limit` idle blocks per class, each with a handle to the pool.
    blocks: [Vec<(Box<[u8]>, MemoryPool)>; SizeClass::COUNT],
    /// Total blocks in `blocks`.
    entries: usize,
    /// `pool.config.front_cache_len()`.
    limit: usize,
    /// `pool.flush_gen` when the front last synchronised.
    generation: u64,
    /// Unfolded counters per class: hits, fresh, releases, refusals.
    counters: [[u64; 4]; SizeClass::COUNT],
    /// `blocks[i].len()` as last published to `Class::cached`.
    published: [usize; SizeClass::COUNT],
    ops: u32,
}

impl Front {
    /// An unbound front (a `const`, so the thread-local needs no lazy initialisation).
    const EMPTY: Front = Front {
        id: 0,
        pool: Weak::new(),
        blocks: [const { Vec::new() }; SizeClass::COUNT],
        entries: 0,
        limit: 0,
        generation: 0,
        counters: [[0; 4]; SizeClass::COUNT],
        published: [0; SizeClass::COUNT],
        ops: 0,
    };

    /// Whether this front caches for `inner` and is in sync with it.
    #[inline]
    fn bound_to(&self, inner: &Inner) -> bool {
        self.id == inner.id && self.generation == inner.flush_gen.load(Relaxed)
    }

    #[inline]
    fn count(&mut self, class: usize, event: Event, inner: &Inner) {
        self.counters[class][event as usize] += 1;
        self.ops += 1;
        if self.ops >= FLUSH_EVERY {
            self.fold(inner);
        }
    }

    /// Folds counters and the cached-block gauge into `inner` (which must be this front's
    /// pool).
    fn fold(&mut self, inner: &Inner) {
        self.ops = 0;
        for (i, class) in inner.classes.iter().enumerate() {
            let [hits, fresh, releases, refusals] = std::mem::take(&mut self.counters[i]);
            let c = &class.counters;
            for (counter, n) in [
                (&c.hits, hits),
                (&c.fresh, fresh),
                (&c.releases, releases),
                (&c.refusals, refusals),
            ] {
                if n > 0 {
                    counter.fetch_add(n, Relaxed);
                }
            }
            let len = self.blocks[i].len();
            if len != self.published[i] {
                class
                    .cached
                    .fetch_add(len as i64 - self.published[i] as i64, Relaxed);
                self.published[i] = len;
            }
        }
    }

    /// Returns every cached block to its pool's queues and folds the counters in. The
    /// handles are returned so the caller drops them after releasing the `RefCell` borrow
    /// (dropping the last one frees the pool).
    #[must_use = "drop the handles outside the front's borrow"]
    fn flush(&mut self) -> Vec<MemoryPool> {
        let mut handles = Vec::new();
        let pool = self.pool.upgrade();
        let pool = pool.as_deref();
        for i in 0..SizeClass::COUNT {
            for (block, handle) in self.blocks[i].drain(..) {
                handle.inner.push_idle(i, block);
                handles.push(handle);
            }
        }
        self.entries = 0;
        if let Some(inner) = pool {
            self.fold(inner);
            self.generation = inner.flush_gen.load(Relaxed);
        } else {
            // The pool is gone (its counters with it); forget what was counted for it.
            self.counters = Default::default();
            self.published = Default::default();
            self.ops = 0;
        }
        handles
    }

    /// Makes this front cache for `pool`, first flushing whatever it held for another.
    fn bind(&mut self, pool: &MemoryPool) -> Vec<MemoryPool> {
        let handles = self.flush();
        let inner = &*pool.inner;
        self.id = inner.id;
        self.pool = Arc::downgrade(&pool.inner);
        self.limit = inner.config.front_cache_len();
        self.generation = inner.flush_gen.load(Relaxed);
        self.counters = Default::default();
        self.published = Default::default();
        self.ops = 0;
        for v in &mut self.blocks {
            v.reserve(self.limit);
        }
        handles
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        drop(self.flush());
    }
}

/// Runs `f` on this thread's front cache, or returns `None` if it is unavailable: being
/// destroyed (a buffer dropped by another thread-local destructor) or already borrowed
/// further up this thread's stack. Callers then take the shared path, which is always
/// correct.
#[inline]
fn with_front<T>(f: impl FnOnce(&mut Front) -> T) -> Option<T> {
    FRONT
        .try_with(|front| front.try_borrow_mut().ok().map(|mut front| f(&mut front)))
        .ok()
        .flatten()
}

impl MemoryPool {
    /// Builds a pool. Blocks are allocated lazily, on first use; each class's idle queue
    /// (8 bytes per block of capacity) is reserved now.
    pub fn new(config: PoolConfig) -> Self {
        let classes = SizeClass::ALL.map(|class| {
            let capacity = config.class_capacity_of(class);
            Class {
                // ArrayQueue needs a non-zero capacity; a zero-capacity class never owns a
                // block, so the one slot stays unused.
                queue: ArrayQueue::new((capacity as usize).max(1)),
                owned: AtomicU32::new(0),
                capacity,
                counters: CachePadded::default(),
                cached: AtomicI64::new(0),
            }
        });
        MemoryPool {
            inner: Arc::new(Inner {
                id: NEXT_POOL_ID.fetch_add(1, Relaxed),
                classes,
                config,
                trimmed: AtomicU64::new(0),
                oversize: AtomicU64::new(0),
                flush_gen: AtomicU64::new(0),
            }),
        }
    }

    /// A buffer of `len` zeroed bytes.
    ///
    /// Requests up to [`SizeClass::MAX_SIZE`] are served from the smallest fitting class, and
    /// the buffer's [`capacity`](PooledBuf::capacity) is the class size; larger requests get an
    /// exact-size buffer from the system allocator (counted in [`PoolStats::oversize`]).
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] if the class is at capacity with no idle block and the policy
    /// is [`ExhaustedPolicy::Error`]; [`PoolError::OutOfMemory`] if the system allocator
    /// refuses an oversize request.
    #[inline]
    pub fn alloc(&self, len: usize) -> Result<PooledBuf, PoolError> {
        match SizeClass::for_len(len) {
            Some(class) => {
                let (mut block, source, pool) = self.acquire(class)?;
                if source == Source::Hit && !self.inner.config.zeroes_on_release() {
                    block[..len].fill(0);
                }
                // The bytes are zero: nothing is dirty until the caller writes.
                Ok(PooledBuf::new(pool, block, len, 0..0, class, source))
            }
            None => {
                let block = self.inner.oversize(len)?;
                Ok(PooledBuf::heap(self.clone(), block, len))
            }
        }
    }

    /// An empty buffer (`len() == 0`) that can grow to at least `capacity` bytes without
    /// reallocating. Nothing is zeroed: the buffer exposes no bytes until they are written.
    ///
    /// # Errors
    ///
    /// As for [`alloc`](Self::alloc).
    #[inline]
    pub fn with_capacity(&self, capacity: usize) -> Result<PooledBuf, PoolError> {
        match SizeClass::for_len(capacity) {
            Some(class) => {
                let (block, source, pool) = self.acquire(class)?;
                Ok(PooledBuf::new(pool, block, 0, 0..0, class, source))
            }
            None => {
                let block = self.inner.oversize(capacity)?;
                Ok(PooledBuf::heap(self.clone(), block, 0))
            }
        }
    }

    /// A buffer holding a copy of `data`.
    ///
    /// # Errors
    ///
    /// As for [`alloc`](Self::alloc).
    pub fn alloc_copy(&self, data: &[u8]) -> Result<PooledBuf, PoolError> {
        let mut buf = self.with_capacity(data.len())?;
        buf.extend_from_slice(data)?;
        Ok(buf)
    }

    /// A snapshot of the counters (see [`ClassStats`] for what is exact when).
    ///
    /// This thread's front cache is folded in first, so on a pool used by one thread the
    /// snapshot is exact. Other live threads' fronts are folded in every few hundred of their
    /// operations, so their latest counts may be missing while they run.
    pub fn stats(&self) -> PoolStats {
        let inner = &*self.inner;
        with_front(|f| {
            if f.id == inner.id {
                f.fold(inner);
            }
        });
        let classes = SizeClass::ALL.map(|class| {
            let shared = &inner.classes[class.index()];
            let c = &shared.counters;
            let (hits, fresh, refusals) = (
                c.hits.load(Relaxed),
                c.fresh.load(Relaxed),
                c.refusals.load(Relaxed),
            );
            let cached = u64::try_from(shared.cached.load(Relaxed)).unwrap_or(0);
            ClassStats {
                class,
                capacity: shared.capacity,
                allocations: hits + fresh + refusals,
                hits,
                fresh,
                releases: c.releases.load(Relaxed),
                refusals,
                owned: u64::from(shared.owned.load(Relaxed)),
                idle: shared.queue.len() as u64 + cached,
            }
        });
        PoolStats {
            classes,
            oversize: inner.oversize.load(Relaxed),
            trimmed: inner.trimmed.load(Relaxed),
        }
    }

    /// Sets every counter to zero. Gauges (`owned`, `idle`) are unaffected.
    ///
    /// Counts that other live threads have not folded in yet (see [`stats`](Self::stats))
    /// are added after the reset.
    pub fn reset_stats(&self) {
        let inner = &*self.inner;
        with_front(|f| {
            if f.id == inner.id {
                f.fold(inner);
            }
        });
        for class in &inner.classes {
            let c = &class.counters;
            for counter in [&c.hits, &c.fresh, &c.releases, &c.refusals] {
                counter.store(0, Relaxed);
            }
        }
        inner.oversize.store(0, Relaxed);
        inner.trimmed.store(0, Relaxed);
    }

    /// Frees every idle block back to the system allocator and returns how many were freed.
    /// Buffers in use are untouched and still return to their class when dropped.
    ///
    /// Idle blocks cached by this thread are freed; those cached by other live threads are
    /// returned by them at their next operation on the pool (and freed by the next `trim`).
    pub fn trim(&self) -> usize {
        let inner = &*self.inner;
        inner.flush_gen.fetch_add(1, Relaxed);
        let handles = with_front(|f| {
            if f.id == inner.id {
                f.flush()
            } else {
                Vec::new()
            }
        });
        drop(handles);
        let mut freed = 0;
        for class in &inner.classes {
            while class.queue.pop().is_some() {
                class.owned.fetch_sub(1, Relaxed);
                freed += 1;
            }
        }
        inner.trimmed.fetch_add(freed as u64, Relaxed);
        freed
    }

    /// The configuration this pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Whether `self` and `other` are handles to the same pool.
    pub fn same_pool(&self, other: &MemoryPool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A block of `class` and the handle the buffer will hold: idle if there is one, else
    /// fresh if the class is under capacity, else a heap block or an error, per the policy.
    #[inline]
    pub(crate) fn acquire(
        &self,
        class: SizeClass,
    ) -> Result<(Box<[u8]>, Source, MemoryPool), PoolError> {
        let inner = &*self.inner;
        let i = class.index();
        // 1. This thread's front cache: no atomics, no reference counting.
        let hit = with_front(|f| {
            if !f.bound_to(inner) {
                return None;
            }
            let (block, pool) = f.blocks[i].pop()?;
            f.entries -= 1;
            f.count(i, Event::Hit, inner);
            Some((block, pool))
        })
        .flatten();
        if let Some((block, pool)) = hit {
            return Ok((block, Source::Hit, pool));
        }
        self.acquire_slow(class)
    }

    #[cold]
    fn acquire_slow(&self, class: SizeClass) -> Result<(Box<[u8]>, Source, MemoryPool), PoolError> {
        let inner = &*self.inner;
        let i = class.index();
        // Bind (or resynchronise) this thread's front, so its releases are cached.
        let stale = with_front(|f| {
            if f.bound_to(inner) {
                Vec::new()
            } else if f.id == inner.id {
                f.flush()
            } else {
                f.bind(self)
            }
        });
        drop(stale);
        let shared = &inner.classes[i];
        // 2. The class queue.
        if let Some(block) = shared.queue.pop() {
            inner.count(i, Event::Hit);
            return Ok((block, Source::Hit, self.clone()));
        }
        // 3. A fresh block, if the class is under capacity.
        if reserve_fresh(shared) {
            inner.count(i, Event::Fresh);
            let block = vec![0; class.size()].into_boxed_slice();
            return Ok((block, Source::Fresh, self.clone()));
        }
        // 4. At capacity: ask every front to return its idle blocks, and look again (a block
        //    may also have been released to the queue meanwhile).
        inner.flush_gen.fetch_add(1, Relaxed);
        if let Some(block) = shared.queue.pop() {
            inner.count(i, Event::Hit);
            return Ok((block, Source::Hit, self.clone()));
        }
        inner.count(i, Event::Refusal);
        match inner.config.exhausted_policy() {
            ExhaustedPolicy::Heap => Ok((
                vec![0; class.size()].into_boxed_slice(),
                Source::Heap,
                self.clone(),
            )),
            ExhaustedPolicy::Error => Err(PoolError::Exhausted {
                class,
                capacity: shared.capacity,
            }),
        }
    }
}

impl Drop for MemoryPool {
    /// If every other reference to the pool is a block cached by this thread's front, hand
    /// those blocks back now so the pool is freed with its last handle. (Off the hot path:
    /// buffers move their handle into the front cache instead of dropping it. A nested call,
    /// from handles dropped while the front is borrowed, finds the front busy and does
    /// nothing.)
    fn drop(&mut self) {
        let inner = &self.inner;
        let cached = with_front(|f| {
            if f.id == inner.id && f.entries > 0 && Arc::strong_count(inner) == 1 + f.entries {
                f.flush()
            } else {
                Vec::new()
            }
        });
        drop(cached);
    }
}

impl Default for MemoryPool {
    /// A pool with [`PoolConfig::default`].
    fn default() -> Self {
        MemoryPool::new(PoolConfig::default())
    }
}

impl fmt::Debug for MemoryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPool")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Counts one more owned block in `class` if that stays within its capacity.
fn reserve_fresh(class: &Class) -> bool {
    class
        .owned
        .fetch_update(Relaxed, Relaxed, |owned| {
            (owned < class.capacity).then_some(owned + 1)
        })
        .is_ok()
}

impl Inner {
    /// Counts an event in this thread's front if it is bound to this pool, else directly.
    fn count(&self, class: usize, event: Event) {
        let counted = with_front(|f| {
            if f.id == self.id {
                f.count(class, event, self);
                true
            } else {
                false
            }
        });
        if counted != Some(true) {
            let c = &self.classes[class].counters;
            match event {
                Event::Hit => &c.hits,
                Event::Fresh => &c.fresh,
                Event::Release => &c.releases,
                Event::Refusal => &c.refusals,
            }
            .fetch_add(1, Relaxed);
        }
    }

    /// A zeroed heap buffer of `len > SizeClass::MAX_SIZE` bytes, counted as oversize.
    pub(crate) fn oversize(&self, len: usize) -> Result<Box<[u8]>, PoolError> {
        self.oversize.fetch_add(1, Relaxed);
        let mut block = Vec::new();
        block
            .try_reserve_exact(len)
            .map_err(|_| PoolError::OutOfMemory)?;
        block.resize(len, 0);
        Ok(block.into_boxed_slice())
    }

    /// Puts an idle block of class `i` on its queue.
    fn push_idle(&self, i: usize, block: Box<[u8]>) {
        let shared = &self.classes[i];
        if shared.queue.push(block).is_err() {
            // Unreachable: the class owns at most `capacity` blocks and the queue holds
            // `capacity`. Should it ever happen, free the block and keep the books right.
            shared.owned.fetch_sub(1, Relaxed);
        }
    }
}

/// Returns a pooled block to `class`. `dirty` bounds the bytes that may have been written
/// (empty if `start >= end`); `pool` is the releasing buffer's handle, cached along with the
/// block or dropped.
#[inline]
pub(crate) fn release(
    pool: MemoryPool,
    class: SizeClass,
    mut block: Box<[u8]>,
    dirty: std::ops::Range<usize>,
) {
    debug_assert_eq!(block.len(), class.size());
    if pool.inner.config.zeroes_on_release() && dirty.start < dirty.end {
        block[dirty].fill(0);
    }
    let i = class.index();
    // 1. This thread's front cache, unless this handle is the last reference to the pool
    //    besides the front's own blocks: then the pool must be freed, not parked here.
    let mut item = Some((block, pool));
    with_front(|f| {
        let Some((_, pool)) = &item else { return };
        if f.bound_to(&pool.inner)
            && f.blocks[i].len() < f.limit
            && Arc::strong_count(&pool.inner) > 1 + f.entries
            && let Some((block, pool)) = item.take()
        {
            f.count(i, Event::Release, &pool.inner);
            f.blocks[i].push((block, pool));
            f.entries += 1;
        }
    });
    if let Some((block, pool)) = item {
        release_slow(pool, i, block);
    }
}

#[cold]
fn release_slow(pool: MemoryPool, i: usize, block: Box<[u8]>) {
    let inner = &*pool.inner;
    // A front bound to this pool but out of sync returns its blocks now.
    let stale = with_front(|f| {
        if f.id == inner.id && !f.bound_to(inner) {
            f.flush()
        } else {
            Vec::new()
        }
    });
    drop(stale);
    inner.count(i, Event::Release);
    inner.push_idle(i, block);
    // If this was the last reference besides this thread's cached blocks, free those too so
    // the pool goes away now.
    let last = with_front(|f| {
        if f.id == inner.id && Arc::strong_count(&pool.inner) == 1 + f.entries && f.entries > 0 {
            f.flush()
        } else {
            Vec::new()
        }
    });
    drop(pool);
    drop(last);
}

#[cfg(test)]
impl Inner {
    /// Whether every idle block (queues and this thread's front cache) is all zeroes.
    pub(crate) fn idle_blocks_all_zero(&self) -> bool {
        let mut all_zero = with_front(|f| {
            f.id != self.id
                || f.blocks
                    .iter()
                    .flatten()
                    .all(|(b, _)| b.iter().all(|&x| x == 0))
        })
        .unwrap_or(true);
        for class in &self.classes {
            let blocks: Vec<_> = std::iter::from_fn(|| class.queue.pop()).collect();
            all_zero &= blocks.iter().all(|b| b.iter().all(|&x| x == 0));
            for block in blocks {
                assert!(
                    class.queue.push(block).is_ok(),
                    "the blocks fitted a moment ago"
                );
            }
        }
        all_zero
    }
}
