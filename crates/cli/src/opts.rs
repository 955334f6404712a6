//! The flags `run`, `call` and `compile` share, and the sandbox they build.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wasm_sandbox::core::CompileLimits;
use wasm_sandbox::{
    Error, OptimizationLevel, Output, Preopen, ResourceLimits, UnknownImports, WasiConfig,
    WasmSandbox, cache, tiering,
};

#[derive(Args, Debug, Clone)]
pub(crate) struct CacheOpts {
    /// The compilation cache directory [default: the user cache directory].
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Compile without the cache.
    #[arg(long, conflicts_with_all = ["cache_dir", "remote_cache"])]
    pub(crate) no_cache: bool,
    /// A remote tier under the cache directory, shared by a fleet:
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`,
    /// `file:///path`. Credentials and endpoints come from each backend's usual
    /// environment variables (AWS_*, GOOGLE_*, AZURE_*); the fleet's integrity
    /// key from WASM_SANDBOX_REMOTE_CACHE_KEY or WASM_SANDBOX_REMOTE_CACHE_KEY_FILE
    /// (docs/remote-cache.md).
    #[arg(long, value_name = "URL")]
    pub(crate) remote_cache: Option<String>,
}

impl CacheOpts {
    pub(crate) fn config(&self) -> Option<cache::CacheConfig> {
        if self.no_cache {
            return None;
        }
        let config = match &self.cache_dir {
            Some(dir) => cache::CacheConfig::new(dir),
            None => cache::CacheConfig::with_default_directory(),
        };
        Some(match &self.remote_cache {
            Some(url) => config.remote(url),
            None => config,
        })
    }
}

/// A size in bytes, written like `64MiB`, `1KiB` or `4096`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size(pub(crate) u64);

impl Size {
    fn of(bytes: usize) -> Self {
        Size(bytes as u64)
    }
}

/// The exact size, in the largest binary unit that divides it.
impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        match UNITS
            .iter()
            .find(|&&(unit, _)| self.0 >= unit && self.0.is_multiple_of(unit))
        {
            Some(&(unit, name)) => write!(f, "{}{name}", self.0 / unit),
            None => write!(f, "{}", self.0),
        }
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| Size(b.as_u64()))
        .map_err(|e| format!("`{s}` is not a size like 64MiB: {e}"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms or 2s: {e}"))
}

/// `K=V` sets `K`; a bare `K` passes on the host's `K` (if it has one).
fn parse_env(s: &str) -> Result<(String, Option<String>), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), Some(v.to_owned()))),
        None if !s.is_empty() => Ok((s.to_owned(), None)),
        _ => Err(format!("`{s}` is not K=V or K")),
    }
}

/// A `--dir` value: `HOST`, `HOST::GUEST`, either with `:ro` after it.
fn parse_dir(s: &str) -> Result<Preopen, String> {
    let (spec, read_only) = match s.strip_suffix(":ro") {
        Some(spec) => (spec, true),
        None => (s, false),
    };
    let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
    if host.is_empty() || guest.is_empty() {
        return Err(format!("`{s}` is not HOST[::GUEST][:ro]"));
    }
    Ok(Preopen {
        host: host.into(),
        guest: guest.to_owned(),
        read_only,
    })
}

/// The flags of `run`, `call` and `compile`. Each default is the library's
/// own, read from `ResourceLimits::default()` and `CompileLimits::default()`.
#[derive(Args, Debug, Clone)]
pub(crate) struct Opts {
    /// Wall-clock limit per call (for `run`, the whole run), like `500ms` or
    /// `2s`. On by default, unlike `wasmtime run`: a sandbox bounds every
    /// guest. `0` for none, which also compiles the module without epoch
    /// checks, as `wasmtime run` does by default (its own cache entry).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub(crate) timeout: Duration,
    /// Most linear memory, like `64MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = Size::of(ResourceLimits::default().max_memory))]
    pub(crate) max_memory: Size,
    /// Fuel per call (roughly, wasm instructions); unlimited when absent.
    #[arg(long)]
    pub(crate) fuel: Option<u64>,
    /// Largest result a `call --json` may return, like `16MiB`; a bigger
    /// one is refused before it leaves guest memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = Size::of(ResourceLimits::default().max_result_bytes))]
    pub(crate) max_result_size: Size,
    /// Largest module accepted (binary, or text before it is assembled),
    /// checked before it is compiled.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = Size::of(CompileLimits::default().max_module_bytes))]
    pub(crate) max_module_size: Size,
    /// Most functions a module may define (imports not counted).
    #[arg(long, value_name = "N",
          default_value_t = CompileLimits::default().max_functions)]
    pub(crate) max_functions: u32,
    /// Largest function body a module may have.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = Size::of(CompileLimits::default().max_function_body_bytes))]
    pub(crate) max_function_size: Size,
    /// Most bytes of all of a module's function bodies together.
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = Size::of(CompileLimits::default().max_code_bytes))]
    pub(crate) max_code_size: Size,
    /// Most locals all of a module's function bodies may declare together.
    #[arg(long, value_name = "N",
          default_value_t = CompileLimits::default().max_locals)]
    pub(crate) max_locals: u64,
    /// Most imports (of every kind) a module may have.
    #[arg(long, value_name = "N",
          default_value_t = CompileLimits::default().max_imports)]
    pub(crate) max_imports: u32,
    /// Open a host directory to the guest: HOST, or HOST::GUEST to give it
    /// another name inside; `:ro` at the end makes it read-only (the guest
    /// can neither write, create nor remove anything in it).
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]", value_parser = parse_dir)]
    pub(crate) dirs: Vec<Preopen>,
    /// Set an environment variable for the guest: K=V, or K to pass on the
    /// host's value of K (nothing if the host has none).
    #[arg(long = "env", value_name = "K=V|K", value_parser = parse_env)]
    pub(crate) env: Vec<(String, Option<String>)>,
    /// What to do with function imports this host does not provide: `deny`
    /// refuses the module (exit 3); `trap` defines each as a function that
    /// traps naming it (exit 4 if called); `default` as one that returns
    /// zeros. Like wasmtime's `-W unknown-imports-trap/-default`.
    #[arg(long, value_enum, default_value = "deny")]
    pub(crate) unknown_imports: UnknownImportsArg,
    /// Print the metrics snapshot as JSON to stderr at exit.
    #[arg(long)]
    pub(crate) metrics: bool,
    /// The compiler tier. `auto` starts on the baseline compiler (Winch) at
    /// once, or on the optimizing one when the cache already holds it, and
    /// compiles the optimized tier in the background, beside the guest; the
    /// command waits for that compile before it exits, so the next run
    /// starts on the optimized artifact.
    #[arg(long, value_enum, default_value = "highly-optimized")]
    pub(crate) tier: TierArg,
    #[command(flatten)]
    pub(crate) cache: CacheOpts,
}

/// The `--unknown-imports` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub(crate) enum UnknownImportsArg {
    /// Refuse the module.
    Deny,
    /// Define each as a trap naming it.
    Trap,
    /// Define each as returning zeros.
    Default,
}

impl From<UnknownImportsArg> for UnknownImports {
    fn from(a: UnknownImportsArg) -> Self {
        match a {
            UnknownImportsArg::Deny => UnknownImports::Deny,
            UnknownImportsArg::Trap => UnknownImports::Trap,
            UnknownImportsArg::Default => UnknownImports::Default,
        }
    }
}

/// The `--tier` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub(crate) enum TierArg {
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

/// `size` as a `usize`, or a usage error naming `flag`.
fn host_size(flag: &str, size: Size) -> Result<usize, Error> {
    usize::try_from(size.0)
        .map_err(|_| Error::config(format!("{flag} {size} does not fit this host")))
}

impl Opts {
    /// WASI for the guest: `program` and `args`, the `--env` variables, the
    /// `--dir` preopens, and `stdout` as the guest's standard output (its
    /// standard error is the host's).
    pub(crate) fn wasi(&self, program: &str, args: &[String], stdout: Output) -> WasiConfig {
        let mut w = WasiConfig {
            stdout,
            stderr: Output::Inherit,
            ..WasiConfig::default()
        };
        w.args = std::iter::once(program.to_owned())
            .chain(args.iter().cloned())
            .collect();
        w.env = self
            .env
            .iter()
            .filter_map(|(k, v)| match v {
                Some(v) => Some((k.clone(), v.clone())),
                None => std::env::var(k).ok().map(|v| (k.clone(), v)),
            })
            .collect();
        w.preopens = self.dirs.clone();
        w
    }

    pub(crate) async fn sandbox(&self, wasi: WasiConfig) -> Result<WasmSandbox, Error> {
        let limits = ResourceLimits {
            max_memory: host_size("--max-memory", self.max_memory)?,
            max_result_bytes: host_size("--max-result-size", self.max_result_size)?,
            timeout: (!self.timeout.is_zero()).then_some(self.timeout),
            fuel: self.fuel,
            ..ResourceLimits::default()
        };
        let compile_limits = CompileLimits {
            max_module_bytes: host_size("--max-module-size", self.max_module_size)?,
            max_functions: self.max_functions,
            max_function_body_bytes: host_size("--max-function-size", self.max_function_size)?,
            max_code_bytes: host_size("--max-code-size", self.max_code_size)?,
            max_locals: self.max_locals,
            max_imports: self.max_imports,
        };
        let mut perf = wasm_sandbox::PerformanceConfig::default();
        let mut builder = WasmSandbox::builder();
        match self.tier {
            TierArg::Auto => builder = builder.tiering(tiering::TieringPolicy::straight_to_top()),
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
            .limits(limits)
            .compile_limits(compile_limits)
            .wasi(wasi)
            .unknown_imports(self.unknown_imports.into())
            .enable_metrics(self.metrics)
            .build()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_exactly_and_parse_back() {
        for (n, text) in [
            (64 << 20, "64MiB"),
            (1 << 10, "1KiB"),
            (3 << 30, "3GiB"),
            (1536, "1536"),
            (0, "0"),
        ] {
            assert_eq!(Size(n).to_string(), text);
            assert_eq!(parse_size(text), Ok(Size(n)));
        }
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn the_defaults_are_the_librarys() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            opts: Opts,
        }
        let o = T::parse_from(["t"]).opts;
        let r = ResourceLimits::default();
        let c = CompileLimits::default();
        assert_eq!(o.timeout, r.timeout.unwrap());
        assert_eq!(o.max_memory, Size::of(r.max_memory));
        assert_eq!(o.max_result_size, Size::of(r.max_result_bytes));
        assert_eq!(o.max_module_size, Size::of(c.max_module_bytes));
        assert_eq!(o.max_functions, c.max_functions);
        assert_eq!(o.max_function_size, Size::of(c.max_function_body_bytes));
        assert_eq!(o.max_code_size, Size::of(c.max_code_bytes));
        assert_eq!(o.max_locals, c.max_locals);
        assert_eq!(o.max_imports, c.max_imports);
    }
}
