//! What the sandbox's default-module calls go to: a module on one tier, or a
//! tiered module that moves to faster tiers as it gets hot.

use wasm_sandbox_core::{Module, Result, wasmtime};

/// The default module.
#[derive(Clone)]
pub(crate) enum Target {
    /// A module compiled for the sandbox's one tier.
    Fixed(Module),
    /// A tiered module (feature `tiering`).
    #[cfg(feature = "tiering")]
    Tiered(wasm_sandbox_tiering::TieredModule),
}

impl Target {
    /// The module calls go to now (for a tiered module, its current tier).
    pub(crate) fn module(&self) -> Module {
        match self {
            Target::Fixed(m) => m.clone(),
            #[cfg(feature = "tiering")]
            Target::Tiered(t) => t.module(),
        }
    }

    /// Byte call; a tiered module counts it towards tier-up.
    pub(crate) async fn call_bytes(&self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        match self {
            Target::Fixed(m) => m.call_bytes(export, input).await,
            #[cfg(feature = "tiering")]
            Target::Tiered(t) => t.call_bytes(export, input).await,
        }
    }

    /// Typed scalar call; a tiered module counts it towards tier-up.
    pub(crate) async fn call_typed<P, R>(&self, export: &str, params: P) -> Result<R>
    where
        P: wasmtime::WasmParams + Send + Sync + 'static,
        R: wasmtime::WasmResults + Send + Sync + 'static,
    {
        match self {
            Target::Fixed(m) => m.call_typed(export, params).await,
            #[cfg(feature = "tiering")]
            Target::Tiered(t) => t.call_typed(export, params).await,
        }
    }
}
