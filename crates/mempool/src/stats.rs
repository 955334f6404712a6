//! Snapshots of the pool's counters.

use crate::SizeClass;

/// A snapshot of one class's counters, from [`PoolStats::classes`].
///
/// Counters (`allocations` .. `refusals`) count since the pool was built or since the last
/// [`MemoryPool::reset_stats`](crate::MemoryPool::reset_stats); gauges (`owned`, `idle`)
/// describe the present. While other threads use the pool the fields are read one by one and
/// may disagree slightly; when the pool is quiescent they are exact and
/// `allocations == hits + fresh + refusals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassStats {
    /// The class these counters describe.
    pub class: SizeClass,
    /// The configured capacity, in blocks.
    pub capacity: u32,
    /// Requests served by this class: `alloc`/`with_capacity` calls whose length maps to it,
    /// and buffer growth into it.
    pub allocations: u64,
    /// Requests served with an idle block the pool already owned.
    pub hits: u64,
    /// Requests served with a block freshly taken from the system allocator (the class had
    /// no idle block and owned fewer blocks than its capacity).
    pub fresh: u64,
    /// Pooled blocks returned to this class by dropped (or grown) buffers.
    pub releases: u64,
    /// Requests refused because the class owned its capacity of blocks and none was idle:
    /// each one either fell back to the heap or returned
    /// [`PoolError::Exhausted`](crate::PoolError::Exhausted), depending on the policy.
    pub refusals: u64,
    /// Gauge: blocks the class owns, in use or idle (never more than `capacity`).
    pub owned: u64,
    /// Gauge: owned blocks that are idle, ready to be handed out.
    pub idle: u64,
}

impl ClassStats {
    /// Gauge: owned blocks currently held by live buffers (`owned - idle`).
    pub fn in_use(&self) -> u64 {
        self.owned.saturating_sub(self.idle)
    }
}

/// A snapshot of the whole pool's counters, from
/// [`MemoryPool::stats`](crate::MemoryPool::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// One entry per class, smallest first (index with [`SizeClass::index`]).
    pub classes: [ClassStats; SizeClass::COUNT],
    /// Buffers larger than [`SizeClass::MAX_SIZE`] taken from the system allocator, by
    /// `alloc`/`with_capacity` or by growth past the largest class.
    pub oversize: u64,
    /// Idle blocks freed by [`MemoryPool::trim`](crate::MemoryPool::trim).
    pub trimmed: u64,
}

impl PoolStats {
    /// The counters of `class`.
    pub fn class(&self, class: SizeClass) -> &ClassStats {
        &self.classes[class.index()]
    }

    /// Sum of [`ClassStats::allocations`] over all classes, plus [`PoolStats::oversize`].
    pub fn total_allocations(&self) -> u64 {
        self.classes.iter().map(|c| c.allocations).sum::<u64>() + self.oversize
    }

    /// Sum of [`ClassStats::hits`] over all classes.
    pub fn total_hits(&self) -> u64 {
        self.classes.iter().map(|c| c.hits).sum()
    }

    /// Bytes held by blocks the pool owns (in use or idle); oversize and heap-fallback
    /// buffers are not counted.
    pub fn owned_bytes(&self) -> u64 {
        self.classes
            .iter()
            .map(|c| c.owned * c.class.size() as u64)
            .sum()
    }
}
