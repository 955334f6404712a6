//! [`EvictionIndex`]: the pure bookkeeping behind both cache layers: sizes, recency,
//! frequency, bounds and victim choice, with no I/O, so it can be tested against a model.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// Which entry is evicted when the cache is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// Least recently used: the entry whose last insert or hit is the oldest.
    #[default]
    Lru,
    /// Least frequently used: the entry with the fewest accesses (its insert counts as
    /// one); ties go to the least recently used.
    Lfu,
}

/// What [`EvictionIndex::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insertion<K> {
    /// Whether the entry is now in the index. `false` when it can never fit: it is larger
    /// than the byte bound, or the entry bound is zero. A rejected insert changes nothing.
    pub admitted: bool,
    /// The entries evicted to make room, in eviction order, with their sizes.
    pub evicted: Vec<(K, u64)>,
}

/// Counters kept by an [`EvictionIndex`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct IndexStats {
    /// Inserts of keys that were not present.
    pub inserts: u64,
    /// Inserts of keys that were already present (the size is replaced).
    pub replacements: u64,
    /// Inserts refused because the entry can never fit.
    pub rejections: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries removed by [`EvictionIndex::remove`].
    pub removals: u64,
    /// Successful [`EvictionIndex::touch`] calls.
    pub hits: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    size: u64,
    last_access: u64,
    accesses: u64,
}

/// Sizes, recency and frequency of cache entries, bounded by total bytes and entry count.
///
/// Time is a logical clock that advances on every insert and hit, so recency never ties.
/// All operations are `O(log n)`.
///
/// Invariants after every operation: `total_bytes() <= max_bytes()`, `len() <=
/// max_entries()`, and `total_bytes()` is the sum of the entries' sizes.
#[derive(Clone, Debug)]
pub struct EvictionIndex<K> {
    policy: EvictionPolicy,
    max_bytes: u64,
    max_entries: usize,
    entries: HashMap<K, Entry>,
    /// Entries ordered by eviction priority: the first is the next victim.
    order: BTreeSet<(u64, u64, K)>,
    clock: u64,
    total_bytes: u64,
    stats: IndexStats,
}

impl<K: Clone + Ord + Hash> EvictionIndex<K> {
    /// An empty index that holds at most `max_bytes` in at most `max_entries` entries.
    pub fn new(policy: EvictionPolicy, max_bytes: u64, max_entries: usize) -> Self {
        EvictionIndex {
            policy,
            max_bytes,
            max_entries,
            entries: HashMap::new(),
            order: BTreeSet::new(),
            clock: 0,
            total_bytes: 0,
            stats: IndexStats::default(),
        }
    }

    fn rank(&self, key: &K, e: &Entry) -> (u64, u64, K) {
        match self.policy {
            EvictionPolicy::Lru => (e.last_access, 0, key.clone()),
            EvictionPolicy::Lfu => (e.accesses, e.last_access, key.clone()),
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Adds `key` with `size` bytes, evicting other entries first until it fits, and
    /// marks it as just used. A key already present has its size replaced and keeps its
    /// access count (plus one); it is never its own victim.
    pub fn insert(&mut self, key: K, size: u64) -> Insertion<K> {
        if size > self.max_bytes || self.max_entries == 0 {
            self.stats.rejections += 1;
            return Insertion {
                admitted: false,
                evicted: Vec::new(),
            };
        }
        let previous = self.entries.remove(&key);
        if let Some(old) = previous {
            let rank = self.rank(&key, &old);
            self.order.remove(&rank);
            self.total_bytes -= old.size;
            self.stats.replacements += 1;
        } else {
            self.stats.inserts += 1;
        }
        let mut evicted = Vec::new();
        while self.total_bytes + size > self.max_bytes || self.entries.len() + 1 > self.max_entries
        {
            match self.pop_victim() {
                Some(victim) => evicted.push(victim),
                None => break,
            }
        }
        let entry = Entry {
            size,
            last_access: self.tick(),
            accesses: previous.map_or(1, |old| old.accesses + 1),
        };
        self.order.insert(self.rank(&key, &entry));
        self.entries.insert(key, entry);
        self.total_bytes += size;
        Insertion {
            admitted: true,
            evicted,
        }
    }

    /// Marks `key` as just used. Returns whether it is present.
    pub fn touch(&mut self, key: &K) -> bool {
        let Some(mut entry) = self.entries.get(key).copied() else {
            return false;
        };
        self.order.remove(&self.rank(key, &entry));
        entry.last_access = self.tick();
        entry.accesses += 1;
        self.order.insert(self.rank(key, &entry));
        self.entries.insert(key.clone(), entry);
        self.stats.hits += 1;
        true
    }

    /// Removes `key` (not counted as an eviction) and returns its size.
    pub fn remove(&mut self, key: &K) -> Option<u64> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&self.rank(key, &entry));
        self.total_bytes -= entry.size;
        self.stats.removals += 1;
        Some(entry.size)
    }

    /// The entry that would be evicted next.
    pub fn victim(&self) -> Option<&K> {
        self.order.first().map(|(_, _, k)| k)
    }

    /// Evicts the next victim and returns it with its size.
    pub fn pop_victim(&mut self) -> Option<(K, u64)> {
        let (_, _, key) = self.order.pop_first()?;
        let entry = self
            .entries
            .remove(&key)
            .expect("every ordered key has an entry");
        self.total_bytes -= entry.size;
        self.stats.evictions += 1;
        Some((key, entry.size))
    }

    /// Removes every entry (counted as removals).
    pub fn clear(&mut self) {
        self.stats.removals += self.entries.len() as u64;
        self.entries.clear();
        self.order.clear();
        self.total_bytes = 0;
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// The size recorded for `key`.
    pub fn size_of(&self, key: &K) -> Option<u64> {
        self.entries.get(key).map(|e| e.size)
    }

    /// How many times `key` was inserted or hit.
    pub fn accesses_of(&self, key: &K) -> Option<u64> {
        self.entries.get(key).map(|e| e.accesses)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sum of the entries' sizes.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The byte bound.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The entry-count bound.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The policy.
    pub fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    /// The counters.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// The keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.keys()
    }
}
