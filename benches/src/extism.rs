//! Extism side by side: the plugin host a user would pick instead of wasm-sandbox, measured
//! in the same run on guests doing the same work.
//!
//! Extism 1.41's runtime (on wasmtime 49) is `libextism_sys.so` from the PyPI package
//! `extism-sys` 1.41.0, loaded at run time through its C API ([`ffi`]), so the workspace
//! never links it. `cargo xtask bench` downloads it into
//! `~/.cache/wasm-sandbox-peers/extism-sys-1.41.0/` and names the library in `EXTISM_LIB`;
//! without the variable the suite looks there too, and when there is no library the set
//! returns a [`Skip`](crate::suite::Skip) naming `pip download --no-deps extism-sys==1.41.0`.
//!
//! Extism is configured as a careful host would: every plugin's manifest sets
//! `memory.max_pages` to our default memory limit (64 MiB) and `timeout_ms` to our default
//! timeout (10 s); WASI is off on both sides; everything else is Extism's default
//! (including wasmtime's compilation cache, which `extism_plugin_new` consults). Our side is
//! the facade's [`WasmSandbox`] with default settings unless a row says otherwise.
//!
//! The guests: `EXTISM_BENCH_WAT` (Extism's ABI: the input is read from the kernel's memory
//! 8 bytes per import call, the output written back the same way, as Extism's PDKs do) and
//! its twin `EXTISM_BENCH_OURS_WAT` (our ABI: the host writes the argument into the guest's
//! memory, the guest returns a result block), each with `echo`, `upper` and `compute`; and
//! `EXTISM_HOST_READ_WAT` / `EXTISM_HOST_READ_OURS_WAT` for the host-function row. Every row
//! asserts both sides' outputs equal before measuring. Ratios above 1 favour wasm-sandbox.

#[path = "extism_ffi.rs"]
pub mod ffi;

use std::ffi::{CStr, c_void};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use wasm_sandbox::{HostFunctions, Plugin, WasmSandbox};
use wasm_sandbox_bench::{Comparison, Goal, InputSize, Phase, compare};
use wasm_sandbox_core::{PerformanceConfig, ResourceLimits};

use crate::plain::BoxError;
use crate::suite::{Ctx, RowResult, RowSet, Scale, fmt_ns, note, skip};

/// The Extism version the rows are for.
pub use wasm_sandbox_bench::peers::EXTISM_VERSION;
/// The environment variable naming `libextism_sys.so`.
pub const LIB_ENV: &str = "EXTISM_LIB";

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![RowSet {
        id: "extism/side-by-side",
        run: side_by_side,
    }]
}

/// Where `cargo xtask bench` puts the unpacked wheel's library.
fn cached_lib() -> Option<PathBuf> {
    Some(wasm_sandbox_bench::peers::extism_dir()?.join("extism_sys/libextism_sys.so"))
}

/// The loaded library, or a [`Skip`](crate::suite::Skip) saying how to get it.
fn api() -> Result<&'static ffi::Api, BoxError> {
    let path = match std::env::var_os(LIB_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => cached_lib().filter(|p| p.is_file()).ok_or_else(|| {
            skip(format!(
                "Extism {EXTISM_VERSION} is not available: `cargo xtask bench` fetches it \
                     with `pip download --no-deps extism-sys=={EXTISM_VERSION}` into \
                     ~/.cache/wasm-sandbox-peers/extism-sys-{EXTISM_VERSION}/ (needs pip and \
                     network), or set {LIB_ENV} to a libextism_sys.so"
            ))
        })?,
    };
    if !path.is_file() {
        return Err(format!("{LIB_ENV}={} is not a file", path.display()).into());
    }
    let api = ffi::Api::get(&path)?;
    let version = api.version();
    if version != EXTISM_VERSION {
        return Err(format!(
            "{} is Extism {version}; the rows are for {EXTISM_VERSION}",
            path.display()
        )
        .into());
    }
    Ok(api)
}

/// Extism's limits: ours by default, in the manifest's units.
fn limits() -> Result<ffi::Limits, BoxError> {
    let ours = ResourceLimits::default();
    let timeout = ours.timeout.ok_or("the default limits have a timeout")?;
    Ok(ffi::Limits {
        max_pages: u32::try_from(ours.max_memory / 65536)?,
        timeout_ms: u64::try_from(timeout.as_millis())?,
    })
}

/// The current-thread tokio runtime the single-threaded rows drive our side on.
fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `checksum(offset, len) -> i64` for Extism: the sum of the `len` bytes of the kernel-memory
/// block at `offset`, or -1 when that is not a live block of at least `len` bytes.
#[allow(
    unsafe_code,
    reason = "an Extism host function is a C callback reading Extism's raw values"
)]
unsafe extern "C" fn extism_checksum(
    plugin: *mut ffi::CurrentPlugin,
    inputs: *const ffi::Val,
    n_inputs: u64,
    outputs: *mut ffi::Val,
    n_outputs: u64,
    _data: *mut c_void,
) {
    if inputs.is_null() || outputs.is_null() || n_inputs != 2 || n_outputs != 1 {
        return;
    }
    // SAFETY: Extism passes `n_inputs` values at `inputs`, valid for the callback, typed as
    // registered (two I64s); reading the `i64` member of an I64 value is what the type says.
    let (offset, len) = unsafe { ((*inputs).v.i64, (*inputs.add(1)).v.i64) };
    let sum = match (u64::try_from(offset), u64::try_from(len)) {
        // SAFETY: `plugin` is the current plugin of this running host call, and the slice is
        // dropped before the callback returns.
        (Ok(o), Ok(l)) => match unsafe { ffi::block(plugin, o, l) } {
            Some(bytes) => bytes.iter().map(|&b| i64::from(b)).sum(),
            None => -1,
        },
        _ => -1,
    };
    // SAFETY: Extism passes `n_outputs` (checked to be 1) writable values at `outputs`,
    // pre-typed I64 as registered.
    unsafe { (*outputs).v.i64 = sum };
}

/// The one host function of the host-function row, on Extism's side.
const CHECKSUM: ffi::HostFunction = ffi::HostFunction {
    namespace: c"extism:host/user",
    name: c"checksum",
    params: 2,
    results: 1,
    callback: extism_checksum,
};

/// A small JSON document for the byte-transform row.
const SMALL_JSON: &[u8] =
    br#"{"user":"ada","plan":"pro","items":[{"sku":"a-1","qty":2},{"sku":"b-7","qty":1}]}"#;

/// Host calls per guest call in the host-function row.
fn host_calls(ctx: &Ctx) -> u64 {
    ctx.pick(4, 100, 100)
}

/// Everything the rows share.
struct Sides {
    api: &'static ffi::Api,
    limits: ffi::Limits,
    extism_wasm: Vec<u8>,
    ours_wasm: Vec<u8>,
    ours: Ours,
    theirs: ffi::Plugin,
}

/// Our side of the single-threaded rows: a plugin and the runtime its calls are driven on.
struct Ours {
    rt: tokio::runtime::Runtime,
    plugin: Plugin,
}

impl Ours {
    /// One bytes call, `block_on` on the current-thread runtime.
    fn call(&self, export: &str, input: &[u8]) -> Vec<u8> {
        self.rt
            .block_on(self.plugin.call_bytes(export, black_box(input)))
            .expect("wasm-sandbox call")
    }
}

impl Sides {
    fn config(&self) -> String {
        format!(
            "Extism {} (libextism_sys.so of PyPI extism-sys {EXTISM_VERSION}, wasmtime 49) \
             with {}, WASI off, through its C API",
            self.api.version(),
            self.limits.describe()
        )
    }
}

/// One bytes call on Extism's side, the output copied out (as ours returns a `Vec`).
fn theirs(plugin: &mut ffi::Plugin, export: &CStr, input: &[u8]) -> Vec<u8> {
    plugin
        .call(export, black_box(input))
        .expect("extism call")
        .to_vec()
}

fn side_by_side(ctx: &Ctx) -> RowResult {
    let api = api()?;
    let limits = limits()?;
    let extism_wasm = wasm_sandbox_guests::wat(wasm_sandbox_guests::EXTISM_BENCH_WAT);
    let ours_wasm = wasm_sandbox_guests::wat(wasm_sandbox_guests::EXTISM_BENCH_OURS_WAT);
    let rt = runtime()?;
    let sandbox = rt.block_on(WasmSandbox::builder().build())?;
    let plugin = rt.block_on(sandbox.load(ours_wasm.clone()))?;
    let ours = Ours { rt, plugin };
    let theirs = api.plugin_new(&extism_wasm, &limits, &[])?;
    let mut s = Sides {
        api,
        limits,
        extism_wasm,
        ours_wasm,
        ours,
        theirs,
    };
    let mut rows = vec![
        small_call(ctx, &mut s)?,
        transform(ctx, &mut s)?,
        round_trip(ctx, &mut s)?,
        computation(ctx, &mut s)?,
    ];
    rows.extend(new_plugin(ctx, &mut s)?);
    rows.push(cold_start(ctx, &mut s)?);
    rows.push(threads(ctx, &mut s)?);
    rows.push(host_function(ctx, &s)?);
    Ok(rows)
}

/// The names of a bytes-call row's sides.
fn call_names(row: Comparison, export: &str) -> Comparison {
    row.with_group("extism")
        .with_phase(Phase::Execution)
        .with_names(
            format!("Extism extism_plugin_call(\"{export}\")"),
            format!("wasm-sandbox Plugin::call_bytes(\"{export}\")"),
        )
}

fn small_call(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let input = b"hello, plugins!!";
    assert_eq!(theirs(&mut s.theirs, c"echo", input), input);
    assert_eq!(s.ours.call("echo", input), input);
    let row = compare(
        "small call (16 B echo)",
        || theirs(&mut s.theirs, c"echo", input),
        || s.ours.call("echo", input),
        &ctx.config(Scale::Fast),
    );
    Ok(call_names(row, "echo").with_measures(format!(
        "One call of `echo` with 16 bytes in and out, the cost of a call itself. Extism: \
         {}; `extism_plugin_call` resets the kernel's allocator, copies the input into the \
         kernel's memory, starts the call's timer (a message to Extism's timer thread), runs \
         the guest (which reads the input with 2 `input_load_u64` imports and writes the \
         output with `alloc`, 2 `store_u64` and `output_set`), stops the timer, reads the \
         output's position, and the host copies the output out of \
         `extism_plugin_output_data`. Ours: `Plugin::call_bytes` on a Plugin of the twin \
         guest in a WasmSandbox with default settings (10 s timeout, 64 MiB memory limit), \
         `block_on` on a current-thread tokio runtime: the ABI steps of docs/abi.md as async \
         calls under a deadline. No goal: the issue sets none for this row.",
        s.config()
    )))
}

fn transform(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let want = SMALL_JSON.to_ascii_uppercase();
    assert_eq!(theirs(&mut s.theirs, c"upper", SMALL_JSON), want);
    assert_eq!(s.ours.call("upper", SMALL_JSON), want);
    let row = compare(
        "small JSON byte transform",
        || theirs(&mut s.theirs, c"upper", SMALL_JSON),
        || s.ours.call("upper", SMALL_JSON),
        &ctx.config(Scale::Fast),
    );
    Ok(call_names(row, "upper").with_measures(format!(
        "One call of `upper` on a {}-byte JSON document: the guest upper-cases its ASCII \
         letters and returns it (a byte transform of a small document, the same loop on both \
         sides, so the row measures how each ABI moves a small payload in and out). Extism: \
         {}; ours: `Plugin::call_bytes` with default settings, as in `extism/small call`. \
         No goal.",
        SMALL_JSON.len(),
        s.config()
    )))
}

fn round_trip(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let size: usize = ctx.pick(4096, 65536, 65536);
    let input: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(theirs(&mut s.theirs, c"echo", &input), input);
    assert_eq!(s.ours.call("echo", &input), input);
    let row = compare(
        format!("{} KiB round trip", size / 1024),
        || theirs(&mut s.theirs, c"echo", &input),
        || s.ours.call("echo", &input),
        &ctx.config(Scale::Medium),
    );
    let gbps = |ns: f64| size as f64 / ns;
    let row = call_names(row, "echo")
        .with_throughput(InputSize::Bytes(size as u64))
        .with_goal(Goal::at_least(10.0))
        .with_measures(format!(
            "`echo` of {size} bytes: in, copied by the guest, and out again, throughput \
             counted as the {size} bytes per call. Extism's guest reads the input with \
             {} `input_load_u64` imports and writes the output with as many `store_u64`s \
             (its ABI keeps the data in the kernel's memory, which the guest can only reach \
             through those calls, as Extism's PDKs do); ours gets the argument written into \
             its memory and copies it into a result block with one `memory.copy`. Extism: \
             {}; ours: `Plugin::call_bytes` with default settings. Goal: at least 10x \
             Extism's throughput.",
            size / 8,
            s.config()
        ));
    let (b, c) = (row.baseline.stats.median, row.candidate.stats.median);
    Ok(note(
        row,
        format!(
            "Measured: Extism {:.2} GB/s ({}), wasm-sandbox {:.2} GB/s ({}).",
            gbps(b),
            fmt_ns(b),
            gbps(c),
            fmt_ns(c)
        ),
    ))
}

fn computation(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let rounds: u64 = ctx.pick(100, 5000, 5000);
    let input = rounds.to_le_bytes();
    let want = theirs(&mut s.theirs, c"compute", &input);
    assert_eq!(s.ours.call("compute", &input), want);
    let row = compare(
        "pure computation (~10 µs)",
        || theirs(&mut s.theirs, c"compute", &input),
        || s.ours.call("compute", &input),
        &ctx.config(Scale::Medium),
    );
    let row = call_names(row, "compute").with_measures(format!(
        "`compute` with an 8-byte input: {rounds} rounds of xorshift64 (a dependent chain of \
         shifts and xors, about 10 µs), 8 bytes out. Both sides run the same loop compiled by \
         Cranelift with epoch interruption (a check per loop iteration on both), so the ratio \
         should be near 1: what is left is each side's per-call overhead, small against the \
         work. Extism: {}; ours: `Plugin::call_bytes` with default settings. No goal.",
        s.config()
    ));
    let c = row.candidate.stats.median;
    Ok(note(
        row,
        format!("Measured: wasm-sandbox {} per call.", fmt_ns(c)),
    ))
}

fn new_plugin(ctx: &Ctx, s: &mut Sides) -> Result<Vec<Comparison>, BoxError> {
    let compiled = s.api.compile(&s.extism_wasm, &s.limits, &[])?;
    let input = b"hello, plugins!!";
    let bare = compare(
        "new plugin from compiled",
        || {
            compiled
                .instantiate()
                .expect("extism_plugin_new_from_compiled")
        },
        || s.ours.plugin.instantiate().expect("instantiate"),
        &ctx.config(Scale::Fast),
    )
    .with_group("extism")
    .with_phase(Phase::Instantiation)
    .with_names(
        "Extism extism_plugin_new_from_compiled + free",
        "wasm-sandbox Plugin::instantiate + drop",
    )
    .with_goal(Goal::at_least(5.0))
    .with_measures(format!(
        "A new plugin from an already compiled module, then freed. Extism: \
         `extism_plugin_new_from_compiled` on an `extism_compiled_plugin_new` of the guest \
         ({}): a new Store, a Linker with Extism's host functions, the kernel module linked, \
         the guest's InstancePre; Extism instantiates the guest itself lazily, in the first \
         call (see the next row). Ours: `Plugin::instantiate()` (the facade's default \
         sandbox: InstancePre, the pooling allocator's slot with a copy-on-write memory \
         image, the call limits set on the store). Goal: at least 5x faster.",
        s.config()
    ));
    let first = compare(
        "new plugin from compiled + first call",
        || {
            let mut p = compiled
                .instantiate()
                .expect("extism_plugin_new_from_compiled");
            theirs(&mut p, c"echo", input)
        },
        || {
            let mut i = s.ours.plugin.instantiate().expect("instantiate");
            i.call_bytes("echo", black_box(input)).expect("first call")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("extism")
    .with_phase(Phase::Instantiation)
    .with_names(
        "Extism new_from_compiled + first extism_plugin_call + free",
        "wasm-sandbox Plugin::instantiate + first Instance::call_bytes + drop",
    )
    .with_goal(Goal::at_least(5.0))
    .with_measures(format!(
        "`extism/new plugin from compiled` until the plugin has answered: a new plugin, its \
         first 16-byte `echo`, then freed, so both sides have instantiated the guest (Extism \
         does it in the first call, and also runs its kernel's reset and input copy). \
         Extism: {}; ours: `Plugin::instantiate()` and a synchronous \
         `Instance::call_bytes` (the ABI steps under the default 10 s timeout). Goal: at \
         least 5x faster.",
        s.config()
    ));
    Ok(vec![bare, first])
}

fn cold_start(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let dir = tempfile::tempdir()?;
    let sandbox = s.ours.rt.block_on(
        WasmSandbox::builder()
            .performance_config(PerformanceConfig {
                enable_caching: true,
                ..PerformanceConfig::default()
            })
            .cache_dir(dir.path())
            .build(),
    )?;
    let input = b"hello, plugins!!";
    let theirs_once = || {
        let mut p = s
            .api
            .plugin_new(&s.extism_wasm, &s.limits, &[])
            .expect("extism_plugin_new");
        theirs(&mut p, c"echo", input)
    };
    let ours_once = || {
        s.ours.rt.block_on(async {
            let plugin = sandbox.load(s.ours_wasm.clone()).await.expect("load");
            plugin
                .call_bytes("echo", black_box(input))
                .await
                .expect("call")
        })
    };
    // Warm both caches: wasmtime's (Extism's default) and ours.
    assert_eq!(theirs_once(), input);
    assert_eq!(ours_once(), input);
    let row = compare(
        "cold start from bytes, warm cache",
        theirs_once,
        ours_once,
        &ctx.config(Scale::Medium),
    )
    .with_group("extism")
    .with_phase(Phase::Compilation)
    .with_names(
        "Extism extism_plugin_new + first call + free (wasmtime cache)",
        "wasm-sandbox WasmSandbox::load + first call_bytes (compilation cache)",
    )
    .with_goal(Goal::at_least(5.0))
    .with_measures(format!(
        "From the wasm bytes to a plugin that has answered one 16-byte `echo`, with the \
         compilation cache warm on both sides (one load before measuring). Extism: \
         `extism_plugin_new` with the manifest ({}): it builds a new wasmtime Engine per \
         plugin (Extism does not share engines between plugins), parses the manifest, loads \
         its kernel module and the guest through wasmtime's compilation cache (on by default \
         in Extism: the user's wasmtime cache directory, hits read from disk), links them, \
         then instantiates in the first call. Ours: `WasmSandbox::load` of the twin guest \
         into one WasmSandbox built with `enable_caching: true` (changed from the default, \
         which has no cache) and a cache directory of its own; a hit is found by content \
         hash in the cache's memory tier, then the module is linked; the first \
         `call_bytes` instantiates from the pool. The sandbox (engine) is built once, as a \
         host keeps it. Goal: at least 5x faster.",
        s.config()
    ));
    // Attribution, outside the comparison: the median of a few runs of each half.
    let runs = ctx.pick(3, 31, 51);
    let median = |f: &mut dyn FnMut()| {
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_nanos() as f64
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let their_new = median(&mut || {
        drop(black_box(
            s.api
                .plugin_new(&s.extism_wasm, &s.limits, &[])
                .expect("extism_plugin_new"),
        ));
    });
    let our_load = median(&mut || {
        drop(black_box(
            s.ours
                .rt
                .block_on(sandbox.load(s.ours_wasm.clone()))
                .expect("load"),
        ));
    });
    drop(sandbox);
    let (b, c) = (row.baseline.stats.median, row.candidate.stats.median);
    Ok(note(
        row,
        format!(
            "Attribution (medians of {runs} runs of each part alone): Extism's \
             `extism_plugin_new` + free {} of its {}; our `load` (dropped unused) {} of \
             our {}; the rest is the first call and dropping the plugin.",
            fmt_ns(their_new),
            fmt_ns(b),
            fmt_ns(our_load),
            fmt_ns(c)
        ),
    ))
}

/// A worker thread owning one Extism plugin, making `n` small calls when told to (Extism's
/// `Pool` pattern: a plugin per thread).
struct Worker {
    go: Option<mpsc::Sender<u64>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(mut plugin: ffi::Plugin) -> Result<Worker, BoxError> {
        let (go, orders) = mpsc::channel::<u64>();
        let (report, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("extism-worker".into())
            .spawn(move || {
                while let Ok(n) = orders.recv() {
                    for _ in 0..n {
                        let out = plugin
                            .call(c"echo", black_box(b"hello, plugins!!"))
                            .expect("extism call");
                        black_box(out);
                    }
                    if report.send(()).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker {
            go: Some(go),
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.go.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn threads(ctx: &Ctx, s: &mut Sides) -> Result<Comparison, BoxError> {
    let n: u64 = ctx.pick(10, 500, 2000);
    let threads = 2;
    let workers: Vec<Worker> = (0..threads)
        .map(|_| Worker::start(s.api.plugin_new(&s.extism_wasm, &s.limits, &[])?))
        .collect::<Result<_, BoxError>>()?;
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let plugin = s.ours.plugin.clone();
    let theirs_run = || {
        for w in &workers {
            w.go.as_ref()
                .expect("a running worker")
                .send(n)
                .expect("worker alive");
        }
        for w in &workers {
            w.done.recv().expect("worker done");
        }
    };
    let ours_run = || {
        mt.block_on(async {
            let tasks: Vec<_> = (0..threads)
                .map(|_| {
                    let p = plugin.clone();
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let out = p
                                .call_bytes("echo", black_box(b"hello, plugins!!"))
                                .await
                                .expect("call");
                            black_box(out);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        });
    };
    theirs_run();
    ours_run();
    let row = compare(
        format!("{threads} threads x {n} calls"),
        theirs_run,
        ours_run,
        &ctx.config(Scale::Medium),
    )
    .with_group("extism")
    .with_phase(Phase::Execution)
    .with_names(
        format!("Extism, {threads} threads with a plugin each"),
        format!("wasm-sandbox async Plugin::call_bytes, {threads} tokio tasks"),
    )
    .with_throughput(InputSize::Items(threads as u64 * n))
    .with_goal(Goal::at_least(1.5))
    .with_measures(format!(
        "{} small calls (16-byte `echo`) split over {threads} threads, throughput in calls \
         per second. Extism: its `Pool` pattern, {threads} worker threads started before \
         measuring, each owning its own plugin ({}), told by a channel to make {n} \
         synchronous `extism_plugin_call`s (a plugin is not safe to share, so Extism needs \
         one per thread). Ours: the async API as a tokio service calls it: one Plugin \
         (cloned handles) on a multi-thread tokio runtime with {threads} workers, {threads} \
         spawned tasks each awaiting {n} `call_bytes` in turn; the plugin serves them from \
         its idle instances. Goal: at least 1.5x Extism's throughput.",
        threads as u64 * n,
        s.config()
    ));
    drop(workers);
    Ok(row)
}

fn host_function(ctx: &Ctx, s: &Sides) -> Result<Comparison, BoxError> {
    let k = host_calls(ctx);
    let input = k.to_le_bytes();
    let extism_wasm = wasm_sandbox_guests::wat(wasm_sandbox_guests::EXTISM_HOST_READ_WAT);
    let ours_wasm = wasm_sandbox_guests::wat(wasm_sandbox_guests::EXTISM_HOST_READ_OURS_WAT);
    let mut theirs_plugin = s.api.plugin_new(&extism_wasm, &s.limits, &[CHECKSUM])?;
    let host = HostFunctions::<()>::new().func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
        let m = cx.memory()?;
        Ok(m.read(ptr, len)?.iter().map(|&b| u32::from(b)).sum::<u32>())
    });
    let rt = &s.ours.rt;
    let sandbox = rt.block_on(WasmSandbox::builder().host_functions(host).build())?;
    let ours = rt.block_on(sandbox.load(ours_wasm))?;
    let ours_once = || {
        rt.block_on(ours.call_bytes("run", black_box(&input)))
            .expect("wasm-sandbox call")
    };
    let want = theirs(&mut theirs_plugin, c"run", &input);
    assert_eq!(ours_once(), want, "both host functions sum the same bytes");
    assert_eq!(
        u64::from_le_bytes(want.as_slice().try_into()?),
        136 * k,
        "the 1 KiB block sums to 136"
    );
    let row = compare(
        "host function reads 1 KiB",
        || theirs(&mut theirs_plugin, c"run", &input),
        ours_once,
        &ctx.config(Scale::Medium),
    )
    .with_group("extism")
    .with_phase(Phase::Execution)
    .with_names(
        "Extism extism_function_new + extism_current_plugin_memory",
        "wasm-sandbox HostFunctions::func + HostContext::memory",
    )
    .with_throughput(InputSize::Items(k))
    .with_goal(Goal::at_least(1.0))
    .with_measures(format!(
        "One guest call (`run`) that calls the host function `checksum` {k} times on the \
         same 1 KiB block of memory; the host sums the block's bytes and answers (the sum \
         of the answers is asserted equal on both sides), throughput in host calls per \
         second. Extism ({}): the host function is made with `extism_function_new` (a C \
         callback, i64 parameters), reads the block through `extism_current_plugin_memory` \
         after checking its length with `extism_current_plugin_memory_length` (as Extism's \
         SDKs do); Extism's host functions can only read the kernel's memory, so its guest \
         first copies the block there (`alloc` and 128 `store_u64`s, once per guest call, \
         amortized over the {k} host calls). Ours: `HostFunctions::func` on a WasmSandbox \
         with default settings, reading the guest's own memory through \
         `cx.memory()?.read(ptr, len)?` (range-checked), called with `Plugin::call_bytes`. \
         Goal: at most Extism's cost.",
        s.config()
    ));
    let (b, c) = (row.baseline.stats.median, row.candidate.stats.median);
    Ok(note(
        row,
        format!(
            "Measured per host call: Extism {}, wasm-sandbox {}.",
            fmt_ns(b / k as f64),
            fmt_ns(c / k as f64)
        ),
    ))
}
