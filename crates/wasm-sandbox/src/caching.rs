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
///
/// The module is checked against the sandbox's compile limits first, as
/// `Sandbox::compile` checks it (the cache, which does not depend on the
/// core, cannot). The check runs on warm hits too, although they compile
/// nothing: it costs a fraction of hashing the bytes, and it keeps the
/// outcome independent of what the cache holds (a module over the limits
/// is refused whether or not an earlier process, perhaps with other limits,
/// compiled it), and refuses an oversized input before it is hashed.
pub(crate) fn compile(cache: &CompilationCache, sandbox: &Sandbox, wasm: &[u8]) -> Result<Module> {
    wasm_sandbox_core::check_module(wasm, &sandbox.config().compile_limits)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_sandbox_core::{CompileLimits, Resource, SandboxConfig};

    fn sandbox(max_functions: u32) -> Sandbox {
        Sandbox::new(SandboxConfig {
            compile_limits: CompileLimits {
                max_functions,
                ..CompileLimits::default()
            },
            ..SandboxConfig::default()
        })
        .unwrap()
    }

    /// The cache path checks the compile limits before the cache is asked,
    /// so a module over them is neither compiled nor stored, and is refused
    /// even when the cache already holds it (the outcome does not depend on
    /// the cache's contents).
    #[test]
    fn the_cache_path_checks_the_compile_limits_even_on_a_warm_hit() {
        let cache = open(CacheConfig::in_memory()).unwrap();
        let wasm = b"(module (func) (func) (func))";
        let strict = sandbox(2);
        let err = compile(&cache, &strict, wasm).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    resource: Resource::Functions,
                    requested: 3,
                    limit: 2,
                }
            ),
            "{err}"
        );
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.compiles), (0, 0));

        // Compiled and cached under the defaults; still refused under the limit.
        compile(
            &cache,
            &sandbox(CompileLimits::default().max_functions),
            wasm,
        )
        .unwrap();
        let before = cache.stats();
        assert_eq!(before.compiles, 1);
        let err = compile(&cache, &strict, wasm).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
        let after = cache.stats();
        assert_eq!(
            (after.memory_hits, after.compiles),
            (before.memory_hits, before.compiles)
        );
    }
}
