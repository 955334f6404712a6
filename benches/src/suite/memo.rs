//! Memoization of pure calls (`wasm-sandbox-callopt`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_callopt::{CacheConfig, CallOptimizer, MemoCache, MemoKey};
use wasm_sandbox_core::{Instance, Module, Sandbox, SandboxConfig, TypedFunction};

use super::{Ctx, RowResult, RowSet, Scale, fmt_ns, guests, note};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "memo/hit",
            run: hit,
        },
        RowSet {
            id: "memo/miss",
            run: miss,
        },
        RowSet {
            id: "memo/cache",
            run: cache_vs_quick_cache,
        },
        RowSet {
            id: "memo/flight",
            run: single_flight,
        },
    ]
}

/// The target duration of the memoized call.
const TARGET_NS: f64 = 10_000.0;

struct Busy {
    instance: Instance,
    busy: TypedFunction<i32, i32>,
}

impl Busy {
    fn new(module: &Module) -> Result<Self, BoxError> {
        let mut instance = module.instantiate()?;
        let busy = instance.typed::<i32, i32>("busy")?;
        Ok(Busy { instance, busy })
    }

    /// One execution, returning the encoded result as the optimizer stores it.
    fn run(&mut self, n: i32) -> Result<Vec<u8>, wasm_sandbox_core::Error> {
        Ok(self
            .busy
            .call(&mut self.instance, n)?
            .to_le_bytes()
            .to_vec())
    }
}

/// Picks `n` so that `busy(n)` takes about 10 µs on this machine (a small `n` in smoke mode).
fn calibrate(ctx: &Ctx, b: &mut Busy) -> Result<(i32, f64), BoxError> {
    if ctx.smoke() {
        return Ok((1000, 0.0));
    }
    let probe = 200_000;
    b.run(probe)?;
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        b.run(probe)?;
        best = best.min(t.elapsed().as_nanos() as f64);
    }
    let n = (f64::from(probe) * TARGET_NS / best).round().max(1.0) as i32;
    Ok((n, best * f64::from(n) / f64::from(probe)))
}

/// Two instances of the scalar guest, `busy(n)` calibrated to about 10 µs, and the module
/// hash: what the hit and miss rows share.
struct Setup {
    hash: [u8; 32],
    direct: Busy,
    memo: Busy,
    n: i32,
    est: f64,
}

impl Setup {
    fn new(ctx: &Ctx) -> Result<Self, BoxError> {
        let module = Sandbox::new(SandboxConfig::default())?.compile(&guests::scalar())?;
        let hash = module.content_hash();
        let mut direct = Busy::new(&module)?;
        let memo = Busy::new(&module)?;
        let (n, est) = calibrate(ctx, &mut direct)?;
        Ok(Setup {
            hash,
            direct,
            memo,
            n,
            est,
        })
    }

    /// Executing `busy(n)` against the same call through `optimizer`, with 12 bytes of
    /// arguments (`n`, then a salt). With `fresh_args` every call gets a new salt, so every
    /// call misses; without, every call after the first hits.
    fn row(
        &mut self,
        ctx: &Ctx,
        name: &str,
        optimizer: &CallOptimizer,
        fresh_args: bool,
    ) -> wasm_sandbox_bench::Comparison {
        let Setup {
            hash,
            direct,
            memo,
            n,
            ..
        } = self;
        let (n, hash) = (*n, *hash);
        let mut args = [0u8; 12];
        args[..4].copy_from_slice(&n.to_le_bytes());
        let mut salt = 0u64;
        // The optimizer answers what executing answers (and, for the hit row, caches it).
        let first = optimizer
            .call(&hash, "busy", &args, || memo.run(n))
            .expect("busy");
        assert_eq!(&*first, direct.run(n).expect("busy").as_slice());
        if fresh_args {
            // Measure the steady state of a long-running host: fill every shard of the cache
            // first (with busy(n)'s real result under other salts), so every measured miss
            // evicts, as the row says, and none pays for the table growing.
            let capacity = optimizer.cache().config().get_max_entries();
            for _ in 0..4 * capacity {
                salt += 1;
                args[4..].copy_from_slice(&salt.to_le_bytes());
                optimizer
                    .call(&hash, "busy", &args, || Ok::<_, ()>(first.to_vec()))
                    .expect("prefill");
            }
            let full = optimizer.stats();
            assert_eq!(full.entries, capacity as u64, "{full:?}");
        }
        compare(
            name,
            || direct.run(black_box(n)).expect("busy"),
            || {
                if fresh_args {
                    salt += 1;
                    args[4..].copy_from_slice(&salt.to_le_bytes());
                }
                optimizer
                    .call(&hash, "busy", black_box(&args), || memo.run(n))
                    .expect("busy")
            },
            &ctx.config(Scale::Fast),
        )
        .with_group("memo")
        .with_phase(Phase::Execution)
    }
}

fn hit(ctx: &Ctx) -> RowResult {
    let mut s = Setup::new(ctx)?;
    let optimizer = CallOptimizer::builder().pure("busy").build();
    let row = s
        .row(ctx, "memoized hit vs executing", &optimizer, false)
        .with_names(format!("execute busy({})", s.n), "CallOptimizer hit")
        .with_measures(format!(
            "A pure export declared with CallOptimizer::builder().pure(\"busy\"): a cache hit \
             (a key of 12 bytes of arguments, kept verbatim; a sharded LRU lookup; an Arc \
             clone) against executing `busy(n)` (SCALAR_WAT, a xorshift chain) through the \
             typed fast path, n calibrated to about 10 µs ({} estimated at calibration).",
            fmt_ns(s.est)
        ))
        .with_goal(Goal::at_least(20.0));
    let stats = optimizer.stats();
    // One miss (the first call), then hits only: the row checks what it claims to measure.
    assert_eq!(stats.misses, 1, "{stats:?}");
    Ok(vec![note(
        row,
        format!("Hits counted: {}, misses: {}.", stats.hits, stats.misses),
    )])
}

fn miss(ctx: &Ctx) -> RowResult {
    let mut s = Setup::new(ctx)?;
    let optimizer = CallOptimizer::builder().pure("busy").build();
    let row = s
        .row(ctx, "memoized miss vs no optimizer", &optimizer, true)
        .with_names(
            format!("execute busy({})", s.n),
            "CallOptimizer miss + store",
        )
        .with_measures(format!(
            "The cost of the optimizer when it cannot help: every call has new arguments (a \
             salt; 12 bytes, so kept verbatim in the key), so it misses, executes busy(n) \
             (about {}) and stores the result, evicting the least recently used entry: the \
             cache is filled to its 10,000 entries (the default) before measuring, the steady \
             state of a long-running host. Baseline: the same execution without the \
             optimizer.",
            fmt_ns(s.est)
        ))
        .with_goal(Goal::slowdown_at_most(1.05));
    let stats = optimizer.stats();
    assert_eq!(stats.hits, 0, "{stats:?}");
    let row = note(
        row,
        format!(
            "Misses counted: {}, hits: {}, evictions: {}.",
            stats.misses, stats.hits, stats.evictions_capacity
        ),
    );

    // Attribution: the same misses with a cache small enough to stay in the CPU's caches.
    // The difference is memory latency: the least recently used entry that a full cache
    // evicts was last touched thousands of misses (and guest calls) ago.
    let small = CallOptimizer::builder()
        .pure("busy")
        .max_entries(64)
        .build();
    let hot = s
        .row(
            ctx,
            "memoized miss vs no optimizer, 64-entry cache",
            &small,
            true,
        )
        .with_names(
            format!("execute busy({})", s.n),
            "CallOptimizer miss + store",
        )
        .with_measures(
            "Attribution for the row above: the same misses with a 64-entry cache, whose \
             entries stay in the CPU's caches; what remains is the optimizer's own instructions."
                .to_owned(),
        );
    Ok(vec![row, hot])
}

/// The memo cache's data structure against a well-kept concurrent cache: the evidence for
/// hand-rolling it (docs/callopt-batch.md).
fn cache_vs_quick_cache(ctx: &Ctx) -> RowResult {
    const ENTRIES: usize = 10_000;
    let export: Arc<str> = Arc::from("busy");
    // Keys are built outside the timed loops: both sides get the same blake3 digests.
    let ring: usize = ctx.pick(4 * ENTRIES, 20 * ENTRIES, 20 * ENTRIES);
    let keys: Vec<MemoKey> = (0..ring as u64)
        .map(|i| MemoKey::new([7; 32], Arc::clone(&export), &i.to_le_bytes()))
        .collect();
    let value: Arc<[u8]> = Arc::from(&[1u8, 2, 3, 4][..]);
    let ours = MemoCache::new(CacheConfig::new().max_entries(ENTRIES));
    let theirs: quick_cache::sync::Cache<MemoKey, Arc<[u8]>> =
        quick_cache::sync::Cache::new(ENTRIES);

    // Every lookup misses: the ring is far larger than the capacity, so a key is long
    // evicted when it comes round again.
    let (mut a, mut b) = (0usize, 0usize);
    let miss = compare(
        "MemoCache vs quick_cache, miss + insert at capacity",
        || {
            a = (a + 1) % ring;
            let k = &keys[a];
            if theirs.get(k).is_none() {
                theirs.insert(k.clone(), Arc::clone(&value));
            }
        },
        || {
            b = (b + 1) % ring;
            let k = &keys[b];
            if ours.get(k).is_none() {
                let _ = ours.insert(k.clone(), Arc::clone(&value));
            }
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("memo")
    .with_phase(Phase::Execution)
    .with_names("quick_cache::sync::Cache", "MemoCache")
    .with_measures(format!(
        "A failed lookup then an insert that evicts, at 10,000 entries (keys cycle through \
         {ring} precomputed MemoKeys): the memo cache (16 shards, LRU, 5-minute TTL, so two \
         clock reads, entry and byte bounds, counters) against quick_cache 0.6 (S3-FIFO, no \
         TTL, entry bound only)."
    ));

    // Every lookup hits: half the capacity, so nothing is evicted.
    for k in &keys[..ENTRIES / 2] {
        theirs.insert(k.clone(), Arc::clone(&value));
        let _ = ours.insert(k.clone(), Arc::clone(&value));
    }
    let (mut a, mut b) = (0usize, 0usize);
    let hit = compare(
        "MemoCache vs quick_cache, hit",
        || {
            a = (a + 1) % (ENTRIES / 2);
            theirs.get(&keys[a]).expect("cached")
        },
        || {
            b = (b + 1) % (ENTRIES / 2);
            ours.get(&keys[b]).expect("cached")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("memo")
    .with_phase(Phase::Execution)
    .with_names("quick_cache::sync::Cache", "MemoCache")
    .with_measures(
        "A lookup that hits, cycling through 5,000 cached keys: the memo cache (moves the \
         entry to the front of its shard's LRU list, checks the TTL) against quick_cache (a \
         read lock and a reference bit)."
            .to_owned(),
    );
    Ok(vec![miss, hit])
}

/// Identical calls that arrive together: with the export declared pure, the first executes
/// and the others wait for its result (single flight); without, each executes.
fn single_flight(ctx: &Ctx) -> RowResult {
    let callers: usize = ctx.pick(2, 8, 8);
    let ints: i32 = ctx.pick(10, 2000, 2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sandbox = |pure: bool| {
        rt.block_on(async {
            let mut b = wasm_sandbox::WasmSandbox::builder();
            if pure {
                b = b.pure_export("process_batch");
            }
            let sandbox = b.build().await?;
            sandbox.load(wasm_sandbox_guests::ABI_WASM).await?;
            Ok::<_, wasm_sandbox::Error>(Arc::new(sandbox))
        })
    };
    let (plain, memo) = (sandbox(false)?, sandbox(true)?);
    // One sample: `callers` tasks make the same byte call at once, with arguments no earlier
    // sample used (the first element, seven digits, is a fresh salt written in place), so the
    // cache never already holds it. Byte calls, so that the row weighs executions, not the
    // host's JSON work.
    let template: Vec<i32> = (0..ints)
        .map(|i| if i == 0 { 1_000_000 } else { i })
        .collect();
    let template = serde_json::to_vec(&template).expect("ints encode");
    let salt = std::cell::Cell::new(1_000_000u32);
    let round = |sandbox: &Arc<wasm_sandbox::WasmSandbox>| {
        salt.set(salt.get() + 1);
        let mut args = template.clone();
        args[1..8].copy_from_slice(salt.get().to_string().as_bytes());
        let args = Arc::new(args);
        rt.block_on(async {
            let calls: Vec<_> = (0..callers)
                .map(|_| {
                    let (sandbox, args) = (Arc::clone(sandbox), Arc::clone(&args));
                    tokio::spawn(async move { sandbox.call_bytes("process_batch", &args).await })
                })
                .collect();
            let mut total = 0;
            for call in calls {
                total += call.await.expect("no panic").expect("process_batch").len();
            }
            total
        })
    };
    // Both sides answer the same bytes to every caller.
    assert_eq!(round(&plain), round(&memo));
    let row = compare(
        "concurrent identical misses, single flight vs executing each",
        || round(&plain),
        || round(&memo),
        &ctx.config(Scale::Medium),
    )
    .with_group("memo")
    .with_phase(Phase::Execution)
    .with_names(
        format!("{callers} executions"),
        "CallOptimizer single flight",
    )
    .with_measures(format!(
        "{callers} tasks on a 2-thread tokio runtime make the same call of \
         `process_batch` (ABI_WASM; a JSON array of {ints} ints, doubled; a byte call, so \
         the host does no JSON work) at once, with \
         arguments new to each sample, so the cache never holds the result beforehand: \
         through a WasmSandbox that declares the export pure (the first call executes, the \
         others wait for its result), against one that does not (every call executes)."
    ));
    let stats = memo
        .call_optimizer()
        .map(|o| o.stats())
        .ok_or("the pure sandbox has an optimizer")?;
    Ok(vec![note(
        row,
        format!(
            "Executions (misses): {}, calls that waited for one (coalesced): {}, hits: {}.",
            stats.misses, stats.coalesced, stats.hits
        ),
    )])
}
