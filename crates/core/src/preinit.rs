//! Runtime pre-initialization (feature `preinit`): run a module's init step
//! once, under the sandbox's limits, and snapshot the initialized memories
//! and globals into a new module with `wasmtime-wizer`, so that every later
//! instance starts from the initialized state instead of building it.
//!
//! The steps, in [`Sandbox::preinitialize`]:
//!
//! 1. The module is held to the compile limits, and its imports to the
//!    sandbox's linker (an import nobody provides is refused before anything
//!    runs, as at load time).
//! 2. Wizer instruments it (exports every defined memory and mutable global)
//!    and refuses what it cannot snapshot: imported memories, tables or
//!    globals; `table.set`/`grow`/`fill`/`copy`/`init`, `elem.drop`,
//!    `data.drop` and GC mutations anywhere in the code; mutable globals of
//!    reference type. Each is [`Error::Preinit`].
//! 3. The instrumented module is compiled on the sandbox's engine and linked
//!    with the *init linker*: WASI (when the sandbox enables it) with a
//!    context of its own, with no preopened directory, no argument, no
//!    environment variable and an empty stdin, its stdout and stderr
//!    captured; every other function import is a function that fails the
//!    init with [`Error::Preinit`] naming it. So the init step can read the
//!    clocks and draw random bytes, but cannot open a file or reach the
//!    embedder's state: nothing it holds on the host side (an open file, a
//!    host function's state) would exist in the instances made from the
//!    snapshot.
//! 4. It is instantiated (its start function and a reactor's `_initialize`
//!    run) and the step runs, each under the sandbox's limits (timeout,
//!    fuel, memory): [`PreInit::initialize`] stops there;
//!    [`PreInit::export`] then calls an export of type `[] -> []`;
//!    [`PreInit::call_bytes`] and [`PreInit::call`] make a guest-ABI call
//!    with an argument (a prelude script, a configuration), whose result is
//!    dropped. A trap, a timeout, a limit, a `proc_exit` or a guest error
//!    fails the pre-initialization with that error (a trap's message gets
//!    the tail of what the guest wrote on stderr).
//! 5. Wizer rewrites the module with the instance's memories as data
//!    segments and its mutable globals' values as their initializers,
//!    without the start function, `_initialize` and the init export (they
//!    ran). The snapshot is held to the compile limits again.
//!
//! What a snapshot freezes, every instance shares: random bytes drawn and
//! the time read during init are the same in every instance (reseed per
//! call when that matters).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use serde::Serialize;
use wasmtime::{Linker, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

use crate::abi::Codec;
use crate::config::{Output, UnknownImports, WasiConfig};
use crate::error::{Error, HostFailure, Result};
use crate::prescan::check_module;
use crate::sandbox::{Instance, Module, Sandbox, wasi_ctx};
use crate::store::StoreData;

const WASI_MODULE: &str = "wasi_snapshot_preview1";
const REACTOR_INIT: &str = "_initialize";

/// What runs once before the snapshot is taken. Cheap to clone; its
/// [`key`](PreInit::key) identifies it in a cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PreInit {
    step: Step,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Step {
    /// Instantiation only: the start function and `_initialize`.
    Initialize,
    /// Then an export of type `[] -> []`.
    Export(Box<str>),
    /// Then a guest-ABI call with this argument.
    Call { export: Box<str>, input: Vec<u8> },
}

impl PreInit {
    /// Instantiation alone: the module's start function and, for a WASI
    /// reactor, `_initialize` (C and C++ constructors, a runtime's own set
    /// up).
    pub fn initialize() -> Self {
        PreInit {
            step: Step::Initialize,
        }
    }

    /// Instantiation, then the export `name`, of type `[] -> []` (Wizer's
    /// `wizer.initialize` convention, under any name).
    pub fn export(name: impl Into<Box<str>>) -> Self {
        PreInit {
            step: Step::Export(name.into()),
        }
    }

    /// Instantiation, then the guest-ABI call `name(input)` (`docs/abi.md`):
    /// an init step with an argument, such as a prelude script for an
    /// interpreter. Its result is dropped; a guest error fails the
    /// pre-initialization.
    pub fn call_bytes(name: impl Into<Box<str>>, input: impl Into<Vec<u8>>) -> Self {
        PreInit {
            step: Step::Call {
                export: name.into(),
                input: input.into(),
            },
        }
    }

    /// [`PreInit::call_bytes`] with `args` encoded by `codec`, as a serde
    /// call would encode them.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if `args` cannot be encoded.
    pub fn call<A: Serialize + ?Sized>(
        codec: Codec,
        name: impl Into<Box<str>>,
        args: &A,
    ) -> Result<Self> {
        Ok(Self::call_bytes(name, codec.encode(args)?))
    }

    /// The export the step calls after instantiation, if any.
    pub fn export_name(&self) -> Option<&str> {
        match &self.step {
            Step::Initialize => None,
            Step::Export(name) | Step::Call { export: name, .. } => Some(name),
        }
    }

    /// A digest of the step (its kind, export and argument): with the
    /// original module's digest, the identity of its snapshot.
    pub fn key(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        // The pre-initializer's own version is part of what it produces.
        h.update(b"wasm-sandbox preinit v1; wasmtime-wizer 48\0");
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        match &self.step {
            Step::Initialize => field(b"initialize"),
            Step::Export(name) => {
                field(b"export");
                field(name.as_bytes());
            }
            Step::Call { export, input } => {
                field(b"call");
                field(export.as_bytes());
                field(input);
            }
        }
        *h.finalize().as_bytes()
    }

    /// The content hash of the snapshot of the module whose wasm has the
    /// blake3 digest `original` ([`Module::content_hash`] of a
    /// pre-initialized module): a function of the module and the step, so
    /// that memoization and caches tell snapshots apart from their original
    /// and from each other.
    pub fn snapshot_id(&self, original: &[u8; 32]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"wasm-sandbox snapshot\0");
        h.update(original);
        h.update(&self.key());
        *h.finalize().as_bytes()
    }
}

impl Sandbox {
    /// Runs `init` on `wasm` (binary or text) once, under this sandbox's
    /// limits, and returns the snapshot: a module whose memories and globals
    /// start as `init` left them (the module docs give the steps and the
    /// rules). Blocking: it compiles the module and runs guest code, on a
    /// thread of its own (so it may be called from anywhere, async runtime
    /// threads included).
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile`] for the module; [`Error::ImportNotAllowed`]
    /// for an import the sandbox does not provide; [`Error::Preinit`] when
    /// the module cannot be snapshotted or the step called a host function;
    /// [`Error::MissingExport`] or [`Error::SignatureMismatch`] for the init
    /// export; the step's own [`Error::Trap`], [`Error::Timeout`],
    /// [`Error::OutOfFuel`], [`Error::LimitExceeded`], [`Error::Exit`],
    /// [`Error::Guest`] or [`Error::Abi`].
    pub fn preinitialize(&self, wasm: &[u8], init: &PreInit) -> Result<Vec<u8>> {
        let start = Instant::now();
        check_module(wasm, &self.config().compile_limits)?;
        let wasm = wat::parse_bytes(wasm).map_err(|e| Error::invalid_module(format!("{e}")))?;
        let wasm: &[u8] = &wasm;

        let mut wizer = Wizer::new();
        wizer.init_func(init.export_name().unwrap_or(REACTOR_INIT));
        let (cx, instrumented) = guard("instrumenting the module", || wizer.instrument(wasm))?
            .map_err(|e| Error::Preinit {
                reason: format!("{e:#}").into(),
            })?;

        let engine = self.engine();
        let compile_start = Instant::now();
        let module = wasmtime::Module::new(engine, &instrumented)
            .map_err(|e| crate::error::from_compile_error(&instrumented, e))?;
        self.metrics_ref().record_compile(compile_start.elapsed());
        self.check_links(&module)?;
        let linker = self.init_linker(&module)?;
        let module = self.adopt_linked(module, *blake3::hash(&instrumented).as_bytes(), &linker)?;

        // The step runs on a thread of its own, where no async runtime is
        // current, so the sandbox's runtime can drive it from any caller.
        let snapshot = std::thread::scope(|scope| {
            scope
                .spawn(|| crate::deadline::block_on(run_step(&module, init)))
                .join()
        })
        .map_err(|_| Error::Preinit {
            reason: "the init step's thread panicked".into(),
        })?;
        let mut instance = snapshot?;

        let (store, handle) = instance.wasm_parts();
        let mut reader = Reader {
            store,
            instance: handle,
            missing: None,
        };
        let rewritten = guard("snapshotting the instance", || {
            poll_ready(wizer.snapshot(&cx, &mut reader))
        })?;
        if let Some(name) = reader.missing {
            return Err(Error::Preinit {
                reason: format!("the instrumented instance has no export `{name}`").into(),
            });
        }
        let snapshot = rewritten
            .ok_or_else(|| Error::Preinit {
                reason: "the snapshot did not complete".into(),
            })?
            .map_err(|e| Error::Preinit {
                reason: format!("{e:#}").into(),
            })?;
        check_module(&snapshot, &self.config().compile_limits)?;
        self.metrics_ref().record_preinit(start.elapsed());
        Ok(snapshot)
    }

    /// [`Sandbox::preinitialize`], then compiles the snapshot: a module
    /// whose instances start initialized. Its
    /// [`content_hash`](Module::content_hash) is
    /// [`PreInit::snapshot_id`] of `wasm`'s digest.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::preinitialize`], then as [`Sandbox::compile`].
    pub fn compile_preinitialized(&self, wasm: &[u8], init: &PreInit) -> Result<Module> {
        let snapshot = self.preinitialize(wasm, init)?;
        let start = Instant::now();
        let module = wasmtime::Module::new(self.engine(), &snapshot)
            .map_err(|e| crate::error::from_compile_error(&snapshot, e))?;
        self.metrics_ref().record_compile(start.elapsed());
        self.adopt(module, init.snapshot_id(blake3::hash(wasm).as_bytes()))
    }

    /// Refuses an import the sandbox's linker would not define, before
    /// anything runs: the snapshot would not load either.
    fn check_links(&self, module: &wasmtime::Module) -> Result<()> {
        let unknown = self.config().unknown_imports;
        for import in module.imports() {
            let is_func = matches!(import.ty(), wasmtime::ExternType::Func(_));
            if self.provides(import.module(), import.name())
                || (is_func && unknown != UnknownImports::Deny)
            {
                continue;
            }
            return Err(Error::ImportNotAllowed {
                module: import.module().into(),
                name: import.name().into(),
            });
        }
        Ok(())
    }

    /// The linker of the init step: WASI when the sandbox has it, every
    /// other function import a function that fails the init naming it.
    fn init_linker(&self, module: &wasmtime::Module) -> Result<Linker<StoreData>> {
        let link_err = |e: wasmtime::Error| Error::Engine {
            reason: format!("cannot link the init step: {e:#}").into(),
        };
        let mut linker = Linker::new(self.engine());
        let wasi = self.config().wasi.is_some();
        if wasi {
            wasmtime_wasi::p1::add_to_linker_async(&mut linker, wasi_ctx).map_err(link_err)?;
        }
        for import in module.imports() {
            if wasi && import.module() == WASI_MODULE {
                continue;
            }
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(Error::Preinit {
                    reason: format!(
                        "it imports `{}.{}`, which is not a function",
                        import.module(),
                        import.name()
                    )
                    .into(),
                });
            };
            let reason: Box<str> = format!(
                "the init step called the host function `{}.{}`; host functions cannot run \
                 during pre-initialization (a snapshot cannot carry their state), only WASI \
                 without files",
                import.module(),
                import.name()
            )
            .into();
            linker
                .func_new(import.module(), import.name(), ty, move |_, _, _| {
                    Err(wasmtime::Error::new(HostFailure(Error::Preinit {
                        reason: reason.clone(),
                    })))
                })
                .map_err(link_err)?;
        }
        Ok(linker)
    }
}

/// The init step's WASI context: nothing of the host's but clocks and
/// randomness.
fn init_wasi() -> WasiConfig {
    WasiConfig {
        stdout: Output::Capture,
        stderr: Output::Capture,
        capture_limit: 64 * 1024,
        ..WasiConfig::default()
    }
}

/// Instantiates the instrumented module and runs the step on it.
async fn run_step(module: &Module, init: &PreInit) -> Result<Instance> {
    let wasi = module.sandbox_config().wasi.as_ref().map(|_| init_wasi());
    let mut instance = module.instantiate_async_wasi(wasi.as_ref()).await?;
    let r = match &init.step {
        Step::Initialize => Ok(()),
        Step::Export(name) => instance.call_typed_async::<(), ()>(name, ()).await,
        Step::Call { export, input } => instance.call_bytes_async(export, input).await.map(drop),
    };
    match r {
        Ok(()) => Ok(instance),
        Err(e) => Err(crate::store::with_stderr_tail(e, instance.stderr(), 0)),
    }
}

/// Reads the instrumented instance's state for Wizer.
struct Reader<'a> {
    store: &'a mut Store<StoreData>,
    instance: wasmtime::Instance,
    /// An export Wizer asked for that the instance lacks (never, for a
    /// module Wizer instrumented; reported rather than guessed).
    missing: Option<String>,
}

impl InstanceState for Reader<'_> {
    fn global_get(&mut self, name: &str, _: ValType) -> impl Future<Output = SnapshotVal> + Send {
        let value = match self
            .instance
            .get_global(&mut *self.store, name)
            .map(|g| g.get(&mut *self.store))
        {
            Some(Val::I32(x)) => SnapshotVal::I32(x),
            Some(Val::I64(x)) => SnapshotVal::I64(x),
            Some(Val::F32(x)) => SnapshotVal::F32(x),
            Some(Val::F64(x)) => SnapshotVal::F64(x),
            Some(Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            // Reference-typed mutable globals were refused by Wizer's checks.
            _ => {
                self.missing.get_or_insert_with(|| name.to_owned());
                SnapshotVal::I32(0)
            }
        };
        std::future::ready(value)
    }

    fn memory_contents(
        &mut self,
        name: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl Future<Output = ()> + Send {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => {
                self.missing.get_or_insert_with(|| name.to_owned());
                contents(&[]);
            }
        }
        std::future::ready(())
    }
}

/// Polls a future that never waits (Wizer's snapshot over [`Reader`],
/// whose every step is ready at once) to its end; `None` if it waits.
fn poll_ready<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs a step of Wizer's on untrusted input, turning a panic in it into
/// [`Error::Preinit`].
fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Error::Preinit {
            reason: format!("the pre-initializer failed {what}: {detail}").into(),
        }
    })
}
