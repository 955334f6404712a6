//! Per-call scratch space: [`ScratchArena`] (a `bumpalo` arena with stats) and
//! [`ArenaPool`], which lends arenas out and resets them on return.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use bumpalo::Bump;
use crossbeam::queue::ArrayQueue;

use crate::PoolError;

#[cfg(test)]
mod tests;

/// A bump arena for one call's temporary data, reset between calls.
///
/// Allocation is a pointer bump; [`reset`](Self::reset) frees everything at once and keeps
/// the largest chunk for the next call, so a warm arena does not touch the system allocator.
/// Memory allocated in the arena is not zeroed on reset: do not hand it to another tenant
/// through `unsafe` code (the safe API only exposes bytes it initialized).
///
/// ```
/// use wasm_sandbox_mempool::ScratchArena;
///
/// let mut arena = ScratchArena::new();
/// let name = arena.alloc_str("add");
/// let args = arena.alloc_slice_copy(&[1u8, 2, 3]);
/// assert_eq!(name, "add");
/// assert_eq!(args, &[1, 2, 3]);
/// arena.reset();
/// assert_eq!(arena.stats().resets, 1);
/// assert!(arena.stats().high_water >= 6);
/// ```
pub struct ScratchArena {
    bump: Bump,
    limit: Option<usize>,
    high_water: usize,
    resets: u64,
}

/// A snapshot of a [`ScratchArena`]'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaStats {
    /// Bytes handed out since the last reset, including alignment padding (and, after the
    /// arena grew, the unused tail of earlier chunks).
    pub used: usize,
    /// Bytes the arena holds from the system allocator (all its chunks).
    pub footprint: usize,
    /// The largest `used` seen at any reset (or now, if larger): the call that needed the
    /// most scratch space.
    pub high_water: usize,
    /// How many times the arena was reset.
    pub resets: u64,
}

impl ScratchArena {
    /// An empty arena; its first allocation takes a chunk from the system allocator.
    pub fn new() -> Self {
        Self::from_bump(Bump::new(), None)
    }

    /// An arena with at least `bytes` of space reserved up front.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::from_bump(Bump::with_capacity(bytes), None)
    }

    /// An arena that refuses to hold more than `limit` bytes in total (its footprint, see
    /// [`ArenaStats::footprint`]). Allocations past the limit fail with
    /// [`PoolError::ScratchLimit`] in the `try_` methods and panic in the others, so use the
    /// `try_` methods when the sizes come from a guest.
    pub fn with_limit(limit: usize) -> Self {
        let bump = Bump::new();
        bump.set_allocation_limit(Some(limit));
        Self::from_bump(bump, Some(limit))
    }

    fn from_bump(bump: Bump, limit: Option<usize>) -> Self {
        ScratchArena {
            bump,
            limit,
            high_water: 0,
            resets: 0,
        }
    }

    /// The underlying arena, for `bumpalo` collections (`bumpalo::collections::Vec::new_in`)
    /// and typed allocations. Everything allocated from it lives until the next
    /// [`reset`](Self::reset).
    pub fn bump(&self) -> &Bump {
        &self.bump
    }

    /// Copies `data` into the arena.
    ///
    /// # Panics
    ///
    /// If the arena's limit (see [`with_limit`](Self::with_limit)) or the system allocator
    /// refuses the space.
    pub fn alloc_slice_copy(&self, data: &[u8]) -> &mut [u8] {
        self.bump.alloc_slice_copy(data)
    }

    /// Copies `data` into the arena.
    ///
    /// # Errors
    ///
    /// [`PoolError::ScratchLimit`] if the arena's limit or the system allocator refuses.
    pub fn try_alloc_slice_copy(&self, data: &[u8]) -> Result<&mut [u8], PoolError> {
        self.bump
            .try_alloc_slice_copy(data)
            .map_err(|_| PoolError::ScratchLimit)
    }

    /// `len` zeroed bytes in the arena.
    ///
    /// # Panics
    ///
    /// If the arena's limit or the system allocator refuses the space.
    pub fn alloc_zeroed(&self, len: usize) -> &mut [u8] {
        self.bump.alloc_slice_fill_copy(len, 0u8)
    }

    /// `len` zeroed bytes in the arena.
    ///
    /// # Errors
    ///
    /// [`PoolError::ScratchLimit`] if the arena's limit or the system allocator refuses.
    pub fn try_alloc_zeroed(&self, len: usize) -> Result<&mut [u8], PoolError> {
        self.bump
            .try_alloc_slice_fill_copy(len, 0u8)
            .map_err(|_| PoolError::ScratchLimit)
    }

    /// Copies `s` into the arena.
    ///
    /// # Panics
    ///
    /// If the arena's limit or the system allocator refuses the space.
    pub fn alloc_str(&self, s: &str) -> &mut str {
        self.bump.alloc_str(s)
    }

    /// Bytes handed out since the last reset (see [`ArenaStats::used`]).
    pub fn used(&self) -> usize {
        self.bump
            .allocated_bytes()
            .saturating_sub(self.bump.chunk_capacity())
    }

    /// Frees everything allocated since the last reset, keeping the largest chunk, and
    /// records the high-water mark. The borrow checker guarantees no allocation outlives it.
    pub fn reset(&mut self) {
        self.high_water = self.high_water.max(self.used());
        self.resets += 1;
        self.bump.reset();
    }

    /// Resets the arena and, if it holds more than `max_footprint` bytes, frees its memory
    /// entirely so one huge call does not pin memory forever. Used by [`ArenaPool`].
    pub fn reset_and_shrink(&mut self, max_footprint: usize) {
        self.reset();
        if self.bump.allocated_bytes() > max_footprint {
            let bump = Bump::new();
            bump.set_allocation_limit(self.limit);
            self.bump = bump;
        }
    }

    /// The arena's counters.
    pub fn stats(&self) -> ArenaStats {
        let used = self.used();
        ArenaStats {
            used,
            footprint: self.bump.allocated_bytes(),
            high_water: self.high_water.max(used),
            resets: self.resets,
        }
    }
}

impl Default for ScratchArena {
    /// Same as [`ScratchArena::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ScratchArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchArena")
            .field("limit", &self.limit)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A shared stock of [`ScratchArena`]s: [`lease`](Self::lease) one per call, and it is reset
/// and returned when the lease drops.
///
/// Arenas are `Send` but not `Sync`, so each call gets its own; the pool keeps up to
/// `max_idle` warm arenas and drops arenas that grew past `max_footprint` bytes.
///
/// ```
/// use wasm_sandbox_mempool::ArenaPool;
///
/// let arenas = ArenaPool::new(4, 1 << 20);
/// {
///     let scratch = arenas.lease();
///     let tmp = scratch.alloc_zeroed(4096);
///     tmp[0] = 1;
/// } // reset and returned here
/// assert_eq!(arenas.idle(), 1);
/// assert!(arenas.lease().stats().high_water >= 4096);
/// ```
#[derive(Clone)]
pub struct ArenaPool {
    inner: Arc<ArenaPoolInner>,
}

struct ArenaPoolInner {
    idle: ArrayQueue<ScratchArena>,
    max_footprint: usize,
}

impl ArenaPool {
    /// A pool that keeps at most `max_idle` idle arenas (at least one) and frees the memory of
    /// arenas whose footprint exceeds `max_footprint` bytes when they come back.
    pub fn new(max_idle: usize, max_footprint: usize) -> Self {
        ArenaPool {
            inner: Arc::new(ArenaPoolInner {
                idle: ArrayQueue::new(max_idle.max(1)),
                max_footprint,
            }),
        }
    }

    /// An idle arena, or a new one if none is idle.
    pub fn lease(&self) -> ScratchLease {
        let arena = self.inner.idle.pop().unwrap_or_default();
        ScratchLease {
            arena: Some(arena),
            pool: Arc::clone(&self.inner),
        }
    }

    /// The number of idle arenas.
    pub fn idle(&self) -> usize {
        self.inner.idle.len()
    }
}

impl fmt::Debug for ArenaPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaPool")
            .field("idle", &self.idle())
            .field("max_idle", &self.inner.idle.capacity())
            .field("max_footprint", &self.inner.max_footprint)
            .finish()
    }
}

/// A [`ScratchArena`] leased from an [`ArenaPool`]; derefs to the arena and returns it, reset,
/// when dropped.
pub struct ScratchLease {
    /// Always `Some` until `drop`.
    arena: Option<ScratchArena>,
    pool: Arc<ArenaPoolInner>,
}

impl Deref for ScratchLease {
    type Target = ScratchArena;

    fn deref(&self) -> &ScratchArena {
        self.arena
            .as_ref()
            .expect("a lease holds its arena until dropped")
    }
}

impl DerefMut for ScratchLease {
    fn deref_mut(&mut self) -> &mut ScratchArena {
        self.arena
            .as_mut()
            .expect("a lease holds its arena until dropped")
    }
}

impl Drop for ScratchLease {
    fn drop(&mut self) {
        if let Some(mut arena) = self.arena.take() {
            arena.reset_and_shrink(self.pool.max_footprint);
            // A full pool drops the surplus arena.
            let _ = self.pool.idle.push(arena);
        }
    }
}

impl fmt::Debug for ScratchLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScratchLease").field(&**self).finish()
    }
}
