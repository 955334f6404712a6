//! [`Plugin`]: one loaded module with every feature of the sandbox, and
//! [`WithState`], its calls with per-call state for the host functions.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_sandbox_core::{
    Codec, Error, Instance, Module, Result, RunOutput, Signature, Tier, Value, WasiConfig, wasmtime,
};

use crate::Shared;

/// A module loaded into a [`WasmSandbox`](crate::WasmSandbox): the handle a
/// plugin host keeps per plugin. Cheap to clone; clones share everything.
///
/// Every call kind works on every plugin, whichever was loaded first:
/// typed ([`Plugin::call_typed`]), serde ([`Plugin::call`]), bytes
/// ([`Plugin::call_bytes`]), dynamically typed ([`Plugin::call_values`]),
/// batched ([`Plugin::call_batched`]) and WASI commands ([`Plugin::run`]),
/// each also with per-call state for the host functions
/// ([`Plugin::with_state`]). Each call gets the sandbox's features:
///
/// * memoization of the exports declared pure
///   ([`WasmSandboxBuilder::pure_export`](crate::WasmSandboxBuilder::pure_export)),
///   keyed by this plugin's content hash;
/// * tiering, when the sandbox or the load asked for it
///   ([`LoadOptions::tiering`]): the plugin's code moves to faster tiers as
///   it gets hot, and every call kind counts;
/// * the compilation cache it was loaded through;
/// * per-plugin counters ([`Plugin::stats`]), also emitted through the
///   `metrics` crate labelled `module = <name>` when the sandbox records
///   metrics.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    hash: [u8; 32],
    shared: Arc<Shared>,
    code: Code,
    counters: Counters,
    #[cfg(feature = "batch")]
    /// An async lock: making a processor waits for its workers to build
    /// their instances, which must not block an async thread.
    batcher: tokio::sync::Mutex<Option<Batcher>>,
}

/// The code calls run on: compiled once, or tiered (a cell that a
/// background compile swaps).
pub(crate) enum Code {
    Fixed(Module),
    /// A tiered module, and the isolation its tiers' calls get (`None`: the
    /// sandbox's).
    #[cfg(feature = "tiering")]
    Tiered(wasm_sandbox_tiering::TieredModule, Option<crate::Isolation>),
}

/// The batch processor of a plugin, with the tier its workers run.
#[cfg(feature = "batch")]
struct Batcher {
    tier: Tier,
    processor: Arc<wasm_sandbox_batch::BatchProcessor<crate::ModuleExecutor>>,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    memo_hits: AtomicU64,
    batched: AtomicU64,
    nanos: AtomicU64,
}

/// What one plugin has done: [`Plugin::stats`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginStats {
    /// The plugin's name.
    pub name: String,
    /// The tier its calls run on now.
    pub tier: Tier,
    /// Calls made through the plugin's call methods (batched ones included).
    pub calls: u64,
    /// Calls that returned an error.
    pub failures: u64,
    /// Calls answered from the memo cache without running the guest.
    pub memo_hits: u64,
    /// Calls made through [`Plugin::call_batched`].
    pub batched_calls: u64,
    /// Wall-clock time of all calls, as their callers saw it.
    pub total_time: Duration,
    /// Tier-ups and per-tier counters, when the plugin tiers.
    #[cfg(feature = "tiering")]
    pub tiering: Option<wasm_sandbox_tiering::TieringStats>,
    /// The batch processor's counters, after the first batched call (and
    /// `None` while it is being made).
    #[cfg(feature = "batch")]
    pub batch: Option<wasm_sandbox_batch::BatchStats>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("tier", &self.tier())
            .finish_non_exhaustive()
    }
}

/// The module calls go to now: borrowed when it never changes, the current
/// tier's when it tiers.
enum Current<'a> {
    Borrowed(&'a Module),
    #[cfg_attr(not(feature = "tiering"), allow(dead_code))]
    Owned(Module),
}

impl std::ops::Deref for Current<'_> {
    type Target = Module;

    fn deref(&self) -> &Module {
        match self {
            Current::Borrowed(m) => m,
            Current::Owned(m) => m,
        }
    }
}

impl Plugin {
    pub(crate) fn new(name: Arc<str>, hash: [u8; 32], shared: Arc<Shared>, code: Code) -> Self {
        Plugin {
            inner: Arc::new(Inner {
                name,
                hash,
                shared,
                code,
                counters: Counters::default(),
                #[cfg(feature = "batch")]
                batcher: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The plugin's name: [`LoadOptions::name`], else the file's stem, else
    /// `module-` and the start of its content hash.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The blake3 hash of the wasm it was loaded from (its identity in the
    /// compilation and memo caches).
    pub fn content_hash(&self) -> [u8; 32] {
        self.inner.hash
    }

    /// The tier its calls run on now.
    pub fn tier(&self) -> Tier {
        self.current().tier()
    }

    /// The core module calls run on now (for a tiering plugin, the current
    /// tier's; calls made through it still count towards tier-up).
    pub fn module(&self) -> Module {
        self.current().clone()
    }

    /// The tiered module behind the plugin, when it tiers: its tier-up
    /// controls and statistics.
    #[cfg(feature = "tiering")]
    pub fn tiering(&self) -> Option<&wasm_sandbox_tiering::TieredModule> {
        match &self.inner.code {
            Code::Tiered(t, _) => Some(t),
            Code::Fixed(_) => None,
        }
    }

    /// Names of the exported functions.
    pub fn function_exports(&self) -> Vec<String> {
        self.current().function_exports()
    }

    /// The signature of an exported function.
    ///
    /// # Errors
    ///
    /// [`Error::MissingExport`] if there is no such function export.
    pub fn signature(&self, export: &str) -> Result<Signature> {
        self.current().signature(export)
    }

    /// An instance of the current tier for the synchronous fast path
    /// ([`Instance::typed`], [`Instance::call`]); it stays on its tier.
    /// Calls on it are not counted in [`Plugin::stats`].
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub fn instantiate(&self) -> Result<Instance> {
        self.current().instantiate()
    }

    /// [`Plugin::instantiate`] for async calls.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate_async`].
    pub async fn instantiate_async(&self) -> Result<Instance> {
        self.module().instantiate_async().await
    }

    /// Pre-instantiates up to `instances` idle instances of the current
    /// tier and faults in their memory, so first calls pay for neither.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub async fn warmup(&self, instances: usize) -> Result<()> {
        self.module().warmup(instances).await
    }

    /// The plugin's counters so far.
    pub fn stats(&self) -> PluginStats {
        let c = &self.inner.counters;
        PluginStats {
            name: self.inner.name.to_string(),
            tier: self.tier(),
            calls: c.calls.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            memo_hits: c.memo_hits.load(Ordering::Relaxed),
            batched_calls: c.batched.load(Ordering::Relaxed),
            total_time: Duration::from_nanos(c.nanos.load(Ordering::Relaxed)),
            #[cfg(feature = "tiering")]
            tiering: self.tiering().map(|t| t.stats()),
            #[cfg(feature = "batch")]
            // `None` also while the first processor is being made.
            batch: self
                .inner
                .batcher
                .try_lock()
                .ok()
                .and_then(|slot| slot.as_ref().map(|b| b.processor.stats())),
        }
    }

    /// Calls with `state` given to the host functions for the duration of
    /// the call ([`HostContext::state`](crate::HostContext::state)): the
    /// tenant, the request. The state must be of the type the sandbox's
    /// [`HostFunctions`](crate::HostFunctions) read. It is set on the
    /// instance the call runs on and dropped when the call ends, before the
    /// instance serves anyone else. Calls with state are never memoized,
    /// even of an export declared pure: the host functions may answer each
    /// tenant differently, and a memo key knows nothing of the state.
    pub fn with_state<S: std::any::Any + Send>(&self, state: S) -> WithState<'_, S> {
        WithState {
            plugin: self,
            state: Some(state),
        }
    }

    fn plain(&self) -> WithState<'_, ()> {
        WithState {
            plugin: self,
            state: None,
        }
    }

    /// Calls an export with serde values, encoded with the sandbox's codec.
    ///
    /// # Errors
    ///
    /// As [`Module::call`]: the guest's failures ([`Error::Trap`],
    /// [`Error::Timeout`], [`Error::OutOfFuel`], [`Error::LimitExceeded`]),
    /// [`Error::Guest`] for an error it reports, [`Error::Abi`] and
    /// [`Error::Codec`], and a host function's own error unchanged.
    pub async fn call<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.plain().call(export, args).await
    }

    /// Calls an export with raw bytes in and out (`docs/abi.md`).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`], without [`Error::Codec`].
    pub async fn call_bytes(&self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.plain().call_bytes(export, input).await
    }

    /// Calls a scalar export with typed parameters and results.
    ///
    /// # Errors
    ///
    /// As [`Module::call_typed`].
    pub async fn call_typed<P, R>(&self, export: &str, params: P) -> Result<R>
    where
        P: wasmtime::WasmParams + Send + Sync + 'static,
        R: wasmtime::WasmResults + Send + Sync + 'static,
    {
        self.plain().call_typed(export, params).await
    }

    /// Calls an export with scalar values whose types are known only at run
    /// time.
    ///
    /// # Errors
    ///
    /// As [`Module::call_values`].
    pub async fn call_values(&self, export: &str, args: &[Value]) -> Result<Vec<Value>> {
        self.plain().call_values(export, args).await
    }

    /// Runs the plugin as a WASI command with `wasi`'s arguments,
    /// environment, directories and stdio.
    ///
    /// # Errors
    ///
    /// As [`Module::run`].
    pub async fn run(&self, wasi: &WasiConfig) -> Result<RunOutput> {
        self.plain().run(wasi).await
    }

    /// Queues a serde call for batched execution and waits for its result.
    /// Calls are flushed when `batch_size` are waiting or the oldest has
    /// waited `batch_timeout`, grouped by export and run on worker threads,
    /// one instance each; an export `f` whose guest also exports `f__batch`
    /// runs a whole batch in one guest call (`docs/abi.md`). An export
    /// declared pure is looked up in the memo cache first (shared with
    /// [`Plugin::call`]). The workers run the tier that was current at the
    /// first batched call; after a tier-up, the next batched call starts
    /// new workers on the new tier. Batched calls carry no per-call state.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] when the queue is full, and the call's own
    /// errors as for [`Plugin::call`]; a failing call fails alone.
    #[cfg(feature = "batch")]
    pub async fn call_batched<A, R>(&self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let codec = self.codec();
        let input = bytes::Bytes::from(codec.encode(args)?);
        let (tier, processor) = self.batcher().await?;
        let start = Instant::now();
        let execute = async {
            processor
                .call_batched(export, input.clone())
                .await
                .map_err(crate::batching::convert)
        };
        let (r, hit) = self.memoized(export, &input, execute).await;
        // Batch workers call instances directly: count the call for tiering.
        #[cfg(feature = "tiering")]
        if !hit && let Some(t) = self.tiering() {
            t.record_calls(export, tier, 1, start.elapsed());
        }
        #[cfg(not(feature = "tiering"))]
        let _ = tier;
        self.inner.counters.batched.fetch_add(1, Ordering::Relaxed);
        self.record(start, r.as_ref().map(|_| ()), hit);
        codec.decode(&r?)
    }

    /// The plugin's batch processor on the current tier, made on first use
    /// and again after a tier-up.
    #[cfg(feature = "batch")]
    async fn batcher(
        &self,
    ) -> Result<(
        Tier,
        Arc<wasm_sandbox_batch::BatchProcessor<crate::ModuleExecutor>>,
    )> {
        let module = self.module();
        let tier = module.tier();
        let mut slot = self.inner.batcher.lock().await;
        if let Some(b) = slot.as_ref()
            && b.tier == tier
        {
            return Ok((tier, Arc::clone(&b.processor)));
        }
        // The workers instantiate the module before `new` returns: on a
        // blocking thread, so that no async thread waits for them.
        let executor = crate::ModuleExecutor::new(module);
        let config = self.inner.shared.batching.clone();
        let processor = tokio::task::spawn_blocking(move || {
            wasm_sandbox_batch::BatchProcessor::new(executor, config)
        })
        .await
        .map_err(crate::join_error)?
        .map_err(crate::batching::convert)?;
        let processor = Arc::new(processor);
        *slot = Some(Batcher {
            tier,
            processor: Arc::clone(&processor),
        });
        Ok((tier, processor))
    }

    fn current(&self) -> Current<'_> {
        match &self.inner.code {
            Code::Fixed(m) => Current::Borrowed(m),
            #[cfg(feature = "tiering")]
            Code::Tiered(t, isolation) => Current::Owned(match isolation {
                Some(i) => t.module().with_isolation(*i),
                None => t.module(),
            }),
        }
    }

    fn codec(&self) -> Codec {
        self.inner.shared.codec
    }

    /// Whether `export`'s calls go through the memo cache.
    fn is_pure(&self, export: &str) -> bool {
        #[cfg(feature = "callopt")]
        if let Some(opt) = &self.inner.shared.optimizer {
            return opt.route(export) == wasm_sandbox_callopt::Route::Memoized;
        }
        let _ = export;
        false
    }

    /// Runs `execute` (a call of `export` with encoded `input`) through the
    /// memo cache; returns its result and whether it was a hit.
    async fn memoized(
        &self,
        export: &str,
        input: &[u8],
        execute: impl Future<Output = Result<Vec<u8>>>,
    ) -> (Result<Arc<[u8]>>, bool) {
        #[cfg(feature = "callopt")]
        if let Some(opt) = &self.inner.shared.optimizer {
            let ran = std::sync::atomic::AtomicBool::new(false);
            let execute = async {
                ran.store(true, Ordering::Relaxed);
                execute.await
            };
            let r = opt
                .call_async(&self.inner.hash, export, input, execute)
                .await;
            let hit = r.is_ok() && !ran.load(Ordering::Relaxed);
            return (r, hit);
        }
        let _ = (export, input);
        (execute.await.map(Arc::from), false)
    }

    /// Counts one call that started at `start`.
    fn record(&self, start: Instant, outcome: std::result::Result<(), &Error>, memo_hit: bool) {
        let elapsed = start.elapsed();
        let c = &self.inner.counters;
        c.calls.fetch_add(1, Ordering::Relaxed);
        c.nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let failed = outcome.is_err();
        if failed {
            c.failures.fetch_add(1, Ordering::Relaxed);
        }
        if memo_hit {
            c.memo_hits.fetch_add(1, Ordering::Relaxed);
        }
        if self.inner.shared.metrics {
            let label = || metrics::SharedString::from_shared(Arc::clone(&self.inner.name));
            metrics::counter!("wasm_sandbox_module_calls_total", "module" => label()).increment(1);
            metrics::histogram!("wasm_sandbox_module_call_seconds", "module" => label())
                .record(elapsed.as_secs_f64());
            if failed {
                metrics::counter!("wasm_sandbox_module_failures_total", "module" => label())
                    .increment(1);
            }
            if memo_hit {
                metrics::counter!("wasm_sandbox_module_memo_hits_total", "module" => label())
                    .increment(1);
            }
        }
    }

    /// Runs one call (the future `call` makes) and counts it.
    ///
    /// It takes a closure rather than the future itself: an async fn's
    /// future holds a future argument twice (once as the argument, once
    /// being awaited), and a call's future is a few kilobytes, copied on
    /// every move.
    async fn observe<T, F>(&self, call: impl FnOnce() -> F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let start = Instant::now();
        let r = call().await;
        self.record(start, r.as_ref().map(|_| ()), false);
        r
    }
}

/// Calls of a [`Plugin`] that carry state of type `S` for the host
/// functions: [`Plugin::with_state`]. Each method is the plugin's method of
/// the same name, and consumes the state.
#[must_use = "make a call with it"]
pub struct WithState<'p, S> {
    plugin: &'p Plugin,
    state: Option<S>,
}

impl<S> std::fmt::Debug for WithState<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithState")
            .field("plugin", self.plugin)
            .field("state", &std::any::type_name::<S>())
            .finish()
    }
}

impl<S: std::any::Any + Send> WithState<'_, S> {
    /// [`Plugin::call`] with the state.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`], and [`Error::Config`] for state of another type
    /// than the host functions read.
    pub async fn call<A, R>(self, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let p = self.plugin;
        let codec = p.codec();
        if p.is_pure(export) && self.state.is_none() {
            let input = codec.encode(args)?;
            // Boxed: the memo cache's future is many kilobytes, and inline it
            // would make every call's future as large, copied on every move
            // (an executor's `block_on` moves it twice).
            let out = Box::pin(self.memo_bytes(export, &input)).await?;
            return codec.decode(&out);
        }
        let module = p.current();
        p.observe(|| module.with_state_opt(self.state).call(codec, export, args))
            .await
    }

    /// [`Plugin::call_bytes`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call`].
    pub async fn call_bytes(self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        let p = self.plugin;
        if p.is_pure(export) && self.state.is_none() {
            // Boxed, as in `WithState::call`.
            return Box::pin(self.memo_bytes(export, input))
                .await
                .map(|b| b.to_vec());
        }
        let module = p.current();
        p.observe(|| module.with_state_opt(self.state).call_bytes(export, input))
            .await
    }

    /// [`Plugin::call_typed`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call`].
    pub async fn call_typed<P, R>(self, export: &str, params: P) -> Result<R>
    where
        P: wasmtime::WasmParams + Send + Sync + 'static,
        R: wasmtime::WasmResults + Send + Sync + 'static,
    {
        let module = self.plugin.current();
        self.plugin
            .observe(|| module.with_state_opt(self.state).call_typed(export, params))
            .await
    }

    /// [`Plugin::call_values`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call`].
    pub async fn call_values(self, export: &str, args: &[Value]) -> Result<Vec<Value>> {
        let module = self.plugin.current();
        self.plugin
            .observe(|| module.with_state_opt(self.state).call_values(export, args))
            .await
    }

    /// [`Plugin::run`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call`] and [`Module::run`].
    pub async fn run(self, wasi: &WasiConfig) -> Result<RunOutput> {
        let module = self.plugin.current();
        self.plugin
            .observe(|| module.with_state_opt(self.state).run(wasi))
            .await
    }

    /// A bytes call of a pure export through the memo cache, counted.
    async fn memo_bytes(self, export: &str, input: &[u8]) -> Result<Arc<[u8]>> {
        let p = self.plugin;
        let start = Instant::now();
        let module = p.current();
        let execute = module.with_state_opt(self.state).call_bytes(export, input);
        let (r, hit) = p.memoized(export, input, execute).await;
        p.record(start, r.as_ref().map(|_| ()), hit);
        r
    }
}

/// How [`WasmSandbox::load_with`](crate::WasmSandbox::load_with) loads one
/// module.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    pub(crate) name: Option<String>,
    pub(crate) isolation: Option<crate::Isolation>,
    #[cfg(feature = "preinit")]
    pub(crate) preinit: Option<crate::PreInit>,
    #[cfg(feature = "tiering")]
    pub(crate) tiering: Option<Option<wasm_sandbox_tiering::TieringPolicy>>,
}

impl LoadOptions {
    /// The sandbox's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plugin's name in its stats and metrics labels.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How the plugin's calls share instances, in place of the sandbox's
    /// default ([`WasmSandboxBuilder::fresh_instance_per_call`](crate::WasmSandboxBuilder::fresh_instance_per_call)):
    /// [`Isolation::Fresh`](crate::Isolation::Fresh) runs every call, batched
    /// ones included, on an instance made for it and thrown away after it.
    #[must_use]
    pub fn isolation(mut self, isolation: crate::Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// Untrusted, multi-tenant calls: each in pristine state, on an instance
    /// made from the (pre-initialized, when [`LoadOptions::preinit`] is set)
    /// module and thrown away after it. Short for
    /// `isolation(Isolation::Fresh)`.
    #[must_use]
    pub fn fresh(self) -> Self {
        self.isolation(crate::Isolation::Fresh)
    }

    /// Pre-initializes the module at load time: `init` runs once, under the
    /// sandbox's limits, and the plugin is the snapshot of its memories and
    /// globals afterwards, so every instance starts initialized
    /// ([`Sandbox::preinitialize`](crate::core::Sandbox::preinitialize) has
    /// the rules). With the compilation cache on, the snapshot's artifact is
    /// cached under the module's digest and `init` (its export and
    /// argument): a process that finds it runs no init step. A
    /// pre-initialized plugin runs on the sandbox's tier (it does not tier).
    /// Needs the `preinit` feature.
    #[cfg(feature = "preinit")]
    #[must_use]
    pub fn preinit(mut self, init: crate::PreInit) -> Self {
        self.preinit = Some(init);
        self
    }

    /// Tiers this module with `policy` (starting on its first tier, Winch
    /// by default, and moving up in the background once hot), whatever the
    /// sandbox's default. Needs the `tiering` feature.
    #[cfg(feature = "tiering")]
    #[must_use]
    pub fn tiering(mut self, policy: wasm_sandbox_tiering::TieringPolicy) -> Self {
        self.tiering = Some(Some(policy));
        self
    }

    /// Compiles this module once, for the sandbox's tier, even when the
    /// sandbox tiers by default.
    #[cfg(feature = "tiering")]
    #[must_use]
    pub fn no_tiering(mut self) -> Self {
        self.tiering = Some(None);
        self
    }
}
