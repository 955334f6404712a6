//! Call overhead: the sandbox's call paths against plain wasmtime doing the same steps.
//!
//! The sandbox arms the epoch deadline (the wall-clock limit), runs calls into guests with
//! imported functions under `catch_unwind`, and has a resource limiter on its store; plain
//! wasmtime has none of that. Those are the costs these rows measure. One more row splits
//! the sync call's cost: wasmtime with epoch interruption armed per call (what any embedder
//! that enforces a timeout pays) against the sandbox.

use std::hint::black_box;

use wasm_sandbox_bench::{Comparison, Goal, InputSize, Phase, compare};
use wasm_sandbox_core::{Codec, Instance, Sandbox, SandboxConfig, TypedFunction};
use wasmtime::{Store, TypedFunc};

use super::{Ctx, RowResult, RowSet, Scale, fmt_ns, guests, note};
use crate::plain::{self, BoxError, PlainAbi};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "call/typed-sync",
            run: typed_sync,
        },
        RowSet {
            id: "call/typed-async",
            run: typed_async,
        },
        RowSet {
            id: "call/serde",
            run: serde_small,
        },
        RowSet {
            id: "call/bytes-64k",
            run: bytes_64k,
        },
    ]
}

/// The sandbox's side of the scalar rows: an instance of `SCALAR_WAT` and its `add`.
pub struct OursScalar {
    /// The instance (default `SandboxConfig`: 10 s timeout, epoch interruption).
    pub instance: Instance,
    /// `add(i32, i32) -> i32`.
    pub add: TypedFunction<(i32, i32), i32>,
}

/// Plain wasmtime's side of the scalar rows.
pub struct PlainScalar {
    /// A store of `Engine::default()`.
    pub store: Store<()>,
    /// `add(i32, i32) -> i32`.
    pub add: TypedFunc<(i32, i32), i32>,
}

/// Builds both sides of the scalar call rows.
///
/// # Errors
///
/// When either side cannot compile or instantiate the guest.
pub fn scalar_pair() -> Result<(OursScalar, PlainScalar), BoxError> {
    let wasm = guests::scalar();
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let module = sandbox.compile(&wasm)?;
    let mut instance = module.instantiate()?;
    let add = instance.typed::<(i32, i32), i32>("add")?;
    let engine = plain::engine();
    let pmodule = wasmtime::Module::new(&engine, &wasm)?;
    let mut store = Store::new(&engine, ());
    let pinst = wasmtime::Instance::new(&mut store, &pmodule, &[])?;
    let padd = pinst.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    Ok((
        OursScalar { instance, add },
        PlainScalar { store, add: padd },
    ))
}

/// Both sides of the ABI rows: a sandbox instance and a plain one of `ABI_WASM`.
///
/// # Errors
///
/// When either side cannot compile or instantiate the guest.
pub fn abi_pair() -> Result<(Instance, PlainAbi), BoxError> {
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let module = sandbox.compile(wasm_sandbox_guests::ABI_WASM)?;
    let instance = module.instantiate()?;
    let engine = plain::engine();
    let pmodule = wasmtime::Module::new(&engine, wasm_sandbox_guests::ABI_WASM)?;
    Ok((instance, PlainAbi::new(&engine, &pmodule)?))
}

/// The small serde payload: eight `i32`s (`[1,2,3,4,5,6,7,8]` in JSON, 17 bytes).
pub fn small_payload() -> Vec<i32> {
    (1..=8).collect()
}

fn typed_sync(ctx: &Ctx) -> RowResult {
    let (mut ours, mut plain) = scalar_pair()?;
    assert_eq!(ours.add.call(&mut ours.instance, (2, 3))?, 5);
    let row = compare(
        "typed call, sync",
        || plain.add.call(&mut plain.store, black_box((2, 3))).expect("add"),
        || ours.add.call(&mut ours.instance, black_box((2, 3))).expect("add"),
        &ctx.config(Scale::Fast),
    )
    .with_group("call")
    .with_phase(Phase::Execution)
    .with_names("wasmtime TypedFunc::call", "wasm-sandbox TypedFunction::call")
    .with_measures(
        "One synchronous call of `add(i32, i32) -> i32` (SCALAR_WAT) through a cached typed handle. \
         The sandbox also arms the epoch deadline (its 10 s timeout) and checks the handle's \
         instance (SCALAR_WAT imports nothing, so no catch_unwind is needed); plain wasmtime \
         (Engine::default(), same Cranelift opt level) has no timeout at all.",
    )
    .with_goal(Goal::slowdown_at_most(1.5));
    let mut epoch = epoch_armed_scalar()?;
    let armed = compare(
        "typed call, sync, vs epoch-armed wasmtime",
        || {
            epoch.store.set_epoch_deadline(2_001);
            epoch
                .add
                .call(&mut epoch.store, black_box((2, 3)))
                .expect("add")
        },
        || {
            ours.add
                .call(&mut ours.instance, black_box((2, 3)))
                .expect("add")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("call")
    .with_phase(Phase::Execution)
    .with_names(
        "wasmtime + epoch deadline per call",
        "wasm-sandbox TypedFunction::call",
    )
    .with_measures(
        "Attribution for `call/typed call, sync`: the baseline is plain wasmtime configured as \
         any embedder with a wall-clock limit must be (epoch interruption on, which makes the \
         guest's functions check the epoch on entry, and `set_epoch_deadline` before each \
         call). What remains is the sandbox's own per-call work: the handle's instance check, \
         fuel and deadline bookkeeping in the store data, and poisoning on failure.",
    );
    Ok(vec![row, armed])
}

/// Plain wasmtime with epoch interruption on, instantiating `SCALAR_WAT`.
fn epoch_armed_scalar() -> Result<PlainScalar, BoxError> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    let engine = wasmtime::Engine::new(&config)?;
    let module = wasmtime::Module::new(&engine, guests::scalar())?;
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(2_001);
    let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    Ok(PlainScalar { store, add })
}

fn typed_async(ctx: &Ctx) -> RowResult {
    let (mut ours, mut plain) = scalar_pair()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (rt1, rt2) = (&rt, &rt);
    let row = compare(
        "typed call, async",
        || {
            rt1.block_on(plain.add.call_async(&mut plain.store, black_box((2, 3))))
                .expect("add")
        },
        || {
            rt2.block_on(ours.add.call_async(&mut ours.instance, black_box((2, 3))))
                .expect("add")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("call")
    .with_phase(Phase::Execution)
    .with_names(
        "wasmtime TypedFunc::call_async",
        "wasm-sandbox TypedFunction::call_async",
    )
    .with_measures(
        "One async call of `add` on a current-thread tokio runtime (`block_on` per call on both \
         sides). Both run the guest on a wasmtime fiber; the sandbox also arms an epoch deadline \
         of one tick so long calls yield to the executor, and catches panics.",
    )
    .with_goal(Goal::slowdown_at_most(2.0));
    Ok(vec![row])
}

fn serde_small(ctx: &Ctx) -> RowResult {
    let (mut ours, mut plain) = abi_pair()?;
    let f = plain.func("process_batch")?;
    let payload = small_payload();
    let want: Vec<i32> = payload.iter().map(|x| x * 2).collect();
    let got: Vec<i32> = ours.call(Codec::Json, "process_batch", &payload)?;
    assert_eq!(got, want);
    let got: Vec<i32> = plain.call_json(&f, &payload)?;
    assert_eq!(got, want);
    let row = compare(
        "serde call, 8 x i32 JSON",
        || -> Vec<i32> {
            plain
                .call_json(&f, black_box(&payload))
                .expect("plain call")
        },
        || -> Vec<i32> {
            ours.call(Codec::Json, "process_batch", black_box(&payload))
                .expect("sandbox call")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("call")
    .with_phase(Phase::Execution)
    .with_names(
        "hand-written wasmtime ABI code",
        "wasm-sandbox Instance::call (JSON)",
    )
    .with_measures(
        "A serde call of `process_batch` (ABI_WASM) with a Vec<i32> of 8 elements, JSON both ways: \
         encode, sandbox_alloc, write, call, sandbox_free, copy the result out, free it, decode. \
         The baseline does exactly these steps by hand with pre-fetched TypedFuncs; the sandbox \
         looks the export up by name (a cached typed handle), bounds-checks the guest's pointers \
         and arms one deadline for its 4 guest calls.",
    )
    .with_goal(Goal::slowdown_at_most(2.0));
    Ok(vec![row])
}

/// Size of the bytes round trip.
pub const BYTES_LEN: usize = 64 * 1024;

fn bytes_64k(ctx: &Ctx) -> RowResult {
    let (mut ours, mut plain) = abi_pair()?;
    let f = plain.func("echo")?;
    let input: Vec<u8> = (0..BYTES_LEN).map(|i| (i * 7) as u8).collect();
    assert_eq!(ours.call_bytes("echo", &input)?, input);
    assert_eq!(plain.call_bytes(&f, &input)?, input);
    let row = compare(
        "bytes round trip, 64 KiB",
        || plain.call_bytes(&f, black_box(&input)).expect("plain echo"),
        || {
            ours.call_bytes("echo", black_box(&input))
                .expect("sandbox echo")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("call")
    .with_phase(Phase::Execution)
    .with_names(
        "hand-written wasmtime ABI code",
        "wasm-sandbox Instance::call_bytes",
    )
    .with_throughput(InputSize::Bytes(BYTES_LEN as u64))
    .with_measures(
        "`echo` (ABI_WASM) of a 64 KiB buffer: the host copies it into guest memory, the guest \
         copies it into a fresh malloc block, the host copies the result out. Throughput is \
         payload bytes per second (each byte crosses the boundary twice).",
    )
    .with_goal(Goal::slowdown_at_most(1.5));
    Ok(vec![gbps_note(row, BYTES_LEN, 3.0)])
}

/// Notes the candidate's throughput against an absolute GB/s goal on a bytes row.
pub fn gbps_note(row: Comparison, bytes: usize, goal_gbps: f64) -> Comparison {
    let median = row.candidate.stats.median;
    let gbps = bytes as f64 / median;
    let met = if gbps >= goal_gbps { "met" } else { "NOT met" };
    note(
        row,
        format!(
            "Absolute goal ≥ {goal_gbps} GB/s: the candidate's median {} per call is {gbps:.2} GB/s ({met}).",
            fmt_ns(median)
        ),
    )
}
