//! Glue between the sandbox and the call optimizer: serde and byte calls of
//! exports declared pure go through the memo cache.

use std::sync::Arc;

use wasm_sandbox_callopt::CallOptimizer;
use wasm_sandbox_core::Result;

use crate::target::Target;

/// Calls `export` with encoded `input`, memoized when the optimizer says
/// the export is pure. The key's module hash is the wasm's content hash,
/// the same on every tier. Errors are never memoized.
pub(crate) async fn call_bytes(
    optimizer: Option<&CallOptimizer>,
    target: &Target,
    export: &str,
    input: &[u8],
) -> Result<Arc<[u8]>> {
    match optimizer {
        Some(opt) => {
            let hash = target.module().content_hash();
            opt.call_async(&hash, export, input, target.call_bytes(export, input))
                .await
        }
        None => target.call_bytes(export, input).await.map(Arc::from),
    }
}
