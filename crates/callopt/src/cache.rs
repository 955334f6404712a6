//! The memo cache: sharded LRU with TTL, bounded by entries and by bytes.
//!
//! Each shard is a `parking_lot::Mutex` over a slab of entries threaded on two intrusive
//! lists: recency (for LRU eviction) and insertion order (for TTL expiry: every entry has the
//! same TTL, so the oldest insertion is always the first to expire). The links, key hashes
//! and expiry times sit in one dense array apart from the keys and values, and the index
//! (`hashbrown::HashTable`) holds slot numbers only, so each key is stored once. Every shard
//! operation first drops the shard's expired entries, which is O(1) when nothing has expired.
//! No lock is held while a guest call runs: the optimizer looks up, releases the shard,
//! executes, then inserts.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use parking_lot::Mutex;

use crate::clock::{Clock, SystemClock};
use crate::flight::{Flight, Landing, Ticket};
use crate::stats::{CallOptStats, Counters, Tally};

/// A 32-byte content hash of a module's bytes (e.g. blake3), as computed by the embedder.
pub type ModuleHash = [u8; 32];

/// Bytes charged per entry on top of the result and export name: the two 32-byte hashes.
pub const KEY_OVERHEAD_BYTES: usize = 64;

/// The identity of a memoized call: module content hash, export name, and the encoded
/// argument bytes, named exactly.
///
/// Arguments of up to [`EXACT_ARGS_BYTES`] bytes (the scalar calls, where a key's cost
/// matters most) are kept verbatim; longer ones by their full 256-bit blake3 digest. No
/// truncated (64-bit) hash decides equality anywhere: two calls share an entry only if their
/// module hashes are equal, their export names are equal, and their encoded arguments are
/// equal bytes or have the same blake3 digest. The two forms cannot be confused: a key
/// records which one it holds and, for the exact form, the length.
#[derive(Clone, PartialEq, Eq)]
pub struct MemoKey {
    module: ModuleHash,
    export: Arc<str>,
    /// The arguments zero-padded (`form <= EXACT_ARGS_BYTES`) or their blake3 digest.
    args: [u8; 32],
    /// The argument length in the exact form, [`DIGEST`] in the digest form.
    form: u8,
    /// 64 well-mixed bits of the arguments, which pick the shard and the table slot.
    mix: u64,
}

/// Encoded arguments up to this length are kept verbatim in a [`MemoKey`] instead of hashed.
pub const EXACT_ARGS_BYTES: usize = 32;

/// `MemoKey::form` of a key that holds a blake3 digest.
const DIGEST: u8 = u8::MAX;

/// The process's secret seed for mixing exact arguments. Their 64-bit mix is a foldhash keyed
/// with random secrets (hashbrown's own default hasher), so a caller who cannot read the mix
/// cannot choose arguments that pile into one table slot; SipHash would do the same at four
/// times the cost, and blake3 at ten.
fn exact_seed() -> &'static foldhash::quality::RandomState {
    static SEED: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(foldhash::quality::RandomState::default)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(w)
}

impl MemoKey {
    /// The key of calling `export` of the module hashed `module` with `encoded_args`.
    ///
    /// The encoding must be canonical (equal arguments ⇒ equal bytes) for calls to hit. A
    /// non-canonical encoding only costs hits, never correctness.
    #[must_use]
    pub fn new(module: ModuleHash, export: impl Into<Arc<str>>, encoded_args: &[u8]) -> Self {
        let (args, form, mix) = if encoded_args.len() <= EXACT_ARGS_BYTES {
            let mut args = [0u8; 32];
            args[..encoded_args.len()].copy_from_slice(encoded_args);
            let mix = std::hash::BuildHasher::hash_one(exact_seed(), encoded_args);
            // Lengths up to 32 fit in a byte and never equal `DIGEST`.
            (args, encoded_args.len() as u8, mix)
        } else {
            let digest = *blake3::hash(encoded_args).as_bytes();
            // A cryptographic digest is uniform already: eight of its bytes are the mix.
            (digest, DIGEST, word(&digest))
        };
        Self {
            module,
            export: export.into(),
            args,
            form,
            mix,
        }
    }

    /// The module content hash.
    #[must_use]
    pub fn module(&self) -> &ModuleHash {
        &self.module
    }

    /// The export name.
    #[must_use]
    pub fn export(&self) -> &str {
        &self.export
    }

    /// The encoded arguments if they are kept verbatim (at most [`EXACT_ARGS_BYTES`] bytes).
    #[must_use]
    pub fn exact_args(&self) -> Option<&[u8]> {
        (self.form != DIGEST).then(|| &self.args[..usize::from(self.form)])
    }

    /// The blake3 digest of the encoded arguments if they are longer than
    /// [`EXACT_ARGS_BYTES`].
    #[must_use]
    pub fn args_digest(&self) -> Option<&[u8; 32]> {
        (self.form == DIGEST).then_some(&self.args)
    }

    /// The bytes an entry with this key and a `value_len`-byte result is charged:
    /// `value_len + export.len() + KEY_OVERHEAD_BYTES`.
    #[must_use]
    pub fn charged_bytes(&self, value_len: usize) -> usize {
        value_len
            .saturating_add(self.export.len())
            .saturating_add(KEY_OVERHEAD_BYTES)
    }

    fn shard_seed(&self) -> u64 {
        self.mix ^ word(&self.module).rotate_left(17)
    }

    /// The key's hash in its shard's index: the high half of the mix moved low, so the keys of
    /// one shard (which share low bits of `shard_seed`) still spread over its table. Keys that
    /// differ only in their export collide and are told apart by `Eq`.
    fn table_hash(&self) -> u64 {
        self.mix.rotate_left(32) ^ word(&self.module[8..]).rotate_left(29)
    }
}

/// Equal keys write equal values, as `Hash` requires (see `table_hash`).
impl std::hash::Hash for MemoKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.table_hash());
    }
}

impl fmt::Debug for MemoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoKey")
            .field("module", &Hex(&self.module[..8]))
            .field("export", &&*self.export)
            .field(
                if self.form == DIGEST {
                    "args_digest"
                } else {
                    "args"
                },
                &Hex(&self.args[..8]),
            )
            .finish()
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

/// Bounds and expiry of a [`MemoCache`].
///
/// The bounds are split evenly across shards (rounding down), so the cache never holds more
/// than `max_entries` entries or `max_bytes` charged bytes in total, and a single result larger
/// than `max_bytes / shards` is not cached at all (counted in
/// [`CallOptStats::rejected_oversize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    max_entries: usize,
    max_bytes: usize,
    ttl: Option<Duration>,
    shards: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 64 * 1024 * 1024,
            ttl: Some(Duration::from_secs(300)),
            shards: 16,
        }
    }
}

impl CacheConfig {
    /// The default configuration: 10 000 entries, 64 MiB, a 5-minute TTL, 16 shards.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The maximum number of cached entries. Default: 10 000. `0` disables caching.
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The maximum number of charged bytes (results plus keys, see
    /// [`MemoKey::charged_bytes`]). Default: 64 MiB.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How long a result stays valid: from its [`MemoCache::insert`], or, through a
    /// [`CallOptimizer`](crate::CallOptimizer), from the lookup that started the call which
    /// produced it (one clock read per call; a result never outlives the TTL counted from the
    /// moment its call began). `None` keeps results until they are evicted. A lookup does not
    /// extend the TTL. Default: `Some(5 minutes)`.
    #[must_use]
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// The number of independently locked shards. Default: 16. Values below 1 are treated as
    /// 1, and the count is capped at `max_entries` so that every shard can hold an entry.
    ///
    /// LRU order is exact within a shard and approximate across shards.
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// The configured entry bound.
    #[must_use]
    pub fn get_max_entries(&self) -> usize {
        self.max_entries
    }

    /// The configured byte bound.
    #[must_use]
    pub fn get_max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The configured TTL.
    #[must_use]
    pub fn get_ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The number of shards actually used.
    #[must_use]
    pub fn effective_shards(&self) -> usize {
        self.shards.max(1).min(self.max_entries.max(1))
    }
}

const NIL: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Link {
    prev: usize,
    next: usize,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// Head = most recently used / most recently inserted; tail = the next to evict / expire.
#[derive(Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

#[derive(Clone, Copy)]
enum Which {
    Recency,
    Expiry,
}

/// An entry's payload, touched only to compare its key or to take or drop its value.
struct Node {
    key: MemoKey,
    value: Arc<[u8]>,
    charged: usize,
}

/// An entry's bookkeeping, kept apart from its [`Node`] in one dense array: relinking
/// neighbours, checking the oldest entry's expiry and rehashing touch only these 56 bytes,
/// not the scattered nodes (profiled: with 10 000 entries, the neighbours' cache misses
/// were the largest cost of a miss after the argument hash).
#[derive(Clone, Copy)]
struct Meta {
    recency: Link,
    expiry: Link,
    /// The key's `table_hash`.
    hash: u64,
    expires_at: Option<Instant>,
}

const VACANT: Meta = Meta {
    recency: UNLINKED,
    expiry: UNLINKED,
    hash: 0,
    expires_at: None,
};

impl Meta {
    fn link(&mut self, which: Which) -> &mut Link {
        match which {
            Which::Recency => &mut self.recency,
            Which::Expiry => &mut self.expiry,
        }
    }
}

/// What one shard operation did: its events, added to the shard's tally under the lock, and
/// the change in size, published outside it.
#[derive(Default)]
struct Change {
    tally: Tally,
    entries: i64,
    bytes: i64,
}

impl Change {
    fn removed(&mut self, node: &Node) {
        self.entries -= 1;
        self.bytes -= i64::try_from(node.charged).unwrap_or(i64::MAX);
    }

    fn added(&mut self, charged: usize) {
        self.entries += 1;
        self.bytes += i64::try_from(charged).unwrap_or(i64::MAX);
    }
}

struct Shard {
    /// Slot indices, hashed by their node's key: the key itself lives once, in its node.
    /// A lookup that misses reads only this table's control bytes (about 9 bytes an
    /// entry, so a shard's index stays in cache) and no node.
    index: HashTable<usize>,
    slots: Vec<Option<Node>>,
    /// `meta[i]` belongs to `slots[i]`.
    meta: Vec<Meta>,
    free: Vec<usize>,
    recency: List,
    expiry: List,
    bytes: usize,
    tally: Tally,
    /// Misses being executed by a leader (see [`crate::flight`]); few, so a small table.
    flights: HashTable<Flight>,
    next_flight: u64,
}

impl Shard {
    fn new() -> Self {
        Self {
            index: HashTable::new(),
            slots: Vec::new(),
            meta: Vec::new(),
            free: Vec::new(),
            recency: EMPTY,
            expiry: EMPTY,
            bytes: 0,
            tally: Tally::default(),
            flights: HashTable::new(),
            next_flight: 0,
        }
    }

    fn node(&self, idx: usize) -> &Node {
        self.slots[idx]
            .as_ref()
            .expect("list and index entries always point at occupied slots")
    }

    /// The slot of `key`'s entry.
    fn find(&self, key: &MemoKey) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(key.table_hash(), |&i| {
                slots[i].as_ref().is_some_and(|node| node.key == *key)
            })
            .copied()
    }

    fn link(&mut self, idx: usize, which: Which) -> &mut Link {
        self.meta[idx].link(which)
    }

    fn list(&mut self, which: Which) -> &mut List {
        match which {
            Which::Recency => &mut self.recency,
            Which::Expiry => &mut self.expiry,
        }
    }

    fn push_front(&mut self, which: Which, idx: usize) {
        let old_head = self.list(which).head;
        *self.link(idx, which) = Link {
            prev: NIL,
            next: old_head,
        };
        if old_head == NIL {
            self.list(which).tail = idx;
        } else {
            self.link(old_head, which).prev = idx;
        }
        self.list(which).head = idx;
    }

    fn unlink(&mut self, which: Which, idx: usize) {
        let Link { prev, next } = *self.link(idx, which);
        if prev == NIL {
            self.list(which).head = next;
        } else {
            self.link(prev, which).next = next;
        }
        if next == NIL {
            self.list(which).tail = prev;
        } else {
            self.link(next, which).prev = prev;
        }
        *self.link(idx, which) = UNLINKED;
    }

    fn remove_at(&mut self, idx: usize) -> Node {
        self.unlink(Which::Recency, idx);
        self.unlink(Which::Expiry, idx);
        let node = self.slots[idx]
            .take()
            .expect("list and index entries always point at occupied slots");
        if let Ok(entry) = self.index.find_entry(self.meta[idx].hash, |&i| i == idx) {
            entry.remove();
        }
        self.meta[idx] = VACANT;
        self.free.push(idx);
        self.bytes -= node.charged;
        node
    }

    /// Drops every entry whose TTL has elapsed; they sit at the tail of the expiry list.
    fn purge_expired(&mut self, now: Instant, change: &mut Change) {
        while self.expiry.tail != NIL {
            let idx = self.expiry.tail;
            match self.meta[idx].expires_at {
                Some(at) if at <= now => {
                    let node = self.remove_at(idx);
                    change.tally.evictions_ttl += 1;
                    change.removed(&node);
                }
                _ => break,
            }
        }
    }

    fn get(&mut self, key: &MemoKey) -> Option<Arc<[u8]>> {
        let idx = self.find(key)?;
        self.unlink(Which::Recency, idx);
        self.push_front(Which::Recency, idx);
        Some(Arc::clone(&self.node(idx).value))
    }

    fn remove_where(&mut self, mut pred: impl FnMut(&MemoKey) -> bool, change: &mut Change) {
        let doomed: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.as_ref().is_some_and(|node| pred(&node.key)))
            .map(|(idx, _)| idx)
            .collect();
        for idx in doomed {
            let node = self.remove_at(idx);
            change.tally.invalidations += 1;
            change.removed(&node);
        }
    }
}

/// What [`MemoCache::insert`] did with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// The value was stored as a new entry.
    Inserted,
    /// The value was stored and replaced an entry with the same key.
    Replaced,
    /// The value was not stored: it alone exceeds the shard's byte budget, or the cache has
    /// no entry capacity.
    Rejected,
}

/// A bounded, sharded LRU cache of encoded call results with a TTL.
///
/// Invariants, at every moment a shard lock is released:
/// - the shard holds at most `max_entries / shards` entries and `max_bytes / shards` charged
///   bytes, where an entry is charged [`MemoKey::charged_bytes`]`(value.len())`;
/// - no entry older than the TTL (by the injected [`Clock`]) is ever returned;
/// - when room is needed, the least recently used entry of the shard is evicted first;
///   expired entries are always dropped before any live entry is evicted.
///
/// The cache is type-agnostic: it stores opaque bytes. [`CallOptimizer`](crate::CallOptimizer)
/// decides what may be stored in it.
pub struct MemoCache {
    shards: Box<[Mutex<Shard>]>,
    shard_entries: usize,
    shard_bytes: usize,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    counters: Counters,
}

impl fmt::Debug for MemoCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoCache")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("stats", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl Default for MemoCache {
    fn default() -> Self {
        Self::new(CacheConfig::default())
    }
}

impl MemoCache {
    /// A cache with `config` on the real clock.
    #[must_use]
    pub fn new(config: CacheConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A cache with `config` that reads time from `clock` (e.g. a
    /// [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn with_clock(config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        let n = config.effective_shards();
        Self {
            shards: (0..n).map(|_| Mutex::new(Shard::new())).collect(),
            shard_entries: config.max_entries / n,
            shard_bytes: config.max_bytes / n,
            config,
            clock,
            counters: Counters::new(),
        }
    }

    /// The configuration the cache was built with.
    #[must_use]
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    fn shard(&self, key: &MemoKey) -> &Mutex<Shard> {
        &self.shards[self.shard_index(key)]
    }

    fn shard_index(&self, key: &MemoKey) -> usize {
        // The seed comes from uniform hashes (blake3, or foldhash with a random seed), so its
        // low bits are uniform.
        let n = self.shards.len() as u64;
        usize::try_from(key.shard_seed() % n).unwrap_or(0)
    }

    pub(crate) fn now(&self) -> Option<Instant> {
        self.config.ttl.map(|_| self.clock.now())
    }

    /// Runs `op` on `shard` under its lock, after dropping the shard's entries expired at
    /// `now`; adds what happened to the shard's tally, then publishes it outside the lock.
    fn locked<T>(
        &self,
        shard: &Mutex<Shard>,
        now: Option<Instant>,
        op: impl FnOnce(&mut Shard, &mut Change) -> T,
    ) -> (T, Tally) {
        let mut change = Change::default();
        let out = {
            let mut shard = shard.lock();
            if let Some(now) = now {
                shard.purge_expired(now, &mut change);
            }
            let out = op(&mut shard, &mut change);
            shard.tally.add(&change.tally);
            out
        };
        self.counters
            .publish(&change.tally, change.entries, change.bytes);
        (out, change.tally)
    }

    /// Looks `key` up, marking it most recently used. Counts a hit or a miss.
    #[must_use]
    pub fn get(&self, key: &MemoKey) -> Option<Arc<[u8]>> {
        self.locked(self.shard(key), self.now(), |shard, change| {
            let found = shard.get(key);
            if found.is_some() {
                change.tally.hits += 1;
            } else {
                change.tally.misses += 1;
            }
            found
        })
        .0
    }

    /// Whether a live entry for `key` is cached, without touching recency or hit counters.
    #[must_use]
    pub fn contains(&self, key: &MemoKey) -> bool {
        self.locked(self.shard(key), self.now(), |shard, _| {
            shard.find(key).is_some()
        })
        .0
    }

    /// Stores `value` under `key` as the most recently used entry, evicting least recently
    /// used entries of the shard until both bounds hold.
    pub fn insert(&self, key: MemoKey, value: Arc<[u8]>) -> InsertOutcome {
        self.insert_at(key, value, self.now())
    }

    /// [`insert`](Self::insert) at `now` (`None` without a TTL): the entry expires at
    /// `now + ttl`.
    pub(crate) fn insert_at(
        &self,
        key: MemoKey,
        value: Arc<[u8]>,
        now: Option<Instant>,
    ) -> InsertOutcome {
        let expires_at = self.expiry(now);
        let shard = self.shard(&key);
        self.locked(shard, now, |shard, change| {
            self.store(shard, key, value, expires_at, change)
        })
        .0
    }

    /// Stores `value` under `key` in `shard` (locked), evicting until both bounds hold.
    fn store(
        &self,
        shard: &mut Shard,
        key: MemoKey,
        value: Arc<[u8]>,
        expires_at: Option<Instant>,
        change: &mut Change,
    ) -> InsertOutcome {
        let charged = key.charged_bytes(value.len());
        if charged > self.shard_bytes || self.shard_entries == 0 {
            // An entry already cached for this key stays: it is just as valid.
            change.tally.rejected_oversize += 1;
            return InsertOutcome::Rejected;
        }
        let replaced = shard.find(&key).map(|idx| shard.remove_at(idx));
        if let Some(node) = &replaced {
            change.removed(node);
            change.tally.replacements += 1;
        }
        while shard.index.len() + 1 > self.shard_entries || shard.bytes + charged > self.shard_bytes
        {
            let victim = shard.recency.tail;
            if victim == NIL {
                break;
            }
            let node = shard.remove_at(victim);
            change.tally.evictions_capacity += 1;
            change.removed(&node);
        }
        let meta = Meta {
            hash: key.table_hash(),
            expires_at,
            ..VACANT
        };
        let node = Node {
            key,
            value,
            charged,
        };
        let idx = if let Some(idx) = shard.free.pop() {
            shard.slots[idx] = Some(node);
            shard.meta[idx] = meta;
            idx
        } else {
            shard.slots.push(Some(node));
            shard.meta.push(meta);
            shard.slots.len() - 1
        };
        let all = &shard.meta;
        shard.index.insert_unique(meta.hash, idx, |&i| all[i].hash);
        shard.push_front(Which::Recency, idx);
        shard.push_front(Which::Expiry, idx);
        shard.bytes += charged;
        change.added(charged);
        change.tally.insertions += 1;
        if replaced.is_some() {
            InsertOutcome::Replaced
        } else {
            InsertOutcome::Inserted
        }
    }

    fn expiry(&self, now: Option<Instant>) -> Option<Instant> {
        match (now, self.config.ttl) {
            // Saturate: a TTL too long to represent means "never expires".
            (Some(now), Some(ttl)) => now.checked_add(ttl),
            _ => None,
        }
    }

    /// Looks `key` up at `now`; on a miss, joins the flight of an identical call already
    /// executing (`may_wait`), or registers one that the caller leads (see
    /// [`crate::flight`]). Counts a hit, a miss or a coalesced call.
    pub(crate) fn begin(&self, key: &MemoKey, now: Option<Instant>, may_wait: bool) -> Begin {
        let index = self.shard_index(key);
        self.locked(&self.shards[index], now, |shard, change| {
            if let Some(found) = shard.get(key) {
                change.tally.hits += 1;
                return Begin::Hit(found);
            }
            let hash = key.table_hash();
            if let Some(flight) = shard.flights.find_mut(hash, |f| f.key == *key) {
                if may_wait {
                    change.tally.coalesced += 1;
                    let landing = flight.landing.get_or_insert_with(Arc::default);
                    return Begin::Wait(Arc::clone(landing));
                }
                change.tally.misses += 1;
                return Begin::Solo;
            }
            change.tally.misses += 1;
            let id = shard.next_flight;
            shard.next_flight += 1;
            shard.flights.insert_unique(
                hash,
                Flight {
                    key: key.clone(),
                    id,
                    landing: None,
                },
                |f| f.key.table_hash(),
            );
            Begin::Lead(Ticket {
                shard: index,
                hash,
                id,
            })
        })
        .0
    }

    /// Ends the flight of `ticket` with its leader's result: stores it (TTL counted from
    /// `now`, the leader's lookup) and hands it to the waiters.
    pub(crate) fn land(&self, ticket: Ticket, value: &Arc<[u8]>, now: Option<Instant>) {
        let expires_at = self.expiry(now);
        let (landing, _) = self.locked(&self.shards[ticket.shard], now, |shard, change| {
            let flight = Self::unregister(shard, ticket)?;
            self.store(shard, flight.key, Arc::clone(value), expires_at, change);
            flight.landing
        });
        if let Some(landing) = landing {
            landing.complete(Some(Arc::clone(value)));
        }
    }

    /// Ends the flight of `ticket` without a result: each of its waiters executes itself.
    pub(crate) fn abort(&self, ticket: Ticket) {
        let (landing, _) = self.locked(&self.shards[ticket.shard], None, |shard, _| {
            Self::unregister(shard, ticket)?.landing
        });
        if let Some(landing) = landing {
            landing.complete(None);
        }
    }

    fn unregister(shard: &mut Shard, ticket: Ticket) -> Option<Flight> {
        let entry = shard
            .flights
            .find_entry(ticket.hash, |f| f.id == ticket.id)
            .ok()?;
        Some(entry.remove().0)
    }

    /// Removes the entry for `key`. Returns whether a live one was cached.
    pub fn remove(&self, key: &MemoKey) -> bool {
        self.locked(self.shard(key), self.now(), |shard, change| {
            shard.find(key).is_some_and(|idx| {
                let node = shard.remove_at(idx);
                change.tally.invalidations += 1;
                change.removed(&node);
                true
            })
        })
        .0
    }

    fn remove_where(&self, pred: impl Fn(&MemoKey) -> bool) -> usize {
        let now = self.now();
        let mut total = 0;
        for shard in &*self.shards {
            let ((), tally) = self.locked(shard, now, |shard, change| {
                shard.remove_where(&pred, change);
            });
            total += usize::try_from(tally.invalidations).unwrap_or(usize::MAX);
        }
        total
    }

    /// Removes every entry of the module hashed `module` (e.g. when it is unloaded).
    /// Returns how many live entries were removed (expired ones count as TTL evictions). Takes each shard lock in turn.
    pub fn invalidate_module(&self, module: &ModuleHash) -> usize {
        self.remove_where(|k| k.module == *module)
    }

    /// Removes every entry of `export`, in any module. Returns how many were removed.
    pub fn invalidate_export(&self, export: &str) -> usize {
        self.remove_where(|k| &*k.export == export)
    }

    /// Removes every entry. Returns how many were removed.
    pub fn clear(&self) -> usize {
        self.remove_where(|_| true)
    }

    /// Drops every expired entry now (lookups and insertions already do so for their shard).
    /// Returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let Some(now) = self.now() else { return 0 };
        let mut total = 0;
        for shard in &*self.shards {
            let ((), tally) = self.locked(shard, Some(now), |_, _| ());
            total += usize::try_from(tally.evictions_ttl).unwrap_or(usize::MAX);
        }
        total
    }

    /// The number of live entries (expired entries are purged first).
    #[must_use]
    pub fn len(&self) -> usize {
        self.purge_expired();
        self.shards.iter().map(|s| s.lock().index.len()).sum()
    }

    /// Whether no live entry is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The charged bytes of the live entries (expired entries are purged first).
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.purge_expired();
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    /// A snapshot of the counters, after purging expired entries so that `entries` and
    /// `bytes` describe live entries only.
    #[must_use]
    pub fn stats(&self) -> CallOptStats {
        self.purge_expired();
        self.snapshot()
    }

    /// The counters as they are, without purging.
    fn snapshot(&self) -> CallOptStats {
        let mut tally = Tally::default();
        for shard in &*self.shards {
            tally.add(&shard.lock().tally);
        }
        self.counters.snapshot(&tally)
    }
}

/// What [`MemoCache::begin`] found.
pub(crate) enum Begin {
    /// The result is cached.
    Hit(Arc<[u8]>),
    /// A miss: execute, then [`MemoCache::land`] or [`MemoCache::abort`] the flight.
    Lead(Ticket),
    /// An identical call is executing: wait on the landing; if it aborts, execute.
    Wait(Arc<Landing>),
    /// An identical call is executing and the caller may not wait: execute and insert.
    Solo,
}
