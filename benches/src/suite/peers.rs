//! Peer runtimes on the same guests: what a user could pick instead of wasm-sandbox.
//!
//! **wasmi 2** (a fast interpreter, pure Rust, crates.io `wasmi`) with its default config:
//! lazy translation, so "compile" validates the module and translates each function on its
//! first call. The ratio reads as usual: above 1, wasm-sandbox is faster; below 1, the peer
//! wins, and the report says so.
//!
//! Extism is measured in its own section (`benches/src/extism.rs`): its prebuilt runtime
//! (`libextism_sys.so` from PyPI `extism-sys`) is loaded at run time, so it costs no build.
//! Wasmer is not measured: its crates pull in their own compiler backends (LLVM or a second
//! Cranelift), which would roughly double the release build of this package.

use std::hint::black_box;

use wasm_sandbox_bench::{Phase, compare};
use wasm_sandbox_core::{Sandbox, SandboxConfig};

use super::{Ctx, RowResult, RowSet, Scale, guests, instantiate};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "peers/compile",
            run: compile,
        },
        RowSet {
            id: "peers/instantiate",
            run: instantiate_row,
        },
        RowSet {
            id: "peers/call",
            run: call,
        },
    ]
}

/// A wasmi instance of `wasm` (which must have no imports).
///
/// # Errors
///
/// When wasmi cannot compile or instantiate it.
pub fn wasmi_instance(
    engine: &wasmi::Engine,
    wasm: &[u8],
) -> Result<(wasmi::Store<()>, wasmi::Instance), BoxError> {
    let module = wasmi::Module::new(engine, wasm)?;
    let mut store = wasmi::Store::new(engine, ());
    let linker = wasmi::Linker::<()>::new(engine);
    let instance = linker.instantiate_and_start(&mut store, &module)?;
    Ok((store, instance))
}

fn compile(ctx: &Ctx) -> RowResult {
    let wasm = wasm_sandbox_guests::ABI_WASM;
    let engine = wasmi::Engine::default();
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let row = compare(
        "compile ABI_WASM, wasmi vs wasm-sandbox",
        || wasmi::Module::new(&engine, wasm).expect("wasmi compile"),
        || sandbox.compile(wasm).expect("compile"),
        &ctx.config(Scale::Slow),
    )
    .with_group("peers")
    .with_phase(Phase::Compilation)
    .with_names(
        "wasmi Module::new (lazy translation)",
        "wasm-sandbox Sandbox::compile (Cranelift)",
    )
    .with_measures(
        "Loading ABI_WASM (18 KB of C): wasmi validates it and defers translation to each \
         function's first call, so it wins by orders of magnitude here; Cranelift compiles every \
         function to optimized machine code up front (the compilation cache removes this cost \
         after the first time, see the compile section).",
    );
    Ok(vec![row])
}

fn instantiate_row(ctx: &Ctx) -> RowResult {
    let wasm = guests::memory_image();
    let engine = wasmi::Engine::default();
    let module = wasmi::Module::new(&engine, &wasm)?;
    let linker = wasmi::Linker::<()>::new(&engine);
    let ours = instantiate::pooled_module()?;
    let row = compare(
        "instantiate MEMORY_IMAGE_WAT, wasmi vs wasm-sandbox",
        || {
            let mut store = wasmi::Store::new(&engine, ());
            let i = linker
                .instantiate_and_start(&mut store, &module)
                .expect("wasmi instantiate");
            (store, i)
        },
        || ours.instantiate().expect("instantiate"),
        &ctx.config(Scale::Fast),
    )
    .with_group("peers")
    .with_phase(Phase::Instantiation)
    .with_names(
        "wasmi Store + instantiate",
        "wasm-sandbox pooled instantiate",
    )
    .with_measures(
        "Store + instance of a 16-page memory with data segments, then drop: wasmi allocates and \
         zeroes the memory and copies the segments; the sandbox reuses a pool slot with a \
         copy-on-write image.",
    );
    Ok(vec![row])
}

fn call(ctx: &Ctx) -> RowResult {
    let wasm = guests::scalar();
    let engine = wasmi::Engine::default();
    let (mut store, instance) = wasmi_instance(&engine, &wasm)?;
    let wadd = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
    let wfib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let module = sandbox.compile(&wasm)?;
    let mut ours = module.instantiate()?;
    let add = ours.typed::<(i32, i32), i32>("add")?;
    let fib = ours.typed::<i32, i32>("fib")?;
    let n: i32 = ctx.pick(5, 25, 25);
    assert_eq!(wfib.call(&mut store, n)?, fib.call(&mut ours, n)?);

    let overhead = compare(
        "call add, wasmi vs wasm-sandbox",
        || wadd.call(&mut store, black_box((2, 3))).expect("wasmi add"),
        || add.call(&mut ours, black_box((2, 3))).expect("add"),
        &ctx.config(Scale::Fast),
    )
    .with_group("peers")
    .with_phase(Phase::Execution)
    .with_names("wasmi TypedFunc::call", "wasm-sandbox TypedFunction::call")
    .with_measures(
        "Call overhead: one host-to-guest call of `add` through typed handles. wasmi enters its \
         interpreter loop; wasmtime saves registers, switches to the wasm stack limit and runs \
         native code, and the sandbox arms its deadline.",
    );
    let exec = compare(
        format!("fib({n}), wasmi vs wasm-sandbox"),
        || wfib.call(&mut store, black_box(n)).expect("wasmi fib"),
        || fib.call(&mut ours, black_box(n)).expect("fib"),
        &ctx.config(Scale::Medium),
    )
    .with_group("peers")
    .with_phase(Phase::Execution)
    .with_names("wasmi (interpreter)", "wasm-sandbox (Cranelift)")
    .with_measures(format!(
        "Execution speed: recursive fib({n}) (SCALAR_WAT), about 250,000 wasm calls; \
         interpreted bytecode against Cranelift machine code."
    ));
    Ok(vec![overhead, exec])
}
