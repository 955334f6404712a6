//! Glue between the sandbox and the call optimizer: serde and byte calls of
//! exports declared pure go through the memo cache.

use std::sync::Arc;

use wasm_sandbox_callopt::CallOptimizer;
use wasm_sandbox_core::{Module, Result};

/// Calls `export` with encoded `input`, memoized when the optimizer says
/// the export is pure. Errors are never memoized.
pub(crate) async fn call_bytes(
    optimizer: Option<&CallOptimizer>,
    module: &Module,
    export: &str,
    input: &[u8],
) -> Result<Arc<[u8]>> {
    match optimizer {
        Some(opt) => {
            opt.call_async(
                &module.content_hash(),
                export,
                input,
                module.call_bytes(export, input),
            )
            .await
        }
        None => module.call_bytes(export, input).await.map(Arc::from),
    }
}
