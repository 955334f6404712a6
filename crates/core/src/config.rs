//! Configuration: performance settings, resource limits and WASI.

use std::path::PathBuf;
use std::time::Duration;

/// How much work the compiler puts into the code it generates.
///
/// Together with [`PerformanceConfig::enable_jit`] this selects a [`Tier`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum OptimizationLevel {
    /// Winch, wasmtime's baseline compiler: compiles several times faster
    /// than Cranelift, and its code runs about half as fast.
    Minimal,
    /// Cranelift without its optimization passes.
    Balanced,
    /// Cranelift optimizing for speed: the slowest compile and the fastest
    /// code. The default.
    #[default]
    Aggressive,
}

/// One way of turning wasm into something the host can run. Each tier has its
/// own engine; modules and stores of different tiers never mix.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Tier {
    /// Pulley, wasmtime's portable interpreter: no native code at all.
    Interpreter,
    /// Winch, the single-pass baseline compiler.
    Baseline,
    /// Cranelift with optimizations off.
    Optimized,
    /// Cranelift with speed optimizations.
    HighlyOptimized,
}

impl Tier {
    /// Every tier, slowest code first.
    pub const ALL: [Tier; 4] = [
        Tier::Interpreter,
        Tier::Baseline,
        Tier::Optimized,
        Tier::HighlyOptimized,
    ];

    /// The tier's name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interpreter => "interpreter",
            Tier::Baseline => "baseline",
            Tier::Optimized => "optimized",
            Tier::HighlyOptimized => "highly-optimized",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown tier `{s}`: expected interpreter, baseline, optimized or highly-optimized")
            })
    }
}

/// Performance settings of a sandbox, after the seed's `PerformanceConfig`.
///
/// ```
/// use wasm_sandbox_core::{PerformanceConfig, OptimizationLevel, Tier};
/// let cfg = PerformanceConfig {
///     optimization_level: OptimizationLevel::Minimal,
///     ..Default::default()
/// };
/// assert_eq!(cfg.tier(), Tier::Baseline);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerformanceConfig {
    /// How hard the compiler works. Default: [`OptimizationLevel::Aggressive`].
    pub optimization_level: OptimizationLevel,
    /// Generate native code. When `false`, modules run on the Pulley
    /// interpreter whatever the optimization level. Default: `true`.
    pub enable_jit: bool,
    /// Look compiled modules up in (and store them into) the compilation
    /// cache. Read by the `wasm-sandbox` facade, which owns the cache.
    /// Default: `false`.
    pub enable_caching: bool,
    /// Compile a module's functions in parallel on all cores (wasmtime's
    /// function-level parallelism). Default: `true`.
    pub parallel_compilation: bool,
    /// Bytes of linear memory reserved for pooled instances. `0` (the
    /// default) uses wasmtime's on-demand allocator. Otherwise the pooling
    /// allocator with copy-on-write memory images is used, with
    /// `memory_pool_size / ResourceLimits::max_memory` instance slots.
    pub memory_pool_size: usize,
    /// With pooling, the bytes of each memory slot kept resident (zeroed with
    /// `memset` instead of `madvise`) when an instance is freed; this avoids
    /// page faults and TLB shootdowns on reuse. Where the kernel has
    /// `PAGEMAP_SCAN` (Linux 6.7+), only pages the instance wrote are reset,
    /// so this bounds the `memset` work rather than fixing it. Default: 64 KiB.
    pub pool_keep_resident: usize,
    /// With pooling, how long async instantiation (`Module::instantiate_async`
    /// and async calls that need a new instance) waits for a free slot
    /// before failing with [`Error::PoolExhausted`](crate::Error::PoolExhausted).
    /// `None` (the default) fails at once. Waiting needs a tokio runtime with
    /// its time driver enabled. Synchronous instantiation never waits.
    #[serde(default)]
    pub pool_wait: Option<Duration>,
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        PerformanceConfig {
            optimization_level: OptimizationLevel::default(),
            enable_jit: true,
            enable_caching: false,
            parallel_compilation: true,
            memory_pool_size: 0,
            pool_keep_resident: 64 * 1024,
            pool_wait: None,
        }
    }
}

impl PerformanceConfig {
    /// The tier these settings select.
    pub fn tier(&self) -> Tier {
        if !self.enable_jit {
            return Tier::Interpreter;
        }
        match self.optimization_level {
            OptimizationLevel::Minimal => Tier::Baseline,
            OptimizationLevel::Balanced => Tier::Optimized,
            OptimizationLevel::Aggressive => Tier::HighlyOptimized,
        }
    }
}

/// Limits on what one guest call, or one instance, may use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResourceLimits {
    /// Most linear memory one instance may have, in bytes. Growing past it
    /// stops the guest with [`Error::LimitExceeded`](crate::Error::LimitExceeded).
    /// Default: 64 MiB.
    pub max_memory: usize,
    /// Most elements one table may have. Default: 100,000.
    pub max_table_elements: usize,
    /// Wall-clock limit of one call, enforced by epoch interruption with a
    /// resolution of [`EPOCH_TICK`](crate::EPOCH_TICK). `None` disables it,
    /// and with it the epoch checks compiled into every function and loop:
    /// the code is then wasmtime's plain code (faster to compile),
    /// and an async call no longer yields to the executor while the guest
    /// runs. Default: 10 s.
    pub timeout: Option<Duration>,
    /// Fuel (roughly, wasm instructions) each call starts with. `None` (the
    /// default) disables fuel metering, which costs about 10–30 % of speed.
    pub fuel: Option<u64>,
    /// Most native stack the guest may use, in bytes; deeper recursion traps
    /// with a stack overflow. Default: 512 KiB.
    pub max_wasm_stack: usize,
    /// Most bytes a byte or serde call's result block may hold. A larger
    /// result is refused with [`Error::LimitExceeded`](crate::Error::LimitExceeded)
    /// (`Resource::ResultBytes`) before it is copied out of guest memory.
    /// Default: 16 MiB.
    #[serde(default = "default_max_result_bytes")]
    pub max_result_bytes: usize,
    /// Most bytes of a guest's error message (the ABI's error flag) kept in
    /// [`Error::Guest`](crate::Error::Guest); a longer message is cut at a
    /// character boundary and marked as truncated. Default: 4 KiB.
    #[serde(default = "default_max_error_message")]
    pub max_error_message: usize,
}

fn default_max_result_bytes() -> usize {
    16 * 1024 * 1024
}

fn default_max_error_message() -> usize {
    4 * 1024
}

/// Structural limits checked before a module is compiled, so that a small
/// hostile module cannot make the compiler spend unbounded time and memory
/// (compile time and memory grow with the number of functions and the size
/// of their bodies). The defaults admit real programs: a 69 MB module of
/// 60,000 functions passes. [`check_module`](crate::check_module) applies
/// them; `Sandbox::compile`, the facade's cache path and every tier of a
/// tiered module call it. `docs/security.md` ("Compilation") has the
/// measurements behind the defaults and what they do not bound.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CompileLimits {
    /// Most bytes of wasm (binary, or text before it is assembled; the
    /// assembled binary is held to it too). Default: 256 MiB.
    pub max_module_bytes: usize,
    /// Most functions defined in the module (imports not counted). Each
    /// costs the compiler about 6 KiB and 0.1–0.2 ms even when empty, so
    /// the default, 75,000, bounds that part to about 430 MiB while
    /// admitting a 60,000-function program; 100,000 empty functions
    /// (400 KB) are refused.
    pub max_functions: u32,
    /// Most bytes of one function body. Cranelift's time on one body can
    /// grow quadratically with its size (one thread compiles it), so this
    /// bounds the worst single body. Default: 1 MiB (twenty times SQLite's
    /// largest function; wasmparser's own cap is 7,654,321 bytes).
    pub max_function_body_bytes: usize,
    /// Most bytes of all function bodies together. Compile memory grows
    /// about linearly with it. Default: 128 MiB.
    pub max_code_bytes: usize,
    /// Most locals declared by all function bodies together. A declaration
    /// of any number of locals takes a few bytes, and each local costs the
    /// compiler work (about 0.2 µs on Cranelift) whether or not it is used:
    /// 600 KB of functions declaring 50,000 locals each would take minutes.
    /// Default: 4,000,000 (under a second of compile time).
    pub max_locals: u64,
    /// Most imports (of every kind). Each costs wasmtime about 650 bytes and
    /// 1.6 µs to compile and link even when the module never uses it: a
    /// 2.3 MB module of 200,000 function imports took 130 MB and 0.3 s
    /// before wasmtime refused its first unknown name, and wasmparser admits
    /// a million. Default: 10,000 (a WASI program imports about 50).
    #[serde(default = "default_max_imports")]
    pub max_imports: u32,
}

fn default_max_imports() -> u32 {
    CompileLimits::default().max_imports
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            max_module_bytes: 256 * 1024 * 1024,
            max_functions: 75_000,
            max_function_body_bytes: 1024 * 1024,
            max_code_bytes: 128 * 1024 * 1024,
            max_locals: 4_000_000,
            max_imports: 10_000,
        }
    }
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_memory: 64 * 1024 * 1024,
            max_table_elements: 100_000,
            timeout: Some(Duration::from_secs(10)),
            fuel: None,
            max_wasm_stack: 512 * 1024,
            max_result_bytes: default_max_result_bytes(),
            max_error_message: default_max_error_message(),
        }
    }
}

/// Where a WASI guest's standard output or error goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Output {
    /// Discarded. The default.
    #[default]
    Null,
    /// Kept in memory, up to the capture limit, and readable after the call.
    Capture,
    /// The host process's own stream (stdout for stdout, stderr for stderr),
    /// written through a bounded buffer so that a stalled reader suspends the
    /// guest, which the call's deadline still cuts.
    Inherit,
    /// The host process's standard error, whichever guest stream this is (the
    /// CLI's `call` sends a guest's stdout here, so that its own stdout holds
    /// the result alone).
    HostStderr,
}

/// A host directory made visible to a WASI guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// The path the guest sees.
    pub guest: String,
    /// Deny writes.
    pub read_only: bool,
}

/// WASI preview 1 settings. Nothing is granted unless set here: no
/// directories, no environment, no inherited stdio.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WasiConfig {
    /// Arguments; the first is the program name.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Directories opened for the guest.
    pub preopens: Vec<Preopen>,
    /// Bytes the guest reads on stdin.
    pub stdin: Vec<u8>,
    /// Read the host's own standard input instead of [`WasiConfig::stdin`]'s
    /// bytes. The host reads it on a helper thread, a chunk at a time, only
    /// when the guest asks; a guest waiting for input waits asynchronously,
    /// so its call's deadline still cuts it. Default: `false`.
    #[serde(default)]
    pub inherit_stdin: bool,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
    /// Most bytes kept per captured stream; further output is dropped.
    /// `0` means the default of 1 MiB.
    pub capture_limit: usize,
    /// Most bytes the guest may write to each of the host's own streams
    /// ([`Output::Inherit`], [`Output::HostStderr`]); writes past it fail
    /// with an I/O error the guest sees. `None` (the default) is no limit,
    /// as for `wasmtime run`.
    #[serde(default)]
    pub inherit_limit: Option<u64>,
}

impl WasiConfig {
    /// A configuration that captures stdout and stderr.
    pub fn capture() -> Self {
        WasiConfig {
            stdout: Output::Capture,
            stderr: Output::Capture,
            ..Default::default()
        }
    }

    /// Sets the arguments (the first is the program name).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Opens a host directory for the guest at `guest`.
    pub fn preopen(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.into(),
            read_only: false,
        });
        self
    }

    pub(crate) fn effective_capture_limit(&self) -> usize {
        if self.capture_limit == 0 {
            1024 * 1024
        } else {
            self.capture_limit
        }
    }
}

/// Everything that decides how a sandbox's engine and stores are built.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SandboxConfig {
    /// Performance settings.
    pub performance: PerformanceConfig,
    /// Resource limits.
    pub limits: ResourceLimits,
    /// WASI preview 1; `None` (the default) links no WASI at all.
    pub wasi: Option<WasiConfig>,
    /// Record metrics (compile, instantiate and call times, calls, traps).
    /// Default: `false`.
    pub metrics: bool,
    /// Give each async call a fresh instance instead of reusing an idle one:
    /// the default [`Isolation`](crate::Isolation) of every module of the
    /// sandbox (`true` is [`Isolation::Fresh`](crate::Isolation::Fresh)),
    /// which a handle overrides with
    /// [`Module::with_isolation`](crate::Module::with_isolation). Fresh
    /// instances cost an instantiation per call (a few µs with pooling; see
    /// `docs/snapshots.md` for `pool_keep_resident`) and guarantee that no
    /// guest state survives between calls. Default: `false`.
    pub fresh_instance_per_call: bool,
    /// Marshal serde calls through a host buffer pool
    /// (`wasm_sandbox_mempool::MemoryPool`, owned by the sandbox and shared by
    /// its modules and instances): arguments are encoded into a pooled
    /// buffer, and results are copied out of guest memory into one before
    /// decoding, instead of into fresh `Vec`s. `false` uses `Vec`s, so both
    /// can be measured side by side. Default: `true`.
    #[serde(default = "default_true")]
    pub host_buffer_pool: bool,
    /// Structural limits checked before compiling a module.
    #[serde(default)]
    pub compile_limits: CompileLimits,
    /// What to do with a module's function imports that neither the host
    /// functions nor WASI define. Default: [`UnknownImports::Deny`].
    #[serde(default)]
    pub unknown_imports: UnknownImports,
}

/// What a sandbox does with function imports nobody defines (as
/// `wasmtime run -W unknown-imports-trap=y` / `unknown-imports-default=y`).
/// Imports of memories, tables and globals are refused whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UnknownImports {
    /// Refuse the module at load time with `Error::ImportNotAllowed` (deny
    /// by default).
    #[default]
    Deny,
    /// Define each as a function that traps when called, with a message
    /// naming it (`Error::Trap`); a module that never calls it runs.
    Trap,
    /// Define each as a function that returns zeros (null references).
    Default,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            performance: PerformanceConfig::default(),
            limits: ResourceLimits::default(),
            wasi: None,
            metrics: false,
            fresh_instance_per_call: false,
            host_buffer_pool: true,
            compile_limits: CompileLimits::default(),
            unknown_imports: UnknownImports::Deny,
        }
    }
}

fn default_true() -> bool {
    true
}
