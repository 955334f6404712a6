//! Tiered compilation rows (`wasm-sandbox-tiering`) on SQLite (1.1 MB of wasm): time to first
//! result and steady-state speed, for tiering and for each fixed tier, each against
//! Cranelift-only (the `HighlyOptimized` tier), which is what a plain wasmtime embedding uses.

use std::hint::black_box;
use std::time::Duration;

use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_core::{Module, Sandbox, SandboxConfig, Tier, WasiConfig};
use wasm_sandbox_tiering::{TieredModule, TieringPolicy};

use super::{Ctx, RowResult, RowSet, Scale};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "tiering/first-result",
            run: first_result,
        },
        RowSet {
            id: "tiering/steady-state",
            run: steady_state,
        },
    ]
}

fn config() -> SandboxConfig {
    SandboxConfig {
        wasi: Some(WasiConfig::default()),
        ..Default::default()
    }
}

/// The fixed tiers measured besides the top one: all in the full run, Winch alone otherwise
/// (each SQLite compile on Pulley or Cranelift takes seconds).
fn fixed_tiers(ctx: &Ctx) -> Vec<Tier> {
    ctx.pick(
        vec![Tier::Baseline],
        vec![Tier::Baseline],
        vec![Tier::Interpreter, Tier::Baseline, Tier::Optimized],
    )
}

/// Compile (or load) + instantiate + first `workload(n)` on a fixed tier.
fn first_on(sandbox: &Sandbox, n: i32, want: i64) {
    let m = sandbox
        .compile(wasm_sandbox_guests::SQLITE_WASM)
        .expect("compile");
    let mut i = m.instantiate().expect("instantiate");
    assert_eq!(
        i.call_typed::<i32, i64>("workload", n).expect("workload"),
        want
    );
}

fn first_result(ctx: &Ctx) -> RowResult {
    let n: i32 = ctx.pick(10, 1000, 1000);
    let want = i64::from(n) * i64::from(n + 1) / 2;
    let top = Sandbox::with_tier(config(), Tier::HighlyOptimized, None)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();

    // Tiering as shipped: the default stepwise policy starts on Winch. Its first tier-up
    // waits for 1,000 calls, so no background compile runs during the measurement.
    let row = compare(
        format!("time to first result, tiered (start on Winch), workload({n})"),
        || first_on(&top, n, want),
        || {
            let t = TieredModule::new(
                wasm_sandbox_guests::SQLITE_WASM,
                config(),
                TieringPolicy::default(),
            )
            .expect("tiered module");
            let r = rt
                .block_on(t.module().call_typed::<i32, i64>("workload", n))
                .expect("workload");
            assert_eq!(r, want);
        },
        &ctx.config(Scale::VerySlow),
    )
    .with_group("tiering")
    .with_phase(Phase::Compilation)
    .with_names("Cranelift-only", "TieredModule (Winch first)")
    .with_goal(Goal::at_least(4.0))
    .with_measures(
        "Compile sqlite.wasm, instantiate, and return the first `workload(n)`: a tiered module \
         (default stepwise policy, starting on Winch) against compiling with Cranelift at \
         OptLevel::Speed first. Goal: at most 1/4 of Cranelift-only's time.",
    );
    rows.push(row);

    for tier in fixed_tiers(ctx) {
        let sandbox = Sandbox::with_tier(config(), tier, None)?;
        let row = compare(
            format!("time to first result, {tier}, workload({n})"),
            || first_on(&top, n, want),
            || first_on(&sandbox, n, want),
            &ctx.config(Scale::VerySlow),
        )
        .with_group("tiering")
        .with_phase(Phase::Compilation)
        .with_names("Cranelift-only", format!("fixed tier: {tier}"))
        .with_measures(format!(
            "Compile sqlite.wasm on the {tier} tier, instantiate, first `workload(n)`, against \
             the same on Cranelift at OptLevel::Speed: the start-up side of the trade-off."
        ));
        rows.push(row);
    }
    Ok(rows)
}

fn steady_state(ctx: &Ctx) -> RowResult {
    let n: i32 = ctx.pick(10, 300, 1000);
    let want = i64::from(n) * i64::from(n + 1) / 2;
    let top = Sandbox::with_tier(config(), Tier::HighlyOptimized, None)?;
    let top_module: Module = top.compile(wasm_sandbox_guests::SQLITE_WASM)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();

    // Tiered: straight to the top, then wait for the swap.
    let tiered = TieredModule::new(
        wasm_sandbox_guests::SQLITE_WASM,
        config(),
        TieringPolicy::straight_to_top(),
    )?;
    if !tiered.wait_for_tier_up(Duration::from_secs(120)) {
        return Err("the tiered module did not reach the top tier within 120 s".into());
    }
    let row = compare(
        format!("steady state after tier-up, workload({n})"),
        || {
            let r = rt
                .block_on(top_module.call_typed::<i32, i64>("workload", black_box(n)))
                .expect("workload");
            assert_eq!(r, want);
        },
        || {
            let r = rt
                .block_on(
                    tiered
                        .module()
                        .call_typed::<i32, i64>("workload", black_box(n)),
                )
                .expect("workload");
            assert_eq!(r, want);
        },
        &ctx.config(Scale::Medium),
    )
    .with_group("tiering")
    .with_phase(Phase::Execution)
    .with_names(
        "Cranelift-only Module::call_typed",
        "TieredModule::call_typed",
    )
    .with_goal(Goal::slowdown_at_most(1.1))
    .with_measures(
        "Async `workload(n)` calls on a tiered module after its swap to Cranelift (its call \
         counting and current-tier load included) against a module compiled with Cranelift \
         directly. Goal: within 10 %.",
    );
    rows.push(row);

    for tier in fixed_tiers(ctx) {
        let m =
            Sandbox::with_tier(config(), tier, None)?.compile(wasm_sandbox_guests::SQLITE_WASM)?;
        let mut ours = m.instantiate()?;
        let mut theirs = top_module.instantiate()?;
        let f = ours.typed::<i32, i64>("workload")?;
        let g = theirs.typed::<i32, i64>("workload")?;
        let row = compare(
            format!("steady state, {tier}, workload({n})"),
            || g.call(&mut theirs, black_box(n)).expect("workload"),
            || f.call(&mut ours, black_box(n)).expect("workload"),
            &ctx.config(Scale::Medium),
        )
        .with_group("tiering")
        .with_phase(Phase::Execution)
        .with_names("Cranelift-only", format!("fixed tier: {tier}"))
        .with_measures(format!(
            "`workload(n)` on a held instance of the {tier} tier against Cranelift at \
             OptLevel::Speed: the run-time side of the trade-off."
        ));
        rows.push(row);
    }
    Ok(rows)
}
