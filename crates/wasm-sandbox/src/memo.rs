//! Glue between the sandbox and the call optimizer: serde and byte calls of
//! exports declared pure, direct or batched, go through the memo cache.

use std::future::Future;
use std::sync::Arc;

use wasm_sandbox_callopt::{CallOptimizer, ModuleHash};
use wasm_sandbox_core::Result;

/// Runs `execute`, a call of `export` with encoded `input` of the module
/// whose content hash `module` returns (asked only when there is an
/// optimizer), memoized when the optimizer says the export is pure.
/// The module hash is the wasm's content hash, the same on every tier and
/// for direct and batched calls, so they share entries. Errors are never
/// memoized.
pub(crate) async fn call(
    optimizer: Option<&CallOptimizer>,
    module: impl FnOnce() -> ModuleHash,
    export: &str,
    input: &[u8],
    execute: impl Future<Output = Result<Vec<u8>>>,
) -> Result<Arc<[u8]>> {
    match optimizer {
        Some(opt) => opt.call_async(&module(), export, input, execute).await,
        None => execute.await.map(Arc::from),
    }
}
