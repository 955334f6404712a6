//! [`MemoryPool`]: per-class lock-free queues behind thread-affine front-cache shards.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

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
    classes: [Class; SizeClass::COUNT],
    shards: Box<[CachePadded<Shard>]>,
    config: PoolConfig,
    trimmed: AtomicU64,
}

/// The shared part of one size class.
struct Class {
    /// Idle blocks. Its capacity is the class capacity, so a push of an owned block never
    /// fails.
    queue: ArrayQueue<Box<[u8]>>,
    /// Blocks the class owns (in use, in `queue` or in a front cache). Only
    /// [`Inner::reserve_fresh`] raises it, and never above `capacity`.
    owned: AtomicU32,
    capacity: u32,
}

/// A front-cache shard: a few idle blocks per class and this shard's counters.
///
/// A thread always uses the same shard (see [`Inner::shard`]), and there are more shards than
/// cores, so the mutex is almost never contended and the counters' cache lines stay with one
/// core. Blocks in a shard are owned by the pool like those in the queue: the pool frees them
/// when it drops, [`MemoryPool::trim`] frees them, and an allocation that finds its class at
/// capacity searches every shard before refusing.
struct Shard {
    cache: Mutex<[Vec<Box<[u8]>>; SizeClass::COUNT]>,
    counters: [Counters; SizeClass::COUNT],
    oversize: AtomicU64,
}

/// Per-class counters of one shard. `allocations` is derived: `hits + fresh + refusals`.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    fresh: AtomicU64,
    releases: AtomicU64,
    refusals: AtomicU64,
}

/// Where [`Inner::acquire`] found a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// An idle pooled block: it holds stale bytes unless the pool zeroes on release.
    Hit,
    /// A new pooled block, zeroed.
    Fresh,
    /// The class was at capacity; a zeroed heap block of the class size, not pooled.
    Heap,
}

/// Gives each thread a stable shard hint.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD_HINT: usize = NEXT_THREAD.fetch_add(1, Relaxed);
}

impl MemoryPool {
    /// Builds a pool. Blocks are allocated lazily, on first use; each class's idle queue
    /// (24 bytes per block of capacity) is reserved now.
    pub fn new(config: PoolConfig) -> Self {
        let classes = SizeClass::ALL.map(|class| {
            let capacity = config.class_capacity_of(class);
            Class {
                // ArrayQueue needs a non-zero capacity; a zero-capacity class never owns a
                // block, so the one slot stays unused.
                queue: ArrayQueue::new((capacity as usize).max(1)),
                owned: AtomicU32::new(0),
                capacity,
            }
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shard_count = (cores * 2).next_power_of_two().min(64);
        let front = config.front_cache_len();
        let shards = (0..shard_count)
            .map(|_| {
                CachePadded::new(Shard {
                    cache: Mutex::new(std::array::from_fn(|_| Vec::with_capacity(front))),
                    counters: Default::default(),
                    oversize: AtomicU64::new(0),
                })
            })
            .collect();
        MemoryPool {
            inner: Arc::new(Inner {
                classes,
                shards,
                config,
                trimmed: AtomicU64::new(0),
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
    pub fn alloc(&self, len: usize) -> Result<PooledBuf, PoolError> {
        match SizeClass::for_len(len) {
            Some(class) => {
                let (mut block, source) = self.inner.acquire(class)?;
                if source == Source::Hit && !self.inner.config.zeroes_on_release() {
                    block[..len].fill(0);
                }
                Ok(PooledBuf::new(self.clone(), block, len, class, source))
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
    pub fn with_capacity(&self, capacity: usize) -> Result<PooledBuf, PoolError> {
        match SizeClass::for_len(capacity) {
            Some(class) => {
                let (block, source) = self.inner.acquire(class)?;
                Ok(PooledBuf::new(self.clone(), block, 0, class, source))
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
    pub fn stats(&self) -> PoolStats {
        let inner = &*self.inner;
        let mut idle = [0u64; SizeClass::COUNT];
        let mut oversize = 0;
        let mut classes = SizeClass::ALL.map(|class| {
            let shared = &inner.classes[class.index()];
            idle[class.index()] = shared.queue.len() as u64;
            ClassStats {
                class,
                capacity: shared.capacity,
                allocations: 0,
                hits: 0,
                fresh: 0,
                releases: 0,
                refusals: 0,
                owned: u64::from(shared.owned.load(Relaxed)),
                idle: 0,
            }
        });
        for shard in inner.shards.iter() {
            oversize += shard.oversize.load(Relaxed);
            for (stats, counters) in classes.iter_mut().zip(&shard.counters) {
                stats.hits += counters.hits.load(Relaxed);
                stats.fresh += counters.fresh.load(Relaxed);
                stats.releases += counters.releases.load(Relaxed);
                stats.refusals += counters.refusals.load(Relaxed);
            }
            let cache = lock(&shard.cache);
            for (idle, blocks) in idle.iter_mut().zip(cache.iter()) {
                *idle += blocks.len() as u64;
            }
        }
        for (stats, idle) in classes.iter_mut().zip(idle) {
            stats.allocations = stats.hits + stats.fresh + stats.refusals;
            stats.idle = idle;
        }
        PoolStats {
            classes,
            oversize,
            trimmed: inner.trimmed.load(Relaxed),
        }
    }

    /// Sets every counter to zero. Gauges (`owned`, `idle`) are unaffected.
    pub fn reset_stats(&self) {
        for shard in self.inner.shards.iter() {
            shard.oversize.store(0, Relaxed);
            for counters in &shard.counters {
                counters.hits.store(0, Relaxed);
                counters.fresh.store(0, Relaxed);
                counters.releases.store(0, Relaxed);
                counters.refusals.store(0, Relaxed);
            }
        }
        self.inner.trimmed.store(0, Relaxed);
    }

    /// Frees every idle block (queues and front caches) back to the system allocator and
    /// returns how many were freed. Buffers in use are untouched and still return to their
    /// class when dropped.
    pub fn trim(&self) -> usize {
        let inner = &*self.inner;
        let mut freed = 0;
        for shard in inner.shards.iter() {
            let mut cache = lock(&shard.cache);
            for (class, blocks) in inner.classes.iter().zip(cache.iter_mut()) {
                let n = blocks.len();
                blocks.clear();
                class.owned.fetch_sub(n as u32, Relaxed);
                freed += n;
            }
        }
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
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// This thread's shard.
    #[inline]
    fn shard(&self) -> &Shard {
        // `try_with` fails only while this thread's TLS is being destroyed (a buffer dropped
        // by another TLS destructor): any shard is correct, shard 0 will do.
        let hint = SHARD_HINT.try_with(|h| *h).unwrap_or(0);
        &self.shards[hint & (self.shards.len() - 1)]
    }

    /// A block of `class`: idle if there is one, else fresh if the class is under capacity,
    /// else a heap block or an error, per the policy.
    pub(crate) fn acquire(&self, class: SizeClass) -> Result<(Box<[u8]>, Source), PoolError> {
        let i = class.index();
        let shard = self.shard();
        let shared = &self.classes[i];
        let counters = &shard.counters[i];

        // 1. This thread's front cache; skipped if another thread holds the shard right now.
        let mut block = match shard.cache.try_lock() {
            Ok(mut cache) => cache[i].pop(),
            Err(TryLockError::Poisoned(p)) => p.into_inner()[i].pop(),
            Err(TryLockError::WouldBlock) => None,
        };
        // 2. The class queue.
        if block.is_none() {
            block = shared.queue.pop();
        }
        if let Some(block) = block {
            counters.hits.fetch_add(1, Relaxed);
            return Ok((block, Source::Hit));
        }
        // 3. A fresh block, if the class is under capacity.
        if self.reserve_fresh(shared) {
            counters.fresh.fetch_add(1, Relaxed);
            return Ok((vec![0; class.size()].into_boxed_slice(), Source::Fresh));
        }
        // 4. At capacity: idle blocks may sit in other threads' front caches or have just
        //    been released to the queue. Only refuse if there are none.
        if let Some(block) = self.steal(i).or_else(|| shared.queue.pop()) {
            counters.hits.fetch_add(1, Relaxed);
            return Ok((block, Source::Hit));
        }
        counters.refusals.fetch_add(1, Relaxed);
        match self.config.exhausted_policy() {
            ExhaustedPolicy::Heap => Ok((vec![0; class.size()].into_boxed_slice(), Source::Heap)),
            ExhaustedPolicy::Error => Err(PoolError::Exhausted {
                class,
                capacity: shared.capacity,
            }),
        }
    }

    /// Counts one more owned block in `class` if that stays within its capacity.
    fn reserve_fresh(&self, class: &Class) -> bool {
        class
            .owned
            .fetch_update(Relaxed, Relaxed, |owned| {
                (owned < class.capacity).then_some(owned + 1)
            })
            .is_ok()
    }

    /// Takes an idle block of class `i` from any shard.
    fn steal(&self, i: usize) -> Option<Box<[u8]>> {
        if self.config.front_cache_len() == 0 {
            return None;
        }
        self.shards
            .iter()
            .find_map(|shard| lock(&shard.cache)[i].pop())
    }

    /// A zeroed heap buffer of `len > SizeClass::MAX_SIZE` bytes, counted as oversize.
    pub(crate) fn oversize(&self, len: usize) -> Result<Box<[u8]>, PoolError> {
        self.shard().oversize.fetch_add(1, Relaxed);
        let mut block = Vec::new();
        block
            .try_reserve_exact(len)
            .map_err(|_| PoolError::OutOfMemory)?;
        block.resize(len, 0);
        Ok(block.into_boxed_slice())
    }

    /// Returns a pooled block to `class`. `dirty` bounds the bytes that may have been written.
    pub(crate) fn release(&self, class: SizeClass, mut block: Box<[u8]>, dirty: usize) {
        debug_assert_eq!(block.len(), class.size());
        if self.config.zeroes_on_release() {
            block[..dirty].fill(0);
        }
        let i = class.index();
        let shard = self.shard();
        shard.counters[i].releases.fetch_add(1, Relaxed);
        let front = self.config.front_cache_len();
        if front > 0 {
            let cache = match shard.cache.try_lock() {
                Ok(cache) => Some(cache),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut cache) = cache
                && cache[i].len() < front
            {
                cache[i].push(block);
                return;
            }
        }
        let shared = &self.classes[i];
        if shared.queue.push(block).is_err() {
            // Unreachable: the class owns at most `capacity` blocks and the queue holds
            // `capacity`. Should it ever happen, free the block and keep the books right.
            shared.owned.fetch_sub(1, Relaxed);
        }
    }
}

#[cfg(test)]
impl Inner {
    /// Whether every idle block (queues and front caches) is all zeroes.
    pub(crate) fn idle_blocks_all_zero(&self) -> bool {
        let mut all_zero = true;
        for shard in self.shards.iter() {
            let cache = lock(&shard.cache);
            all_zero &= cache.iter().flatten().all(|b| b.iter().all(|&x| x == 0));
        }
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

/// Locks a shard's cache. No code panics while holding it, but if it were poisoned the
/// `Vec`s inside would still be valid, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
