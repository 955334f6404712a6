//! Sightglass-style phases of a real program: SQLite (1.1 MB of wasm, a WASI reactor whose
//! `workload(n)` opens an in-memory database, inserts n rows and sums them).
//!
//! Each phase is a row against plain wasmtime doing the same: `Engine::default()`, a WASI
//! preview 1 linker, a store with an empty WASI context, `_initialize` before use.

use std::hint::black_box;

use wasm_sandbox_bench::{Phase, compare};
use wasm_sandbox_core::{Sandbox, SandboxConfig, WasiConfig};

use super::{Ctx, RowResult, RowSet, Scale};
use crate::plain::{self, PlainWasi};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![RowSet {
        id: "sqlite/phases",
        run: phases,
    }]
}

fn phases(ctx: &Ctx) -> RowResult {
    let wasm = wasm_sandbox_guests::SQLITE_WASM;
    let config = SandboxConfig {
        wasi: Some(WasiConfig::default()),
        ..Default::default()
    };
    let sandbox = Sandbox::new(config)?;
    let engine = plain::engine();
    let linker = plain::wasi_linker(&engine)?;

    let mut ours_module = None;
    let mut plain_module = None;
    let compile_row = compare(
        "compilation",
        || {
            let m = wasmtime::Module::new(&engine, wasm).expect("compile");
            plain_module = Some(m.clone());
        },
        || {
            let m = sandbox.compile(wasm).expect("compile");
            ours_module = Some(m.clone());
        },
        &ctx.config(Scale::VerySlow),
    )
    .with_group("sqlite")
    .with_phase(Phase::Compilation)
    .with_names("wasmtime Module::new", "wasm-sandbox Sandbox::compile")
    .with_measures(
        "Compiling sqlite.wasm (1.1 MB) with Cranelift at OptLevel::Speed on both cores. The \
         sandbox also hashes the wasm (blake3), checks every import against what it provides and \
         pre-links InstancePre for its sync and async linkers; its code has epoch checks in \
         every loop and function prologue.",
    );
    let ours_module = ours_module.ok_or("no module compiled")?;
    let plain_module = plain_module.ok_or("no module compiled")?;
    let pre = linker.instantiate_pre(&plain_module)?;

    let inst_row = compare(
        "instantiation",
        || PlainWasi::new(&pre).expect("instantiate"),
        || ours_module.instantiate().expect("instantiate"),
        &ctx.config(Scale::Medium),
    )
    .with_group("sqlite")
    .with_phase(Phase::Instantiation)
    .with_names(
        "wasmtime InstancePre + WASI ctx",
        "wasm-sandbox Module::instantiate",
    )
    .with_measures(
        "A store with an empty WASI preview 1 context, instantiation (default on-demand \
         allocator on both sides, copy-on-write memory image) and the reactor's `_initialize`, \
         then drop. Both sides use a pre-linked InstancePre.",
    );

    let n: i32 = ctx.pick(10, 1000, 1000);
    let want = i64::from(n) * i64::from(n + 1) / 2;
    let mut ours = ours_module.instantiate()?;
    let workload = ours.typed::<i32, i64>("workload")?;
    let mut theirs = PlainWasi::new(&pre)?;
    let pworkload = theirs
        .instance
        .get_typed_func::<i32, i64>(&mut theirs.store, "workload")?;
    assert_eq!(workload.call(&mut ours, n)?, want);
    assert_eq!(pworkload.call(&mut theirs.store, n)?, want);
    let exec_row = compare(
        format!("execution, workload({n})"),
        || {
            pworkload
                .call(&mut theirs.store, black_box(n))
                .expect("workload")
        },
        || workload.call(&mut ours, black_box(n)).expect("workload"),
        &ctx.config(Scale::Medium),
    )
    .with_group("sqlite")
    .with_phase(Phase::Execution)
    .with_names(
        "wasmtime TypedFunc::call",
        "wasm-sandbox TypedFunction::call",
    )
    .with_measures(format!(
        "One call of `workload({n})` on a held instance: open an in-memory database, insert \
         {n} rows with a recursive CTE, sum them. Measures the cost of the sandbox's generated \
         code (epoch checks) on real code; the call overhead itself is in the call section."
    ));
    Ok(vec![compile_row, inst_row, exec_row])
}
