//! Run untrusted WebAssembly fast and safely.
//!
//! `wasm-sandbox` is a thin facade over a workspace of micro-crates on
//! wasmtime. It holds the [`WasmSandbox`] builder and the glue between the
//! crates; each crate is also usable alone.
//!
//! ```
//! use wasm_sandbox::{WasmSandbox, PerformanceConfig, OptimizationLevel};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wasm_sandbox::Error> {
//! let sandbox = WasmSandbox::builder()
//!     .performance_config(PerformanceConfig {
//!         optimization_level: OptimizationLevel::Aggressive,
//!         ..Default::default()
//!     })
//!     .timeout(std::time::Duration::from_secs(1))
//!     .build()
//!     .await?;
//! sandbox
//!     .load(r#"(module (func (export "add") (param i32 i32) (result i32)
//!                  local.get 0 local.get 1 i32.add))"#.as_bytes())
//!     .await?;
//! let sum: i32 = sandbox.call_typed("add", (2, 3)).await?;
//! assert_eq!(sum, 5);
//! # Ok(()) }
//! ```
//!
//! # The three ways to call a guest
//!
//! * Typed scalar calls ([`WasmSandbox::call_typed`], or a [`TypedFunction`]
//!   on an [`Instance`] you hold for the synchronous fast path).
//! * Serde calls ([`WasmSandbox::call`]): arguments and results cross as
//!   JSON or postcard through the guest ABI of `docs/abi.md`.
//! * Raw bytes ([`WasmSandbox::call_bytes`]).
//!
//! # Crate features
//!
//! * `cache` (default): the compilation cache of `wasm-sandbox-cache`, used
//!   when [`PerformanceConfig::enable_caching`] is set; re-exported as
//!   [`cache`].
//! * `callopt` (default): memoization of exports the embedder declares pure
//!   ([`WasmSandboxBuilder::pure_export`]); re-exported as [`callopt`].
//! * `batch` (default): batched calls ([`WasmSandbox::call_batched`]) on
//!   worker threads, one instance each; re-exported as [`batch`].
//! * `tiering` (default, needs `cache`): tiered compilation
//!   ([`WasmSandboxBuilder::tiering`]): a module starts on Winch and moves to
//!   Cranelift in the background once hot; re-exported as [`tiering`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[doc(inline)]
pub use wasm_sandbox_core::{
    Codec, CompileLimits, Error, ErrorClass, HostSetup, Instance, LatencySummary, MetricsSnapshot,
    Module, OptimizationLevel, Output, PerformanceConfig, Preopen, Resource, ResourceLimits,
    Result, RunOutput, SandboxConfig, Signature, StoreData, Tier, TrapCode, TypedFunction, Value,
    ValueType, WasiConfig, abi, wasmtime,
};

/// The sandbox core, for embedders who want its lower-level API.
#[doc(inline)]
pub use wasm_sandbox_core as core;

/// The compilation cache (feature `cache`).
#[cfg(feature = "cache")]
#[doc(inline)]
pub use wasm_sandbox_cache as cache;

#[cfg(feature = "cache")]
mod caching;

/// Memoization of pure calls (feature `callopt`).
#[cfg(feature = "callopt")]
#[doc(inline)]
pub use wasm_sandbox_callopt as callopt;

#[cfg(feature = "callopt")]
mod memo;

/// Batched calls (feature `batch`).
#[cfg(feature = "batch")]
#[doc(inline)]
pub use wasm_sandbox_batch as batch;

#[cfg(feature = "batch")]
mod batching;
#[cfg(feature = "batch")]
pub use batching::ModuleExecutor;

/// Tiered compilation (feature `tiering`).
#[cfg(feature = "tiering")]
#[doc(inline)]
pub use wasm_sandbox_tiering as tiering;

mod target;
use target::Target;

/// Where a module comes from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    /// Wasm binary or WAT text in memory.
    Bytes(Arc<[u8]>),
    /// A `.wasm` or `.wat` file.
    Path(PathBuf),
}

impl From<&[u8]> for ModuleSource {
    fn from(b: &[u8]) -> Self {
        ModuleSource::Bytes(b.into())
    }
}

impl From<Vec<u8>> for ModuleSource {
    fn from(b: Vec<u8>) -> Self {
        ModuleSource::Bytes(b.into())
    }
}

/// A string is a path, as in `sandbox.compile_with_cache("module.wasm")`.
impl From<&str> for ModuleSource {
    fn from(p: &str) -> Self {
        ModuleSource::Path(p.into())
    }
}

impl From<&Path> for ModuleSource {
    fn from(p: &Path) -> Self {
        ModuleSource::Path(p.into())
    }
}

impl From<PathBuf> for ModuleSource {
    fn from(p: PathBuf) -> Self {
        ModuleSource::Path(p)
    }
}

impl ModuleSource {
    async fn bytes(self) -> Result<Arc<[u8]>> {
        match self {
            ModuleSource::Bytes(b) => Ok(b),
            ModuleSource::Path(p) => match tokio::fs::read(&p).await {
                Ok(b) => Ok(b.into()),
                Err(e) => Err(Error::io(p, e)),
            },
        }
    }
}

/// Builds a [`WasmSandbox`].
#[derive(Clone, Default)]
pub struct WasmSandboxBuilder {
    config: SandboxConfig,
    codec: Codec,
    host: Option<HostSetup>,
    #[cfg(feature = "cache")]
    cache: Option<wasm_sandbox_cache::CacheConfig>,
    #[cfg(feature = "callopt")]
    pure: Vec<String>,
    #[cfg(feature = "callopt")]
    optimizer: Option<Arc<wasm_sandbox_callopt::CallOptimizer>>,
    #[cfg(feature = "batch")]
    batching: Option<wasm_sandbox_batch::BatchConfig>,
    #[cfg(feature = "tiering")]
    tiering: Option<wasm_sandbox_tiering::TieringPolicy>,
}

impl std::fmt::Debug for WasmSandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSandboxBuilder")
            .field("config", &self.config)
            .field("codec", &self.codec)
            .field("host", &self.host.is_some())
            .finish()
    }
}

impl WasmSandboxBuilder {
    /// Sets the performance configuration. Default: [`PerformanceConfig::default`].
    pub fn performance_config(mut self, cfg: PerformanceConfig) -> Self {
        self.config.performance = cfg;
        self
    }

    /// Records metrics (compile, instantiate and call latency, calls, traps,
    /// timeouts), readable with [`WasmSandbox::metrics`] and emitted through
    /// the `metrics` crate. Default: `false`.
    pub fn enable_metrics(mut self, enable: bool) -> Self {
        self.config.metrics = enable;
        self
    }

    /// Sets every resource limit at once. Default: [`ResourceLimits::default`].
    pub fn limits(mut self, limits: ResourceLimits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Most linear memory per instance, in bytes. Default: 64 MiB.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.config.limits.max_memory = bytes;
        self
    }

    /// Wall-clock limit per call. Default: 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.limits.timeout = Some(timeout);
        self
    }

    /// Removes the wall-clock limit. Calls can then run forever: only for
    /// trusted guests or with fuel.
    pub fn no_timeout(mut self) -> Self {
        self.config.limits.timeout = None;
        self
    }

    /// Fuel per call. Default: none (no metering).
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.config.limits.fuel = Some(fuel);
        self
    }

    /// Most wasm stack per call, in bytes. Default: 512 KiB.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.config.limits.max_wasm_stack = bytes;
        self
    }

    /// Structural limits every module is checked against before it is
    /// compiled (on every path: direct, through the compilation cache, and
    /// each tier of a tiered module): its size, the number of functions it
    /// defines, the size of one function body and of all bodies. A module
    /// over a limit fails to load with [`Error::LimitExceeded`] naming
    /// [`Resource::ModuleBytes`], [`Resource::Functions`],
    /// [`Resource::FunctionBodyBytes`] or [`Resource::CodeBytes`], before
    /// any compiler runs. Default: [`core::CompileLimits::default`] (256 MiB
    /// of module, 75,000 functions, 1 MiB per body, 128 MiB of code: a
    /// 69 MB program of 60,000 functions passes; `docs/security.md`,
    /// "Compilation", has the measurements).
    pub fn compile_limits(mut self, limits: wasm_sandbox_core::CompileLimits) -> Self {
        self.config.compile_limits = limits;
        self
    }

    /// Enables WASI preview 1 with these grants. Default: no WASI.
    pub fn wasi(mut self, wasi: WasiConfig) -> Self {
        self.config.wasi = Some(wasi);
        self
    }

    /// The codec of [`WasmSandbox::call`]. Default: [`Codec::Json`].
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Gives every async call a fresh instance (no state survives between
    /// calls). Default: `false` (idle instances are reused).
    pub fn fresh_instance_per_call(mut self, fresh: bool) -> Self {
        self.config.fresh_instance_per_call = fresh;
        self
    }

    /// Adds host functions: `setup` runs on each linker the sandbox builds.
    /// Guests can import only what it defines (and WASI, when enabled).
    pub fn host_functions(
        mut self,
        setup: impl Fn(&mut wasmtime::Linker<StoreData>) -> wasmtime::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.host = Some(Arc::new(setup));
        self
    }

    /// Configures the compilation cache used when `enable_caching` is set.
    /// Default: the platform's user cache directory
    /// ([`cache::default_cache_dir`]), 512 MiB, LRU. Needs the `cache`
    /// feature.
    #[cfg(feature = "cache")]
    pub fn cache_config(mut self, config: wasm_sandbox_cache::CacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// Puts the compilation cache in `dir` (see
    /// [`WasmSandboxBuilder::cache_config`]). Needs the `cache` feature.
    #[cfg(feature = "cache")]
    pub fn cache_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.cache_config(wasm_sandbox_cache::CacheConfig::new(dir))
    }

    /// Declares an export pure: its serde and byte calls are memoized, keyed
    /// by the module's content hash, the export and the encoded arguments
    /// (verbatim up to 32 bytes, else their blake3 digest). Only declare
    /// exports whose result depends on their arguments alone: a guest can
    /// keep state between calls, and purity is never guessed. Default:
    /// nothing is memoized. Needs the `callopt` feature.
    #[cfg(feature = "callopt")]
    pub fn pure_export(mut self, export: impl Into<String>) -> Self {
        self.pure.push(export.into());
        self
    }

    /// Uses a configured call optimizer (bounds, TTL, purity) instead of the
    /// default one built from [`WasmSandboxBuilder::pure_export`]. Needs the
    /// `callopt` feature.
    #[cfg(feature = "callopt")]
    pub fn call_optimizer(mut self, optimizer: wasm_sandbox_callopt::CallOptimizer) -> Self {
        self.optimizer = Some(Arc::new(optimizer));
        self
    }

    /// Settings of [`WasmSandbox::call_batched`]. Default:
    /// [`batch::BatchConfig::new`]. Needs the `batch` feature.
    #[cfg(feature = "batch")]
    pub fn batching(mut self, config: wasm_sandbox_batch::BatchConfig) -> Self {
        self.batching = Some(config);
        self
    }

    /// Loads modules as tiered modules: they start on the policy's first
    /// tier (Winch by default) and are recompiled on faster tiers in the
    /// background once hot ([`tiering::TieringPolicy`]). Without this
    /// (the default), modules are compiled once for the tier that
    /// [`PerformanceConfig`] selects. Needs the `tiering` feature.
    #[cfg(feature = "tiering")]
    pub fn tiering(mut self, policy: wasm_sandbox_tiering::TieringPolicy) -> Self {
        self.tiering = Some(policy);
        self
    }

    /// Builds the sandbox.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for inconsistent settings (such as a memory pool
    /// smaller than one instance's memory) or a cache directory that other
    /// users can write to, [`Error::Engine`] when wasmtime cannot build the
    /// engine.
    pub async fn build(self) -> Result<WasmSandbox> {
        let tier = self.config.performance.tier();
        let config = self.config;
        let host = self.host;
        #[cfg(feature = "tiering")]
        let host_for_tiers = host.clone();
        #[cfg(feature = "cache")]
        let cache_config = config
            .performance
            .enable_caching
            .then(|| self.cache.unwrap_or_default());
        // Building an engine with a pool reserves address space, and opening
        // a cache scans its directory: keep both off the async threads.
        let (core, cache) = tokio::task::spawn_blocking(move || {
            let core = wasm_sandbox_core::Sandbox::with_tier(config, tier, host)?;
            #[cfg(feature = "cache")]
            let cache = cache_config.map(caching::open).transpose()?;
            #[cfg(not(feature = "cache"))]
            let cache = None::<()>;
            Ok::<_, Error>((core, cache))
        })
        .await
        .map_err(join_error)??;
        #[cfg(feature = "callopt")]
        let optimizer = match (self.optimizer, self.pure.is_empty()) {
            (Some(o), _) => Some(o),
            (None, false) => {
                let mut b = wasm_sandbox_callopt::CallOptimizer::builder();
                for export in &self.pure {
                    b = b.pure(export);
                }
                Some(Arc::new(b.build()))
            }
            (None, true) => None,
        };
        Ok(WasmSandbox {
            core,
            codec: self.codec,
            default_module: RwLock::new(None),
            cache,
            #[cfg(feature = "callopt")]
            optimizer,
            #[cfg(feature = "batch")]
            batching: self.batching.unwrap_or_default(),
            #[cfg(feature = "batch")]
            batcher: parking_lot::Mutex::new(None),
            #[cfg(feature = "tiering")]
            tiering: self.tiering,
            #[cfg(feature = "tiering")]
            host: host_for_tiers,
        })
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Engine {
        reason: format!("a blocking task failed: {e}").into(),
    }
}

/// A sandbox for untrusted WebAssembly: one engine, its limits, and the
/// modules loaded into it.
///
/// The first module loaded becomes the *default module* that
/// [`WasmSandbox::call`] and friends target; use [`Module`]'s own methods
/// to call others.
pub struct WasmSandbox {
    core: wasm_sandbox_core::Sandbox,
    codec: Codec,
    default_module: RwLock<Option<Target>>,
    #[cfg(feature = "tiering")]
    tiering: Option<wasm_sandbox_tiering::TieringPolicy>,
    #[cfg(feature = "tiering")]
    host: Option<HostSetup>,
    #[cfg(feature = "cache")]
    cache: Option<Arc<wasm_sandbox_cache::CompilationCache>>,
    #[cfg(not(feature = "cache"))]
    cache: Option<()>,
    #[cfg(feature = "callopt")]
    optimizer: Option<Arc<wasm_sandbox_callopt::CallOptimizer>>,
    #[cfg(feature = "batch")]
    batching: wasm_sandbox_batch::BatchConfig,
    #[cfg(feature = "batch")]
    batcher: parking_lot::Mutex<
        Option<(
            Module,
            Arc<wasm_sandbox_batch::BatchProcessor<ModuleExecutor>>,
        )>,
    >,
}

impl std::fmt::Debug for WasmSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSandbox")
            .field("core", &self.core)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl WasmSandbox {
    /// A builder with default settings.
    pub fn builder() -> WasmSandboxBuilder {
        WasmSandboxBuilder::default()
    }

    /// The sandbox core.
    pub fn core(&self) -> &wasm_sandbox_core::Sandbox {
        &self.core
    }

    /// The tier modules are compiled to.
    pub fn tier(&self) -> Tier {
        self.core.tier()
    }

    /// A copy of the metrics recorded so far.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.core.metrics()
    }

    /// Compiles a module (on a blocking thread, through the compilation
    /// cache when `enable_caching` is set) and links it. The first module
    /// loaded becomes the default module.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for an unreadable file, [`Error::InvalidModule`] and
    /// [`Error::ImportNotAllowed`] for a module that cannot be loaded.
    pub async fn load(&self, source: impl Into<ModuleSource>) -> Result<Module> {
        let bytes = source.into().bytes().await?;
        #[cfg(feature = "tiering")]
        if let Some(policy) = &self.tiering {
            let tiered = self.load_tiered(bytes, policy.clone()).await?;
            let module = tiered.module();
            self.default_module
                .write()
                .get_or_insert(Target::Tiered(tiered));
            return Ok(module);
        }
        let core = self.core.clone();
        let cache = self.cache.clone();
        let module = tokio::task::spawn_blocking(move || match cache {
            #[cfg(feature = "cache")]
            Some(cache) => caching::compile(&cache, &core, &bytes),
            _ => core.compile(&bytes),
        })
        .await
        .map_err(join_error)??;
        self.default_module
            .write()
            .get_or_insert_with(|| Target::Fixed(module.clone()));
        Ok(module)
    }

    #[cfg(feature = "tiering")]
    async fn load_tiered(
        &self,
        bytes: Arc<[u8]>,
        policy: wasm_sandbox_tiering::TieringPolicy,
    ) -> Result<wasm_sandbox_tiering::TieredModule> {
        let mut b = wasm_sandbox_tiering::TieredModule::builder(bytes, self.core.config().clone())
            .policy(policy);
        if let Some(host) = &self.host {
            b = b.host(Arc::clone(host));
        }
        if let Some(cache) = &self.cache {
            b = b.with_cache(Arc::clone(cache));
        }
        b.build_async().await
    }

    /// The default module as a tiered module, when the sandbox tiers (its
    /// current tier, statistics, tier-up control).
    #[cfg(feature = "tiering")]
    pub fn tiered_module(&self) -> Option<wasm_sandbox_tiering::TieredModule> {
        match self.default_module.read().as_ref() {
            Some(Target::Tiered(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// The seed's name for [`WasmSandbox::load`]: compiles through the
    /// compilation cache when `enable_caching` is set (a warm disk hit loads
    /// a verified, memory-mapped artifact instead of compiling).
    ///
    /// # Errors
    ///
    /// As [`WasmSandbox::load`].
    pub async fn compile_with_cache(&self, source: impl Into<ModuleSource>) -> Result<Module> {
        self.load(source).await
    }

    /// The compilation cache, when `enable_caching` is set (feature `cache`).
    #[cfg(feature = "cache")]
    pub fn cache(&self) -> Option<&Arc<wasm_sandbox_cache::CompilationCache>> {
        self.cache.as_ref()
    }

    /// Makes `module` the target of [`WasmSandbox::call`].
    pub fn set_default_module(&self, module: &Module) {
        *self.default_module.write() = Some(Target::Fixed(module.clone()));
    }

    fn default(&self) -> Result<Target> {
        self.default_module.read().clone().ok_or_else(|| {
            Error::config("no module loaded: call `load` or `compile_with_cache` first")
        })
    }

    /// Pre-instantiates idle instances of `module` (one per core) and
    /// faults in their memory, so first calls pay for neither.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub async fn warmup(&self, module: &Module) -> Result<()> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        module.warmup(n).await
    }

    /// Calls an export of the default module with serde values, encoded
    /// with the sandbox's codec.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Module::call_with`].
    pub async fn call<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let input = self.codec.encode(args)?;
        let out = self.call_bytes_shared(export, &input).await?;
        self.codec.decode(&out)
    }

    /// Byte call of the default module, through the memo cache when the
    /// export is declared pure.
    async fn call_bytes_shared(&self, export: &str, input: &[u8]) -> Result<Arc<[u8]>> {
        let target = self.default()?;
        #[cfg(feature = "callopt")]
        {
            let hash = || target.module().content_hash();
            let execute = target.call_bytes(export, input);
            memo::call(self.optimizer.as_deref(), hash, export, input, execute).await
        }
        #[cfg(not(feature = "callopt"))]
        {
            target.call_bytes(export, input).await.map(Arc::from)
        }
    }

    /// The call optimizer, when exports were declared pure (feature
    /// `callopt`).
    #[cfg(feature = "callopt")]
    pub fn call_optimizer(&self) -> Option<&Arc<wasm_sandbox_callopt::CallOptimizer>> {
        self.optimizer.as_ref()
    }

    /// Queues a serde call of the default module for batched execution and
    /// waits for its result. Calls are flushed when `batch_size` are waiting
    /// or the oldest has waited `batch_timeout`, grouped by export and run
    /// on worker threads, one instance each; an export `f` whose guest also
    /// exports `f__batch` runs a whole batch in one guest call
    /// (`docs/abi.md`). With tiering, the workers keep the tier the default
    /// module had when the first batched call was made. An export declared
    /// pure ([`WasmSandboxBuilder::pure_export`]) is looked up in the memo
    /// cache first, which it shares with [`WasmSandbox::call`]: a hit is
    /// answered without queueing, and a successful result is stored.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] when the queue is full, and the call's own
    /// errors as for [`WasmSandbox::call`]; a failing call fails alone.
    #[cfg(feature = "batch")]
    pub async fn call_batched<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let input = bytes::Bytes::from(self.codec.encode(args)?);
        let (hash, processor) = self.batcher()?;
        let execute = async {
            processor
                .call_batched(export, input.clone())
                .await
                .map_err(batching::convert)
        };
        #[cfg(feature = "callopt")]
        let out = memo::call(self.optimizer.as_deref(), || hash, export, &input, execute).await?;
        #[cfg(not(feature = "callopt"))]
        let out = {
            let _ = hash;
            execute.await?
        };
        self.codec.decode(&out)
    }

    /// The counters of the batch processor behind
    /// [`WasmSandbox::call_batched`]; `None` before the first batched call.
    #[cfg(feature = "batch")]
    pub fn batch_stats(&self) -> Option<wasm_sandbox_batch::BatchStats> {
        self.batcher.lock().as_ref().map(|(_, p)| p.stats())
    }

    /// The batch processor of the default module, made on first use, with
    /// the content hash of the module it runs.
    #[cfg(feature = "batch")]
    fn batcher(
        &self,
    ) -> Result<(
        [u8; 32],
        Arc<wasm_sandbox_batch::BatchProcessor<ModuleExecutor>>,
    )> {
        let module = self.default()?.module();
        let hash = module.content_hash();
        let mut slot = self.batcher.lock();
        if let Some((m, p)) = slot.as_ref()
            && m.content_hash() == hash
        {
            return Ok((hash, Arc::clone(p)));
        }
        let executor = ModuleExecutor::new(module.clone());
        let processor = Arc::new(
            wasm_sandbox_batch::BatchProcessor::new(executor, self.batching.clone())
                .map_err(batching::convert)?,
        );
        *slot = Some((module, Arc::clone(&processor)));
        Ok((hash, processor))
    }

    /// Calls a scalar export of the default module.
    ///
    /// # Errors
    ///
    /// As [`Module::call_typed`].
    pub async fn call_typed<P, R>(&self, export: &str, params: P) -> Result<R>
    where
        P: wasmtime::WasmParams + Send + Sync + 'static,
        R: wasmtime::WasmResults + Send + Sync + 'static,
    {
        self.default()?.call_typed(export, params).await
    }

    /// Calls an export of the default module with raw bytes.
    ///
    /// # Errors
    ///
    /// As [`Module::call_bytes`].
    pub async fn call_bytes(&self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.call_bytes_shared(export, input)
            .await
            .map(|b| b.to_vec())
    }

    /// Runs the default module as a WASI command with `wasi`'s arguments,
    /// environment, directories and stdio.
    ///
    /// # Errors
    ///
    /// As [`Module::run_command`].
    pub async fn run(&self, wasi: &WasiConfig) -> Result<RunOutput> {
        self.default()?.module().run_command(wasi).await
    }
}
