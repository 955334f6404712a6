//! Instantiation: the pooling allocator with copy-on-write images and a pre-linked
//! `InstancePre`, against plain wasmtime's default.

use wasm_sandbox_bench::{Goal, InputSize, Phase, compare};
use wasm_sandbox_core::{Module, PerformanceConfig, Sandbox, SandboxConfig};
use wasmtime::Store;

use super::{Ctx, RowResult, RowSet, Scale, fmt_ns, guests, note};
use crate::plain::{self, BoxError};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "instantiation/pooled",
            run: pooled,
        },
        RowSet {
            id: "instantiation/threads",
            run: threads,
        },
    ]
}

/// A sandbox with a 1 GiB pool (16 slots of the default 64 MiB memory limit).
///
/// # Errors
///
/// When the pool's address space cannot be reserved.
pub fn pooled_sandbox() -> Result<Sandbox, BoxError> {
    let config = SandboxConfig {
        performance: PerformanceConfig {
            memory_pool_size: 1 << 30,
            ..Default::default()
        },
        ..Default::default()
    };
    Ok(Sandbox::new(config)?)
}

/// `MEMORY_IMAGE_WAT` compiled for a pooled sandbox.
///
/// # Errors
///
/// As [`pooled_sandbox`], or when the guest does not compile.
pub fn pooled_module() -> Result<Module, BoxError> {
    Ok(pooled_sandbox()?.compile(&guests::memory_image())?)
}

fn pooled(ctx: &Ctx) -> RowResult {
    let module = pooled_module()?;
    let engine = plain::engine();
    let pmodule = wasmtime::Module::new(&engine, guests::memory_image())?;
    let row = compare(
        "pooled + InstancePre vs Instance::new",
        || {
            let mut store = Store::new(&engine, ());
            let i = wasmtime::Instance::new(&mut store, &pmodule, &[]).expect("instantiate");
            (store, i)
        },
        || module.instantiate().expect("instantiate"),
        &ctx.config(Scale::Fast),
    )
    .with_group("instantiation")
    .with_phase(Phase::Instantiation)
    .with_names(
        "wasmtime Instance::new (default allocator)",
        "wasm-sandbox Module::instantiate (pooled)",
    )
    .with_measures(
        "Create a store, instantiate MEMORY_IMAGE_WAT (16 pages of memory with data segments) and \
         drop both. The sandbox uses the pooling allocator (1 GiB pool, copy-on-write memory \
         image, 64 KiB kept resident on reuse) and a pre-linked InstancePre, and also sets up its \
         limiter and epoch deadline; the baseline uses Engine::default()'s on-demand allocator \
         (mmap per instance, also copy-on-write) with Instance::new.",
    )
    .with_goal(Goal::at_least(3.0));
    let median = row.candidate.stats.median;
    let met = if median < 10_000.0 { "met" } else { "NOT met" };
    Ok(vec![note(
        row,
        format!(
            "Absolute goal < 10 µs: the candidate's median is {} ({met}).",
            fmt_ns(median)
        ),
    )])
}

fn threads(ctx: &Ctx) -> RowResult {
    let module = pooled_module()?;
    let per_sample: usize = ctx.pick(4, 200, 400);
    let one = |m: &Module, n: usize| {
        for _ in 0..n {
            let mut inst = m.instantiate().expect("instantiate");
            let v = inst.call_typed::<i32, i32>("read", 1024).expect("read");
            assert_eq!(v, i32::from(b'w'));
        }
    };
    let row = compare(
        "instantiate+call+drop, 2 threads vs 1",
        || one(&module, per_sample),
        || {
            std::thread::scope(|s| {
                let a = s.spawn(|| one(&module, per_sample / 2));
                one(&module, per_sample - per_sample / 2);
                a.join().expect("worker thread");
            })
        },
        &ctx.config(Scale::Medium),
    )
    .with_group("instantiation")
    .with_phase(Phase::Instantiation)
    .with_names("1 thread", "2 threads")
    .with_throughput(InputSize::Items(per_sample as u64))
    .with_measures(format!(
        "Throughput of instantiate + one call (`read`) + drop on the pooled MEMORY_IMAGE_WAT \
         module: {per_sample} per sample, on one thread against split over two (one scoped \
         thread spawned per sample). Ideal scaling on this 2-core machine is 2x; the pool's \
         slot allocation and the kernel's page-table work are the shared parts."
    ));
    Ok(vec![row])
}
