//! [`TieredModule`] and its builder.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};
use wasm_sandbox_core::{
    CallObserver, Error, HostSet, Instance, Module, Result, Sandbox, SandboxConfig, Tier,
};

#[cfg(feature = "cache")]
use wasm_sandbox_cache::CompilationCache;

use crate::policy::{Threshold, TieringPolicy, next_tier};
use crate::pool::CompilePool;
use crate::stats::{CompileFailure, CompileRecord, ExportStats, TierCalls, TieringStats};
use crate::supports::{first_supported, supports};

/// An observer called on the compiling thread right before each background
/// compile, with the tier about to be compiled. For tracing and tests (a
/// test can hold a compile back with a barrier); it must not call into the
/// module it observes.
pub type CompileHook = Arc<dyn Fn(Tier) + Send + Sync>;

/// Builds a [`TieredModule`]; see [`TieredModule::builder`].
#[must_use = "call `build` to compile the module"]
pub struct TieredModuleBuilder {
    wasm: Arc<[u8]>,
    config: SandboxConfig,
    policy: TieringPolicy,
    host: Option<HostSet>,
    #[cfg(feature = "cache")]
    cache: Option<Arc<CompilationCache>>,
    pool: Option<CompilePool>,
    hook: Option<CompileHook>,
}

impl std::fmt::Debug for TieredModuleBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredModuleBuilder")
            .field("wasm_len", &self.wasm.len())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TieredModuleBuilder {
    /// Sets the tiering policy. Default: [`TieringPolicy::default`]
    /// (stepwise from [`Tier::Baseline`], the seed's thresholds).
    pub fn policy(mut self, policy: TieringPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Adds host functions (a `HostFunctions`, or a `HostSet` made from
    /// one); they are linked into every tier's sandbox. Default: none.
    pub fn host(mut self, host: impl Into<HostSet>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Compiles every tier through `cache` (the tier's name is part of the
    /// key), and starts on the best tier the cache already holds. Default: no
    /// cache. Needs the `cache` feature.
    #[cfg(feature = "cache")]
    pub fn with_cache(mut self, cache: Arc<CompilationCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Compiles tier-ups on `pool`. Default: [`CompilePool::global`].
    pub fn pool(mut self, pool: CompilePool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Calls `hook` on the compiling thread before each background compile.
    /// Default: none.
    pub fn on_background_compile(mut self, hook: CompileHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Compiles the start tier on this thread and returns the module; a
    /// tier-up whose threshold is immediate is queued before returning.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no tier between the policy's start and top
    /// tiers supports the configuration (see [`crate::supports`]) or the
    /// engine cannot be built; [`Error::InvalidModule`] and
    /// [`Error::ImportNotAllowed`] as for `Sandbox::compile`, when every
    /// candidate start tier fails to compile the module;
    /// [`Error::LimitExceeded`] when the module is over the configuration's
    /// compile limits (`SandboxConfig::compile_limits`), before any tier
    /// compiles.
    pub fn build(self) -> Result<TieredModule> {
        TieredModule::from_builder(self)
    }

    /// [`build`](Self::build) on tokio's blocking pool, for async callers.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build); [`Error::Engine`] if the blocking task
    /// panicked or was cancelled.
    pub async fn build_async(self) -> Result<TieredModule> {
        tokio::task::spawn_blocking(move || self.build())
            .await
            .map_err(|e| Error::Engine {
                reason: format!("the compile task failed: {e}").into(),
            })?
    }
}

/// A module that runs on a fast-compiling tier first and is recompiled, as a
/// whole, on better tiers in the background as it gets hot.
///
/// Cheap to clone; clones share the tiers, counters and tier-up state. See
/// the [crate documentation](crate) for the design.
#[derive(Clone)]
pub struct TieredModule {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TieredModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredModule")
            .field("tier", &self.current_tier())
            .field("policy", &self.shared.comp.policy)
            .finish_non_exhaustive()
    }
}

/// The tier new calls use, swapped as a whole.
struct Current {
    tier: Tier,
    module: Module,
    /// When this tier was installed.
    since: Instant,
    /// The next tier-up: its target tier and the threshold to leave this tier.
    next: Option<(Tier, Threshold)>,
}

#[derive(Default)]
struct ExportCounters {
    calls_on_tier: AtomicU64,
    calls: AtomicU64,
    nanos: AtomicU64,
}

/// Everything needed to compile a tier.
struct Compiler {
    wasm: Arc<[u8]>,
    hash: [u8; 32],
    config: SandboxConfig,
    policy: TieringPolicy,
    host: Option<HostSet>,
    #[cfg(feature = "cache")]
    cache: Option<Arc<CompilationCache>>,
    sandboxes: [OnceLock<Sandbox>; 4],
    compiles: Mutex<Vec<CompileRecord>>,
    failures: Mutex<Vec<CompileFailure>>,
}

struct Shared {
    comp: Compiler,
    pool: CompilePool,
    hook: Option<CompileHook>,
    current: ArcSwap<Current>,
    start_tier: Tier,
    export_index: HashMap<Box<str>, usize>,
    export_names: Box<[Box<str>]>,
    counters: Box<[ExportCounters]>,
    tier_calls: [AtomicU64; 4],
    flushed_calls: [AtomicU64; 4],
    tier_ups: AtomicU64,
    pending: AtomicBool,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

fn tier_index(tier: Tier) -> usize {
    match tier {
        Tier::Interpreter => 0,
        Tier::Baseline => 1,
        Tier::Optimized => 2,
        Tier::HighlyOptimized => 3,
    }
}

impl TieredModule {
    /// A builder for the module `wasm` (binary or text) in sandboxes
    /// configured by `config`.
    pub fn builder(wasm: impl Into<Arc<[u8]>>, config: SandboxConfig) -> TieredModuleBuilder {
        TieredModuleBuilder {
            wasm: wasm.into(),
            config,
            policy: TieringPolicy::default(),
            host: None,
            #[cfg(feature = "cache")]
            cache: None,
            pool: None,
            hook: None,
        }
    }

    /// Compiles `wasm` on `policy`'s start tier, with no host functions, no
    /// cache and the global compile pool.
    ///
    /// # Errors
    ///
    /// As [`TieredModuleBuilder::build`].
    pub fn new(
        wasm: impl Into<Arc<[u8]>>,
        config: SandboxConfig,
        policy: TieringPolicy,
    ) -> Result<Self> {
        Self::builder(wasm, config).policy(policy).build()
    }

    fn from_builder(b: TieredModuleBuilder) -> Result<Self> {
        let policy = b.policy;
        let config = b.config;
        let top = policy.top_tier();
        let first = first_supported(policy.start_tier(), top, &config).ok_or_else(|| {
            let why = supports(policy.start_tier(), &config)
                .err()
                .map_or_else(String::new, |u| format!(" ({u})"));
            Error::config(format!(
                "no tier from {} to {top} can honour this sandbox's configuration{why}",
                policy.start_tier()
            ))
        })?;
        // The compile limits, checked once for every tier: the bytes and the
        // configuration (hence each tier's limits) never change, so this
        // covers the start tier and every background tier-up, through the
        // cache or not (`Sandbox::compile` checks again without a cache; the
        // cache, which does not depend on the core, cannot check at all).
        // Warm cache hits are checked too, so the outcome does not depend on
        // what the cache holds.
        wasm_sandbox_core::check_module(&b.wasm, &config.compile_limits)?;
        let comp = Compiler {
            hash: *blake3::hash(&b.wasm).as_bytes(),
            wasm: b.wasm,
            config,
            policy,
            host: b.host,
            #[cfg(feature = "cache")]
            cache: b.cache,
            sandboxes: Default::default(),
            compiles: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
        };

        // Start on the best tier already in the cache, else on the first
        // supported tier; if that fails for a reason another tier may not
        // have (Winch lacks some proposals), try the next one up.
        let cached = comp.best_cached_tier(first, top);
        let mut candidates: Vec<Tier> = Tier::ALL
            .into_iter()
            .filter(|t| *t >= first && *t <= top && supports(*t, &comp.config).is_ok())
            .collect();
        if let Some(c) = cached {
            candidates.retain(|t| *t != c);
            candidates.insert(0, c);
        }
        let mut first_error = None;
        let mut started = None;
        for tier in candidates {
            match comp.compile(tier, false) {
                Ok(module) => {
                    started = Some((tier, module));
                    break;
                }
                // Import and validation errors are the same on every tier,
                // except that Winch rejects a few proposals the others accept.
                Err(e @ Error::ImportNotAllowed { .. }) => return Err(e),
                Err(e @ Error::InvalidModule { .. }) if tier != Tier::Baseline => return Err(e),
                Err(e) => {
                    comp.record_failure(tier, &e);
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some((tier, module)) = started else {
            return Err(
                first_error.unwrap_or_else(|| Error::config("no tier could compile the module"))
            );
        };
        let names = module.function_exports();
        let next = comp.next_target(tier);
        let shared = Arc::new_cyclic(|weak| Shared {
            export_index: names
                .iter()
                .enumerate()
                .map(|(i, n)| (Box::<str>::from(n.as_str()), i))
                .collect(),
            counters: names.iter().map(|_| ExportCounters::default()).collect(),
            export_names: names.into_iter().map(Box::<str>::from).collect(),
            comp,
            pool: b.pool.unwrap_or_else(|| CompilePool::global().clone()),
            hook: b.hook,
            current: ArcSwap::from_pointee(Current {
                tier,
                module: TierObserver::attach(module, weak, tier),
                since: Instant::now(),
                next,
            }),
            start_tier: tier,
            tier_calls: Default::default(),
            flushed_calls: Default::default(),
            tier_ups: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
        });
        if let Some((_, threshold)) = next
            && threshold.is_immediate()
        {
            Shared::enqueue(&shared);
        }
        Ok(TieredModule { shared })
    }

    /// The tier new calls and new instances use.
    pub fn current_tier(&self) -> Tier {
        self.shared.current.load().tier
    }

    /// The core module of the current tier (an `Arc` clone), for calls:
    /// every call made through its call methods (`call_typed`, `call_bytes`,
    /// `call`, `call_values`, `run`, `with_state`) is counted towards
    /// tier-up, on the tier it ran on. Instances made from it stay on its
    /// tier; calls on them are counted only when reported with
    /// [`TieredModule::record_calls`]. Take the module again for each call
    /// (or batch of calls) to follow tier-ups.
    pub fn module(&self) -> Module {
        self.shared.current.load().module.clone()
    }

    /// The policy.
    pub fn policy(&self) -> &TieringPolicy {
        &self.shared.comp.policy
    }

    /// The sandbox configuration every tier runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.comp.config
    }

    /// Names of the exported functions.
    pub fn function_exports(&self) -> Vec<String> {
        self.shared
            .export_names
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// Instantiates the current tier for synchronous calls: the fast path.
    ///
    /// The instance stays on the tier it was made from for its whole life
    /// (`instance.module().tier()` tells which); instantiate again to pick up
    /// a tier-up. Calls made on it are not seen by the tiering counters
    /// unless reported with [`TieredModule::record_calls`].
    ///
    /// # Errors
    ///
    /// As `Module::instantiate`.
    pub fn instantiate(&self) -> Result<Instance> {
        let module = self.module();
        module.instantiate()
    }

    /// Instantiates the current tier for async calls; see
    /// [`TieredModule::instantiate`].
    ///
    /// # Errors
    ///
    /// As `Module::instantiate_async`.
    pub async fn instantiate_async(&self) -> Result<Instance> {
        let module = self.module();
        module.instantiate_async().await
    }

    /// Reports `calls` calls of `export` that took `elapsed` in total, made on
    /// an instance of `tier` from [`TieredModule::instantiate`], so that the
    /// sync fast path tiers up too. May queue a tier-up; never blocks.
    /// Unknown exports are ignored.
    pub fn record_calls(&self, export: &str, tier: Tier, calls: u64, elapsed: Duration) {
        let cur = self.shared.current.load();
        self.shared.record(export, tier, calls, elapsed, &cur);
    }

    /// Queues a tier-up to the next tier now, whatever the thresholds say.
    /// Returns `false` if one is already pending or there is no higher tier.
    pub fn request_tier_up(&self) -> bool {
        if self.shared.current.load().next.is_none() {
            return false;
        }
        Shared::enqueue(&self.shared)
    }

    /// True while a tier-up is queued or compiling.
    pub fn tier_up_pending(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire)
    }

    /// Blocks until no tier-up is pending, or `timeout` passes; returns
    /// whether the module is idle. For tests, benchmarks and orderly
    /// shutdown; do not call it on an async runtime's thread.
    pub fn wait_for_tier_up(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.shared.idle_lock.lock();
        while self.shared.pending.load(Ordering::Acquire) {
            if self
                .shared
                .idle
                .wait_until(&mut guard, deadline)
                .timed_out()
            {
                return !self.shared.pending.load(Ordering::Acquire);
            }
        }
        true
    }

    /// A snapshot of the tiering counters. Also publishes the calls served
    /// per tier to the `metrics` facade.
    pub fn stats(&self) -> TieringStats {
        let s = &self.shared;
        s.flush_call_metrics();
        let cur = s.current.load();
        TieringStats {
            current_tier: cur.tier,
            start_tier: s.start_tier,
            next_tier: cur.next.map(|(t, _)| t),
            tier_up_pending: s.pending.load(Ordering::Acquire),
            tier_ups: s.tier_ups.load(Ordering::Relaxed),
            compiles: s.comp.compiles.lock().clone(),
            failures: s.comp.failures.lock().clone(),
            calls_per_tier: Tier::ALL
                .into_iter()
                .map(|tier| TierCalls {
                    tier,
                    calls: s.tier_calls[tier_index(tier)].load(Ordering::Relaxed),
                })
                .filter(|c| c.calls > 0)
                .collect(),
            exports: s
                .export_names
                .iter()
                .zip(s.counters.iter())
                .map(|(name, c)| ExportStats {
                    name: name.to_string(),
                    calls: c.calls.load(Ordering::Relaxed),
                    calls_on_current_tier: c.calls_on_tier.load(Ordering::Relaxed),
                    total_time: Duration::from_nanos(c.nanos.load(Ordering::Relaxed)),
                })
                .collect(),
        }
    }
}

impl Compiler {
    /// The sandbox (engine and linker) of `tier`, built on first use.
    fn sandbox(&self, tier: Tier) -> Result<&Sandbox> {
        let slot = &self.sandboxes[tier_index(tier)];
        if let Some(s) = slot.get() {
            return Ok(s);
        }
        let sandbox = Sandbox::with_tier(self.config.clone(), tier, self.host.clone())?;
        Ok(slot.get_or_init(|| sandbox))
    }

    #[cfg(feature = "cache")]
    fn best_cached_tier(&self, first: Tier, top: Tier) -> Option<Tier> {
        let cache = self.cache.as_ref()?;
        let digest = wasm_sandbox_cache::WasmDigest::from_bytes(self.hash);
        Tier::ALL.into_iter().rev().find(|&tier| {
            tier >= first
                && tier <= top
                && supports(tier, &self.config).is_ok()
                && self
                    .sandbox(tier)
                    .is_ok_and(|sb| sb.is_cached(cache, &digest))
        })
    }

    #[cfg(not(feature = "cache"))]
    fn best_cached_tier(&self, _first: Tier, _top: Tier) -> Option<Tier> {
        None
    }

    /// Compiles (or loads from the cache) the module at `tier`, and records it.
    fn compile(&self, tier: Tier, background: bool) -> Result<Module> {
        let sandbox = self.sandbox(tier)?;
        let start = Instant::now();
        let (module, from_cache) = self.compile_on(sandbox, tier)?;
        let duration = start.elapsed();
        metrics::histogram!(
            "wasm_sandbox_tiering_compile_seconds",
            "tier" => tier.name(),
            "kind" => if background { "tier_up" } else { "start" },
        )
        .record(duration.as_secs_f64());
        tracing::debug!(%tier, ?duration, from_cache, background, "compiled a tier");
        self.compiles.lock().push(CompileRecord {
            tier,
            duration,
            from_cache,
            background,
        });
        Ok(module)
    }

    #[cfg(feature = "cache")]
    fn compile_on(&self, sandbox: &Sandbox, _tier: Tier) -> Result<(Module, bool)> {
        let Some(cache) = &self.cache else {
            return Ok((sandbox.compile(&self.wasm)?, false));
        };
        let digest = wasm_sandbox_cache::WasmDigest::from_bytes(self.hash);
        let from_cache = sandbox.is_cached(cache, &digest);
        let module = sandbox.compile_cached_digest(cache, &self.wasm, &digest)?;
        Ok((module, from_cache))
    }

    #[cfg(not(feature = "cache"))]
    fn compile_on(&self, sandbox: &Sandbox, _tier: Tier) -> Result<(Module, bool)> {
        Ok((sandbox.compile(&self.wasm)?, false))
    }

    fn record_failure(&self, tier: Tier, e: &Error) {
        tracing::warn!(%tier, error = %e, "a tier failed to compile the module; it will not be tried again");
        metrics::counter!("wasm_sandbox_tiering_compile_failures_total", "tier" => tier.name())
            .increment(1);
        self.failures.lock().push(CompileFailure {
            tier,
            error: e.to_string(),
        });
    }

    /// The next tier-up from `tier`: the policy's target, skipping tiers that
    /// cannot honour the configuration or already failed.
    fn next_target(&self, tier: Tier) -> Option<(Tier, Threshold)> {
        let threshold = self.policy.threshold(tier)?;
        let mut target = self.policy.target_after(tier)?;
        let failures = self.failures.lock();
        loop {
            let failed = failures.iter().any(|f| f.tier == target);
            if !failed && supports(target, &self.config).is_ok() {
                return Some((target, threshold));
            }
            target = next_tier(target).filter(|t| *t <= self.policy.top_tier())?;
        }
    }
}

impl Shared {
    /// Counts calls; queues a tier-up when the current tier's threshold is met.
    #[inline]
    fn record(
        self: &Arc<Self>,
        export: &str,
        tier: Tier,
        calls: u64,
        elapsed: Duration,
        cur: &Current,
    ) {
        let Some(&i) = self.export_index.get(export) else {
            return;
        };
        let c = &self.counters[i];
        c.calls.fetch_add(calls, Ordering::Relaxed);
        c.nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.tier_calls[tier_index(tier)].fetch_add(calls, Ordering::Relaxed);
        // Calls on an older tier than the current one do not count towards
        // leaving the current one.
        if tier != cur.tier {
            return;
        }
        let on_tier = c.calls_on_tier.fetch_add(calls, Ordering::Relaxed) + calls;
        let Some((_, threshold)) = cur.next else {
            return;
        };
        if on_tier >= threshold.calls
            && !self.pending.load(Ordering::Relaxed)
            && cur.since.elapsed() >= threshold.min_interval
        {
            Shared::enqueue(self);
        }
    }

    /// Queues the next tier-up unless one is pending. Never blocks.
    fn enqueue(this: &Arc<Self>) -> bool {
        if this
            .pending
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let weak = Arc::downgrade(this);
        if this.pool.submit(Box::new(move || tier_up(weak))).is_err() {
            this.finish_pending();
            return false;
        }
        true
    }

    fn finish_pending(&self) {
        let _guard = self.idle_lock.lock();
        self.pending.store(false, Ordering::Release);
        self.idle.notify_all();
    }

    /// Publishes the calls served per tier since the last flush.
    fn flush_call_metrics(&self) {
        for tier in Tier::ALL {
            let i = tier_index(tier);
            let total = self.tier_calls[i].load(Ordering::Relaxed);
            let before = self.flushed_calls[i].swap(total, Ordering::Relaxed);
            if total > before {
                metrics::counter!("wasm_sandbox_tiering_calls_total", "tier" => tier.name())
                    .increment(total - before);
            }
        }
    }
}

/// Counts the calls made through one tier's module towards tier-up.
struct TierObserver {
    shared: Weak<Shared>,
    tier: Tier,
}

impl TierObserver {
    /// `module` (of `tier`) with its calls counted. The observer holds the
    /// tiered module weakly: the current tier's module is inside it.
    fn attach(module: Module, shared: &Weak<Shared>, tier: Tier) -> Module {
        module.observed(Arc::new(TierObserver {
            shared: Weak::clone(shared),
            tier,
        }))
    }
}

impl CallObserver for TierObserver {
    fn on_call(&self, export: &str, elapsed: Duration, _outcome: std::result::Result<(), &Error>) {
        if let Some(shared) = self.shared.upgrade() {
            let cur = shared.current.load();
            shared.record(export, self.tier, 1, elapsed, &cur);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.flush_call_metrics();
    }
}

/// The background job: compile the next tier and swap it in.
fn tier_up(weak: Weak<Shared>) {
    // The module may have been dropped while the job waited in the queue.
    let Some(shared) = weak.upgrade() else {
        return;
    };
    let cur = shared.current.load_full();
    if let Some((target, _)) = cur.next {
        if let Some(hook) = &shared.hook {
            hook(target);
        }
        match shared.comp.compile(target, true) {
            Ok(module) => {
                let module = TierObserver::attach(module, &Arc::downgrade(&shared), target);
                let next = shared.comp.next_target(target);
                for c in shared.counters.iter() {
                    c.calls_on_tier.store(0, Ordering::Relaxed);
                }
                shared.current.store(Arc::new(Current {
                    tier: target,
                    module,
                    since: Instant::now(),
                    next,
                }));
                shared.tier_ups.fetch_add(1, Ordering::Relaxed);
                shared.flush_call_metrics();
                metrics::counter!("wasm_sandbox_tiering_tier_ups_total", "to" => target.name())
                    .increment(1);
                tracing::debug!(from = %cur.tier, to = %target, "tiered up");
                // Chain an immediate threshold (e.g. stepwise with zero thresholds).
                if let Some((_, t)) = next
                    && t.is_immediate()
                {
                    shared.finish_pending();
                    Shared::enqueue(&shared);
                    return;
                }
            }
            Err(e) => {
                shared.comp.record_failure(target, &e);
                let next = shared.comp.next_target(cur.tier);
                shared.current.store(Arc::new(Current {
                    tier: cur.tier,
                    module: cur.module.clone(),
                    since: cur.since,
                    next,
                }));
            }
        }
    }
    shared.finish_pending();
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_sandbox_core::{CompileLimits, Resource};

    /// A module over the compile limits is refused before any tier compiles,
    /// with or without the cache, whatever the start tier.
    #[test]
    fn the_compile_limits_hold_on_every_path() {
        let config = SandboxConfig {
            compile_limits: CompileLimits {
                max_functions: 2,
                ..CompileLimits::default()
            },
            ..SandboxConfig::default()
        };
        let wasm: Arc<[u8]> = Arc::from(&b"(module (func) (func) (func))"[..]);
        let refused = |r: Result<TieredModule>| match r {
            Err(Error::LimitExceeded {
                resource: Resource::Functions,
                requested: 3,
                limit: 2,
            }) => {}
            Err(other) => panic!("expected the function limit, got {other}"),
            Ok(_) => panic!("expected the function limit, got a module"),
        };
        for policy in [
            TieringPolicy::default(),
            TieringPolicy::fixed(Tier::Interpreter),
            TieringPolicy::straight_to_top(),
        ] {
            refused(TieredModule::new(Arc::clone(&wasm), config.clone(), policy));
        }
        #[cfg(feature = "cache")]
        {
            let cache = Arc::new(
                CompilationCache::open(wasm_sandbox_cache::CacheConfig::in_memory()).unwrap(),
            );
            refused(
                TieredModule::builder(Arc::clone(&wasm), config)
                    .with_cache(Arc::clone(&cache))
                    .build(),
            );
            assert_eq!(cache.stats().compiles, 0);
        }
    }
}
