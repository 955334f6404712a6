//! Integration tests of wasm-sandbox-tiering: differential results across
//! tiers, tier-up behaviour, limits on every tier, and restarts with a cache.

mod differential;
mod limits;
mod restart;
mod tierup;

use wasm_sandbox_core::{SandboxConfig, Tier};
use wasm_sandbox_tiering::{TieredModule, TieringPolicy};

/// A module fixed on `tier`.
fn fixed(wat: &str, tier: Tier, config: SandboxConfig) -> TieredModule {
    let m =
        TieredModule::new(wat.as_bytes(), config, TieringPolicy::fixed(tier)).expect("compiles");
    assert_eq!(m.current_tier(), tier);
    m
}

/// A small config: no parallel compilation (tests run in parallel already).
fn config() -> SandboxConfig {
    let mut c = SandboxConfig::default();
    c.performance.parallel_compilation = false;
    c
}
