//! Pre-initialization snapshots and fresh instances (issue 18), on the Lua interpreter guest
//! (`guests/c/lua-eval`) pre-initialized with its prelude: a fresh instance of the snapshot
//! per call against one reused instance, the snapshot's first call against instantiating and
//! running the init step, fresh calls on 2 threads against 1, and what pre-initializing costs
//! next to compiling.

use std::hint::black_box;

use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_core::{
    Isolation, Module, PerformanceConfig, PreInit, Sandbox, SandboxConfig, WasiConfig,
};
use wasm_sandbox_guests::{LUA_EVAL_WASM, LUA_PRELUDE};

use super::{Ctx, RowResult, RowSet, Scale, fmt_ns, note};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "snapshot/fresh",
            run: fresh_vs_reuse,
        },
        RowSet {
            id: "snapshot/first-call",
            run: first_call,
        },
        RowSet {
            id: "snapshot/threads",
            run: threads,
        },
        RowSet {
            id: "snapshot/cost",
            run: cost,
        },
    ]
}

/// The small script of every call: a little of the prelude (JSON, string and table helpers)
/// and of the standard library.
const SCRIPT: &[u8] =
    b"local t = tbl.map({1, 2, 3}, function(x) return x * x end) return json.encode({sum = tbl.reduce(t, function(a, b) return a + b end, 0), s = str.trim('  hi  ')})";
const WANT: &[u8] = br#"{"s":"hi","sum":14}"#;

/// Bytes of a reset pool slot kept resident (`PerformanceConfig::pool_keep_resident`).
const KEEP_RESIDENT: usize = 1 << 20;

/// A pooled sandbox (1 GiB: 16 slots of the default 64 MiB limit) with WASI, as a host of
/// untrusted scripts would run: each slot keeps up to 1 MiB resident when it is reset (the
/// guest's whole memory), so a slot's next instance rewrites the pages the last one dirtied
/// from the image instead of faulting them in again (`docs/snapshots.md`, "Tuning").
fn sandbox() -> Result<Sandbox, BoxError> {
    sandbox_keeping(KEEP_RESIDENT)
}

/// [`sandbox`] with `keep` bytes kept resident per reset slot.
fn sandbox_keeping(keep: usize) -> Result<Sandbox, BoxError> {
    Ok(Sandbox::new(SandboxConfig {
        performance: PerformanceConfig {
            memory_pool_size: 1 << 30,
            pool_keep_resident: keep,
            ..Default::default()
        },
        wasi: Some(WasiConfig::capture()),
        ..Default::default()
    })?)
}

fn init() -> PreInit {
    PreInit::call_bytes("init", LUA_PRELUDE.as_bytes().to_vec())
}

fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn eval(rt: &tokio::runtime::Runtime, module: &Module) {
    let out = rt
        .block_on(module.call_bytes("eval", black_box(SCRIPT)))
        .expect("eval");
    assert_eq!(out, WANT, "{}", String::from_utf8_lossy(&out));
}

fn fresh_vs_reuse(ctx: &Ctx) -> RowResult {
    let sandbox = sandbox()?;
    let snapshot = sandbox.compile_preinitialized(LUA_EVAL_WASM, &init())?;
    let reuse = snapshot.with_isolation(Isolation::Reuse);
    let fresh = snapshot.with_isolation(Isolation::Fresh);
    let rt = runtime()?;
    let row = compare(
        "fresh instance of the snapshot per call vs one reused instance, Lua small script",
        || eval(&rt, &reuse),
        || eval(&rt, &fresh),
        &ctx.config(Scale::Medium),
    )
    .with_group("snapshot")
    .with_phase(Phase::Execution)
    .with_names(
        "Module::call_bytes, Isolation::Reuse (one warm instance)",
        "Module::call_bytes, Isolation::Fresh (a pooled instance per call)",
    )
    .with_measures(
        "One `eval` of a small script (a map, a reduce, a trim and a JSON encode from the \
         prelude) through the guest ABI, `block_on` on a current-thread runtime, on the Lua \
         5.4 guest pre-initialized with its 488-line prelude. The baseline reuses one idle \
         instance (state carries over); the candidate instantiates the snapshot in a pool \
         slot (copy-on-write memory image of the initialized heap; 1 MiB kept resident per \
         slot) for every call and drops it after, so the slot's written pages are reset. Goal: at least 0.8 of reuse's \
         throughput (a public wasmtime-host benchmark measured 0.39 for fresh state per \
         request).",
    )
    .with_goal(Goal::at_least(0.8));
    // The setting that decides most of a fresh call's extra cost (docs/snapshots.md,
    // "Tuning"): the default 64 KiB kept resident against the rows' 1 MiB.
    let default_keep = PerformanceConfig::default().pool_keep_resident;
    let narrow = sandbox_keeping(default_keep)?
        .compile_preinitialized(LUA_EVAL_WASM, &init())?
        .with_isolation(Isolation::Fresh);
    let tuning = compare(
        "fresh per call: 1 MiB kept resident per slot vs the default 64 KiB",
        || eval(&rt, &narrow),
        || eval(&rt, &fresh),
        &ctx.config(Scale::Medium),
    )
    .with_group("snapshot")
    .with_phase(Phase::Execution)
    .with_names(
        "Isolation::Fresh, pool_keep_resident 64 KiB (the default)",
        "Isolation::Fresh, pool_keep_resident 1 MiB",
    )
    .with_measures(
        "The fresh-call row's candidate against the same calls in a pool that keeps the \
         default 64 KiB resident per reset slot, so that most pages a call dirtied are \
         `madvise`d away and fault in again (copy-on-write) in the slot's next instance.",
    );
    Ok(vec![row, tuning])
}

fn first_call(ctx: &Ctx) -> RowResult {
    let sandbox = sandbox()?;
    let original = sandbox.compile(LUA_EVAL_WASM)?;
    let snapshot = sandbox.compile_preinitialized(LUA_EVAL_WASM, &init())?;
    let rt = runtime()?;
    let row = compare(
        "instantiate + first call: from the snapshot vs instantiate + init + call",
        || {
            rt.block_on(async {
                let mut inst = original.instantiate_async().await.expect("instantiate");
                inst.call_bytes_async("init", black_box(LUA_PRELUDE.as_bytes()))
                    .await
                    .expect("init");
                let out = inst.call_bytes_async("eval", SCRIPT).await.expect("eval");
                assert_eq!(out, WANT);
            })
        },
        || {
            rt.block_on(async {
                let mut inst = snapshot.instantiate_async().await.expect("instantiate");
                let out = inst.call_bytes_async("eval", SCRIPT).await.expect("eval");
                assert_eq!(out, WANT);
            })
        },
        &ctx.config(Scale::Medium),
    )
    .with_group("snapshot")
    .with_phase(Phase::Instantiation)
    .with_names(
        "instantiate the original + init(prelude) + eval",
        "instantiate the snapshot + eval",
    )
    .with_measures(
        "From nothing to a request's answer on a new instance: the baseline instantiates the \
         Lua guest (its `_initialize`), runs `init` with the prelude (luaL_openlibs, then \
         parsing and running 488 lines of Lua) and then the script; the candidate \
         instantiates the pre-initialized snapshot and runs the script. Both pooled, both \
         async. Goal: at least 20x faster.",
    )
    .with_goal(Goal::at_least(20.0));
    Ok(vec![row])
}

fn threads(ctx: &Ctx) -> RowResult {
    let sandbox = sandbox()?;
    let fresh = sandbox
        .compile_preinitialized(LUA_EVAL_WASM, &init())?
        .with_isolation(Isolation::Fresh);
    let per_sample: usize = ctx.pick(2, 100, 200);
    let work = |n: usize| {
        let rt = runtime().expect("runtime");
        for _ in 0..n {
            eval(&rt, &fresh);
        }
    };
    let row = compare(
        "fresh instance per call, 2 threads vs 1",
        || work(per_sample),
        || {
            std::thread::scope(|s| {
                let other = s.spawn(|| work(per_sample / 2));
                work(per_sample - per_sample / 2);
                other.join().expect("worker thread");
            })
        },
        &ctx.config(Scale::Slow),
    )
    .with_group("snapshot")
    .with_phase(Phase::Execution)
    .with_names("1 thread", "2 threads")
    .with_measures(format!(
        "{per_sample} fresh-instance `eval` calls of the small script on the snapshot, on one \
         thread or split over two (each with its own current-thread runtime), sharing one \
         module and one pool. Goal: at least 1.6x on 2 cores."
    ))
    .with_goal(Goal::at_least(1.6));
    Ok(vec![row])
}

fn cost(ctx: &Ctx) -> RowResult {
    let sandbox = sandbox()?;
    let init = init();
    let row = compare(
        "pre-initialize at run time vs compile once",
        || {
            black_box(sandbox.compile(LUA_EVAL_WASM).expect("compile"));
        },
        || {
            black_box(
                sandbox
                    .compile_preinitialized(LUA_EVAL_WASM, &init)
                    .expect("preinit"),
            );
        },
        &ctx.config(Scale::VerySlow),
    )
    .with_group("snapshot")
    .with_phase(Phase::Compilation)
    .with_names(
        "Sandbox::compile (Cranelift)",
        "Sandbox::compile_preinitialized (instrument, compile, init, snapshot, compile)",
    )
    .with_measures(
        "What pre-initializing costs, paid once per module and init step (then cached: a \
         restarted process loads the snapshot's artifact like any other): the candidate \
         compiles the instrumented module, runs the init step, rewrites the snapshot and \
         compiles that. No goal; the ratio is the price.",
    );
    let (ratio, median) = (row.speedup.median, row.candidate.stats.median);
    Ok(vec![note(
        row,
        format!(
            "Pre-initializing costs {:.2}x a plain compile here (the candidate's median is {}).",
            1.0 / ratio,
            fmt_ns(median)
        ),
    )])
}
