//! Measures tiered compilation on the SQLite guest, in one run:
//!
//! * per fixed tier: compile time, time to first result (compile +
//!   instantiate + the first `workload(1000)`), steady-state calls/s;
//! * with tiering (start Baseline, straight to the top): time to first
//!   result, and steady-state calls/s once the background tier-up is in;
//! * the ratios against Cranelift-only (`HighlyOptimized`).
//!
//! Rounds are interleaved so that drift hits every variant alike. Run with
//! `cargo run --release -p wasm-sandbox-tiering --example tiering_figures [rounds]`.

use std::time::{Duration, Instant};

use wasm_sandbox_core::{Instance, SandboxConfig, Tier, WasiConfig};
use wasm_sandbox_tiering::{TieredModule, TieringPolicy};

const N: i32 = 1000;
const EXPECTED: i64 = (N as i64) * (N as i64 + 1) / 2;

fn config() -> SandboxConfig {
    SandboxConfig {
        wasi: Some(WasiConfig::default()),
        ..SandboxConfig::default()
    }
}

fn call(inst: &mut Instance) {
    let r = inst
        .call_typed::<i32, i64>("workload", N)
        .expect("workload runs");
    assert_eq!(r, EXPECTED);
}

struct Row {
    label: String,
    compile: Duration,
    ttfr: Duration,
    inst: Instance,
    /// Calls per batch (the interpreter gets fewer).
    batch: u32,
    busy: Duration,
    calls: u32,
    steady: f64,
}

/// Steady state, interleaved: every variant runs one batch per turn, so
/// drift and neighbours' load hit them alike.
fn measure_steady(rows: &mut [Row], turns: u32) {
    for r in rows.iter_mut() {
        call(&mut r.inst); // warm
    }
    for _ in 0..turns {
        for r in rows.iter_mut() {
            let start = Instant::now();
            for _ in 0..r.batch {
                call(&mut r.inst);
            }
            r.busy += start.elapsed();
            r.calls += r.batch;
        }
    }
    for r in rows.iter_mut() {
        r.steady = f64::from(r.calls) / r.busy.as_secs_f64();
    }
}

fn fixed(tier: Tier) -> Row {
    let start = Instant::now();
    let m = TieredModule::new(
        wasm_sandbox_guests::SQLITE_WASM,
        config(),
        TieringPolicy::fixed(tier),
    )
    .expect("compiles");
    let compile = start.elapsed();
    let mut inst = m.instantiate().expect("instantiates");
    call(&mut inst);
    let ttfr = start.elapsed();
    Row {
        label: tier.to_string(),
        compile,
        ttfr,
        inst,
        batch: if tier == Tier::Interpreter { 1 } else { 10 },
        busy: Duration::ZERO,
        calls: 0,
        steady: 0.0,
    }
}

fn tiered() -> (Row, Duration) {
    let start = Instant::now();
    let m = TieredModule::new(
        wasm_sandbox_guests::SQLITE_WASM,
        config(),
        TieringPolicy::straight_to_top(),
    )
    .expect("compiles");
    let compile = start.elapsed();
    let mut inst = m.instantiate().expect("instantiates");
    call(&mut inst);
    let ttfr = start.elapsed();
    assert!(m.wait_for_tier_up(Duration::from_secs(120)));
    let top = start.elapsed();
    let inst = m.instantiate().expect("instantiates");
    assert_eq!(inst.module().tier(), Tier::HighlyOptimized);
    (
        Row {
            label: "tiered (baseline -> top)".into(),
            compile,
            ttfr,
            inst,
            batch: 10,
            busy: Duration::ZERO,
            calls: 0,
            steady: 0.0,
        },
        top,
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let mut ttfr_ratios = Vec::new();
    let mut steady_ratios = Vec::new();
    for round in 1..=rounds {
        println!("round {round}");
        let mut rows: Vec<Row> = Vec::new();
        let (tiered_row, top) = tiered();
        for tier in Tier::ALL {
            rows.push(fixed(tier));
        }
        rows.push(tiered_row);
        // A control: a second Cranelift-only module, measured last, shows how
        // much two identical variants differ on this machine.
        let mut control = fixed(Tier::HighlyOptimized);
        control.label = "control: highly-optimized".into();
        rows.push(control);
        measure_steady(&mut rows, 20);
        let cranelift = rows
            .iter()
            .find(|r| r.label == Tier::HighlyOptimized.name())
            .expect("measured");
        let (c_ttfr, c_steady) = (cranelift.ttfr, cranelift.steady);
        for r in &rows {
            println!(
                "  {:<26} compile {:>9.1?}  first result {:>9.1?} ({:>5.3}x)  steady {:>8.1} calls/s ({:>5.3}x)",
                r.label,
                r.compile,
                r.ttfr,
                r.ttfr.as_secs_f64() / c_ttfr.as_secs_f64(),
                r.steady,
                r.steady / c_steady,
            );
        }
        let t = &rows[rows.len() - 2];
        println!("  tiered: top tier in after {top:.1?}");
        ttfr_ratios.push(t.ttfr.as_secs_f64() / c_ttfr.as_secs_f64());
        steady_ratios.push(t.steady / c_steady);
    }
    let range = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        format!("mean {mean:.3} (min {min:.3}, max {max:.3})")
    };
    println!(
        "time to first result, tiered / Cranelift-only: {}",
        range(&ttfr_ratios)
    );
    println!(
        "steady state, tiered / Cranelift-only:         {}",
        range(&steady_ratios)
    );
}
