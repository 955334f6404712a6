//! Compiling through a `wasm-sandbox-cache` compilation cache (feature
//! `cache`): the one glue between the two crates, and the one mapping of
//! the cache's errors onto [`Error`], for every user (the facade, the
//! tiering crate, the CLI).

use wasm_sandbox_cache::{CacheError, CompilationCache, CompileSettings, WasmDigest};

use crate::error::{Error, Result};
use crate::prescan::check_module;
use crate::sandbox::{Module, Sandbox};

impl From<CacheError> for Error {
    /// A cache that cannot be read or written is [`Error::Io`] (naming the
    /// file); a module that does not compile is [`Error::InvalidModule`]; a
    /// directory the cache refuses to use (writable by others, not a
    /// directory) or a remote tier it cannot set up (a bad URL or key) is
    /// [`Error::Config`]; anything else the cache reports is [`Error::Engine`].
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Compile { message } => Error::invalid_module(message),
            CacheError::Io { path, source } => Error::io(path, source),
            e @ (CacheError::InsecureDirectory { .. }
            | CacheError::NotADirectory { .. }
            | CacheError::Remote { .. }) => Error::config(e),
            other => Error::Engine {
                reason: format!("compilation cache: {other}").into(),
            },
        }
    }
}

impl Sandbox {
    /// Compiles `wasm` for this sandbox through `cache`: a hit loads the
    /// verified artifact instead of compiling. The key is the wasm's digest,
    /// the engine's compatibility hash and this sandbox's tier (wasmtime
    /// does not count the optimization level as an incompatibility).
    ///
    /// The module is held to the sandbox's compile limits first, on hits
    /// too: the outcome never depends on what the cache holds (a module
    /// over the limits is refused even if another process, perhaps with
    /// other limits, compiled it), and an oversized input is refused before
    /// it is hashed.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile`], plus [`Error::Io`] when the cache cannot be
    /// read or written.
    pub fn compile_cached(&self, cache: &CompilationCache, wasm: &[u8]) -> Result<Module> {
        check_module(wasm, &self.config().compile_limits)?;
        // One hash of the bytes serves as both the key's content half and
        // the module's identity.
        self.compile_cached_digest(cache, wasm, &WasmDigest::of(wasm))
    }

    /// [`Sandbox::compile_cached`] of a module whose digest the caller
    /// already computed. It checks the compile limits as well.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile_cached`].
    pub fn compile_cached_digest(
        &self,
        cache: &CompilationCache,
        wasm: &[u8],
        digest: &WasmDigest,
    ) -> Result<Module> {
        check_module(wasm, &self.config().compile_limits)?;
        let settings = CompileSettings::new(self.tier().name());
        let module = cache.get_or_compile_digest(self.engine(), wasm, digest, &settings)?;
        self.adopt(module, *digest.as_bytes())
    }

    /// [`Sandbox::compile_preinitialized`] through `cache`: the snapshot's
    /// artifact is filed under the original module's digest, this sandbox's
    /// tier and the init step's [`PreInit::key`](crate::PreInit::key) (its
    /// kind, export and argument), so a process that finds it (a restarted
    /// one, with a disk cache) loads the snapshot without running the init
    /// step ([`MetricsSnapshot::preinits`](crate::MetricsSnapshot::preinits)
    /// stays 0). Concurrent calls for one key in a process run the step
    /// once. Nothing is stored when the step fails.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile_preinitialized`], plus [`Error::Io`] when the
    /// cache cannot be read or written.
    #[cfg(feature = "preinit")]
    pub fn compile_preinitialized_cached(
        &self,
        cache: &CompilationCache,
        wasm: &[u8],
        init: &crate::PreInit,
    ) -> Result<Module> {
        check_module(wasm, &self.config().compile_limits)?;
        let digest = WasmDigest::of(wasm);
        let key = blake3::Hash::from_bytes(init.key());
        let settings =
            CompileSettings::new(self.tier().name()).with("preinit", key.to_hex().as_str());
        let module = cache.get_or_compile_with(self.engine(), &digest, &settings, || {
            self.preinitialize(wasm, init).map(std::borrow::Cow::Owned)
        })?;
        self.adopt(module, init.snapshot_id(digest.as_bytes()))
    }

    /// Whether `cache` holds this sandbox's artifact of the wasm with
    /// `digest`.
    pub fn is_cached(&self, cache: &CompilationCache, digest: &WasmDigest) -> bool {
        cache.contains_digest(
            self.engine(),
            digest,
            &CompileSettings::new(self.tier().name()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileLimits, Resource, SandboxConfig};
    use wasm_sandbox_cache::CacheConfig;

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
    /// even when the cache already holds it.
    #[test]
    fn the_cache_path_checks_the_compile_limits_even_on_a_warm_hit() {
        let cache = CompilationCache::open(CacheConfig::in_memory()).unwrap();
        let wasm = b"(module (func) (func) (func))";
        let strict = sandbox(2);
        let err = strict.compile_cached(&cache, wasm).unwrap_err();
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

        sandbox(CompileLimits::default().max_functions)
            .compile_cached(&cache, wasm)
            .unwrap();
        let before = cache.stats();
        assert_eq!(before.compiles, 1);
        let err = strict.compile_cached(&cache, wasm).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
        let after = cache.stats();
        assert_eq!(
            (after.memory_hits, after.compiles),
            (before.memory_hits, before.compiles)
        );
    }

    #[test]
    fn cache_io_failures_are_io_errors() {
        let e: Error = CacheError::Io {
            path: "/cache/x".into(),
            source: std::io::Error::other("disk on fire"),
        }
        .into();
        assert!(
            matches!(&e, Error::Io { path, .. } if path.ends_with("x")),
            "{e}"
        );
        assert_eq!(e.class(), crate::ErrorClass::Host);
    }
}
