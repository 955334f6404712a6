//! `wasm-sandbox`: run WASI commands and call exports of untrusted modules
//! under resource limits.
//!
//! ```text
//! wasm-sandbox run MODULE [-- ARGS...]
//! wasm-sandbox call MODULE EXPORT [ARGS...]
//! wasm-sandbox call MODULE EXPORT --json VALUE
//! wasm-sandbox compile MODULE
//! wasm-sandbox cache stats|verify|clear
//! ```
//!
//! `run` and `call` compile through the compilation cache (the platform's
//! user cache directory unless `--cache-dir` says otherwise; `--no-cache`
//! turns it off).
//!
//! Exit status: 0 on success; the guest's own status when a command calls
//! `proc_exit`; otherwise one status per class of failure (see [`exit`]).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use wasm_sandbox::{
    Error, ErrorClass, OptimizationLevel, Preopen, Resource, ResourceLimits, Value, WasiConfig,
    WasmSandbox, cache, tiering,
};

/// Exit statuses, one per class of failure.
mod exit {
    /// Bad command line or configuration, missing export, wrong arguments.
    pub(crate) const USAGE: u8 = 2;
    /// The module is malformed or imports what is not allowed.
    pub(crate) const INVALID_MODULE: u8 = 3;
    /// The guest trapped (or broke the ABI, or a host function panicked).
    pub(crate) const TRAP: u8 = 4;
    /// The guest hit its wall-clock limit.
    pub(crate) const TIMEOUT: u8 = 5;
    /// The guest hit its memory, table, fuel or pool limit.
    pub(crate) const LIMIT: u8 = 6;
    /// The host failed: unreadable file, engine error.
    pub(crate) const HOST: u8 = 7;
    /// A bug in wasm-sandbox itself.
    pub(crate) const INTERNAL: u8 = 70;
}

#[derive(Parser, Debug)]
#[command(
    name = "wasm-sandbox",
    version,
    about = "Run untrusted WebAssembly under limits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WASI command (its `_start`), passing ARGS.
    Run {
        /// The module (.wasm or .wat).
        module: String,
        /// Arguments for the guest, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Call an export: scalar ARGS parsed by its signature, or a JSON value
    /// through the serde ABI with --json.
    Call {
        /// The module (.wasm or .wat).
        module: String,
        /// The export to call.
        export: String,
        /// Scalar arguments (i32, i64, f32, f64), in order.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// Call through the serde ABI (docs/abi.md) with this JSON value.
        #[arg(long, value_name = "VALUE", conflicts_with = "args")]
        json: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Compile a module into the compilation cache, so later runs load it.
    Compile {
        /// The module (.wasm or .wat).
        module: String,
        /// Limits change the compiled code (fuel metering, for one), so
        /// compile with the flags you will run with.
        #[command(flatten)]
        opts: Opts,
    },
    /// Inspect or maintain the compilation cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand, Debug)]
enum CacheAction {
    /// Print the cache's directory, entries and bytes as JSON.
    Stats {
        #[command(flatten)]
        cache: CacheOpts,
    },
    /// Check every artifact's checksum; remove bad ones.
    Verify {
        #[command(flatten)]
        cache: CacheOpts,
    },
    /// Remove every artifact.
    Clear {
        #[command(flatten)]
        cache: CacheOpts,
    },
}

#[derive(Args, Debug, Clone)]
struct CacheOpts {
    /// The compilation cache directory [default: the user cache directory].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// Compile without the cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheOpts {
    fn config(&self) -> Option<cache::CacheConfig> {
        if self.no_cache {
            return None;
        }
        Some(match &self.cache_dir {
            Some(dir) => cache::CacheConfig::new(dir),
            None => cache::CacheConfig::with_default_directory(),
        })
    }
}

#[derive(Args, Debug, Clone)]
struct Opts {
    /// Wall-clock limit per call, like `500ms` or `2s`; `0` for none.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Most linear memory, like `64MiB`.
    #[arg(long, value_parser = parse_size, default_value = "64MiB")]
    max_memory: u64,
    /// Fuel per call (roughly, wasm instructions); unlimited when absent.
    #[arg(long)]
    fuel: Option<u64>,
    /// Open a host directory to the guest: HOST or HOST::GUEST.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Set an environment variable for the guest: K=V.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Print the metrics snapshot as JSON to stderr at exit.
    #[arg(long)]
    metrics: bool,
    /// The compiler tier; `auto` starts on the baseline compiler and tiers
    /// up in the background as exports get hot.
    #[arg(long, value_enum, default_value = "highly-optimized")]
    tier: TierArg,
    #[command(flatten)]
    cache: CacheOpts,
}

/// The `--tier` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum TierArg {
    /// Pulley, wasmtime's interpreter: no native code.
    Interpreter,
    /// Winch: fast compile, slower code.
    Baseline,
    /// Cranelift without optimizations.
    Optimized,
    /// Cranelift optimizing for speed.
    HighlyOptimized,
    /// Start on Winch, tier up to Cranelift when hot.
    Auto,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms or 2s: {e}"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("`{s}` is not a size like 64MiB: {e}"))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not K=V")),
    }
}

impl Opts {
    fn wasi(&self, program: &str, args: &[String]) -> WasiConfig {
        let mut w = WasiConfig {
            stdout: wasm_sandbox::Output::Inherit,
            stderr: wasm_sandbox::Output::Inherit,
            ..WasiConfig::default()
        };
        w.args = std::iter::once(program.to_owned())
            .chain(args.iter().cloned())
            .collect();
        w.env = self.env.clone();
        w.preopens = self
            .dirs
            .iter()
            .map(|d| {
                let (host, guest) = d.split_once("::").unwrap_or((d, d));
                Preopen {
                    host: host.into(),
                    guest: guest.to_owned(),
                    read_only: false,
                }
            })
            .collect();
        w
    }

    async fn sandbox(&self, wasi: WasiConfig) -> Result<WasmSandbox, Error> {
        let max_memory = usize::try_from(self.max_memory).map_err(|_| {
            Error::config(format!(
                "--max-memory {} does not fit this host",
                self.max_memory
            ))
        })?;
        let mut perf = wasm_sandbox::PerformanceConfig::default();
        let mut builder = WasmSandbox::builder();
        match self.tier {
            TierArg::Auto => builder = builder.tiering(tiering::TieringPolicy::default()),
            TierArg::Interpreter => perf.enable_jit = false,
            TierArg::Baseline => perf.optimization_level = OptimizationLevel::Minimal,
            TierArg::Optimized => perf.optimization_level = OptimizationLevel::Balanced,
            TierArg::HighlyOptimized => perf.optimization_level = OptimizationLevel::Aggressive,
        }
        if let Some(cfg) = self.cache.config() {
            perf.enable_caching = true;
            builder = builder.cache_config(cfg);
        }
        builder
            .performance_config(perf)
            .limits(ResourceLimits {
                max_memory,
                timeout: (!self.timeout.is_zero()).then_some(self.timeout),
                fuel: self.fuel,
                ..ResourceLimits::default()
            })
            .wasi(wasi)
            .enable_metrics(self.metrics)
            .build()
            .await
    }
}

/// What a successful command leaves: an exit status.
async fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Run { module, args, opts } => {
            let wasi = opts.wasi(&module, &args);
            let sandbox = opts.sandbox(wasi.clone()).await?;
            let result = async {
                sandbox.load(module.as_str()).await?;
                sandbox.run(&wasi).await
            }
            .await;
            finish(&opts, &sandbox);
            Ok(u8::try_from(result?.exit_code & 0xff).unwrap_or(1))
        }
        Command::Call {
            module,
            export,
            args,
            json,
            opts,
        } => {
            let wasi = opts.wasi(&module, &[]);
            let sandbox = opts.sandbox(wasi).await?;
            let result = call(&sandbox, &module, &export, &args, json.as_deref()).await;
            finish(&opts, &sandbox);
            println!("{}", result?);
            Ok(0)
        }
        Command::Compile { module, opts } => {
            if opts.cache.no_cache {
                return Err(Error::config(
                    "`compile` fills the cache; it cannot run with --no-cache",
                ));
            }
            let sandbox = opts.sandbox(opts.wasi(&module, &[])).await?;
            sandbox.load(module.as_str()).await?;
            if let Some(c) = sandbox.cache() {
                let s = c.stats();
                let how = if s.compiles > 0 {
                    "compiled"
                } else {
                    "already cached"
                };
                let dir = c
                    .directory()
                    .map_or("memory only".to_owned(), |d| d.display().to_string());
                println!("{module}: {how} ({dir})");
            }
            Ok(0)
        }
        Command::Cache { action } => {
            let (CacheAction::Stats { cache }
            | CacheAction::Verify { cache }
            | CacheAction::Clear { cache }) = &action;
            let Some(cfg) = cache.config() else {
                return Err(Error::config("`cache` needs a cache: drop --no-cache"));
            };
            let c = cache::CompilationCache::open(cfg).map_err(Error::config)?;
            let json = match action {
                CacheAction::Stats { .. } => serde_json::json!({
                    "directory": c.directory(),
                    "stats": c.stats(),
                }),
                CacheAction::Verify { .. } => {
                    let report = c.verify().map_err(Error::config)?;
                    serde_json::to_value(&report).unwrap_or_default()
                }
                CacheAction::Clear { .. } => {
                    c.clear().map_err(Error::config)?;
                    serde_json::json!({ "cleared": c.directory() })
                }
            };
            println!("{json:#}");
            Ok(0)
        }
    }
}

async fn call(
    sandbox: &WasmSandbox,
    module: &str,
    export: &str,
    args: &[String],
    json: Option<&str>,
) -> Result<String, Error> {
    let m = sandbox.load(module).await?;
    if let Some(json) = json {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| Error::Codec {
            codec: "json",
            reason: format!("--json is not valid JSON: {e}").into(),
        })?;
        let out: serde_json::Value = m
            .call_with(wasm_sandbox::Codec::Json, export, &value)
            .await?;
        return Ok(out.to_string());
    }
    let sig = m.signature(export)?;
    if sig.params.len() != args.len() {
        return Err(Error::SignatureMismatch {
            export: export.into(),
            expected: format!("{} argument(s) on the command line", args.len()).into(),
            actual: sig.to_string().into(),
        });
    }
    let values = sig
        .params
        .iter()
        .zip(args)
        .map(|(t, a)| Value::parse(t, a))
        .collect::<Result<Vec<_>, _>>()?;
    let results = m.call_values(export, &values).await?;
    Ok(results
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

fn finish(opts: &Opts, sandbox: &WasmSandbox) {
    if opts.metrics {
        match serde_json::to_string(&sandbox.metrics()) {
            Ok(json) => eprintln!("{json}"),
            Err(e) => eprintln!("wasm-sandbox: cannot print metrics: {e}"),
        }
    }
}

/// The error's message, with the command-line flag to change where a limit was hit (the
/// library's own messages name the Rust configuration field instead).
fn message(e: &Error) -> String {
    match e {
        Error::Timeout { limit } => format!(
            "guest call timed out after {limit:?} (raise it with --timeout if the work is \
             legitimate)"
        ),
        Error::OutOfFuel { fuel } => format!(
            "guest ran out of fuel ({fuel} units per call; raise it with --fuel if the work is \
             legitimate)"
        ),
        Error::LimitExceeded {
            resource: Resource::Memory,
            ..
        } => format!("{e} (raise it with --max-memory)"),
        other => other.to_string(),
    }
}

fn status(e: &Error) -> u8 {
    match e.class() {
        ErrorClass::InvalidModule => exit::INVALID_MODULE,
        ErrorClass::Usage => exit::USAGE,
        ErrorClass::Trap => exit::TRAP,
        ErrorClass::Timeout => exit::TIMEOUT,
        ErrorClass::Limit => exit::LIMIT,
        ErrorClass::Host => exit::HOST,
        ErrorClass::Exit => match e {
            Error::Exit { code } => u8::try_from(code & 0xff).unwrap_or(1),
            _ => 1,
        },
        _ => exit::INTERNAL,
    }
}

fn main() -> ExitCode {
    // One line, never a backtrace, even for a bug of ours.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("wasm-sandbox: internal error: {info}");
    }));
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wasm-sandbox: error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::HOST);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line: compiler diagnostics can span several.
            let text = message(&e);
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("wasm-sandbox: error: {}", line.join(" "));
            ExitCode::from(status(&e))
        }
    }
}
