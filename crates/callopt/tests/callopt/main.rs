//! Integration tests of the call optimizer: a model-based property test of the memo cache,
//! the never-memoize rules, TTL on a manual clock, the typed layer and concurrency.

mod flight;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use wasm_sandbox_callopt::{
    CacheConfig, CallOptError, CallOptStats, CallOptimizer, Codec, CodecError, EXACT_ARGS_BYTES,
    InsertOutcome, Lookup, ManualClock, MemoCache, MemoKey, ModuleHash, Route,
};

const EXPORTS: [&str; 2] = ["a", "bb"];

fn module(i: u8) -> ModuleHash {
    *blake3::hash(&[i]).as_bytes()
}

/// A key from a small universe so that operations collide often. Half the argument values
/// are longer than `EXACT_ARGS_BYTES`, so keys of both forms (verbatim and blake3) mix.
fn key(k: u8) -> MemoKey {
    let m = module(k % 2);
    let export = EXPORTS[usize::from((k / 2) % 2)];
    let v = k / 4;
    let args = if v.is_multiple_of(2) {
        vec![v]
    } else {
        vec![v; EXACT_ARGS_BYTES + 8]
    };
    MemoKey::new(m, export, &args)
}

#[derive(Debug, Clone)]
enum Op {
    Insert { key: u8, len: usize },
    Get { key: u8 },
    Contains { key: u8 },
    Remove { key: u8 },
    Advance { secs: u64 },
    InvalidateModule { module: u8 },
    Clear,
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..16u8, 0..80usize).prop_map(|(key, len)| Op::Insert { key, len }),
        6 => (0..16u8).prop_map(|key| Op::Get { key }),
        1 => (0..16u8).prop_map(|key| Op::Contains { key }),
        1 => (0..16u8).prop_map(|key| Op::Remove { key }),
        3 => (0..40u64).prop_map(|secs| Op::Advance { secs }),
        1 => (0..2u8).prop_map(|module| Op::InvalidateModule { module }),
        1 => Just(Op::Clear),
        1 => Just(Op::Purge),
    ]
}

/// A trivially correct single-shard model: a recency-ordered list (front = most recent).
struct Model {
    max_entries: usize,
    max_bytes: usize,
    ttl: Option<Duration>,
    now: Duration,
    entries: VecDeque<(MemoKey, Arc<[u8]>, Duration)>,
    stats: CallOptStats,
}

impl Model {
    fn bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|(k, v, _)| k.charged_bytes(v.len()))
            .sum()
    }

    fn purge(&mut self) {
        if let Some(ttl) = self.ttl {
            let now = self.now;
            let before = self.entries.len();
            self.entries.retain(|(_, _, at)| *at + ttl > now);
            self.stats.evictions_ttl += (before - self.entries.len()) as u64;
        }
    }

    fn position(&self, key: &MemoKey) -> Option<usize> {
        self.entries.iter().position(|(k, _, _)| k == key)
    }

    fn get(&mut self, key: &MemoKey) -> Option<Arc<[u8]>> {
        self.purge();
        match self.position(key) {
            Some(i) => {
                let entry = self.entries.remove(i).expect("position is in range");
                let value = Arc::clone(&entry.1);
                self.entries.push_front(entry);
                self.stats.hits += 1;
                Some(value)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    fn insert(&mut self, key: MemoKey, value: Arc<[u8]>) -> InsertOutcome {
        self.purge();
        let charged = key.charged_bytes(value.len());
        if charged > self.max_bytes || self.max_entries == 0 {
            self.stats.rejected_oversize += 1;
            return InsertOutcome::Rejected;
        }
        let replaced = if let Some(i) = self.position(&key) {
            self.entries.remove(i);
            self.stats.replacements += 1;
            true
        } else {
            false
        };
        while self.entries.len() + 1 > self.max_entries || self.bytes() + charged > self.max_bytes {
            self.entries.pop_back();
            self.stats.evictions_capacity += 1;
        }
        self.entries.push_front((key, value, self.now));
        self.stats.insertions += 1;
        if replaced {
            InsertOutcome::Replaced
        } else {
            InsertOutcome::Inserted
        }
    }

    fn remove_where(&mut self, pred: impl Fn(&MemoKey) -> bool) -> usize {
        self.purge();
        let before = self.entries.len();
        self.entries.retain(|(k, _, _)| !pred(k));
        let n = before - self.entries.len();
        self.stats.invalidations += n as u64;
        n
    }

    fn snapshot(&mut self) -> CallOptStats {
        self.purge();
        let mut stats = self.stats;
        stats.entries = self.entries.len() as u64;
        stats.bytes = self.bytes() as u64;
        stats
    }
}

fn check_against_model(
    max_entries: usize,
    max_bytes: usize,
    ttl: Option<Duration>,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let config = CacheConfig::new()
        .max_entries(max_entries)
        .max_bytes(max_bytes)
        .ttl(ttl)
        .shards(1);
    let cache = MemoCache::with_clock(config, Arc::new(clock.clone()));
    let mut model = Model {
        max_entries,
        max_bytes,
        ttl,
        now: Duration::ZERO,
        entries: VecDeque::new(),
        stats: CallOptStats::default(),
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert { key: k, len } => {
                let value: Arc<[u8]> = vec![step as u8; len].into();
                let real = cache.insert(key(k), Arc::clone(&value));
                let expected = model.insert(key(k), value);
                prop_assert_eq!(real, expected, "step {}: {:?}", step, op);
            }
            Op::Get { key: k } => {
                prop_assert_eq!(
                    cache.get(&key(k)),
                    model.get(&key(k)),
                    "step {}: {:?}",
                    step,
                    op
                );
            }
            Op::Contains { key: k } => {
                model.purge();
                let expected = model.position(&key(k)).is_some();
                prop_assert_eq!(cache.contains(&key(k)), expected, "step {}: {:?}", step, op);
            }
            Op::Remove { key: k } => {
                let target = key(k);
                let expected = model.remove_where(|x| *x == target) == 1;
                prop_assert_eq!(cache.remove(&target), expected, "step {}: {:?}", step, op);
            }
            Op::Advance { secs } => {
                clock.advance(Duration::from_secs(secs));
                model.now += Duration::from_secs(secs);
            }
            Op::InvalidateModule { module: m } => {
                let hash = module(m);
                let expected = model.remove_where(|x| *x.module() == hash);
                prop_assert_eq!(cache.invalidate_module(&hash), expected, "step {}", step);
            }
            Op::Clear => {
                let expected = model.remove_where(|_| true);
                prop_assert_eq!(cache.clear(), expected, "step {}", step);
            }
            Op::Purge => {
                let before = model.stats.evictions_ttl;
                model.purge();
                let expected = (model.stats.evictions_ttl - before) as usize;
                prop_assert_eq!(cache.purge_expired(), expected, "step {}", step);
            }
        }
        let real = cache.stats();
        let expected = model.snapshot();
        prop_assert_eq!(real, expected, "stats after step {}: {:?}", step, op);
        prop_assert!(real.entries as usize <= max_entries);
        prop_assert!(real.bytes as usize <= max_bytes);
        prop_assert_eq!(
            real.entries,
            real.insertions
                - real.replacements
                - real.evictions_capacity
                - real.evictions_ttl
                - real.invalidations
        );
        prop_assert_eq!(cache.len(), model.entries.len());
        prop_assert_eq!(cache.bytes(), model.bytes());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The single-shard cache behaves exactly like the model: LRU order, TTL expiry on the
    /// manual clock, both bounds, and every counter.
    #[test]
    fn memo_cache_matches_model(
        max_entries in 0..6usize,
        max_bytes in 0..500usize,
        ttl in prop_oneof![Just(None), (1..100u64).prop_map(|s| Some(Duration::from_secs(s)))],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        check_against_model(max_entries, max_bytes, ttl, &ops)?;
    }

    /// With several shards, LRU order is per shard, but the bounds, the counter identity and
    /// "a hit returns the latest value stored for the key" always hold.
    #[test]
    fn sharded_cache_keeps_bounds_and_freshness(
        max_entries in 1..40usize,
        max_bytes in 100..3000usize,
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let clock = ManualClock::new();
        let config = CacheConfig::new()
            .max_entries(max_entries)
            .max_bytes(max_bytes)
            .ttl(Some(Duration::from_secs(60)))
            .shards(4);
        let cache = MemoCache::with_clock(config, Arc::new(clock.clone()));
        let mut latest: std::collections::HashMap<MemoKey, Arc<[u8]>> = Default::default();
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert { key: k, len } => {
                    let value: Arc<[u8]> = vec![step as u8; len].into();
                    if cache.insert(key(k), Arc::clone(&value)) != InsertOutcome::Rejected {
                        latest.insert(key(k), value);
                    }
                }
                Op::Get { key: k } => {
                    if let Some(v) = cache.get(&key(k)) {
                        prop_assert_eq!(Some(&v), latest.get(&key(k)));
                    }
                }
                Op::Advance { secs } => clock.advance(Duration::from_secs(secs)),
                Op::Clear => { cache.clear(); }
                _ => {}
            }
            let s = cache.stats();
            prop_assert!(s.entries as usize <= max_entries);
            prop_assert!(s.bytes as usize <= max_bytes);
            prop_assert_eq!(
                s.entries,
                s.insertions - s.replacements - s.evictions_capacity - s.evictions_ttl
                    - s.invalidations
            );
        }
    }
}

#[test]
fn non_pure_export_is_never_memoized() {
    let optimizer = CallOptimizer::builder().pure("pure").build();
    let m = module(0);
    let runs = AtomicUsize::new(0);
    for i in 0..10 {
        let out = optimizer
            .call(&m, "counter", b"same args", || {
                Ok::<_, ()>(vec![runs.fetch_add(1, Ordering::SeqCst) as u8])
            })
            .expect("ok");
        assert_eq!(&*out, &[i as u8], "each call sees the guest's fresh state");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 10);
    let stats = optimizer.stats();
    assert_eq!(stats.bypasses, 10);
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
    assert_eq!(optimizer.route("counter"), Route::Direct);
    assert_eq!(optimizer.route("pure"), Route::Memoized);
    assert!(matches!(
        optimizer.lookup(&m, "counter", b""),
        Lookup::Bypass
    ));
}

#[test]
fn errors_are_never_memoized() {
    let optimizer = CallOptimizer::builder().pure("f").build();
    let m = module(1);
    let runs = AtomicUsize::new(0);
    let failing = || {
        runs.fetch_add(1, Ordering::SeqCst);
        Err::<Vec<u8>, _>("trap: unreachable")
    };
    assert!(optimizer.call(&m, "f", b"x", failing).is_err());
    assert!(optimizer.call(&m, "f", b"x", failing).is_err());
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the error was not served from the cache"
    );
    // A later success is memoized.
    let ok = || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, &str>(b"42".to_vec())
    };
    assert_eq!(&*optimizer.call(&m, "f", b"x", ok).expect("ok"), b"42");
    assert_eq!(&*optimizer.call(&m, "f", b"x", ok).expect("ok"), b"42");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    let stats = optimizer.stats();
    assert_eq!(
        (stats.errors, stats.misses, stats.hits, stats.entries),
        (2, 3, 1, 1)
    );
}

proptest! {
    /// Two keys are equal exactly when their arguments are equal bytes, across both key forms
    /// (verbatim up to `EXACT_ARGS_BYTES`, blake3 above): trailing zeros, lengths around the
    /// boundary and arguments that look like a digest all stay apart.
    #[test]
    fn keys_are_equal_exactly_when_arguments_are(
        a in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..70),
        b in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..70),
        pad in 0..3usize,
    ) {
        let mut b = b;
        if pad > 0 {
            // Often compare `a` with `a` plus trailing zeros.
            b = a.clone();
            b.extend(std::iter::repeat_n(0, pad));
        }
        let (ka, kb) = (MemoKey::new(module(0), "f", &a), MemoKey::new(module(0), "f", &b));
        prop_assert_eq!(ka == kb, a == b);
        prop_assert_eq!(ka.exact_args().is_some(), a.len() <= EXACT_ARGS_BYTES);
        if let Some(exact) = ka.exact_args() {
            prop_assert_eq!(exact, &a[..]);
        }
        // A key made of the digest bytes themselves is not the digest key.
        if let Some(digest) = ka.args_digest() {
            prop_assert!(MemoKey::new(module(0), "f", digest) != ka);
        }
    }
}

#[test]
fn key_distinguishes_module_export_and_args() {
    let optimizer = CallOptimizer::builder().pure("f").pure("g").build();
    let runs = AtomicUsize::new(0);
    let exec = || Ok::<_, ()>(vec![runs.fetch_add(1, Ordering::SeqCst) as u8]);
    let a = optimizer.call(&module(0), "f", b"1", exec).expect("ok");
    let b = optimizer.call(&module(1), "f", b"1", exec).expect("ok");
    let c = optimizer.call(&module(0), "g", b"1", exec).expect("ok");
    let d = optimizer.call(&module(0), "f", b"2", exec).expect("ok");
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!([a[0], b[0], c[0], d[0]], [0, 1, 2, 3]);
    assert_eq!(optimizer.call(&module(0), "f", b"1", exec).expect("ok"), a);
    assert_eq!(optimizer.invalidate_module(&module(0)), 3);
    assert_eq!(optimizer.invalidate_export("f"), 1);
    assert_eq!(optimizer.stats().entries, 0);
}

#[test]
fn ttl_expires_on_the_manual_clock() {
    let clock = ManualClock::new();
    let optimizer = CallOptimizer::builder()
        .pure("f")
        .ttl(Some(Duration::from_secs(300)))
        .clock(clock.clone())
        .build();
    let m = module(2);
    let runs = AtomicUsize::new(0);
    let exec = || Ok::<_, ()>(vec![runs.fetch_add(1, Ordering::SeqCst) as u8]);
    optimizer.call(&m, "f", b"", exec).expect("ok");
    clock.advance(Duration::from_secs(299));
    optimizer.call(&m, "f", b"", exec).expect("ok");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "still fresh at 299 s");
    clock.advance(Duration::from_secs(1));
    optimizer.call(&m, "f", b"", exec).expect("ok");
    assert_eq!(runs.load(Ordering::SeqCst), 2, "expired at 300 s");
    let stats = optimizer.stats();
    assert_eq!((stats.evictions_ttl, stats.hits, stats.misses), (1, 1, 2));
}

#[test]
fn oversize_results_are_not_cached() {
    let optimizer = CallOptimizer::builder()
        .pure("f")
        .max_bytes(1000)
        .shards(1)
        .build();
    let m = module(3);
    optimizer
        .call(&m, "f", b"", || Ok::<_, ()>(vec![0; 2000]))
        .expect("ok");
    let stats = optimizer.stats();
    assert_eq!((stats.rejected_oversize, stats.entries), (1, 0));
}

#[test]
fn zero_capacity_caches_nothing() {
    let optimizer = CallOptimizer::builder().pure("f").max_entries(0).build();
    let runs = AtomicUsize::new(0);
    for _ in 0..3 {
        optimizer
            .call(&module(0), "f", b"", || {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(vec![1])
            })
            .expect("ok");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn async_calls_are_memoized_and_hits_skip_the_future() {
    let optimizer = CallOptimizer::builder().pure("f").build();
    let m = module(4);
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let runs = Arc::clone(&runs);
        let out = optimizer
            .call_async(&m, "f", b"args", async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok::<_, ()>(b"result".to_vec())
            })
            .await
            .expect("ok");
        assert_eq!(&*out, b"result");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let err = optimizer
        .call_async(&m, "f", b"other", async { Err::<Vec<u8>, _>("timeout") })
        .await;
    assert_eq!(err, Err("timeout"));
    assert_eq!(optimizer.stats().errors, 1);
}

struct Json;

impl Codec for Json {
    fn encode<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        Ok(serde_json::to_vec(value)?)
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

#[derive(Debug)]
enum AppError {
    Guest,
    CallOpt(CallOptError),
}

impl From<CallOptError> for AppError {
    fn from(e: CallOptError) -> Self {
        Self::CallOpt(e)
    }
}

#[test]
fn typed_layer_round_trips_and_never_memoizes_errors() {
    let optimizer = CallOptimizer::builder().pure("add").build();
    let m = module(5);
    let runs = AtomicUsize::new(0);
    let add = |a: i64, b: i64| {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<i64, AppError>(a + b)
    };
    let x: i64 = optimizer
        .call_typed(&Json, &m, "add", &(2i64, 3i64), || add(2, 3))
        .expect("ok");
    let y: i64 = optimizer
        .call_typed(&Json, &m, "add", &(2i64, 3i64), || add(2, 3))
        .expect("ok");
    assert_eq!((x, y), (5, 5));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let failed: Result<i64, AppError> =
        optimizer.call_typed(&Json, &m, "add", &(9i64, 9i64), || Err(AppError::Guest));
    assert!(matches!(failed, Err(AppError::Guest)));
    let retried: i64 = optimizer
        .call_typed(&Json, &m, "add", &(9i64, 9i64), || add(9, 9))
        .expect("ok");
    assert_eq!(retried, 18);

    // Arguments the codec cannot encode: a JSON map needs string keys.
    let bad_args: std::collections::BTreeMap<(i32, i32), i32> = [((1, 2), 3)].into();
    let err: Result<i64, AppError> =
        optimizer.call_typed(&Json, &m, "add", &bad_args, || add(0, 0));
    match err {
        Err(AppError::CallOpt(e @ CallOptError::EncodeArgs { .. })) => {
            assert!(e.to_string().contains("`add`"), "{e}");
        }
        other => panic!("expected EncodeArgs, got {other:?}"),
    }
}

/// The same export and arguments used with another result type: the cached result does not
/// decode, so the call executes and its result replaces the entry.
#[test]
fn a_cached_result_of_another_type_is_replaced() {
    let optimizer = CallOptimizer::builder().pure("f").build();
    let m = module(7);
    let number: i64 = optimizer
        .call_typed(&Json, &m, "f", &1u8, || Ok::<_, AppError>(5))
        .expect("ok");
    let text: String = optimizer
        .call_typed(&Json, &m, "f", &1u8, || {
            Ok::<_, AppError>("five".to_owned())
        })
        .expect("ok");
    assert_eq!((number, text.as_str()), (5, "five"));
    // Now the string is cached: no execution.
    let again: String = optimizer
        .call_typed(&Json, &m, "f", &1u8, || -> Result<String, AppError> {
            panic!("served from the cache")
        })
        .expect("ok");
    assert_eq!(again, "five");
    let stats = optimizer.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.entries),
        (2, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn typed_async_non_pure_bypasses_without_encoding() {
    let optimizer = CallOptimizer::builder().build();
    // Would fail to encode as JSON, but a non-pure export never encodes its arguments.
    let bad_args: std::collections::BTreeMap<(i32, i32), i32> = [((1, 2), 3)].into();
    let out: Result<u8, AppError> = optimizer
        .call_typed_async(&Json, &module(6), "impure", &bad_args, async { Ok(7) })
        .await;
    assert_eq!(out.expect("ok"), 7);
    assert_eq!(optimizer.stats().bypasses, 1);
}

#[test]
fn lookup_and_store_compose_into_a_call() {
    let optimizer = CallOptimizer::builder().pure("f").build();
    let m = module(7);
    let Lookup::Miss(key) = optimizer.lookup(&m, "f", b"k") else {
        panic!("first lookup misses");
    };
    assert_eq!(optimizer.store(key, b"v".to_vec()), InsertOutcome::Inserted);
    match optimizer.lookup(&m, "f", b"k") {
        Lookup::Hit(v) => assert_eq!(&*v, b"v"),
        other => panic!("expected a hit, got {other:?}"),
    }
}

#[test]
fn many_threads_share_one_optimizer() {
    const THREADS: usize = 8;
    const CALLS: usize = 2_000;
    const KEYS: u64 = 64;
    let optimizer = Arc::new(
        CallOptimizer::builder()
            .pure("square")
            .max_entries(48)
            .shards(8)
            .build(),
    );
    let executions = Arc::new(AtomicUsize::new(0));
    let m = module(8);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let optimizer = Arc::clone(&optimizer);
            let executions = Arc::clone(&executions);
            std::thread::spawn(move || {
                let mut state = t as u64 * 7919 + 1;
                for _ in 0..CALLS {
                    // xorshift: a cheap, seeded, thread-local sequence of keys.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let n = state % KEYS;
                    let export = if n.is_multiple_of(5) {
                        "impure"
                    } else {
                        "square"
                    };
                    let out = optimizer
                        .call(&m, export, &n.to_le_bytes(), || {
                            executions.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, ()>((n * n).to_le_bytes().to_vec())
                        })
                        .expect("ok");
                    assert_eq!(&*out, &(n * n).to_le_bytes());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no thread panicked");
    }
    let s = optimizer.stats();
    let total = (THREADS * CALLS) as u64;
    assert_eq!(s.hits + s.misses + s.bypasses, total);
    assert_eq!(
        executions.load(Ordering::Relaxed) as u64,
        s.misses + s.bypasses
    );
    assert!(s.entries <= 48);
    assert!(s.hits > 0);
    assert_eq!(
        s.entries,
        s.insertions - s.replacements - s.evictions_capacity - s.evictions_ttl - s.invalidations
    );
}

#[test]
fn manual_clock_saturates_instead_of_panicking() {
    use wasm_sandbox_callopt::Clock;
    let clock = ManualClock::new();
    let start = clock.now();
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert!(clock.now() > start);
    // A cache on a clock at the end of time still works (entries expire at once or never).
    let cache = MemoCache::with_clock(CacheConfig::new(), Arc::new(clock));
    let _ = cache.insert(key(0), Arc::from(&b"v"[..]));
    let _ = cache.get(&key(0));
}

#[test]
fn purity_registry_feeds_the_builder() {
    let purity: wasm_sandbox_callopt::Purity = ["fib", "hash"].into_iter().collect();
    assert_eq!(purity.len(), 2);
    let optimizer = CallOptimizer::builder().purity(&purity).pure("sum").build();
    for export in ["fib", "hash", "sum"] {
        assert_eq!(optimizer.route(export), Route::Memoized, "{export}");
    }
    assert_eq!(optimizer.route("log"), Route::Direct);
    assert!(optimizer.purity().is_pure("sum"));
}
