//! [`PoolConfig`]: the pool's builder, with documented defaults.

use crate::SizeClass;

/// What [`MemoryPool::alloc`](crate::MemoryPool::alloc) does when a class has no free block
/// and already owns its capacity of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExhaustedPolicy {
    /// Hand out a buffer from the system allocator instead. It behaves like any other
    /// [`PooledBuf`](crate::PooledBuf) but is freed, not pooled, when dropped. Counted in
    /// [`ClassStats::refusals`](crate::ClassStats::refusals). This is the default: calls keep
    /// working under bursts, at the price of allocator traffic.
    #[default]
    Heap,
    /// Fail with [`PoolError::Exhausted`](crate::PoolError::Exhausted): a hard bound on the
    /// memory the pool hands out for pooled sizes.
    Error,
}

/// Configuration for a [`MemoryPool`](crate::MemoryPool).
///
/// Setters take and return `self`, so a configuration reads as one expression:
///
/// ```
/// use wasm_sandbox_mempool::{ExhaustedPolicy, MemoryPool, PoolConfig, SizeClass};
///
/// let config = PoolConfig::new()
///     .capacity(64)
///     .class_capacity(SizeClass::for_len(64 * 1024).unwrap(), 8)
///     .on_exhausted(ExhaustedPolicy::Error)
///     .zero_on_release(true);
/// let pool = MemoryPool::new(config);
/// assert_eq!(pool.config().class_capacity_of(SizeClass::ALL[0]), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    capacities: [u32; SizeClass::COUNT],
    on_exhausted: ExhaustedPolicy,
    zero_on_release: bool,
    front_cache: usize,
}

impl PoolConfig {
    /// The default capacity of every class, in blocks: 256. With every class full the pool
    /// owns 256 × (64 B + 128 B + ... + 64 KiB) ≈ 32 MiB.
    pub const DEFAULT_CAPACITY: u32 = 256;
    /// The default number of blocks per class in each thread's front cache: 4.
    pub const DEFAULT_FRONT_CACHE: usize = 4;
    /// The largest accepted front-cache length; larger values are clamped to it.
    pub const MAX_FRONT_CACHE: usize = 64;

    /// The default configuration: every class holds up to
    /// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) blocks, exhausted classes fall back to the
    /// heap, blocks are zeroed on release, and the front cache keeps
    /// [`DEFAULT_FRONT_CACHE`](Self::DEFAULT_FRONT_CACHE) blocks per class and thread.
    pub fn new() -> Self {
        PoolConfig {
            capacities: [Self::DEFAULT_CAPACITY; SizeClass::COUNT],
            on_exhausted: ExhaustedPolicy::Heap,
            zero_on_release: true,
            front_cache: Self::DEFAULT_FRONT_CACHE,
        }
    }

    /// Sets the capacity of every class: the most blocks a class owns at once, in use or
    /// idle. `0` disables pooling for every class (each request is then a capacity refusal).
    ///
    /// Default: [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) (256). The pool reserves a
    /// 16-byte queue slot per block of capacity up front; blocks themselves are allocated on
    /// first use.
    #[must_use]
    pub fn capacity(mut self, blocks: u32) -> Self {
        self.capacities = [blocks; SizeClass::COUNT];
        self
    }

    /// Sets the capacity of one class, in blocks (see [`capacity`](Self::capacity)).
    ///
    /// Default: [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) (256).
    #[must_use]
    pub fn class_capacity(mut self, class: SizeClass, blocks: u32) -> Self {
        self.capacities[class.index()] = blocks;
        self
    }

    /// Sets what happens when a class is at capacity and has no free block.
    ///
    /// Default: [`ExhaustedPolicy::Heap`].
    #[must_use]
    pub fn on_exhausted(mut self, policy: ExhaustedPolicy) -> Self {
        self.on_exhausted = policy;
        self
    }

    /// Zero every block when it returns to the pool, so idle blocks never hold one tenant's
    /// bytes.
    ///
    /// Whatever this setting, a buffer handed out by the safe API never shows bytes written
    /// by an earlier user: [`MemoryPool::alloc`](crate::MemoryPool::alloc) returns zeroed
    /// bytes and growth writes every new byte. The setting decides *when* stale bytes are
    /// wiped: with `true`, on release (the written prefix of the block), so idle memory, a
    /// trimmed block given back to the system allocator, or a core dump holds no tenant data,
    /// and `alloc` has nothing left to zero; with `false`, not at all on release, and
    /// `alloc(len)` clears the `len` bytes it exposes (`with_capacity` clears nothing).
    /// See `docs/mempool.md` for measured costs.
    ///
    /// Default: `true`.
    #[must_use]
    pub fn zero_on_release(mut self, zero: bool) -> Self {
        self.zero_on_release = zero;
        self
    }

    /// Sets how many idle blocks per class each thread's front cache keeps for this pool
    /// (see the crate docs, "Design"). `0` disables the front cache; values above
    /// [`MAX_FRONT_CACHE`](Self::MAX_FRONT_CACHE) are clamped.
    ///
    /// Default: [`DEFAULT_FRONT_CACHE`](Self::DEFAULT_FRONT_CACHE) (4).
    #[must_use]
    pub fn front_cache(mut self, blocks_per_class: usize) -> Self {
        self.front_cache = blocks_per_class.min(Self::MAX_FRONT_CACHE);
        self
    }

    /// The capacity of `class`, in blocks.
    pub fn class_capacity_of(&self, class: SizeClass) -> u32 {
        self.capacities[class.index()]
    }

    /// The policy for exhausted classes.
    pub fn exhausted_policy(&self) -> ExhaustedPolicy {
        self.on_exhausted
    }

    /// Whether blocks are zeroed when they return to the pool.
    pub fn zeroes_on_release(&self) -> bool {
        self.zero_on_release
    }

    /// Blocks per class in each thread's front cache.
    pub fn front_cache_len(&self) -> usize {
        self.front_cache
    }
}

impl Default for PoolConfig {
    /// Same as [`PoolConfig::new`].
    fn default() -> Self {
        Self::new()
    }
}
