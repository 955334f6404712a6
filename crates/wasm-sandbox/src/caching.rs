//! Glue between the sandbox core and the compilation cache.

use wasm_sandbox_cache::{CacheConfig, CacheError, CompilationCache, CompileSettings, WasmDigest};
use wasm_sandbox_core::{Error, Module, Result, Sandbox};

/// Opens the cache, turning its errors into the sandbox's.
pub(crate) fn open(config: CacheConfig) -> Result<std::sync::Arc<CompilationCache>> {
    CompilationCache::open(config)
        .map(std::sync::Arc::new)
        .map_err(convert)
}

/// Compiles `wasm` for `sandbox` through `cache`. The tier is part of the
/// key, besides the engine's own compatibility hash, because wasmtime does
/// not count the optimization level as an incompatibility.
pub(crate) fn compile(cache: &CompilationCache, sandbox: &Sandbox, wasm: &[u8]) -> Result<Module> {
    let settings = CompileSettings::new(sandbox.tier().name());
    // One hash of the bytes serves as both the cache key's content half and the
    // module's identity.
    let digest = WasmDigest::of(wasm);
    let module = cache
        .get_or_compile_digest(sandbox.engine(), wasm, &digest, &settings)
        .map_err(convert)?;
    sandbox.adopt(module, *digest.as_bytes())
}

pub(crate) fn convert(e: CacheError) -> Error {
    match e {
        CacheError::Compile { message } => Error::invalid_module(message),
        CacheError::Io { path, source } => Error::io(path, source),
        e @ (CacheError::InsecureDirectory { .. } | CacheError::NotADirectory { .. }) => {
            Error::config(e)
        }
        other => Error::Engine {
            reason: other.to_string().into(),
        },
    }
}
