//! The facade's [`Plugin`] handle and host functions against plain wasmtime doing the same.
//!
//! * `plugin/serde call`: the README's headline call, `plugin.call(..)` through the facade,
//!   against the same ABI steps hand-written on plain wasmtime, once synchronous (the goal's
//!   baseline) and once as a careful async host would write them (epoch interruption with a
//!   deadline per call, `call_async`, an epoch ticker thread).
//! * `plugin/host function reads 1 KiB`: a guest calling a host function that reads its
//!   memory, defined with [`HostFunctions`] against wasmtime's `func_wrap` and `Caller`.
//! * `plugin/100th module vs first`: the same serde call on the last of 100 distinct modules
//!   loaded into one sandbox against the first: loading more plugins must not slow calls.

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasm_sandbox::{Plugin, WasmSandbox};
use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_core::{EPOCH_TICK, HostFunctions, ResourceLimits, Sandbox, SandboxConfig};
use wasmtime::{Caller, Engine, Linker, Memory, Store, TypedFunc, UpdateDeadline};

use super::call::small_payload;
use super::{Ctx, RowResult, RowSet, Scale};
use crate::plain::{self, BoxError, PlainAbi};

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "plugin/serde",
            run: serde_call,
        },
        RowSet {
            id: "plugin/host-function",
            run: host_function,
        },
        RowSet {
            id: "plugin/many-modules",
            run: many_modules,
        },
    ]
}

/// The current-thread tokio runtime the async sides run on (`block_on` per call).
fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// A facade sandbox with default settings and the plugins loaded from `modules`, in order.
fn load_plugins(
    rt: &tokio::runtime::Runtime,
    modules: impl IntoIterator<Item = Vec<u8>>,
) -> Result<Vec<Plugin>, BoxError> {
    Ok(rt.block_on(async {
        let sandbox = WasmSandbox::builder().build().await?;
        let mut plugins = Vec::new();
        for wasm in modules {
            plugins.push(sandbox.load(wasm).await?);
        }
        Ok::<_, wasm_sandbox::Error>(plugins)
    })?)
}

/// One serde call of `process_batch` through a plugin, driven to completion on `rt`.
fn plugin_call(rt: &tokio::runtime::Runtime, plugin: &Plugin, payload: &[i32]) -> Vec<i32> {
    rt.block_on(plugin.call::<_, Vec<i32>>("process_batch", black_box(payload)))
        .expect("plugin call")
}

/// What `process_batch` answers for `payload`: every element doubled.
fn doubled(payload: &[i32]) -> Vec<i32> {
    payload.iter().map(|x| x * 2).collect()
}

fn serde_call(ctx: &Ctx) -> RowResult {
    let rt = runtime()?;
    let plugin = load_plugins(&rt, [wasm_sandbox_guests::ABI_WASM.to_vec()])?
        .pop()
        .ok_or("one plugin was loaded")?;
    let engine = plain::engine();
    let module = wasmtime::Module::new(&engine, wasm_sandbox_guests::ABI_WASM)?;
    let mut sync = PlainAbi::new(&engine, &module)?;
    let f = sync.func("process_batch")?;
    let mut careful = CarefulAsyncAbi::new(wasm_sandbox_guests::ABI_WASM)?;
    let payload = small_payload();
    let want = doubled(&payload);
    assert_eq!(plugin_call(&rt, &plugin, &payload), want);
    assert_eq!(sync.call_json::<_, Vec<i32>>(&f, &payload)?, want);
    assert_eq!(
        rt.block_on(careful.call_json::<_, Vec<i32>>(&payload))?,
        want
    );
    let ours = || plugin_call(&rt, &plugin, &payload);
    let row = compare(
        "serde call",
        || -> Vec<i32> { sync.call_json(&f, black_box(&payload)).expect("plain call") },
        &ours,
        &ctx.config(Scale::Fast),
    )
    .with_group("plugin")
    .with_phase(Phase::Execution)
    .with_names(
        "hand-written sync wasmtime ABI code",
        "wasm-sandbox Plugin::call (JSON)",
    )
    .with_measures(
        "The README's headline call: `plugin.call::<_, Vec<i32>>(\"process_batch\", &payload)` \
         on a Plugin of ABI_WASM loaded into a WasmSandbox with default settings (10 s \
         timeout, no cache, no memoization, no tiering), with 8 i32s as JSON, driven by \
         `block_on` on a current-thread tokio runtime. It takes an idle instance, starts the \
         call's budget (one clock read), runs the 4 ABI steps (sandbox_alloc, call, \
         sandbox_free twice) as async calls on a fiber, each raced against the deadline, \
         returns the instance and counts the call in the plugin's stats. The baseline is \
         plain wasmtime (Engine::default(): no epoch interruption, no timeout) doing the same \
         steps by hand, synchronously, with pre-fetched TypedFuncs: serde_json encode, \
         sandbox_alloc, write, call, sandbox_free, copy the result out, sandbox_free, decode. \
         The goal (at most 1.5x slower) is on this synchronous baseline; the row `serde call, \
         vs careful async wasmtime` measures the same call against an async baseline.",
    )
    .with_goal(Goal::slowdown_at_most(1.5));
    let async_row = compare(
        "serde call, vs careful async wasmtime",
        || -> Vec<i32> {
            rt.block_on(careful.call_json(black_box(&payload)))
                .expect("careful call")
        },
        &ours,
        &ctx.config(Scale::Fast),
    )
    .with_group("plugin")
    .with_phase(Phase::Execution)
    .with_names(
        "hand-written async wasmtime ABI code, epoch deadline per call",
        "wasm-sandbox Plugin::call (JSON)",
    )
    .with_measures(
        "Attribution for `plugin/serde call`: the same Plugin::call against plain wasmtime set \
         up as a careful async host would be: epoch interruption on, a thread advancing the \
         engine's epoch every 5 ms (the sandbox's tick), and per call a wall-clock deadline \
         (Instant::now() + 10 s, the sandbox's default timeout) with `set_epoch_deadline(1)` \
         and an epoch callback that yields to the executor each tick and interrupts past the \
         deadline. Its ABI steps (serde_json encode, sandbox_alloc, range-checked write, call, \
         sandbox_free, range-checked read, sandbox_free, decode) are `call_async` on \
         pre-fetched TypedFuncs, driven by `block_on` on the same current-thread runtime. \
         What remains is the facade's and the sandbox's own work: the idle-instance list, the \
         race of each step against the deadline's alarm, catch_unwind, bounded decoding, and \
         the plugin's counters. No goal: the goal is on the synchronous baseline.",
    );
    Ok(vec![row, async_row])
}

/// The data of the careful async host's store: the current call's deadline.
struct CallDeadline {
    at: Instant,
}

/// Plain wasmtime as a careful async host sets it up, with the ABI steps written by hand:
/// epoch interruption, a per-call wall-clock deadline checked at every epoch tick (yielding
/// to the executor in between), and `call_async`.
struct CarefulAsyncAbi {
    store: Store<CallDeadline>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    process: TypedFunc<(i32, i32), i64>,
    timeout: Duration,
    _ticker: EpochTicker,
}

impl CarefulAsyncAbi {
    fn new(wasm: &[u8]) -> Result<Self, BoxError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let module = wasmtime::Module::new(&engine, wasm)?;
        let timeout = ResourceLimits::default()
            .timeout
            .ok_or("the default limits have a timeout")?;
        let mut store = Store::new(
            &engine,
            CallDeadline {
                at: Instant::now() + timeout,
            },
        );
        store.epoch_deadline_callback(|cx| {
            Ok(if Instant::now() >= cx.data().at {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store.set_epoch_deadline(1);
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("the guest exports no memory")?;
        let alloc = instance.get_typed_func(&mut store, "sandbox_alloc")?;
        let free = instance.get_typed_func(&mut store, "sandbox_free")?;
        let process = instance.get_typed_func(&mut store, "process_batch")?;
        Ok(CarefulAsyncAbi {
            store,
            memory,
            alloc,
            free,
            process,
            timeout,
            _ticker: EpochTicker::start(&engine)?,
        })
    }

    /// One serde call of `process_batch` with JSON, under a fresh deadline.
    async fn call_json<A: serde::Serialize + ?Sized, R: serde::de::DeserializeOwned>(
        &mut self,
        args: &A,
    ) -> Result<R, BoxError> {
        self.store.data_mut().at = Instant::now() + self.timeout;
        self.store.set_epoch_deadline(1);
        let input = serde_json::to_vec(args)?;
        let len = i32::try_from(input.len())?;
        let ptr = self.alloc.call_async(&mut self.store, len).await?;
        let start = usize::try_from(ptr)?;
        self.memory
            .data_mut(&mut self.store)
            .get_mut(start..start + input.len())
            .ok_or("the guest allocated outside its memory")?
            .copy_from_slice(&input);
        let packed = self.process.call_async(&mut self.store, (ptr, len)).await?;
        self.free.call_async(&mut self.store, (ptr, len)).await?;
        let rptr = (packed as u64 >> 32) as usize;
        let raw_len = packed as u32;
        let rlen = (raw_len & 0x7fff_ffff) as usize;
        let out = self
            .memory
            .data(&self.store)
            .get(rptr..rptr + rlen)
            .ok_or("the guest's result is outside its memory")?
            .to_vec();
        if rlen > 0 {
            self.free
                .call_async(
                    &mut self.store,
                    (i32::try_from(rptr)?, i32::try_from(rlen)?),
                )
                .await?;
        }
        if raw_len & 0x8000_0000 != 0 {
            return Err(String::from_utf8_lossy(&out).into_owned().into());
        }
        Ok(serde_json::from_slice(&out)?)
    }
}

/// A thread advancing one engine's epoch every [`EPOCH_TICK`], as the sandbox's ticker does;
/// stopped (and joined) on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Result<Self, BoxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, engine) = (Arc::clone(&stop), engine.clone());
        let thread = std::thread::Builder::new()
            .name("bench-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Bytes of guest memory the host function reads per call.
const HOST_READ_LEN: u32 = 1024;

fn host_function(ctx: &Ctx) -> RowResult {
    let wasm = wasm_sandbox_guests::wat(wasm_sandbox_guests::HOST_READ_WAT);
    let host = HostFunctions::<()>::new().func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
        let m = cx.memory()?;
        Ok(m.read(ptr, len)?.iter().map(|&b| u32::from(b)).sum::<u32>())
    });
    let sandbox = Sandbox::with_host(SandboxConfig::default(), host)?;
    let module = sandbox.compile(&wasm)?;
    let mut instance = module.instantiate()?;
    let run = instance.typed::<u32, u32>("run")?;

    let engine = plain::engine();
    let pmodule = wasmtime::Module::new(&engine, &wasm)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap(
        "env",
        "checksum",
        |mut caller: Caller<'_, ()>, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            let memory = caller
                .get_export("memory")
                .and_then(|e| e.into_memory())
                .ok_or_else(|| wasmtime::format_err!("the guest exports no memory"))?;
            let data = memory.data(&caller);
            let (start, len) = (usize::try_from(ptr)?, usize::try_from(len)?);
            let bytes = start
                .checked_add(len)
                .and_then(|end| data.get(start..end))
                .ok_or_else(|| wasmtime::format_err!("checksum: block outside guest memory"))?;
            Ok(bytes.iter().map(|&b| u32::from(b)).sum())
        },
    )?;
    let mut store = Store::new(&engine, ());
    let pinst = linker.instantiate(&mut store, &pmodule)?;
    let prun = pinst.get_typed_func::<u32, u32>(&mut store, "run")?;

    let ours = run.call(&mut instance, HOST_READ_LEN)?;
    let theirs = prun.call(&mut store, HOST_READ_LEN)?;
    assert_eq!(
        ours, theirs,
        "both host functions compute the same checksum"
    );
    let row = compare(
        "host function reads 1 KiB",
        || {
            prun.call(&mut store, black_box(HOST_READ_LEN))
                .expect("plain run")
        },
        || {
            run.call(&mut instance, black_box(HOST_READ_LEN))
                .expect("sandbox run")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("plugin")
    .with_phase(Phase::Execution)
    .with_names(
        "wasmtime Linker::func_wrap + Caller",
        "wasm-sandbox HostFunctions::func",
    )
    .with_measures(format!(
        "One synchronous call of `run({HOST_READ_LEN})` (HOST_READ_WAT), whose guest calls the \
         import `env.checksum(0, {HOST_READ_LEN})`; the host sums those {HOST_READ_LEN} bytes \
         of guest memory (checksum {ours} on both sides, asserted). Ours: core \
         `Sandbox::with_host(SandboxConfig::default(), ..)` with `HostFunctions::<()>::func`, \
         the function reading through `cx.memory()?.read(ptr, len)?` (range-checked; the \
         memory export is looked up once per instance), called through a cached \
         TypedFunction on an Instance: the epoch deadline is armed and the call runs under \
         catch_unwind, because the guest imports a host function. Plain: \
         `Linker::func_wrap` with a closure that looks up the `memory` export through \
         `Caller::get_export` on every call, range-checks the block and sums it, on \
         Engine::default() (no epoch interruption), called through a TypedFunc."
    ))
    .with_goal(Goal::slowdown_at_most(1.3));
    Ok(vec![row])
}

/// `wasm` with a custom section `name` holding `payload` appended: the same code, another
/// content hash.
fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = leb128(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0x00);
    out.extend(leb128(body.len()));
    out.extend(body);
    out
}

/// `n` as unsigned LEB128.
fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn many_modules(ctx: &Ctx) -> RowResult {
    let count: usize = ctx.pick(4, 100, 100);
    let rt = runtime()?;
    let modules = (0..count).map(|i| {
        with_custom_section(
            wasm_sandbox_guests::ABI_WASM,
            "wasm-sandbox-bench",
            format!("plugin {i}").as_bytes(),
        )
    });
    let plugins = load_plugins(&rt, modules)?;
    let hashes: HashSet<[u8; 32]> = plugins.iter().map(Plugin::content_hash).collect();
    assert_eq!(hashes.len(), count, "every plugin is a distinct module");
    let payload = small_payload();
    let want = doubled(&payload);
    // A plugin host serves all its plugins: each gets one call (and so an idle instance).
    for plugin in &plugins {
        assert_eq!(plugin_call(&rt, plugin, &payload), want);
    }
    let (first, last) = (&plugins[0], &plugins[count - 1]);
    let smoke = if ctx.smoke() {
        format!(" Smoke mode loads only {count} modules, so the candidate is the {count}th.")
    } else {
        String::new()
    };
    let row = compare(
        "100th module vs first",
        || plugin_call(&rt, first, &payload),
        || plugin_call(&rt, last, &payload),
        &ctx.config(Scale::Fast),
    )
    .with_group("plugin")
    .with_phase(Phase::Execution)
    .with_names(
        format!("Plugin::call on the 1st of {count} plugins"),
        format!("Plugin::call on the {count}th (last loaded)"),
    )
    .with_measures(format!(
        "{count} plugins loaded into one WasmSandbox with default settings, each a distinct \
         module (ABI_WASM with a different custom section appended, so every content hash \
         differs and each is compiled and linked on its own), each called once before \
         measuring so all hold an idle instance. Both sides make the `plugin/serde call` \
         call (`process_batch` with 8 i32s as JSON, `block_on` on a current-thread tokio \
         runtime): the baseline on the first plugin loaded, the candidate on the last. \
         Loading more plugins must not slow a plugin's calls.{smoke}"
    ))
    .with_goal(Goal::slowdown_at_most(1.05));
    Ok(vec![row])
}
