//! [`TieringStats`]: what a [`TieredModule`](crate::TieredModule) did so far.

use std::time::Duration;

use wasm_sandbox_core::Tier;

/// One compile of a module at one tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct CompileRecord {
    /// The tier compiled.
    pub tier: Tier,
    /// Wall-clock time of the compile (or of the cache load).
    pub duration: Duration,
    /// True when the compilation cache already held this tier.
    pub from_cache: bool,
    /// True for a background tier-up, false for the synchronous start.
    pub background: bool,
}

/// A tier whose compile failed; the module never tries it again.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct CompileFailure {
    /// The tier.
    pub tier: Tier,
    /// The error's message.
    pub error: String,
}

/// Calls served by one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TierCalls {
    /// The tier.
    pub tier: Tier,
    /// Calls recorded while the call ran on that tier.
    pub calls: u64,
}

/// The counters of one export.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ExportStats {
    /// The export's name.
    pub name: String,
    /// Calls recorded, on every tier.
    pub calls: u64,
    /// Calls recorded since the last tier change (what thresholds compare).
    pub calls_on_current_tier: u64,
    /// Total time of the recorded calls.
    pub total_time: Duration,
}

/// A snapshot of a [`TieredModule`](crate::TieredModule)'s tiering.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct TieringStats {
    /// The tier new calls and new instances use.
    pub current_tier: Tier,
    /// The tier the module started on (after cache lookup and support checks).
    pub start_tier: Tier,
    /// The tier the next tier-up will compile, if any.
    pub next_tier: Option<Tier>,
    /// True while a tier-up is queued or compiling.
    pub tier_up_pending: bool,
    /// Completed tier-ups.
    pub tier_ups: u64,
    /// Every compile, in order: the start tier first.
    pub compiles: Vec<CompileRecord>,
    /// Tiers that failed to compile.
    pub failures: Vec<CompileFailure>,
    /// Calls served per tier (tiers with no calls are left out).
    pub calls_per_tier: Vec<TierCalls>,
    /// Per-export counters, in export order.
    pub exports: Vec<ExportStats>,
}

impl TieringStats {
    /// Calls served by `tier`.
    pub fn calls_on(&self, tier: Tier) -> u64 {
        self.calls_per_tier
            .iter()
            .find(|c| c.tier == tier)
            .map_or(0, |c| c.calls)
    }

    /// How long compiling `tier` took, if it was compiled.
    pub fn compile_time(&self, tier: Tier) -> Option<Duration> {
        self.compiles
            .iter()
            .find(|c| c.tier == tier)
            .map(|c| c.duration)
    }
}
