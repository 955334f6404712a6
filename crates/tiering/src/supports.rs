//! Which tier can honour which limit of a [`SandboxConfig`].
//!
//! Checked against wasmtime 48.0.8's sources and by this crate's
//! integration tests (`tests/tiering/limits.rs`), on every tier:
//!
//! | limit (`ResourceLimits`)   | Pulley | Winch | Cranelift (none, speed) |
//! |----------------------------|--------|-------|-------------------------|
//! | `timeout` (epoch interrupt)| yes    | yes   | yes                     |
//! | `fuel`                     | yes    | yes   | yes                     |
//! | `max_memory`, tables       | yes    | yes   | yes                     |
//! | `max_wasm_stack`           | yes    | yes   | yes                     |
//!
//! Epoch and fuel checks are emitted by each compiler (`winch-codegen`'s
//! `maybe_emit_epoch_check` / `maybe_emit_fuel_check`; Cranelift, which also
//! produces Pulley bytecode, in its function environment); memory and table
//! limits are enforced by the runtime's resource limiter, whatever compiled
//! the code; the stack limit is checked in each function's prologue by all
//! three. wasmtime's doc comment on `Config::consume_fuel` still says fuel is
//! incompatible with Winch; that note is stale for 48.0.8 (the tests run an
//! out-of-fuel guest on Winch).
//!
//! What Winch lacks in 48.0.8 is architecture and proposal support: it is
//! complete on x86-64 only (aarch64 is partial and other targets are
//! rejected), and it does not implement GC, function references, tail calls,
//! exceptions and relaxed SIMD. The proposals each tier's engine accepts are
//! pinned in one place, the core's `wasmtime_config` (its table is in
//! `engine.rs`): the Pulley and Cranelift tiers accept those five proposals,
//! the baseline tier's engine turns them off, and no tier accepts threads
//! (shared memory). So a module that uses GC or exceptions fails to compile
//! on Winch with `Error::InvalidModule` while the same module runs on the
//! other tiers; [`TieredModule`](crate::TieredModule) then records the failure
//! and moves on to the next tier. Proposals are properties of the module, not
//! limits of the [`SandboxConfig`], so [`supports`] does not look at them: on
//! x86-64 the only way a configuration rules Winch out is the host
//! architecture.

use wasm_sandbox_core::{SandboxConfig, Tier};

/// The part of a sandbox's configuration a tier cannot honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum Requirement {
    /// The wall-clock `timeout` (epoch interruption).
    Timeout,
    /// The per-call `fuel` limit.
    Fuel,
    /// The memory and table limits.
    MemoryLimit,
    /// The `max_wasm_stack` limit.
    StackLimit,
    /// Native code generation for the host's architecture.
    Architecture,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Requirement::Timeout => "the wall-clock timeout",
            Requirement::Fuel => "the fuel limit",
            Requirement::MemoryLimit => "the memory limit",
            Requirement::StackLimit => "the wasm stack limit",
            Requirement::Architecture => "this host architecture",
        })
    }
}

/// Why a tier cannot run a sandbox with a given configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Unsupported {
    /// The tier.
    pub tier: Tier,
    /// What it cannot honour.
    pub requirement: Requirement,
    /// Details, and what to do about it.
    pub reason: &'static str,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} tier cannot honour {}: {}",
            self.tier, self.requirement, self.reason
        )
    }
}

impl std::error::Error for Unsupported {}

/// Whether `tier` can run a sandbox configured with `config` and honour every
/// limit in it.
///
/// A [`TieredModule`](crate::TieredModule) never starts on, nor tiers up to, a
/// tier for which this fails: it skips to the next tier that can.
///
/// ```
/// use wasm_sandbox_core::{SandboxConfig, Tier};
/// let mut config = SandboxConfig::default();
/// config.limits.fuel = Some(1_000_000);
/// assert!(wasm_sandbox_tiering::supports(Tier::HighlyOptimized, &config).is_ok());
/// assert!(wasm_sandbox_tiering::supports(Tier::Interpreter, &config).is_ok());
/// ```
///
/// # Errors
///
/// [`Unsupported`] names the first requirement the tier cannot meet.
pub fn supports(tier: Tier, config: &SandboxConfig) -> Result<(), Unsupported> {
    // Every limit of `ResourceLimits` is honoured by every tier on the
    // architectures each tier supports (see the module docs and the tests);
    // the configuration is still taken so that a limit added later, or a
    // tier that loses one, is decided here and nowhere else.
    let _ = config;
    match tier {
        Tier::Baseline if !cfg!(target_arch = "x86_64") => Err(Unsupported {
            tier,
            requirement: Requirement::Architecture,
            reason: "Winch (wasmtime 48) is complete on x86-64 only; start on the optimized tier instead",
        }),
        _ => Ok(()),
    }
}

/// The lowest tier at or above `tier` and at most `top` that supports
/// `config`.
pub(crate) fn first_supported(tier: Tier, top: Tier, config: &SandboxConfig) -> Option<Tier> {
    Tier::ALL
        .into_iter()
        .filter(|t| *t >= tier && *t <= top)
        .find(|t| supports(*t, config).is_ok())
}
