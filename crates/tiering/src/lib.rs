//! Tiered compilation for wasm-sandbox, after V8's Liftoff → TurboFan: a
//! module starts on a tier that compiles fast, its calls are counted, and
//! when it gets hot the whole module is recompiled on a better tier on a
//! background thread and swapped in atomically.
//!
//! | [`Tier`]          | engine                          | compile (SQLite) | runs (vs Cranelift speed) |
//! |-------------------|---------------------------------|------------------|---------------------------|
//! | `Interpreter`     | Pulley (wasmtime's interpreter) | ~1.0-1.2x        | ~23x slower               |
//! | `Baseline`        | Winch (single pass)             | ~1/9             | ~1.4-1.7x slower          |
//! | `Optimized`       | Cranelift, opt-level none       | ~3/4             | about the same            |
//! | `HighlyOptimized` | Cranelift, opt-level speed      | 1 (~2.5-3.4 s)   | reference                 |
//!
//! (Measured on the 1.1 MB SQLite guest; see `docs/tiering.md`.)
//!
//! * [`TieredModule`]: built from wasm bytes, a `SandboxConfig` and a
//!   [`TieringPolicy`]; compiles its start tier (default `Baseline`)
//!   synchronously, then tiers up in the background. Calls go through
//!   [`TieredModule::module`], the current tier's core `Module`: each call
//!   made with its call methods is counted towards tier-up on the tier it
//!   ran on (a `CallObserver` on every tier's module), so there is no second
//!   call API to keep in step. [`TieredModule::instantiate`] gives a core
//!   `Instance` for the sync fast path, which stays on its tier for life.
//! * [`TieringPolicy`]: stepwise with the seed's thresholds (100 calls/10 ms,
//!   1,000/100 ms, 10,000/1 s), straight to the top tier in one background
//!   compile, or fixed.
//! * [`supports`]: which tier can honour which limit of a configuration; a
//!   tier that cannot is never picked.
//! * [`CompilePool`]: the background compile threads (one by default,
//!   shared by every module); a caller never compiles a tier-up.
//! * [`TieringStats`]: tier-ups, compile time per tier, calls per tier,
//!   per-export counters; also emitted through the `metrics` facade as
//!   `wasm_sandbox_tiering_{tier_ups_total,calls_total,compile_failures_total}`
//!   (labelled by tier) and the `wasm_sandbox_tiering_compile_seconds`
//!   histogram.
//!
//! With the `cache` feature (on by default),
//! [`TieredModuleBuilder::with_cache`] compiles every tier through a
//! `wasm-sandbox-cache` `CompilationCache`, keyed by the tier's name, and a
//! restarted process starts on the best tier the cache holds.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use wasm_sandbox_core::{SandboxConfig, Tier};
//! use wasm_sandbox_tiering::{Threshold, TieredModule, TieringPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wasm_sandbox_core::Error> {
//! let wat = r#"(module (func (export "add") (param i32 i32) (result i32)
//!     local.get 0 local.get 1 i32.add))"#;
//! // Leave each tier after 10 calls of one export (the defaults are the seed's).
//! let policy = TieringPolicy::stepwise()
//!     .top(Tier::Optimized)
//!     .all_thresholds(Threshold::new(10, Duration::ZERO));
//! let module = TieredModule::new(wat.as_bytes(), SandboxConfig::default(), policy)?;
//! assert_eq!(module.current_tier(), Tier::Baseline);
//!
//! for i in 0..10 {
//!     assert_eq!(module.module().call_typed::<(i32, i32), i32>("add", (i, 1)).await?, i + 1);
//! }
//! // The tenth call queued a tier-up; it compiles on a background thread.
//! assert!(module.wait_for_tier_up(Duration::from_secs(30)));
//! assert_eq!(module.current_tier(), Tier::Optimized);
//!
//! // Instances for the sync fast path come from the current tier.
//! let mut instance = module.instantiate()?;
//! assert_eq!(instance.module().tier(), Tier::Optimized);
//! assert_eq!(instance.call_typed::<(i32, i32), i32>("add", (2, 3))?, 5);
//!
//! let stats = module.stats();
//! assert_eq!(stats.tier_ups, 1);
//! assert_eq!(stats.calls_on(Tier::Baseline), 10);
//! # Ok(()) }
//! ```

mod policy;
mod pool;
mod stats;
mod supports;
mod tiered;

pub use policy::{Threshold, TierUpMode, TieringPolicy};
pub use pool::{CompilePool, DEFAULT_COMPILE_THREADS};
pub use stats::{CompileFailure, CompileRecord, ExportStats, TierCalls, TieringStats};
pub use supports::{Requirement, Unsupported, supports};
pub use tiered::{CompileHook, TieredModule, TieredModuleBuilder};
pub use wasm_sandbox_core::Tier;
