//! The sandbox, its compiled modules and their instances.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasm_sandbox_mempool::{MemoryPool, PoolConfig, PooledBuf};
use wasmtime::{Func, InstancePre, Linker, Memory, Store, TypedFunc, WasmParams, WasmResults};

use crate::abi::{self, ALLOC_EXPORT, Codec, FREE_EXPORT, MEMORY_EXPORT};
use crate::config::{SandboxConfig, Tier, UnknownImports, WasiConfig};
use crate::deadline::{self, Budget};
use crate::engine;
use crate::error::{self, CallContext, Error, Resource, Result};
use crate::host::{HostFunctions, HostSet, State};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::store::{self, CapturedOutput, StoreData};

const WASI_MODULE: &str = "wasi_snapshot_preview1";
const REACTOR_INIT: &str = "_initialize";

/// A configured engine plus everything needed to load and run modules on it.
///
/// Cheap to clone; clones share the engine, linkers and metrics.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    engine: wasmtime::Engine,
    tier: Tier,
    config: SandboxConfig,
    /// The linker: the embedder's host functions and, when enabled, WASI
    /// (its async flavour: synchronous calls of WASI guests run as async
    /// calls, so that their deadline can cut a host call).
    linker: Linker<StoreData>,
    /// Every `(module, name)` the linkers define.
    provided: HashSet<(String, String)>,
    /// The embedder's host functions (which are async, what state they read).
    host: HostSet,
    metrics: Metrics,
    pool_capacity: Option<u32>,
    /// One permit per pooled instance slot, held by each live instance, so
    /// async instantiation can wait for a slot (`PerformanceConfig::pool_wait`).
    slots: Option<Arc<Semaphore>>,
    /// Host buffers for serde-call marshalling (`SandboxConfig::host_buffer_pool`).
    buffers: Option<MemoryPool>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("tier", &self.inner.tier)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox on the tier that `config.performance` selects, with no host
    /// functions.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::Engine`] when the engine cannot be built.
    pub fn new(config: SandboxConfig) -> Result<Self> {
        let tier = config.performance.tier();
        Self::with_tier(config, tier, None)
    }

    /// A sandbox on the tier that `config.performance` selects, with host
    /// functions.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::with_tier`].
    pub fn with_host<S: Send + 'static>(
        config: SandboxConfig,
        host: HostFunctions<S>,
    ) -> Result<Self> {
        let tier = config.performance.tier();
        Self::with_tier(config, tier, Some(host.into()))
    }

    /// A sandbox on an explicit tier, with optional host functions
    /// (a [`HostFunctions`], or a raw [`HostSetup`](crate::HostSetup), made
    /// into a [`HostSet`] with `.into()`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::Engine`] when the engine cannot be built,
    /// [`Error::Engine`] when a host function cannot be defined (two
    /// definitions of one name, say).
    pub fn with_tier(config: SandboxConfig, tier: Tier, host: Option<HostSet>) -> Result<Self> {
        let host = host.unwrap_or_default();
        let engine = engine::build_engine(tier, &config)?;
        let pool_capacity = if config.performance.memory_pool_size > 0 {
            Some(engine::pool_slots(&config)?)
        } else {
            None
        };
        let link_err = |e: wasmtime::Error| Error::Engine {
            reason: format!("cannot define host functions: {e:#}").into(),
        };
        let mut linker = Linker::new(&engine);
        if config.wasi.is_some() {
            wasmtime_wasi::p1::add_to_linker_async(&mut linker, wasi_ctx).map_err(link_err)?;
        }
        host.define(&mut linker).map_err(link_err)?;
        let buffers = config
            .host_buffer_pool
            .then(|| MemoryPool::new(PoolConfig::new()));
        let mut provided = HashSet::new();
        {
            // `Linker::iter` needs a store of the linker's data type.
            let mut store = store::new_store(&engine, &config, None)?;
            for (m, n, _) in linker.iter(&mut store) {
                provided.insert((m.to_owned(), n.to_owned()));
            }
        }
        Ok(Sandbox {
            inner: Arc::new(SandboxInner {
                engine,
                tier,
                metrics: Metrics::new(config.metrics),
                config,
                linker,
                provided,
                host,
                slots: pool_capacity.map(|n| Arc::new(Semaphore::new(n as usize))),
                pool_capacity,
                buffers,
            }),
        })
    }

    /// The wasmtime engine, for compiling modules elsewhere (e.g. a cache)
    /// that this sandbox can then adopt with [`Sandbox::adopt`].
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// The tier this sandbox compiles to.
    pub fn tier(&self) -> Tier {
        self.inner.tier
    }

    /// The configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// A copy of the metrics recorded so far (all zero unless metrics are
    /// enabled).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// The number of pooled instance slots, when pooling is on.
    pub fn pool_capacity(&self) -> Option<u32> {
        self.inner.pool_capacity
    }

    /// The host buffer pool that serde calls marshal through, unless
    /// [`SandboxConfig::host_buffer_pool`] is off. Its stats show how many
    /// argument and result buffers were reused.
    pub fn buffer_pool(&self) -> Option<&MemoryPool> {
        self.inner.buffers.as_ref()
    }

    /// Compiles wasm (binary or text) and prepares it for instantiation.
    /// Blocking: compilation takes milliseconds to seconds.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidModule`] for bytes that do not validate,
    /// [`Error::LimitExceeded`] for a module over one of the
    /// [`CompileLimits`](crate::CompileLimits) (checked before any compiler
    /// runs), [`Error::ImportNotAllowed`] for an import the sandbox does not
    /// provide.
    pub fn compile(&self, wasm: &[u8]) -> Result<Module> {
        crate::prescan::check_module(wasm, &self.inner.config.compile_limits)?;
        let start = Instant::now();
        let module = wasmtime::Module::new(&self.inner.engine, wasm)
            .map_err(|e| error::from_compile_error(wasm, e))?;
        self.inner.metrics.record_compile(start.elapsed());
        self.adopt_with_hash(module, *blake3::hash(wasm).as_bytes())
    }

    /// Reads and compiles a module file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read, then as [`Sandbox::compile`].
    pub fn compile_file(&self, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.compile(&bytes)
    }

    /// Adopts a module compiled elsewhere for this sandbox's engine (for
    /// example, loaded from a compilation cache). `content_hash` identifies
    /// the wasm it came from.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the module belongs to another engine,
    /// [`Error::ImportNotAllowed`] as for [`Sandbox::compile`].
    pub fn adopt(&self, module: wasmtime::Module, content_hash: [u8; 32]) -> Result<Module> {
        if !wasmtime::Engine::same(module.engine(), &self.inner.engine) {
            return Err(Error::config(
                "the module was compiled for another engine; compile it with `Sandbox::engine()`",
            ));
        }
        self.adopt_with_hash(module, content_hash)
    }

    fn adopt_with_hash(&self, module: wasmtime::Module, hash: [u8; 32]) -> Result<Module> {
        let inner = &self.inner;
        // Imports nobody defines: refused, unless the configuration defines
        // the function ones (in a linker of this module's own).
        let mut own_linker: Option<Linker<StoreData>> = None;
        for import in module.imports() {
            let key = (import.module().to_owned(), import.name().to_owned());
            if inner.provided.contains(&key) {
                continue;
            }
            let refuse = || Error::ImportNotAllowed {
                module: key.0.clone().into(),
                name: key.1.clone().into(),
            };
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(refuse());
            };
            let how = inner.config.unknown_imports;
            if how == UnknownImports::Deny {
                return Err(refuse());
            }
            let linker = own_linker.get_or_insert_with(|| inner.linker.clone());
            define_unknown(linker, how, &key.0, &key.1, ty).map_err(|e| Error::Engine {
                reason: format!(
                    "cannot define the unknown import `{}.{}`: {e:#}",
                    key.0, key.1
                )
                .into(),
            })?;
        }
        let linker = own_linker.as_ref().unwrap_or(&inner.linker);
        self.adopt_linked(module, hash, linker)
    }

    /// Whether the sandbox's linker defines the import `module.name`.
    pub(crate) fn provides(&self, module: &str, name: &str) -> bool {
        self.inner
            .provided
            .contains(&(module.to_owned(), name.to_owned()))
    }

    pub(crate) fn metrics_ref(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Makes a [`Module`] of `module`, pre-linked with `linker` (which must
    /// define every import: the caller checked).
    pub(crate) fn adopt_linked(
        &self,
        module: wasmtime::Module,
        hash: [u8; 32],
        linker: &Linker<StoreData>,
    ) -> Result<Module> {
        let inner = &self.inner;
        // WASI's host calls are async, and so are the embedder's `func_async`
        // functions: synchronous calls of such a module run as async calls on
        // the sandbox's runtime.
        let runs_async = module
            .imports()
            .any(|i| i.module() == WASI_MODULE || inner.host.is_async(i.module(), i.name()));
        let host_calls = module
            .imports()
            .any(|i| matches!(i.ty(), wasmtime::ExternType::Func(_)));
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| Error::invalid_module(format!("cannot link the module: {e:#}")))?;
        // Idle instances hold pool slots: never keep more than half the pool.
        let cores = cores();
        let max_idle = match inner.pool_capacity {
            Some(slots) => (cores * 2).min((slots as usize / 2).max(1)),
            None => cores * 2,
        };
        Ok(Module {
            inner: Arc::new(ModuleInner {
                sandbox: Arc::clone(&self.inner),
                module,
                hash,
                pre,
                runs_async,
                host_calls,
            }),
            idle: IdleRef::Strong(Arc::new(IdleList {
                list: Mutex::new(Vec::new()),
                max: max_idle,
            })),
            observer: None,
            isolation: if inner.config.fresh_instance_per_call {
                Isolation::Fresh
            } else {
                Isolation::Reuse
            },
        })
    }
}

/// Defines the unknown function import `module.name` of type `ty` as
/// `how` says: a function that traps naming it, or one that returns zeros.
fn define_unknown(
    linker: &mut Linker<StoreData>,
    how: UnknownImports,
    module: &str,
    name: &str,
    ty: wasmtime::FuncType,
) -> wasmtime::Result<()> {
    let results: Vec<wasmtime::Val> = ty
        .results()
        .map(|t| wasmtime::Val::default_for_ty(&t))
        .collect::<Option<_>>()
        .ok_or_else(|| wasmtime::format_err!("a result type has no default value"))?;
    if how == UnknownImports::Trap {
        let called = error::UnknownImportCalled {
            module: module.into(),
            name: name.into(),
        };
        linker.func_new(module, name, ty, move |_, _, _| {
            Err(wasmtime::Error::new(called.clone()))
        })?;
    } else {
        linker.func_new(module, name, ty, move |_, _, out| {
            out.clone_from_slice(&results);
            Ok(())
        })?;
    }
    Ok(())
}

/// The machine's cores, read once: `available_parallelism` reads cgroup
/// files on every call, and every module load asks.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

pub(crate) fn wasi_ctx(d: &mut StoreData) -> &mut wasmtime_wasi::p1::WasiP1Ctx {
    // Invariant: WASI is linked only when the sandbox has a WASI config, and
    // then every store is built with a WASI context.
    d.wasi
        .as_mut()
        .expect("WASI is linked only into stores that carry a WASI context")
}

/// A WebAssembly value type, as the CLI and dynamic calls see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// Anything else (vectors, references), by name.
    Other(String),
}

impl From<&wasmtime::ValType> for ValueType {
    fn from(t: &wasmtime::ValType) -> Self {
        match t {
            wasmtime::ValType::I32 => ValueType::I32,
            wasmtime::ValType::I64 => ValueType::I64,
            wasmtime::ValType::F32 => ValueType::F32,
            wasmtime::ValType::F64 => ValueType::F64,
            other => ValueType::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueType::I32 => f.write_str("i32"),
            ValueType::I64 => f.write_str("i64"),
            ValueType::F32 => f.write_str("f32"),
            ValueType::F64 => f.write_str("f64"),
            ValueType::Other(s) => f.write_str(s),
        }
    }
}

/// A scalar WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float.
    F32(f32),
    /// 64-bit float.
    F64(f64),
}

impl Value {
    /// Parses `text` as a value of type `ty`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] when the text is not a number of that type, or the
    /// type is not scalar.
    pub fn parse(ty: &ValueType, text: &str) -> Result<Value> {
        let bad = |e: &dyn std::fmt::Display| Error::Codec {
            codec: "scalar",
            reason: format!("cannot read `{text}` as {ty}: {e}").into(),
        };
        Ok(match ty {
            ValueType::I32 => Value::I32(
                text.parse::<i32>()
                    .or_else(|_| text.parse::<u32>().map(|u| u as i32))
                    .map_err(|e| bad(&e))?,
            ),
            ValueType::I64 => Value::I64(
                text.parse::<i64>()
                    .or_else(|_| text.parse::<u64>().map(|u| u as i64))
                    .map_err(|e| bad(&e))?,
            ),
            ValueType::F32 => Value::F32(text.parse().map_err(|e| bad(&e))?),
            ValueType::F64 => Value::F64(text.parse().map_err(|e| bad(&e))?),
            ValueType::Other(_) => return Err(bad(&"only scalar parameters can be given")),
        })
    }

    fn to_val(self) -> wasmtime::Val {
        match self {
            Value::I32(v) => wasmtime::Val::I32(v),
            Value::I64(v) => wasmtime::Val::I64(v),
            Value::F32(v) => wasmtime::Val::F32(v.to_bits()),
            Value::F64(v) => wasmtime::Val::F64(v.to_bits()),
        }
    }

    fn from_val(v: &wasmtime::Val) -> Result<Value> {
        Ok(match v {
            wasmtime::Val::I32(v) => Value::I32(*v),
            wasmtime::Val::I64(v) => Value::I64(*v),
            wasmtime::Val::F32(v) => Value::F32(f32::from_bits(*v)),
            wasmtime::Val::F64(v) => Value::F64(f64::from_bits(*v)),
            _ => {
                return Err(Error::Codec {
                    codec: "scalar",
                    reason: "the export returns a non-scalar value".into(),
                });
            }
        })
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
        }
    }
}

/// The parameter and result types of an exported function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<ValueType>,
    /// Result types.
    pub results: Vec<ValueType>,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[ValueType]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

impl From<&wasmtime::FuncType> for Signature {
    fn from(t: &wasmtime::FuncType) -> Self {
        Signature {
            params: t.params().map(|p| ValueType::from(&p)).collect(),
            results: t.results().map(|p| ValueType::from(&p)).collect(),
        }
    }
}

/// What a WASI command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The exit status: 0, or the status passed to `proc_exit`.
    pub exit_code: i32,
    /// Captured standard output (empty unless captured).
    pub stdout: Vec<u8>,
    /// Captured standard error (empty unless captured).
    pub stderr: Vec<u8>,
}

/// A compiled, linked module, ready to instantiate. Cheap to clone.
///
/// The idle instances kept for async calls belong to the handles the
/// embedder holds: an [`Instance`] refers back to its module weakly, so
/// module and instances never keep each other alive. When the last handle
/// goes, the idle instances (and their pool slots) go with it.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
    idle: IdleRef,
    /// Told of every call made through this handle's call methods.
    observer: Option<Arc<dyn CallObserver>>,
    /// Whether this handle's calls reuse idle instances.
    isolation: Isolation,
}

/// Whether a [`Module`]'s calls share instances
/// ([`Module::with_isolation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Each call borrows an idle instance and returns it: the guest's
    /// memory, globals and tables carry over from one call to the next
    /// (whoever made it). Fastest; for trusted or stateful guests.
    #[default]
    Reuse,
    /// Each call runs on an instance made for it and thrown away after it:
    /// nothing a call leaves in the guest's memory, globals or tables is
    /// seen by another. With the pooling allocator an instance is a pool
    /// slot whose memory is a copy-on-write image of the module's data (for
    /// a pre-initialized snapshot, its initialized heap), reset on release
    /// by restoring only the pages the call wrote. The choice for untrusted,
    /// multi-tenant calls.
    Fresh,
}

/// Told of each call made through a [`Module`] handle's own call methods
/// (not of calls on an [`Instance`] the embedder holds): how a tiered
/// module counts its calls, whichever way they are made. It runs on the
/// calling task after the call; keep it short, and never block in it.
pub trait CallObserver: Send + Sync {
    /// One call of `export` (`_start` for [`Module::run`]) ended after
    /// `elapsed`, with `outcome`.
    fn on_call(&self, export: &str, elapsed: Duration, outcome: std::result::Result<(), &Error>);
}

/// Idle instances of one module, boxed: a call moves its instance in and
/// out of the list and through its future, and an `Instance` is a few
/// hundred bytes.
struct IdleList {
    // The boxes are the point: a call moves a pointer, not the instance.
    #[allow(clippy::vec_box)]
    list: Mutex<Vec<Box<Instance>>>,
    max: usize,
}

/// How a handle holds the idle list: the embedder's handles strongly, the
/// copies inside instances weakly.
#[derive(Clone)]
enum IdleRef {
    Strong(Arc<IdleList>),
    Weak(std::sync::Weak<IdleList>),
}

impl IdleRef {
    fn get(&self) -> Option<Arc<IdleList>> {
        match self {
            IdleRef::Strong(a) => Some(Arc::clone(a)),
            IdleRef::Weak(w) => w.upgrade(),
        }
    }

    /// Runs `f` on the list, unless it is gone. A strong handle lends it
    /// (no reference count is touched: every caller of the module shares
    /// it), a weak one upgrades.
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&IdleList) -> R) -> Option<R> {
        match self {
            IdleRef::Strong(a) => Some(f(a)),
            IdleRef::Weak(w) => w.upgrade().map(|a| f(&a)),
        }
    }
}

struct ModuleInner {
    sandbox: Arc<SandboxInner>,
    module: wasmtime::Module,
    hash: [u8; 32],
    pre: InstancePre<StoreData>,
    /// The module imports WASI or an async host function: its synchronous
    /// calls run as async calls on the sandbox's runtime (`deadline::block_on`).
    runs_async: bool,
    /// The module imports functions, so host code (which may panic) runs
    /// inside its calls.
    host_calls: bool,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field(
                "hash",
                &blake3::Hash::from_bytes(self.inner.hash).to_hex().as_str(),
            )
            .field("tier", &self.inner.sandbox.tier)
            .finish_non_exhaustive()
    }
}

static NEXT_INSTANCE_ID: AtomicU64 = AtomicU64::new(1);

impl Module {
    /// The blake3 hash of the wasm bytes this module was compiled from.
    pub fn content_hash(&self) -> [u8; 32] {
        self.inner.hash
    }

    /// The underlying wasmtime module.
    pub fn wasmtime_module(&self) -> &wasmtime::Module {
        &self.inner.module
    }

    /// The tier the module was compiled for.
    pub fn tier(&self) -> Tier {
        self.inner.sandbox.tier
    }

    /// The configuration of the sandbox the module belongs to.
    pub(crate) fn sandbox_config(&self) -> &SandboxConfig {
        &self.inner.sandbox.config
    }

    /// Names of the exported functions.
    pub fn function_exports(&self) -> Vec<String> {
        self.inner
            .module
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name().to_owned())
            .collect()
    }

    /// The signature of an exported function.
    ///
    /// # Errors
    ///
    /// [`Error::MissingExport`] if there is no such function export.
    pub fn signature(&self, export: &str) -> Result<Signature> {
        match self.inner.module.get_export(export) {
            Some(wasmtime::ExternType::Func(f)) => Ok(Signature::from(&f)),
            _ => Err(Error::missing_export(export)),
        }
    }

    /// Instantiates the module for synchronous calls: the fast path, with no
    /// executor in between. Keep the instance and call it many times.
    ///
    /// Instantiation (the start function and a reactor's `_initialize`) runs
    /// under one deadline and one fuel budget. A WASI guest is instantiated
    /// asynchronously on the sandbox's own runtime (see [`Instance`]).
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] when the module's initial memory or tables
    /// exceed the limits, [`Error::PoolExhausted`] when every pool slot is
    /// in use, [`Error::Trap`] when its start function traps,
    /// [`Error::Timeout`] when instantiation outlasts the call timeout,
    /// [`Error::Config`] for a WASI guest on an async runtime thread.
    pub fn instantiate(&self) -> Result<Instance> {
        if self.inner.runs_async {
            return deadline::block_on(self.instantiate_async());
        }
        let inner = &self.inner;
        let cfg = &inner.sandbox.config;
        let start = Instant::now();
        let permit = match &inner.sandbox.slots {
            Some(slots) => Some(
                Arc::clone(slots)
                    .try_acquire_owned()
                    .map_err(|_| self.pool_exhausted())?,
            ),
            None => None,
        };
        let mut store = store::new_store(&inner.sandbox.engine, cfg, cfg.wasi.as_ref())?;
        store::arm_sync(&mut store, cfg.limits.fuel);
        let instance = inner.pre.instantiate(&mut store).map_err(|e| {
            error::from_instantiate_error(e, inner.sandbox.pool_capacity, &call_context(cfg))
        })?;
        let mut inst = self.wrap(store, instance, permit);
        if self.is_reactor() {
            // Armed above, with the instantiation: one deadline for both.
            let init = inst.typed::<(), ()>(REACTOR_INIT)?;
            let r = inst.invoke(|s| init.func.call(s, ()));
            inst.poisoned |= r.as_ref().is_err_and(poisons);
            r?;
        }
        inner.sandbox.metrics.record_instantiate(start.elapsed());
        Ok(inst)
    }

    /// A reactor (a library-style WASI module, as `clang -mexec-model=reactor`
    /// builds) exports `_initialize`, which must run before any other export.
    fn is_reactor(&self) -> bool {
        matches!(
            self.inner.module.get_export(REACTOR_INIT),
            Some(wasmtime::ExternType::Func(_))
        )
    }

    /// Instantiates the module for async calls.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub async fn instantiate_async(&self) -> Result<Instance> {
        let budget = Budget::start(&self.inner.sandbox.config.limits);
        self.instantiate_async_with(self.inner.sandbox.config.wasi.as_ref(), &budget)
            .await
    }

    /// Instantiates for async calls with `wasi` in place of the sandbox's
    /// WASI configuration (the pre-initializer's restricted one).
    pub(crate) async fn instantiate_async_wasi(
        &self,
        wasi: Option<&WasiConfig>,
    ) -> Result<Instance> {
        let budget = Budget::start(&self.inner.sandbox.config.limits);
        self.instantiate_async_with(wasi, &budget).await
    }

    /// Instantiates under `budget`, which the call that needs the instance
    /// goes on spending: waiting for a pool slot, instantiation, the start
    /// function and `_initialize` are all inside the call's deadline.
    async fn instantiate_async_with(
        &self,
        wasi: Option<&WasiConfig>,
        budget: &Budget,
    ) -> Result<Instance> {
        let inner = &self.inner;
        let cfg = &inner.sandbox.config;
        let start = Instant::now();
        let timeout = || Error::Timeout {
            limit: cfg.limits.timeout.unwrap_or_default(),
        };
        let permit = deadline::bounded(budget.deadline, pin!(self.slot_permit()))
            .await
            .ok_or_else(timeout)??;
        let mut store = store::new_store(&inner.sandbox.engine, cfg, wasi)?;
        store::set_fuel(&mut store, budget.fuel);
        store::arm_async(&mut store, budget);
        let instance = deadline::bounded(
            budget.deadline,
            pin!(inner.pre.instantiate_async(&mut store)),
        )
        .await
        .ok_or_else(timeout)?
        .map_err(|e| {
            error::from_instantiate_error(e, inner.sandbox.pool_capacity, &call_context(cfg))
        })?;
        let mut inst = self.wrap(store, instance, permit);
        if self.is_reactor() {
            let init = inst.typed::<(), ()>(REACTOR_INIT)?;
            inst.step(budget, |s| init.func.call_async(s, ())).await?;
        }
        inner.sandbox.metrics.record_instantiate(start.elapsed());
        Ok(inst)
    }

    fn wrap(
        &self,
        store: Store<StoreData>,
        instance: wasmtime::Instance,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Instance {
        Instance {
            store,
            instance,
            module: self.weak_handle(),
            id: NEXT_INSTANCE_ID.fetch_add(1, Ordering::Relaxed),
            abi: None,
            funcs: HashMap::new(),
            abi_funcs: Vec::new(),
            abi_index: HashMap::new(),
            last_abi_func: 0,
            poisoned: false,
            in_call: false,
            runs_async: self.inner.runs_async,
            _slot: slot,
        }
    }

    fn pool_exhausted(&self) -> Error {
        Error::PoolExhausted {
            capacity: self.inner.sandbox.pool_capacity.unwrap_or_default(),
        }
    }

    /// A pool slot for a new instance (`None` without pooling): at once, or
    /// after waiting up to `PerformanceConfig::pool_wait`. This module's idle
    /// instances are given up first, since they hold slots too.
    async fn slot_permit(&self) -> Result<Option<OwnedSemaphorePermit>> {
        let Some(slots) = &self.inner.sandbox.slots else {
            return Ok(None);
        };
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Ok(Some(permit));
        }
        let idle = self
            .idle
            .with(|idle| std::mem::take(&mut *idle.list.lock()));
        drop(idle);
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Ok(Some(permit));
        }
        let Some(wait) = self.inner.sandbox.config.performance.pool_wait else {
            return Err(self.pool_exhausted());
        };
        match tokio::time::timeout(wait, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            // Timed out (or the semaphore was closed, which never happens).
            _ => Err(self.pool_exhausted()),
        }
    }

    /// A handle that refers to the idle list weakly, for instances to keep.
    fn weak_handle(&self) -> Module {
        Module {
            inner: Arc::clone(&self.inner),
            idle: match &self.idle {
                IdleRef::Strong(a) => IdleRef::Weak(Arc::downgrade(a)),
                weak @ IdleRef::Weak(_) => weak.clone(),
            },
            observer: self.observer.clone(),
            isolation: self.isolation,
        }
    }

    /// This handle (sharing its compiled code and idle instances) with its
    /// calls isolated as `isolation` says. The default is the sandbox's
    /// [`SandboxConfig::fresh_instance_per_call`].
    #[must_use]
    pub fn with_isolation(&self, isolation: Isolation) -> Module {
        Module {
            isolation,
            ..self.clone()
        }
    }

    /// How this handle's calls are isolated.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// This handle (sharing its idle instances) with `observer` told of
    /// every call made through it and its clones, in place of any observer
    /// it had.
    #[must_use]
    pub fn observed(&self, observer: Arc<dyn CallObserver>) -> Module {
        Module {
            observer: Some(observer),
            ..self.clone()
        }
    }

    /// Calls with `state` given to the host functions for their duration
    /// ([`HostContext::state`](crate::HostContext::state)): a tenant, a
    /// request. The state is set on the instance the call runs on and
    /// removed (dropped) when the call ends, before the instance can serve
    /// another call, whatever the outcome.
    pub fn with_state<S: std::any::Any + Send>(&self, state: S) -> WithState<'_> {
        self.with_state_opt(Some(state))
    }

    /// [`Module::with_state`] when `state` is `Some`; plain calls when it is
    /// `None` (for callers that are generic over whether they carry state).
    pub fn with_state_opt<S: std::any::Any + Send>(&self, state: Option<S>) -> WithState<'_> {
        WithState {
            module: self,
            state: state.map(|s| Box::new(s) as State),
        }
    }

    /// An instance for `call`: an idle one (given the call's fuel), or a new
    /// one instantiated inside the call's deadline; it gets the call's state.
    async fn checkout(&self, call: &mut CallStart<'_>) -> Result<Box<Instance>> {
        let mut inst =
            if self.isolation == Isolation::Reuse
                && let Some(mut inst) = self.idle.with(|idle| idle.list.lock().pop()).flatten()
            {
                store::set_fuel(&mut inst.store, call.budget.fuel);
                inst
            } else {
                // Boxed: instantiation's future is large, and inline it would
                // make every call's future as large, copied on every move; an
                // allocation is nothing next to an instantiation.
                Box::new(
                    Box::pin(self.instantiate_async_with(
                        self.inner.sandbox.config.wasi.as_ref(),
                        &call.budget,
                    ))
                    .await?,
                )
            };
        inst.store.data_mut().state = call.state.take();
        call.stderr_mark = inst.stderr().map_or(0, CapturedOutput::len);
        Ok(inst)
    }

    /// Returns an instance to the idle list unless it may hold broken state.
    fn checkin(&self, mut inst: Box<Instance>) {
        if inst.is_poisoned() || self.isolation == Isolation::Fresh {
            return;
        }
        // A call's state never outlives it: the next call may be another tenant's.
        inst.store.data_mut().state = None;
        let full = self.idle.with(|idle| {
            let mut list = idle.list.lock();
            if list.len() < idle.max {
                list.push(inst);
                None
            } else {
                Some(inst)
            }
        });
        // An instance the list has no room for is dropped here, after the
        // lock, not under it.
        drop(full);
    }

    /// Instantiates up to `instances` idle instances ahead of time, so that
    /// the first calls do not pay for instantiation and first-touch page
    /// faults of the memory image.
    ///
    /// # Errors
    ///
    /// As [`Module::instantiate`].
    pub async fn warmup(&self, instances: usize) -> Result<()> {
        let Some(idle) = self.idle.get() else {
            return Ok(());
        };
        if self.isolation == Isolation::Fresh {
            // Nothing is kept between calls, so there is nothing to warm.
            return Ok(());
        }
        let want = instances.min(idle.max);
        let mut made = Vec::new();
        while idle.list.lock().len() + made.len() < want {
            let mut inst = self.instantiate_async().await?;
            inst.touch_memory();
            made.push(Box::new(inst));
        }
        for inst in made {
            self.checkin(inst);
        }
        Ok(())
    }

    /// Starts one async call of `export`: its budget from this moment, its
    /// metrics timer, the state it carries for the host functions.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for state of another type than the host functions
    /// read (before anything runs).
    fn start_call<'e>(&self, export: &'e str, state: Option<State>) -> Result<CallStart<'e>> {
        let sandbox = &self.inner.sandbox;
        if let Some(s) = &state {
            sandbox.host.check_state(s)?;
        }
        let limits = &sandbox.config.limits;
        let timed = sandbox.metrics.enabled() || self.observer.is_some();
        // One clock read for both the deadline and the timer.
        let now = (timed || limits.timeout.is_some()).then(Instant::now);
        Ok(CallStart {
            budget: Budget::starting_at(limits, now),
            timer: now.filter(|_| timed),
            state,
            export,
            stderr_mark: 0,
        })
    }

    /// Ends an async call: the instance goes back to the idle list unless it
    /// may hold broken state, the call is one metrics sample, and the
    /// observer is told.
    fn end_call<T>(
        &self,
        call: &CallStart<'_>,
        inst: Option<Box<Instance>>,
        r: Result<T>,
    ) -> Result<T> {
        let r = match (r, &inst) {
            (Err(e @ Error::Trap { .. }), Some(inst)) => {
                Err(store::with_stderr_tail(e, inst.stderr(), call.stderr_mark))
            }
            (r, _) => r,
        };
        if let Some(inst) = inst {
            self.checkin(inst);
        }
        if let Some(t) = call.timer {
            let elapsed = t.elapsed();
            let outcome = r.as_ref().map(|_| ());
            self.inner.sandbox.metrics.record_call(elapsed, outcome);
            if let Some(obs) = &self.observer {
                obs.on_call(call.export, elapsed, r.as_ref().map(|_| ()));
            }
        }
        r
    }
    /// Calls a scalar export with typed parameters and results, on an idle
    /// instance.
    ///
    /// # Errors
    ///
    /// [`Error::MissingExport`], [`Error::SignatureMismatch`], and the
    /// guest's failures: [`Error::Trap`], [`Error::Timeout`],
    /// [`Error::OutOfFuel`], [`Error::LimitExceeded`]; a host function's
    /// own error, unchanged.
    pub async fn call_typed<P, R>(&self, export: &str, params: P) -> Result<R>
    where
        P: WasmParams + Send + Sync + 'static,
        R: WasmResults + Send + Sync + 'static,
    {
        self.typed_call(export, params, None).await
    }

    async fn typed_call<P, R>(&self, export: &str, params: P, state: Option<State>) -> Result<R>
    where
        P: WasmParams + Send + Sync + 'static,
        R: WasmResults + Send + Sync + 'static,
    {
        let mut call = self.start_call(export, state)?;
        let mut inst = match self.checkout(&mut call).await {
            Ok(inst) => inst,
            Err(e) => return self.end_call(&call, None, Err(e)),
        };
        let r = async {
            let f = inst.typed::<P, R>(export)?;
            inst.step(&call.budget, |s| f.func.call_async(s, params))
                .await
        }
        .await;
        self.end_call(&call, Some(inst), r)
    }

    /// Calls an export through the guest ABI with raw bytes in and out.
    ///
    /// # Errors
    ///
    /// As [`Module::call_typed`], plus [`Error::Abi`] when the guest breaks
    /// the ABI, [`Error::Guest`] when it reports an error and
    /// [`Error::LimitExceeded`] for a result over
    /// [`ResourceLimits::max_result_bytes`](crate::ResourceLimits::max_result_bytes).
    pub async fn call_bytes(&self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.bytes_call(export, input, false, None)
            .await
            .map(HostBuf::into_vec)
    }

    /// A bytes call on an idle (or new) instance, with the result in a
    /// pooled buffer if `pooled`.
    async fn bytes_call(
        &self,
        export: &str,
        input: &[u8],
        pooled: bool,
        state: Option<State>,
    ) -> Result<HostBuf> {
        let mut call = self.start_call(export, state)?;
        let mut inst = match self.checkout(&mut call).await {
            Ok(inst) => inst,
            Err(e) => return self.end_call(&call, None, Err(e)),
        };
        let r = inst
            .abi_call(Exec::Async(&call.budget), export, input, pooled)
            .await;
        self.end_call(&call, Some(inst), r)
    }

    /// Calls an export with serde values, encoded with `codec`.
    ///
    /// # Errors
    ///
    /// As [`Module::call_bytes`], plus [`Error::Codec`].
    pub async fn call<A, R>(&self, codec: Codec, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.serde_call(codec, export, args, None).await
    }

    async fn serde_call<A, R>(
        &self,
        codec: Codec,
        export: &str,
        args: &A,
        state: Option<State>,
    ) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let input = encode_args(&self.inner.sandbox, codec, args)?;
        let out = self.bytes_call(export, &input, true, state).await;
        drop(input);
        codec.decode(&out?)
    }

    /// Calls an export with scalar values whose types are known only at run
    /// time (the CLI uses this).
    ///
    /// # Errors
    ///
    /// As [`Module::call_typed`].
    pub async fn call_values(&self, export: &str, args: &[Value]) -> Result<Vec<Value>> {
        self.values_call(export, args, None).await
    }

    async fn values_call(
        &self,
        export: &str,
        args: &[Value],
        state: Option<State>,
    ) -> Result<Vec<Value>> {
        let mut call = self.start_call(export, state)?;
        let mut inst = match self.checkout(&mut call).await {
            Ok(inst) => inst,
            Err(e) => return self.end_call(&call, None, Err(e)),
        };
        let r = inst.values(&call.budget, export, args).await;
        self.end_call(&call, Some(inst), r)
    }

    /// Runs a WASI command: instantiates it with `wasi` (its arguments,
    /// environment, directories and stdio) and calls `_start`, all under one
    /// deadline.
    ///
    /// A `proc_exit` status is returned in [`RunOutput::exit_code`], not as an
    /// error.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the sandbox was built without WASI,
    /// [`Error::MissingExport`] without `_start`, and the guest's failures.
    pub async fn run(&self, wasi: &WasiConfig) -> Result<RunOutput> {
        self.command(wasi, None).await
    }

    async fn command(&self, wasi: &WasiConfig, state: Option<State>) -> Result<RunOutput> {
        if self.inner.sandbox.config.wasi.is_none() {
            return Err(Error::config(
                "running a WASI command needs WASI enabled on the sandbox",
            ));
        }
        let mut call = self.start_call("_start", state)?;
        let mut inst = match self.instantiate_async_with(Some(wasi), &call.budget).await {
            Ok(inst) => inst,
            Err(e) => return self.end_call(&call, None, Err(e)),
        };
        inst.store.data_mut().state = call.state.take();
        let r = async {
            let start = inst.typed::<(), ()>("_start")?;
            inst.step(&call.budget, |s| start.func.call_async(s, ()))
                .await
        }
        .await;
        let r = self.end_call(&call, None, r);
        let stdout = inst.stdout().map(|c| c.contents()).unwrap_or_default();
        let stderr = inst.stderr().map(|c| c.contents()).unwrap_or_default();
        let exit_code = match r {
            Ok(()) => 0,
            Err(Error::Exit { code }) => code,
            Err(e) => return Err(e),
        };
        Ok(RunOutput {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// The number of idle instances kept for async calls.
    pub fn idle_instances(&self) -> usize {
        self.idle.get().map_or(0, |idle| idle.list.lock().len())
    }
}

/// The start of one async call of a [`Module`]: its budget, metrics timer
/// and state.
struct CallStart<'e> {
    budget: Budget,
    /// Set when metrics or an observer want the call's duration.
    timer: Option<Instant>,
    /// The call's state, until it is set on the instance.
    state: Option<State>,
    /// The export, for the observer.
    export: &'e str,
    /// How much the instance's captured stderr held when the call got it:
    /// a trap's message gets what the call itself wrote after that.
    stderr_mark: usize,
}

/// Calls of a [`Module`] that carry state for its host functions; see
/// [`Module::with_state`]. Each method is the module's method of the same
/// name, and consumes the state.
#[must_use = "make a call with it"]
pub struct WithState<'m> {
    module: &'m Module,
    state: Option<State>,
}

impl std::fmt::Debug for WithState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithState")
            .field("module", self.module)
            .finish_non_exhaustive()
    }
}

impl WithState<'_> {
    /// [`Module::call_typed`] with the state.
    ///
    /// # Errors
    ///
    /// As [`Module::call_typed`], and [`Error::Config`] for state of
    /// another type than the host functions read.
    pub async fn call_typed<P, R>(self, export: &str, params: P) -> Result<R>
    where
        P: WasmParams + Send + Sync + 'static,
        R: WasmResults + Send + Sync + 'static,
    {
        self.module.typed_call(export, params, self.state).await
    }

    /// [`Module::call_bytes`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call_typed`] and [`Module::call_bytes`].
    pub async fn call_bytes(self, export: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.module
            .bytes_call(export, input, false, self.state)
            .await
            .map(HostBuf::into_vec)
    }

    /// [`Module::call`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call_typed`] and [`Module::call`].
    pub async fn call<A, R>(self, codec: Codec, export: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.module
            .serde_call(codec, export, args, self.state)
            .await
    }

    /// [`Module::call_values`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call_typed`] and [`Module::call_values`].
    pub async fn call_values(self, export: &str, args: &[Value]) -> Result<Vec<Value>> {
        self.module.values_call(export, args, self.state).await
    }

    /// [`Module::run`] with the state.
    ///
    /// # Errors
    ///
    /// As [`WithState::call_typed`] and [`Module::run`].
    pub async fn run(self, wasi: &WasiConfig) -> Result<RunOutput> {
        self.module.command(wasi, self.state).await
    }
}

/// How the steps of one call run: synchronously on an armed store, or as
/// async calls under a budget.
#[derive(Clone, Copy)]
enum Exec<'b> {
    Sync,
    Async(&'b Budget),
}

/// What to do with a result block longer than a limit.
#[derive(Clone, Copy)]
enum Cut {
    /// Refuse it with [`Error::LimitExceeded`] (a result).
    Refuse(usize),
    /// Copy its first bytes only (an error message).
    Truncate(usize),
}

/// An ABI export `f(ptr, len) -> i64` (`docs/abi.md`).
type AbiFunc = TypedFunc<(i32, i32), i64>;

/// The guest ABI exports of an instance.
struct Abi {
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
}

/// An instance of a module in its own store, for callers that want to hold
/// it: the synchronous fast path, and stateful sessions.
///
/// Every call (sync or async) is one logical call under one deadline and one
/// fuel budget, whatever it is made of: the four guest calls of a bytes or
/// serde call (alloc, the export, two frees) share them. Synchronous calls
/// of a WASI guest run as async calls on the sandbox's own runtime, so that
/// a guest blocked in a WASI host call (a sleep, a stalled pipe) is still cut
/// at its deadline; they cannot be made from a thread that runs an async
/// runtime ([`Error::Config`]).
///
/// Not thread-safe to share (`&mut self` calls), but `Send`.
pub struct Instance {
    store: Store<StoreData>,
    instance: wasmtime::Instance,
    module: Module,
    id: u64,
    abi: Option<Abi>,
    funcs: HashMap<Box<str>, Func>,
    /// Typed handles of the ABI exports called so far, found by name
    /// through `abi_index`; `last_abi_func` is the one called last, which a
    /// call of the same export finds without hashing its name. A call
    /// borrows its handles, never clones them: a `TypedFunc` clone takes
    /// and drops four reference counts, one of them shared by every thread
    /// of the engine.
    abi_funcs: Vec<(Box<str>, AbiFunc)>,
    abi_index: HashMap<Box<str>, usize>,
    last_abi_func: usize,
    poisoned: bool,
    /// A guest call is under way: true from its start until it returns, so a
    /// call whose future was dropped half-way leaves the instance poisoned.
    in_call: bool,
    /// The module imports WASI or an async host function: synchronous calls
    /// run on the sandbox's runtime (kept here, next to the store, for the
    /// fast path's one check).
    runs_async: bool,
    /// The instance's pool slot, released after the store (declared last, so
    /// dropped last).
    _slot: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("module", &self.module)
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

/// A typed handle to an exported function of one [`Instance`]: the fastest
/// way to call it repeatedly (no lookup, no type check, no marshalling).
pub struct TypedFunction<P, R> {
    func: TypedFunc<P, R>,
    instance_id: u64,
}

impl<P, R> std::fmt::Debug for TypedFunction<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFunction")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl<P, R> Clone for TypedFunction<P, R> {
    fn clone(&self) -> Self {
        TypedFunction {
            func: self.func.clone(),
            instance_id: self.instance_id,
        }
    }
}

impl<P, R> TypedFunction<P, R>
where
    P: WasmParams + Send + Sync,
    R: WasmResults + Send + Sync,
{
    /// Calls the function on the instance it came from.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `instance` is not the one this handle came from;
    /// the guest's failures otherwise.
    #[inline]
    pub fn call(&self, instance: &mut Instance, params: P) -> Result<R> {
        if self.instance_id != instance.id {
            return Err(wrong_instance());
        }
        if instance.runs_async {
            return self.call_blocking(instance, params);
        }
        instance.run_armed(|this| this.invoke(|store| self.func.call(store, params)))
    }

    /// [`TypedFunction::call`] of a module whose synchronous calls run as
    /// async calls: out of line, so that the fast path stays small enough
    /// to inline into its caller.
    #[cold]
    #[inline(never)]
    fn call_blocking(&self, instance: &mut Instance, params: P) -> Result<R> {
        deadline::block_on(self.call_async(instance, params))
    }

    /// Calls the function asynchronously: long calls yield to the executor at
    /// every epoch tick.
    ///
    /// # Errors
    ///
    /// As [`TypedFunction::call`].
    pub async fn call_async(&self, instance: &mut Instance, params: P) -> Result<R> {
        if self.instance_id != instance.id {
            return Err(wrong_instance());
        }
        let (budget, timer) = instance.start_call();
        let func = &self.func;
        let r = instance
            .step(&budget, |store| func.call_async(store, params))
            .await;
        instance.record(timer, r)
    }
}

fn wrong_instance() -> Error {
    Error::config("this function handle belongs to another instance")
}

impl Instance {
    /// The module this instance was created from.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The store and the wasmtime instance, for the pre-initializer to read
    /// the guest's state.
    pub(crate) fn wasm_parts(&mut self) -> (&mut Store<StoreData>, wasmtime::Instance) {
        (&mut self.store, self.instance)
    }

    /// True once a call on this instance trapped, timed out, hit a limit or
    /// panicked a host function, or was dropped before it returned: its guest
    /// state may be inconsistent.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned || self.in_call
    }

    /// Bytes of linear memory the instance has (0 without a memory export).
    pub fn memory_size(&mut self) -> usize {
        match self.instance.get_memory(&mut self.store, MEMORY_EXPORT) {
            Some(m) => m.data_size(&self.store),
            None => 0,
        }
    }

    /// Sets the state the host functions read in this instance's calls
    /// ([`HostContext::state`](crate::HostContext::state)), replacing any.
    /// It stays until replaced or taken.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the host functions read another type.
    pub fn set_state<S: std::any::Any + Send>(&mut self, state: S) -> Result<()> {
        let state: State = Box::new(state);
        self.module.inner.sandbox.host.check_state(&state)?;
        self.store.data_mut().state = Some(state);
        Ok(())
    }

    /// The instance's state, if it has one of type `S`.
    pub fn state_mut<S: std::any::Any>(&mut self) -> Option<&mut S> {
        self.store.data_mut().state.as_mut()?.downcast_mut()
    }

    /// Removes the instance's state and returns it, if it is of type `S`
    /// (state of another type is left in place).
    pub fn take_state<S: std::any::Any>(&mut self) -> Option<S> {
        let data = self.store.data_mut();
        if !data.state.as_ref()?.is::<S>() {
            return None;
        }
        data.state.take()?.downcast().ok().map(|b| *b)
    }

    /// Captured standard output, when WASI captures it.
    pub fn stdout(&self) -> Option<&CapturedOutput> {
        self.store.data().stdout.as_ref()
    }

    /// Captured standard error, when WASI captures it.
    pub fn stderr(&self) -> Option<&CapturedOutput> {
        self.store.data().stderr.as_ref()
    }

    fn touch_memory(&mut self) {
        if let Some(m) = self.instance.get_memory(&mut self.store, MEMORY_EXPORT) {
            // Reading one byte per page faults in the memory image, so the
            // first call does not.
            let data = m.data(&self.store);
            let mut sum = 0u8;
            for i in (0..data.len()).step_by(4096) {
                sum = sum.wrapping_add(data[i]);
            }
            std::hint::black_box(sum);
        }
    }

    fn func(&mut self, name: &str) -> Result<Func> {
        if let Some(f) = self.funcs.get(name) {
            return Ok(*f);
        }
        let f = self
            .instance
            .get_func(&mut self.store, name)
            .ok_or_else(|| Error::missing_export(name))?;
        self.funcs.insert(name.into(), f);
        Ok(f)
    }

    /// A typed handle to an export, for repeated calls.
    ///
    /// # Errors
    ///
    /// [`Error::MissingExport`], or [`Error::SignatureMismatch`] when `P`
    /// and `R` differ from the export's type.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
    ) -> Result<TypedFunction<P, R>> {
        let f = self.func(name)?;
        let func = f
            .typed::<P, R>(&self.store)
            .map_err(|_| Error::SignatureMismatch {
                export: name.into(),
                expected: format!(
                    "{} -> {}",
                    std::any::type_name::<P>(),
                    std::any::type_name::<R>()
                )
                .into(),
                actual: Signature::from(&f.ty(&self.store)).to_string().into(),
            })?;
        Ok(TypedFunction {
            func,
            instance_id: self.id,
        })
    }

    /// Calls a scalar export synchronously.
    ///
    /// # Errors
    ///
    /// As [`Instance::typed`], plus the guest's failures.
    pub fn call_typed<P, R>(&mut self, name: &str, params: P) -> Result<R>
    where
        P: WasmParams + Send + Sync,
        R: WasmResults + Send + Sync,
    {
        let f = self.typed::<P, R>(name)?;
        f.call(self, params)
    }

    /// Calls a scalar export asynchronously.
    ///
    /// # Errors
    ///
    /// As [`Instance::call_typed`].
    pub async fn call_typed_async<P, R>(&mut self, name: &str, params: P) -> Result<R>
    where
        P: WasmParams + Send + Sync,
        R: WasmResults + Send + Sync,
    {
        let f = self.typed::<P, R>(name)?;
        f.call_async(self, params).await
    }

    /// Calls an export with dynamically typed scalar values.
    ///
    /// # Errors
    ///
    /// [`Error::SignatureMismatch`] when the values do not match the export's
    /// parameters, plus the guest's failures.
    pub async fn call_values_async(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>> {
        let (budget, timer) = self.start_call();
        let r = self.values(&budget, name, args).await;
        self.record(timer, r)
    }

    /// [`Instance::call_values_async`] under a budget the caller started.
    async fn values(&mut self, budget: &Budget, name: &str, args: &[Value]) -> Result<Vec<Value>> {
        let f = self.func(name)?;
        let ty = f.ty(&self.store);
        let sig = Signature::from(&ty);
        let given: Vec<wasmtime::Val> = args.iter().map(|v| v.to_val()).collect();
        let matches = given.len() == ty.params().len()
            && given
                .iter()
                .zip(ty.params())
                .all(|(v, t)| v.matches_ty(&self.store, &t).unwrap_or(false));
        if !matches {
            return Err(Error::SignatureMismatch {
                export: name.into(),
                expected: format!("{} argument(s): {:?}", args.len(), args).into(),
                actual: sig.to_string().into(),
            });
        }
        let mut results = vec![wasmtime::Val::I32(0); ty.results().len()];
        let results_ref = &mut results;
        self.step(budget, |store| f.call_async(store, &given, results_ref))
            .await?;
        results.iter().map(Value::from_val).collect()
    }

    /// Calls an export through the guest ABI (`docs/abi.md`) with raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] when the guest lacks the ABI exports or returns a block
    /// outside its memory, [`Error::Guest`] when it reports an error,
    /// [`Error::LimitExceeded`] for a result over
    /// [`ResourceLimits::max_result_bytes`](crate::ResourceLimits::max_result_bytes),
    /// plus [`Error::MissingExport`], [`Error::SignatureMismatch`] and the
    /// guest's failures.
    pub fn call_bytes(&mut self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.bytes_sync(name, input, false).map(HostBuf::into_vec)
    }

    /// [`Instance::call_bytes`], with the result in a pooled buffer if
    /// `pooled` and the sandbox has a buffer pool.
    fn bytes_sync(&mut self, name: &str, input: &[u8], pooled: bool) -> Result<HostBuf> {
        if self.runs_async {
            return deadline::block_on(self.bytes_async(name, input, pooled));
        }
        // The four guest calls (alloc, call, free twice) are one logical call:
        // armed once, under one deadline.
        self.run_armed(|this| {
            this.abi_call(Exec::Sync, name, input, pooled)
                .now_or_never()
                .expect("synchronous steps complete without suspending")
        })
    }

    /// Async version of [`Instance::call_bytes`].
    ///
    /// # Errors
    ///
    /// As [`Instance::call_bytes`].
    pub async fn call_bytes_async(&mut self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.bytes_async(name, input, false)
            .await
            .map(HostBuf::into_vec)
    }

    /// [`Instance::call_bytes_async`] as one call with its own budget.
    async fn bytes_async(&mut self, name: &str, input: &[u8], pooled: bool) -> Result<HostBuf> {
        let (budget, timer) = self.start_call();
        let r = self
            .abi_call(Exec::Async(&budget), name, input, pooled)
            .await;
        self.record(timer, r)
    }

    /// Calls an export with serde values (synchronously).
    ///
    /// # Errors
    ///
    /// As [`Instance::call_bytes`], plus [`Error::Codec`].
    pub fn call<A, R>(&mut self, codec: Codec, name: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let input = encode_args(&self.module.inner.sandbox, codec, args)?;
        let out = self.bytes_sync(name, &input, true)?;
        drop(input);
        codec.decode(&out)
    }

    /// Calls an export with serde values (asynchronously).
    ///
    /// # Errors
    ///
    /// As [`Instance::call`].
    pub async fn call_async<A, R>(&mut self, codec: Codec, name: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let input = encode_args(&self.module.inner.sandbox, codec, args)?;
        let out = self.bytes_async(name, &input, true).await?;
        drop(input);
        codec.decode(&out)
    }

    /// The ABI protocol of `docs/abi.md`, written once for both ways of
    /// running its steps: allocate the argument block, write it, call the
    /// export, free the argument block, check and copy the result block out,
    /// free it. The result block is checked against guest memory and the
    /// result limit before a byte of it is copied; an error message is cut to
    /// its limit before it is copied.
    async fn abi_call(
        &mut self,
        exec: Exec<'_>,
        name: &str,
        input: &[u8],
        pooled: bool,
    ) -> Result<HostBuf> {
        let (abi, func, mut run) = self.abi_parts(name)?;
        let len = guest_len(input.len())?;
        let ptr = if input.is_empty() {
            0
        } else {
            run.run_typed(exec, &abi.alloc, len).await?
        };
        run.write_arg(abi, ptr, input)?;
        let packed = run.run_typed(exec, func, (ptr, len)).await?;
        if !input.is_empty() {
            run.run_typed(exec, &abi.free, (ptr, len)).await?;
        }
        let (rptr, rlen, is_err) = abi::unpack_result(packed);
        let limits = &run.module.inner.sandbox.config.limits;
        let (max_copy, max_error) = (limits.max_result_bytes, limits.max_error_message);
        let copied = if is_err {
            run.read_block(abi, rptr, rlen, Cut::Truncate(max_error), false)
        } else {
            run.read_block(abi, rptr, rlen, Cut::Refuse(max_copy), pooled)
        };
        // A block over the result limit is freed all the same, so the refusal
        // leaks nothing in an instance that is reused; one outside guest
        // memory is no block to free.
        if rlen > 0 && !matches!(copied, Err(Error::Abi { .. })) {
            run.run_typed(exec, &abi.free, (rptr as i32, rlen as i32))
                .await?;
        }
        let out = copied?;
        if is_err {
            return Err(Error::Guest {
                message: guest_message(&out, rlen as usize).into(),
            });
        }
        Ok(out)
    }

    /// The ABI exports and the typed handle of the export `name`
    /// `(ptr, len) -> i64` (each looked up and type-checked once per
    /// instance), borrowed beside the [`Runner`] the call's steps run on.
    fn abi_parts(&mut self, name: &str) -> Result<(&Abi, &AbiFunc, Runner<'_>)> {
        if self.abi.is_none() {
            self.abi = Some(self.lookup_abi()?);
        }
        let index = match self.abi_funcs.get(self.last_abi_func) {
            Some((last, _)) if **last == *name => self.last_abi_func,
            _ => match self.abi_index.get(name) {
                Some(&i) => i,
                None => {
                    let f = self.typed::<(i32, i32), i64>(name)?.func;
                    let i = self.abi_funcs.len();
                    self.abi_funcs.push((name.into(), f));
                    self.abi_index.insert(name.into(), i);
                    i
                }
            },
        };
        self.last_abi_func = index;
        let Instance {
            store,
            module,
            abi,
            abi_funcs,
            poisoned,
            in_call,
            ..
        } = self;
        let abi = abi.as_ref().expect("the ABI exports were looked up above");
        let run = Runner {
            store,
            module,
            poisoned,
            in_call,
        };
        Ok((abi, &abi_funcs[index].1, run))
    }

    fn lookup_abi(&mut self) -> Result<Abi> {
        let missing = |what: &str| {
            Error::abi(format!(
                "the module does not export `{what}`; byte and serde calls need the guest ABI \
                 (memory, sandbox_alloc, sandbox_free) described in docs/abi.md"
            ))
        };
        let memory = self
            .instance
            .get_memory(&mut self.store, MEMORY_EXPORT)
            .ok_or_else(|| missing(MEMORY_EXPORT))?;
        let alloc = self
            .instance
            .get_typed_func::<i32, i32>(&mut self.store, ALLOC_EXPORT)
            .map_err(|_| missing("sandbox_alloc(i32) -> i32"))?;
        let free = self
            .instance
            .get_typed_func::<(i32, i32), ()>(&mut self.store, FREE_EXPORT)
            .map_err(|_| missing("sandbox_free(i32, i32)"))?;
        Ok(Abi {
            memory,
            alloc,
            free,
        })
    }

    /// Starts one call on this instance: its budget (fuel set now) and
    /// metrics timer.
    fn start_call(&mut self) -> (Budget, Option<Instant>) {
        let sandbox = &self.module.inner.sandbox;
        let limits = &sandbox.config.limits;
        let timed = sandbox.metrics.enabled();
        // One clock read for both the deadline and the timer.
        let now = (timed || limits.timeout.is_some()).then(Instant::now);
        let budget = Budget::starting_at(limits, now);
        store::set_fuel(&mut self.store, budget.fuel);
        (budget, now.filter(|_| timed))
    }

    /// Records one call's metrics sample.
    #[inline]
    fn record<T>(&self, timer: Option<Instant>, r: Result<T>) -> Result<T> {
        if let Some(t) = timer {
            self.module
                .inner
                .sandbox
                .metrics
                .record_call(t.elapsed(), r.as_ref().map(|_| ()));
        }
        r
    }

    /// Arms the store once (deadline, fuel) and runs `body`, which may make
    /// several wasm calls with [`Instance::invoke`]: one logical call, one
    /// deadline, one metrics sample, and the instance poisoned if it fails.
    #[inline]
    fn run_armed<T>(&mut self, body: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let module = &self.module.inner;
        store::arm_sync(&mut self.store, module.sandbox.config.limits.fuel);
        let timer = module.sandbox.metrics.enabled().then(Instant::now);
        let r = body(self);
        if let Err(e) = &r {
            self.poisoned |= poisons(e);
        }
        self.record(timer, r)
    }

    /// The store and flags one call's steps run on.
    #[inline]
    fn runner(&mut self) -> Runner<'_> {
        Runner {
            store: &mut self.store,
            module: &self.module,
            poisoned: &mut self.poisoned,
            in_call: &mut self.in_call,
        }
    }

    /// One wasm call on an armed store ([`invoke_on`]).
    #[inline]
    fn invoke<T>(
        &mut self,
        f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        invoke_on(&mut self.store, &self.module.inner, &mut self.poisoned, f)
    }

    /// [`Runner::step`] on this instance.
    async fn step<'a, T, F, Fut>(&'a mut self, budget: &Budget, f: F) -> Result<T>
    where
        F: FnOnce(&'a mut Store<StoreData>) -> Fut,
        Fut: Future<Output = wasmtime::Result<T>> + 'a,
    {
        self.runner().step(budget, f).await
    }
}

/// What the steps of one call run on: an instance's store and flags,
/// borrowed apart from its cached export handles, which the call borrows
/// beside it instead of cloning them.
struct Runner<'i> {
    store: &'i mut Store<StoreData>,
    module: &'i Module,
    poisoned: &'i mut bool,
    in_call: &'i mut bool,
}

impl Runner<'_> {
    /// The same runner for one more step.
    #[inline]
    fn reborrow(&mut self) -> Runner<'_> {
        Runner {
            store: self.store,
            module: self.module,
            poisoned: self.poisoned,
            in_call: self.in_call,
        }
    }

    /// One typed guest call as a step of `exec`.
    async fn run_typed<P, R>(&mut self, exec: Exec<'_>, f: &TypedFunc<P, R>, params: P) -> Result<R>
    where
        P: WasmParams + Send + Sync,
        R: WasmResults + Send + Sync,
    {
        match exec {
            Exec::Sync => self.invoke(|s| f.call(s, params)),
            Exec::Async(budget) => {
                self.reborrow()
                    .step(budget, |s| f.call_async(s, params))
                    .await
            }
        }
    }

    fn write_arg(&mut self, abi: &Abi, ptr: i32, input: &[u8]) -> Result<()> {
        if input.is_empty() {
            return Ok(());
        }
        let data = abi.memory.data_mut(&mut *self.store);
        let range = abi::check_range(ptr as u32, input.len() as u32, data.len(), "argument")?;
        data[range].copy_from_slice(input);
        Ok(())
    }

    /// Checks that the block `[ptr, ptr+len)` lies in guest memory (else
    /// [`Error::Abi`]), applies `cut`, and copies what is left out once: into
    /// a `Vec`, or into a pooled buffer (`pooled`).
    fn read_block(&self, abi: &Abi, ptr: u32, len: u32, cut: Cut, pooled: bool) -> Result<HostBuf> {
        let data = abi.memory.data(&*self.store);
        let range = abi::check_range(ptr, len, data.len(), "result")?;
        let max = match cut {
            Cut::Refuse(max) if range.len() > max => {
                return Err(Error::LimitExceeded {
                    resource: Resource::ResultBytes,
                    requested: u64::from(len),
                    limit: max as u64,
                });
            }
            Cut::Refuse(max) | Cut::Truncate(max) => max,
        };
        let bytes = &data[range.start..range.end.min(range.start.saturating_add(max))];
        Ok(match &self.module.inner.sandbox.buffers {
            Some(pool) if pooled => match pool.alloc_copy(bytes) {
                Ok(buf) => HostBuf::Pooled(buf),
                Err(_) => HostBuf::Heap(bytes.to_vec()),
            },
            _ => HostBuf::Heap(bytes.to_vec()),
        })
    }

    /// One wasm call on an armed store ([`invoke_on`]).
    #[inline]
    fn invoke<T>(
        &mut self,
        f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        invoke_on(self.store, &self.module.inner, self.poisoned, f)
    }
}

/// One wasm call on an armed store of an instance of `module`, converting
/// errors and containing host-function panics.
#[inline]
fn invoke_on<T>(
    store: &mut Store<StoreData>,
    module: &ModuleInner,
    poisoned: &mut bool,
    f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<T>,
) -> Result<T> {
    // Without imported functions no host code of the embedder's runs
    // inside the call (only the sandbox's own limiter and epoch
    // callback, which do not panic), so there is no panic to contain.
    let r = if module.host_calls {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(store))) {
            Ok(r) => r,
            Err(payload) => return Err(panic_error(payload)),
        }
    } else {
        f(store)
    };
    r.map_err(|e| {
        // A host function's error unwound the guest half-way.
        *poisoned |= error::raised_by_host(&e);
        convert(e, &module.sandbox.config)
    })
}

impl<'i> Runner<'i> {
    /// One async wasm call as a step of a call under `budget`: the store is
    /// armed with the call's deadline (checked at every tick, where the call
    /// also yields), the future is cut when the deadline passes while it is
    /// suspended in a host call, errors are converted, host-function panics
    /// contained, and the instance is poisoned if the step fails or never
    /// returns.
    async fn step<T, F, Fut>(self, budget: &Budget, f: F) -> Result<T>
    where
        F: FnOnce(&'i mut Store<StoreData>) -> Fut,
        Fut: Future<Output = wasmtime::Result<T>> + 'i,
    {
        let Runner {
            store,
            module,
            poisoned,
            in_call,
        } = self;
        let cfg = &module.inner.sandbox.config;
        store::arm_async(store, budget);
        *in_call = true;
        // Pinned here, in this future, and polled in place: no allocation.
        let call = pin!(AssertUnwindSafe(f(store)).catch_unwind());
        let r = match deadline::bounded(budget.deadline, call).await {
            Some(Ok(r)) => r.map_err(|e| {
                // A host function's error unwound the guest half-way.
                *poisoned |= error::raised_by_host(&e);
                convert(e, cfg)
            }),
            Some(Err(payload)) => Err(panic_error(payload)),
            None => Err(Error::Timeout {
                limit: cfg.limits.timeout.unwrap_or_default(),
            }),
        };
        *in_call = false;
        if let Err(e) = &r {
            *poisoned |= poisons(e);
        }
        r
    }
}

fn poisons(e: &Error) -> bool {
    matches!(
        e,
        Error::Trap { .. }
            | Error::Timeout { .. }
            | Error::OutOfFuel { .. }
            | Error::LimitExceeded { .. }
            | Error::HostPanic { .. }
            | Error::Exit { .. }
            | Error::Engine { .. }
    )
}

fn convert(e: wasmtime::Error, cfg: &SandboxConfig) -> Error {
    error::from_call_error(e, &call_context(cfg))
}

/// The limits a failed call or instantiation is reported against.
fn call_context(cfg: &SandboxConfig) -> CallContext {
    CallContext {
        timeout: cfg.limits.timeout,
        fuel: cfg.limits.fuel,
    }
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    Error::HostPanic {
        message: message.into(),
    }
}

fn guest_len(len: usize) -> Result<i32> {
    i32::try_from(len)
        .ok()
        .filter(|&l| (l as u32) & abi::ERROR_FLAG == 0)
        .ok_or_else(|| {
            Error::abi(format!(
                "a {len}-byte argument does not fit the 32-bit guest ABI"
            ))
        })
}

/// A host-side buffer of call bytes: pooled (serde calls, when the sandbox
/// has a buffer pool) or a plain `Vec`.
enum HostBuf {
    Pooled(PooledBuf),
    Heap(Vec<u8>),
}

impl HostBuf {
    /// The bytes as a `Vec`: free for `Heap`, one copy for `Pooled`.
    fn into_vec(self) -> Vec<u8> {
        match self {
            HostBuf::Pooled(buf) => buf.to_vec(),
            HostBuf::Heap(v) => v,
        }
    }
}

impl std::ops::Deref for HostBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            HostBuf::Pooled(buf) => buf,
            HostBuf::Heap(v) => v,
        }
    }
}

/// The first buffer size tried for encoded arguments; a buffer outgrowing it
/// moves to the next size class.
const ARGS_CAPACITY: usize = 256;

/// Encodes serde arguments into a pooled buffer (or a `Vec` without a pool).
fn encode_args<A: Serialize + ?Sized>(
    sandbox: &SandboxInner,
    codec: Codec,
    args: &A,
) -> Result<HostBuf> {
    if let Some(pool) = &sandbox.buffers
        && let Ok(mut buf) = pool.with_capacity(ARGS_CAPACITY)
    {
        codec.encode_to_writer(args, &mut buf)?;
        return Ok(HostBuf::Pooled(buf));
    }
    codec.encode(args).map(HostBuf::Heap)
}

/// A guest's error message, lossily decoded, cut to what was copied (at a
/// character boundary) and marked when `total` bytes were more than that.
fn guest_message(copied: &[u8], total: usize) -> String {
    let mut text = String::from_utf8_lossy(copied).into_owned();
    if total > copied.len() {
        // A multi-byte character cut by the copy decodes as U+FFFD: drop it.
        if text.ends_with('\u{fffd}') && std::str::from_utf8(copied).is_err() {
            text.pop();
        }
        text.push_str(&format!(" [truncated: {total} bytes in all]"));
    }
    text
}

/// The time a wall-clock limit may overrun: one epoch tick.
pub fn timeout_resolution() -> Duration {
    engine::EPOCH_TICK
}
