//! Opening the compilation cache; compiling through it is the core's
//! `Sandbox::compile_cached`, and its errors map onto the core's `Error` in
//! one place (`wasm_sandbox_core`, feature `cache`).

use std::sync::Arc;

use wasm_sandbox_cache::{CacheConfig, CompilationCache};
use wasm_sandbox_core::Result;

/// Opens the cache, turning its errors into the sandbox's.
pub(crate) fn open(config: CacheConfig) -> Result<Arc<CompilationCache>> {
    Ok(Arc::new(CompilationCache::open(config)?))
}
