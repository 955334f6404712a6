//! Run untrusted WebAssembly fast and safely.
//!
//! `wasm-sandbox` is a thin facade over a workspace of micro-crates on
//! wasmtime. It holds the [`WasmSandbox`] builder, the [`Plugin`] handle of
//! each loaded module, and the glue between the crates; each crate is also
//! usable alone.
//!
//! ```
//! use wasm_sandbox::{Error, HostFunctions, WasmSandbox};
//!
//! /// What one call's host functions see: the tenant it serves.
//! struct Tenant(&'static str);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let host = HostFunctions::<Tenant>::new()
//!     .func("env", "tenant_len", |cx, (): ()| Ok(cx.state()?.0.len() as i32));
//! let sandbox = WasmSandbox::builder()
//!     .timeout(std::time::Duration::from_secs(1))
//!     .host_functions(host)
//!     .build()
//!     .await?;
//! let adder = sandbox
//!     .load(r#"(module (func (export "add") (param i32 i32) (result i32)
//!                  local.get 0 local.get 1 i32.add))"#.as_bytes())
//!     .await?;
//! let greeter = sandbox
//!     .load(r#"(module (import "env" "tenant_len" (func $len (result i32)))
//!                  (func (export "len") (result i32) call $len))"#.as_bytes())
//!     .await?;
//! assert_eq!(adder.call_typed::<(i32, i32), i32>("add", (2, 3)).await?, 5);
//! let n: i32 = greeter.with_state(Tenant("acme")).call_typed("len", ()).await?;
//! assert_eq!(n, 4);
//! assert_eq!(greeter.stats().calls, 1);
//! # Ok(()) }
//! ```
//!
//! # Plugins
//!
//! [`WasmSandbox::load`] returns a [`Plugin`]: one module, with every call
//! kind and every feature (memoization, batching, tiering, the cache,
//! per-plugin stats and metrics). The sandbox keeps only what plugins
//! share: the engine, limits, host functions, caches and policies. The
//! seed's `sandbox.call(...)` still works: it calls the *default plugin*,
//! the first one loaded (or the one given to [`WasmSandbox::set_default`]).
//!
//! # The ways to call a guest
//!
//! * Typed scalar calls ([`Plugin::call_typed`], or a [`TypedFunction`] on
//!   an [`Instance`] you hold for the synchronous fast path).
//! * Serde calls ([`Plugin::call`]): arguments and results cross as JSON or
//!   postcard through the guest ABI of `docs/abi.md`.
//! * Raw bytes ([`Plugin::call_bytes`]), batched calls
//!   ([`Plugin::call_batched`]) and WASI commands ([`Plugin::run`]).
//!
//! # Host functions
//!
//! [`HostFunctions`] registers synchronous and async functions with typed
//! per-instance or per-call state ([`Plugin::with_state`]), range-checked
//! guest memory ([`GuestMemory`]) and typed errors that reach the caller
//! unchanged; `docs/host-functions.md` has the rules.
//!
//! # Crate features
//!
//! * `cache` (default): the compilation cache of `wasm-sandbox-cache`, used
//!   when [`PerformanceConfig::enable_caching`] is set; re-exported as
//!   [`cache`].
//! * `callopt` (default): memoization of exports the embedder declares pure
//!   ([`WasmSandboxBuilder::pure_export`]); re-exported as [`callopt`].
//! * `batch` (default): batched calls ([`Plugin::call_batched`]) on worker
//!   threads, one instance each; re-exported as [`batch`].
//! * `tiering` (default, needs `cache`): tiered compilation
//!   ([`WasmSandboxBuilder::tiering`], [`LoadOptions::tiering`]): a module
//!   starts on Winch and moves to Cranelift in the background once hot;
//!   re-exported as [`tiering`].
//! * `remote-cache` (needs `cache`, not a default: it brings an HTTP and TLS
//!   stack): the cache's remote tier on object storage shared by a fleet
//!   (`cache::CacheConfig::remote`, `docs/remote-cache.md`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "preinit")]
#[doc(inline)]
pub use wasm_sandbox_core::PreInit;
#[doc(inline)]
pub use wasm_sandbox_core::{
    CallObserver, Codec, CompileLimits, Error, ErrorClass, GuestMemory, HostContext, HostFunctions,
    HostParams, HostSet, HostSetup, Instance, Isolation, LatencySummary, MetricsSnapshot, Module,
    OptimizationLevel, Output, PerformanceConfig, Preopen, Resource, ResourceLimits, Result,
    RunOutput, SandboxConfig, Signature, StoreData, Tier, TrapCode, TypedFunction, UnknownImports,
    Value, ValueType, WasiConfig, abi, wasmtime,
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

mod plugin;
use plugin::Code;
pub use plugin::{LoadOptions, Plugin, PluginStats, WithState};

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

impl From<Arc<[u8]>> for ModuleSource {
    fn from(b: Arc<[u8]>) -> Self {
        ModuleSource::Bytes(b)
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
    /// The name a plugin from this source gets by default: a file's stem.
    fn default_name(&self) -> Option<String> {
        match self {
            ModuleSource::Path(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()),
            ModuleSource::Bytes(_) => None,
        }
    }

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
    host: Option<HostSet>,
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
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl WasmSandboxBuilder {
    /// Sets the performance configuration. Default: [`PerformanceConfig::default`].
    pub fn performance_config(mut self, cfg: PerformanceConfig) -> Self {
        self.config.performance = cfg;
        self
    }

    /// Records metrics (compile, instantiate and call latency, calls, traps,
    /// timeouts), readable with [`WasmSandbox::metrics`], and emits them and
    /// each plugin's counters (labelled `module`) through the `metrics`
    /// crate. Default: `false`.
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

    /// Wall-clock limit per call, host functions included. Default: 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.limits.timeout = Some(timeout);
        self
    }

    /// Removes the wall-clock limit. Calls can then run forever: only for
    /// trusted guests or with fuel. The code is compiled without epoch checks
    /// (faster to compile), so an async call also stops yielding to the executor while
    /// the guest runs: give such calls a runtime of their own.
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

    /// The codec of serde calls ([`Plugin::call`]) and of the host
    /// functions' guest-memory helpers ([`GuestMemory::read_value`]).
    /// Default: [`Codec::Json`].
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// What to do with function imports that neither the host functions
    /// nor WASI define. Default: [`UnknownImports::Deny`] (the module is
    /// refused with [`Error::ImportNotAllowed`]).
    pub fn unknown_imports(mut self, how: UnknownImports) -> Self {
        self.config.unknown_imports = how;
        self
    }

    /// Gives every async call a fresh instance (no state survives between
    /// calls). Default: `false` (idle instances are reused).
    pub fn fresh_instance_per_call(mut self, fresh: bool) -> Self {
        self.config.fresh_instance_per_call = fresh;
        self
    }

    /// The host functions guests may import (besides WASI, when enabled),
    /// with the state type `S` they read ([`Plugin::with_state`],
    /// [`Instance::set_state`]). A module that imports anything else is
    /// refused at load time ([`Error::ImportNotAllowed`]). See
    /// [`HostFunctions`] and `docs/host-functions.md`.
    pub fn host_functions<S: Send + 'static>(mut self, functions: HostFunctions<S>) -> Self {
        self.host = Some(functions.into());
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

    /// Declares an export pure in every plugin: its serde, byte and batched
    /// calls are memoized, keyed by the plugin's content hash, the export
    /// and the encoded arguments (verbatim up to 32 bytes, else their blake3
    /// digest). Only declare exports whose result depends on their
    /// arguments alone: a guest can keep state between calls, a host
    /// function can answer differently per tenant, and purity is never
    /// guessed. Default: nothing is memoized. Needs the `callopt` feature.
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

    /// Settings of [`Plugin::call_batched`] (each plugin gets its own
    /// processor). Default: [`batch::BatchConfig::new`]. Needs the `batch`
    /// feature.
    #[cfg(feature = "batch")]
    pub fn batching(mut self, config: wasm_sandbox_batch::BatchConfig) -> Self {
        self.batching = Some(config);
        self
    }

    /// Loads modules as tiered modules by default: they start on the
    /// policy's first tier (Winch by default) and are recompiled on faster
    /// tiers in the background once hot ([`tiering::TieringPolicy`]).
    /// [`LoadOptions::tiering`] and [`LoadOptions::no_tiering`] decide per
    /// module. Without this (the default), modules are compiled once for
    /// the tier that [`PerformanceConfig`] selects. Needs the `tiering`
    /// feature.
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
    /// engine or a host function cannot be defined.
    pub async fn build(self) -> Result<WasmSandbox> {
        let tier = self.config.performance.tier();
        let config = self.config;
        let host = self.host.map(|h| h.with_codec(self.codec));
        let host_for_core = host.clone();
        #[cfg(feature = "cache")]
        let cache_config = config
            .performance
            .enable_caching
            .then(|| self.cache.unwrap_or_default());
        // Building an engine with a pool reserves address space, and opening
        // a cache scans its directory: keep both off the async threads.
        let (core, cache) = tokio::task::spawn_blocking(move || {
            let core = wasm_sandbox_core::Sandbox::with_tier(config, tier, host_for_core)?;
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
            shared: Arc::new(Shared {
                metrics: core.config().metrics,
                core,
                codec: self.codec,
                host,
                cache,
                #[cfg(feature = "callopt")]
                optimizer,
                #[cfg(feature = "batch")]
                batching: self.batching.unwrap_or_default(),
                #[cfg(feature = "tiering")]
                tiering: self.tiering,
            }),
            default: RwLock::new(None),
        })
    }
}

pub(crate) fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Engine {
        reason: format!("a blocking task failed: {e}").into(),
    }
}

/// What every plugin of a sandbox shares.
pub(crate) struct Shared {
    core: wasm_sandbox_core::Sandbox,
    codec: Codec,
    metrics: bool,
    /// The host functions, for the sandboxes of each tier.
    #[cfg_attr(not(feature = "tiering"), allow(dead_code))]
    host: Option<HostSet>,
    #[cfg(feature = "cache")]
    cache: Option<Arc<wasm_sandbox_cache::CompilationCache>>,
    #[cfg(not(feature = "cache"))]
    cache: Option<()>,
    #[cfg(feature = "callopt")]
    optimizer: Option<Arc<wasm_sandbox_callopt::CallOptimizer>>,
    #[cfg(feature = "batch")]
    batching: wasm_sandbox_batch::BatchConfig,
    #[cfg(feature = "tiering")]
    tiering: Option<wasm_sandbox_tiering::TieringPolicy>,
}

/// A sandbox for untrusted WebAssembly: one engine, its limits, its host
/// functions and caches, shared by the [`Plugin`]s loaded into it.
///
/// The first plugin loaded is the *default plugin* that the seed's
/// [`WasmSandbox::call`] and friends target (a shim: prefer the plugin's
/// own methods).
pub struct WasmSandbox {
    shared: Arc<Shared>,
    default: RwLock<Option<Plugin>>,
}

impl std::fmt::Debug for WasmSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSandbox")
            .field("core", &self.shared.core)
            .field("codec", &self.shared.codec)
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
        &self.shared.core
    }

    /// The tier modules are compiled to when they do not tier.
    pub fn tier(&self) -> Tier {
        self.shared.core.tier()
    }

    /// The codec of serde calls.
    pub fn codec(&self) -> Codec {
        self.shared.codec
    }

    /// A copy of the sandbox-wide metrics recorded so far (each plugin's own
    /// are in [`Plugin::stats`]).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.core.metrics()
    }

    /// Loads a module with the sandbox's defaults: see
    /// [`WasmSandbox::load_with`].
    ///
    /// # Errors
    ///
    /// As [`WasmSandbox::load_with`].
    pub async fn load(&self, source: impl Into<ModuleSource>) -> Result<Plugin> {
        self.load_with(source, LoadOptions::default()).await
    }

    /// Loads a module: compiles it (on a blocking thread, through the
    /// compilation cache when `enable_caching` is set; tiered when the
    /// sandbox or `options` say so) and links it against the host
    /// functions. The first plugin loaded becomes the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for an unreadable file or cache, [`Error::InvalidModule`]
    /// for bytes that do not validate, [`Error::LimitExceeded`] for a module
    /// over the compile limits, [`Error::ImportNotAllowed`] for an import
    /// the sandbox does not provide.
    pub async fn load_with(
        &self,
        source: impl Into<ModuleSource>,
        options: LoadOptions,
    ) -> Result<Plugin> {
        let source = source.into();
        let given_name = options.name.clone().or_else(|| source.default_name());
        let bytes = source.bytes().await?;
        let (code, hash) = self.compile(bytes, &options).await?;
        let name: Arc<str> = match given_name {
            Some(n) => n.into(),
            None => {
                let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!("module-{hex}").into()
            }
        };
        let plugin = Plugin::new(name, hash, Arc::clone(&self.shared), code);
        self.default.write().get_or_insert_with(|| plugin.clone());
        Ok(plugin)
    }

    async fn compile(&self, bytes: Arc<[u8]>, options: &LoadOptions) -> Result<(Code, [u8; 32])> {
        #[cfg(feature = "preinit")]
        if let Some(init) = &options.preinit {
            return self
                .compile_preinitialized(bytes, init.clone(), options)
                .await;
        }
        #[cfg(feature = "tiering")]
        {
            let policy = match &options.tiering {
                Some(choice) => choice.clone(),
                None => self.shared.tiering.clone(),
            };
            if let Some(policy) = policy {
                let tiered = self.load_tiered(bytes, policy).await?;
                let hash = tiered.module().content_hash();
                return Ok((Code::Tiered(tiered, options.isolation), hash));
            }
        }
        #[cfg(not(feature = "tiering"))]
        let _ = options;
        let core = self.shared.core.clone();
        let cache = self.shared.cache.clone();
        let module = tokio::task::spawn_blocking(move || match cache {
            #[cfg(feature = "cache")]
            Some(cache) => core.compile_cached(&cache, &bytes),
            _ => core.compile(&bytes),
        })
        .await
        .map_err(join_error)??;
        let module = match options.isolation {
            Some(isolation) => module.with_isolation(isolation),
            None => module,
        };
        let hash = module.content_hash();
        Ok((Code::Fixed(module), hash))
    }

    /// Loads the snapshot of `bytes` after `init` (through the cache when
    /// there is one: a hit runs no init step), on the sandbox's tier.
    #[cfg(feature = "preinit")]
    async fn compile_preinitialized(
        &self,
        bytes: Arc<[u8]>,
        init: PreInit,
        options: &LoadOptions,
    ) -> Result<(Code, [u8; 32])> {
        #[cfg(feature = "tiering")]
        if let Some(Some(_)) = &options.tiering {
            return Err(Error::config(
                "a pre-initialized module runs on one tier: its snapshot is compiled once, for \
                 the sandbox's tier; drop `LoadOptions::tiering` or `LoadOptions::preinit`",
            ));
        }
        let core = self.shared.core.clone();
        #[cfg(feature = "cache")]
        let cache = self.shared.cache.clone();
        let module = tokio::task::spawn_blocking(move || {
            #[cfg(feature = "cache")]
            if let Some(cache) = cache {
                return core.compile_preinitialized_cached(&cache, &bytes, &init);
            }
            core.compile_preinitialized(&bytes, &init)
        })
        .await
        .map_err(join_error)??;
        let module = match options.isolation {
            Some(isolation) => module.with_isolation(isolation),
            None => module,
        };
        let hash = module.content_hash();
        Ok((Code::Fixed(module), hash))
    }

    #[cfg(feature = "tiering")]
    async fn load_tiered(
        &self,
        bytes: Arc<[u8]>,
        policy: wasm_sandbox_tiering::TieringPolicy,
    ) -> Result<wasm_sandbox_tiering::TieredModule> {
        let shared = &self.shared;
        let mut b =
            wasm_sandbox_tiering::TieredModule::builder(bytes, shared.core.config().clone())
                .policy(policy);
        if let Some(host) = &shared.host {
            b = b.host(host.clone());
        }
        if let Some(cache) = &shared.cache {
            b = b.with_cache(Arc::clone(cache));
        }
        b.build_async().await
    }

    /// The seed's name for [`WasmSandbox::load`]: compiles through the
    /// compilation cache when `enable_caching` is set (a warm disk hit loads
    /// a verified, memory-mapped artifact instead of compiling).
    ///
    /// # Errors
    ///
    /// As [`WasmSandbox::load`].
    pub async fn compile_with_cache(&self, source: impl Into<ModuleSource>) -> Result<Plugin> {
        self.load(source).await
    }

    /// The compilation cache, when `enable_caching` is set (feature `cache`).
    #[cfg(feature = "cache")]
    pub fn cache(&self) -> Option<&Arc<wasm_sandbox_cache::CompilationCache>> {
        self.shared.cache.as_ref()
    }

    /// The call optimizer, when exports were declared pure (feature
    /// `callopt`).
    #[cfg(feature = "callopt")]
    pub fn call_optimizer(&self) -> Option<&Arc<wasm_sandbox_callopt::CallOptimizer>> {
        self.shared.optimizer.as_ref()
    }

    /// Makes `plugin` the target of the sandbox-level shims
    /// ([`WasmSandbox::call`] and friends).
    pub fn set_default(&self, plugin: &Plugin) {
        *self.default.write() = Some(plugin.clone());
    }

    /// The default plugin: the first loaded, or the one given to
    /// [`WasmSandbox::set_default`].
    pub fn default_plugin(&self) -> Option<Plugin> {
        self.default.read().clone()
    }

    fn target(&self) -> Result<Plugin> {
        self.default_plugin().ok_or_else(|| {
            Error::config("no module loaded: call `load` or `compile_with_cache` first")
        })
    }

    /// Pre-instantiates idle instances of `plugin` (one per core) and
    /// faults in their memory, so first calls pay for neither.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub async fn warmup(&self, plugin: &Plugin) -> Result<()> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        plugin.warmup(n).await
    }

    /// [`Plugin::call`] on the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Plugin::call`].
    pub async fn call<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.target()?.call(export, args).await
    }

    /// [`Plugin::call_batched`] on the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Plugin::call_batched`].
    #[cfg(feature = "batch")]
    pub async fn call_batched<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.target()?.call_batched(export, args).await
    }

    /// [`Plugin::call_typed`] on the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Plugin::call_typed`].
    pub async fn call_typed<P, R>(&self, export: &str, params: P) -> Result<R>
    where
        P: wasmtime::WasmParams + Send + Sync + 'static,
        R: wasmtime::WasmResults + Send + Sync + 'static,
    {
        self.target()?.call_typed(export, params).await
    }

    /// [`Plugin::call_bytes`] on the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Plugin::call_bytes`].
    pub async fn call_bytes(&self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.target()?.call_bytes(export, input).await
    }

    /// [`Plugin::run`] on the default plugin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no module is loaded; as [`Plugin::run`].
    pub async fn run(&self, wasi: &WasiConfig) -> Result<RunOutput> {
        self.target()?.run(wasi).await
    }
}
