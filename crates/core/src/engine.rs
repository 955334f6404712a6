//! Engine construction and the shared epoch ticker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::{SandboxConfig, Tier};
use crate::error::{Error, Result};

/// How often the shared ticker advances every engine's epoch. A call's
/// wall-clock limit is enforced with this resolution, and async calls yield
/// to the executor this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Builds the `wasmtime::Config` for a tier and a sandbox configuration.
///
/// This is public so that other crates (the cache, tiering) build engines
/// that are configured exactly like the sandbox's.
///
/// # Errors
///
/// [`Error::Config`] when the settings contradict each other, such as a
/// memory pool smaller than one instance's memory.
pub fn wasmtime_config(tier: Tier, cfg: &SandboxConfig) -> Result<wasmtime::Config> {
    let mut c = wasmtime::Config::new();
    match tier {
        Tier::Interpreter => {
            c.target("pulley64")
                .map_err(|e| Error::config(format!("the interpreter tier is unavailable: {e}")))?;
            c.strategy(wasmtime::Strategy::Cranelift);
            c.cranelift_opt_level(wasmtime::OptLevel::Speed);
        }
        Tier::Baseline => {
            c.strategy(wasmtime::Strategy::Winch);
        }
        Tier::Optimized => {
            c.strategy(wasmtime::Strategy::Cranelift);
            c.cranelift_opt_level(wasmtime::OptLevel::None);
        }
        Tier::HighlyOptimized => {
            c.strategy(wasmtime::Strategy::Cranelift);
            c.cranelift_opt_level(wasmtime::OptLevel::Speed);
        }
    }
    pin_features(&mut c, tier);
    let perf = &cfg.performance;
    let limits = &cfg.limits;
    c.parallel_compilation(perf.parallel_compilation);
    // Interruption: one shared ticker bumps every engine's epoch. Without a
    // timeout nothing is ever interrupted, so the code carries no epoch checks
    // (as `wasmtime run` without `-W timeout`): it compiles faster (the
    // `run/cold` rows), and an async call then runs to its end without yielding.
    c.epoch_interruption(limits.timeout.is_some());
    c.consume_fuel(limits.fuel.is_some());
    c.max_wasm_stack(limits.max_wasm_stack);
    // Async calls run on fibers; their stack must hold the wasm stack plus
    // host frames.
    c.async_stack_size(limits.max_wasm_stack + 1024 * 1024);
    c.memory_init_cow(true);
    if perf.memory_pool_size > 0 {
        let slots = pool_slots(cfg)?;
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_core_instances(slots)
            .total_memories(slots)
            .total_tables(slots)
            .total_stacks(slots)
            .total_component_instances(0)
            .max_memory_size(limits.max_memory)
            .table_elements(limits.max_table_elements)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .linear_memory_keep_resident(perf.pool_keep_resident)
            .table_keep_resident(perf.pool_keep_resident)
            // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), a freed slot is reset by
            // finding the pages the instance actually touched and restoring only those
            // with memset, instead of an madvise over the whole memory: madvise in one
            // thread sends TLB-shootdown interrupts to every other CPU running the process.
            .pagemap_scan(wasmtime::Enabled::Auto);
        c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(c)
}

/// The WebAssembly proposals each tier's engine accepts, set explicitly so that
/// they depend neither on wasmtime's defaults nor on which cargo features of
/// wasmtime the build happens to unify (`threads` is a cargo feature that a
/// dev-dependency can switch on).
///
/// | proposal | Pulley, Cranelift | Winch |
/// |---|---|---|
/// | Wasm 2.0 (SIMD, bulk memory, reference types, multi-value, ...) | on | on |
/// | Wasm 3.0: memory64, multi-memory, extended const, GC, function references, tail calls, exceptions, relaxed SIMD | on | GC, function references, tail calls, exceptions and relaxed SIMD off (Winch does not implement them) |
/// | threads (shared memory, atomics' wait/notify) | off | off |
/// | stack switching, wide arithmetic, custom page sizes, shared-everything threads | off | off |
///
/// Threads are off because a shared memory outlives the store that made it
/// and can be shared across instances, which the per-store memory limit and
/// the pool's slot reset do not account for; a module with a shared memory
/// fails to compile with [`Error::InvalidModule`](crate::Error::InvalidModule).
/// The component model is off: the sandbox runs core modules only.
pub(crate) fn pin_features(c: &mut wasmtime::Config, tier: Tier) {
    let full = !matches!(tier, Tier::Baseline);
    c.wasm_simd(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_multi_value(true)
        .wasm_extended_const(true)
        .wasm_memory64(true)
        .wasm_multi_memory(true)
        .wasm_gc(full)
        // The GC value types (typed references in locals, globals and tables).
        .wasm_features(wasmtime::WasmFeatures::GC_TYPES, full)
        .wasm_function_references(full)
        .wasm_tail_call(full)
        .wasm_exceptions(full)
        .wasm_relaxed_simd(full)
        // `wasm_threads` exists only with wasmtime's `threads` cargo feature.
        .wasm_features(wasmtime::WasmFeatures::THREADS, false)
        .wasm_shared_everything_threads(false)
        .wasm_stack_switching(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false)
        .wasm_component_model(false);
}

/// The number of instance slots the pooling allocator gets.
///
/// # Errors
///
/// [`Error::Config`] if the pool cannot hold a single instance.
pub fn pool_slots(cfg: &SandboxConfig) -> Result<u32> {
    let per = cfg.limits.max_memory.max(64 * 1024);
    let slots = cfg.performance.memory_pool_size / per;
    if slots == 0 {
        return Err(Error::config(format!(
            "memory_pool_size ({} bytes) is smaller than one instance's memory limit ({} bytes): \
             raise memory_pool_size or lower ResourceLimits::max_memory",
            cfg.performance.memory_pool_size, cfg.limits.max_memory
        )));
    }
    Ok(u32::try_from(slots).unwrap_or(u32::MAX).min(10_000))
}

/// Builds a `wasmtime::Engine` for a tier and, when the configuration has a
/// timeout (and so epoch checks), registers it with the ticker.
///
/// # Errors
///
/// [`Error::Config`] for inconsistent settings, [`Error::Engine`] when
/// wasmtime rejects the configuration (for example, the host cannot reserve
/// the pool's virtual memory).
pub fn build_engine(tier: Tier, cfg: &SandboxConfig) -> Result<wasmtime::Engine> {
    let config = wasmtime_config(tier, cfg)?;
    let engine = wasmtime::Engine::new(&config).map_err(|e| Error::Engine {
        reason: format!("cannot build the {tier} engine: {e:#}").into(),
    })?;
    if cfg.limits.timeout.is_some() {
        Ticker::global().register(&engine);
    }
    Ok(engine)
}

/// Ticks of the epoch ticker so far: every engine's epoch advances with it,
/// so a deadline of `n` ticks from now is `ticks() + n` here too. Host
/// functions compare it with the call's deadline when they return.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// The ticker's count of ticks so far.
#[inline]
pub(crate) fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The one background thread that advances the epoch of every live engine.
struct Ticker {
    engines: Arc<Mutex<Vec<wasmtime::EngineWeak>>>,
}

impl Ticker {
    fn global() -> &'static Ticker {
        static TICKER: OnceLock<Ticker> = OnceLock::new();
        TICKER.get_or_init(|| {
            let engines: Arc<Mutex<Vec<wasmtime::EngineWeak>>> = Arc::default();
            let shared = Arc::clone(&engines);
            let spawned = std::thread::Builder::new()
                .name("wasm-sandbox-epoch".into())
                .spawn(move || {
                    // One increment per sleep, never a catch-up burst: ticks
                    // are at least EPOCH_TICK apart, so a deadline of n ticks
                    // never fires before (n - 1) ticks of wall time. A loaded
                    // machine makes a deadline late (by the sleeps' overshoot),
                    // never early: an honest call is never cut short.
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        TICKS.fetch_add(1, Ordering::Relaxed);
                        let mut list = shared.lock();
                        list.retain(|weak| match weak.upgrade() {
                            Some(engine) => {
                                engine.increment_epoch();
                                true
                            }
                            None => false,
                        });
                        drop(list);
                        // Async calls suspended in a host call past their deadline.
                        crate::deadline::Alarms::global().fire_expired();
                    }
                });
            if let Err(e) = spawned {
                // Without the ticker, timeouts cannot fire; say so loudly.
                tracing::error!("cannot start the epoch ticker thread, timeouts are disabled: {e}");
            }
            Ticker { engines }
        })
    }

    fn register(&self, engine: &wasmtime::Engine) {
        self.engines.lock().push(engine.weak());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_builds_an_engine() {
        let cfg = SandboxConfig::default();
        for tier in Tier::ALL {
            build_engine(tier, &cfg).unwrap();
        }
    }

    #[test]
    fn a_pool_smaller_than_one_memory_is_a_config_error() {
        let mut cfg = SandboxConfig::default();
        cfg.performance.memory_pool_size = 1024;
        let err = build_engine(Tier::HighlyOptimized, &cfg).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("memory_pool_size"));
    }
}
