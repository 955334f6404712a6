//! `wasm-sandbox`: run WASI commands and call exports of untrusted modules
//! under resource limits.
//!
//! ```text
//! wasm-sandbox run MODULE [-- ARGS...]
//! wasm-sandbox call MODULE EXPORT [ARGS...]
//! wasm-sandbox call MODULE EXPORT --json VALUE
//! wasm-sandbox compile MODULE... [--remote-cache URL]
//! wasm-sandbox cache stats|verify|clear [--remote-cache URL]
//! ```
//!
//! `run` and `call` compile through the compilation cache (the platform's
//! user cache directory unless `--cache-dir` says otherwise; `--no-cache`
//! turns it off), and through a remote tier shared by a fleet with
//! `--remote-cache URL`.
//!
//! Output: `call` prints its result alone on stdout; the guest's own stdout
//! and stderr go to the host's stderr. `run` gives the guest the host's
//! stdout and stderr. Every write of the CLI's own goes through
//! [`output::emit`], and every error is one escaped line on stderr
//! ([`output::one_line`]).
//!
//! Exit status: 0 on success; the guest's own status when a command calls
//! `proc_exit`; otherwise one status per class of failure (see [`exit`]).

mod json;
mod opts;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use wasm_sandbox::{Error, ErrorClass, Output, Resource, Value, WasmSandbox, cache};

use crate::json::AsciiFormatter;
use crate::opts::{CacheOpts, Opts};
use crate::output::{MAX_LINE, Stream, emit};

/// Exit statuses, one per class of failure.
mod exit {
    /// Bad command line or configuration, missing export, wrong arguments,
    /// JSON that does not parse (the `--json` argument or the guest's result).
    pub(crate) const USAGE: u8 = 2;
    /// The module is malformed or imports what is not allowed.
    pub(crate) const INVALID_MODULE: u8 = 3;
    /// The guest trapped (or broke the ABI, or a host function panicked).
    pub(crate) const TRAP: u8 = 4;
    /// The guest hit its wall-clock limit.
    pub(crate) const TIMEOUT: u8 = 5;
    /// The guest or module hit a limit: memory, table, fuel, pool, result
    /// size, or a compile limit.
    pub(crate) const LIMIT: u8 = 6;
    /// The host failed: unreadable file, engine error, or the CLI's own
    /// output could not be written (a closed stdout).
    pub(crate) const HOST: u8 = 7;
    /// A bug in wasm-sandbox itself.
    pub(crate) const INTERNAL: u8 = 70;
}

/// How long the exit waits for the runtime's blocking threads. The only
/// ones still busy by then are writers of guest output stuck on a stream
/// nobody reads (the guest was already cut by its deadline): a guest's
/// writes to stdout and stderr are blocking writes in WASI preview 1, so a
/// guest that returned has had all of them flushed, and the CLI's own output
/// is written and flushed before. Measured: a guest flooding an unread pipe
/// under `--timeout 2s` exited after 3.0 s with a 1 s grace.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

#[derive(Parser, Debug)]
#[command(
    name = "wasm-sandbox",
    version,
    about = "Run untrusted WebAssembly under limits",
    after_help = "\
Output: `call` prints its result alone on stdout; the guest's stdout and stderr go to \
stderr. `run` gives the guest the host's stdout and stderr. Errors are one line on stderr, \
control characters escaped.

Exit status: 0 success; the guest's own status for proc_exit; 2 usage (including invalid \
JSON); 3 invalid module; 4 trap; 5 timeout; 6 limit; 7 host error (including a closed \
stdout); 70 internal error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WASI command (its `_start`), passing ARGS. The guest's stdout
    /// and stderr are the host's.
    Run {
        /// The module (.wasm or .wat).
        module: String,
        /// Arguments for the guest: what follows MODULE, as with `wasmtime
        /// run` (`run prog.wasm -c 'x'`). Flags of `run` may come before
        /// MODULE or right after it, before the first guest argument; `--`
        /// after MODULE passes everything after it to the guest verbatim.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// Do not pass this process's standard input to the guest (by default
        /// the guest reads it, as with `wasmtime run`; a guest waiting for
        /// input is still cut at its --timeout).
        #[arg(long)]
        no_stdin: bool,
        /// The guest's `argv[0]` [default: MODULE as given].
        #[arg(long, value_name = "NAME")]
        argv0: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Call an export: scalar ARGS parsed by its signature, or a JSON value
    /// through the byte ABI with --json.
    ///
    /// Stdout holds the result alone: the results separated by spaces, or
    /// the JSON result. The guest's own stdout and stderr (WASI) go to
    /// stderr, so nothing the guest prints can pass for the result.
    Call {
        /// The module (.wasm or .wat).
        module: String,
        /// The export to call.
        export: String,
        /// Scalar arguments (i32, i64, f32, f64), in order.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// Call through the byte ABI (docs/abi.md) with this JSON value,
        /// sent compact. The guest's result must be one JSON value; it is
        /// printed compact, each string character outside printable ASCII
        /// escaped (`\u00e9`, `\u001b`).
        #[arg(long, value_name = "VALUE", conflicts_with = "args")]
        json: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Compile modules into the compilation cache, so later runs load them.
    ///
    /// With --remote-cache, also publish them to the remote store for this
    /// binary's engine (its compatibility hash): a fleet about to move to this
    /// version finds its artifacts there. Prints one line per module: compiled,
    /// already cached, or loaded from the remote cache.
    Compile {
        /// The modules (.wasm or .wat).
        #[arg(required = true, value_name = "MODULE")]
        modules: Vec<String>,
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
    /// Print the cache's directory, entries and bytes as JSON; with
    /// --remote-cache, also what the remote store holds, per engine.
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

/// What a successful command leaves: an exit status.
async fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Run {
            module,
            args,
            no_stdin,
            argv0,
            opts,
        } => {
            let mut wasi = opts.wasi(argv0.as_deref().unwrap_or(&module), &args, Output::Inherit);
            wasi.inherit_stdin = !no_stdin;
            let sandbox = opts.sandbox(wasi.clone()).await?;
            let result = async { sandbox.load(module.as_str()).await?.run(&wasi).await }.await;
            finish(&opts, &sandbox).await?;
            Ok(u8::try_from(result?.exit_code & 0xff).unwrap_or(1))
        }
        Command::Call {
            module,
            export,
            args,
            json,
            opts,
        } => {
            let wasi = opts.wasi(&module, &[], Output::HostStderr);
            let sandbox = opts.sandbox(wasi).await?;
            let result = call(&sandbox, &module, &export, &args, json.as_deref()).await;
            finish(&opts, &sandbox).await?;
            let result = result?;
            emit(Stream::Stdout, |w| result.write(w))?;
            Ok(0)
        }
        Command::Compile { modules, opts } => {
            if opts.cache.no_cache {
                return Err(Error::config(
                    "`compile` fills the cache; it cannot run with --no-cache",
                ));
            }
            let sandbox = opts
                .sandbox(opts.wasi(&modules[0], &[], Output::Null))
                .await?;
            let stats = || sandbox.cache().map(|c| c.stats()).unwrap_or_default();
            for module in &modules {
                let before = stats();
                sandbox.load(module.as_str()).await?;
                let after = stats();
                let how = if after.compiles > before.compiles {
                    "compiled"
                } else if after.remote_hits > before.remote_hits {
                    "loaded from the remote cache"
                } else {
                    "already cached"
                };
                if let Some(c) = sandbox.cache() {
                    let dir = c
                        .directory()
                        .map_or("memory only".to_owned(), |d| d.display().to_string());
                    let line = output::escape(&format!("{module}: {how} ({dir})"));
                    emit(Stream::Stdout, |w| writeln!(w, "{line}"))?;
                }
            }
            finish(&opts, &sandbox).await?;
            if let Some(c) = sandbox.cache().filter(|c| c.is_remote_enabled()) {
                let s = c.stats();
                if s.remote_errors > 0 {
                    return Err(Error::Engine {
                        reason: format!(
                            "{} operation(s) on the remote cache failed or timed out (the store \
                             is unreachable, refuses the credentials, or does not support \
                             conditional writes); artifacts may not have been published",
                            s.remote_errors
                        )
                        .into(),
                    });
                }
                let mut line = format!(
                    "published {} artifact(s) to the remote cache",
                    s.remote_published
                );
                if s.remote_verify_failures > 0 {
                    // Left in the store (never deleted); this host compiled instead.
                    line.push_str(&format!(
                        "; refused {} remote artifact(s) that failed verification (corrupt, \
                         another engine's, or without this fleet's integrity key)",
                        s.remote_verify_failures
                    ));
                }
                emit(Stream::Stdout, |w| writeln!(w, "{line}"))?;
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
            let c = cache::CompilationCache::open(cfg).map_err(Error::from)?;
            match action {
                CacheAction::Stats { .. } => {
                    let remote = c
                        .remote_listing(None, REMOTE_LIST_WAIT)
                        .map_err(Error::from)?;
                    print_json(&serde_json::json!({
                        "directory": c.directory(),
                        "stats": c.stats(),
                        "remote": remote,
                    }))?
                }
                CacheAction::Verify { .. } => print_json(&c.verify().map_err(Error::from)?)?,
                CacheAction::Clear { .. } => {
                    c.clear().map_err(Error::from)?;
                    print_json(&serde_json::json!({ "cleared": c.directory() }))?;
                }
            }
            Ok(0)
        }
    }
}

/// Prints `value` on stdout as indented JSON.
fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    emit(Stream::Stdout, |w| {
        json::write(w, value, AsciiFormatter::pretty())?;
        writeln!(w)
    })
}

/// What `call` prints.
enum CallResult {
    /// A scalar export's results.
    Values(Vec<Value>),
    /// A `--json` call's result: one JSON value, already checked.
    Json(Vec<u8>),
}

impl CallResult {
    fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            CallResult::Values(values) => {
                for (i, v) in values.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(w, "{sep}{v}")?;
                }
            }
            CallResult::Json(bytes) => {
                json::transcode(bytes, &mut *w, AsciiFormatter::compact()).map_err(
                    |e| match e {
                        json::Failure::Io(e) => e,
                        // `check_result` passed these very bytes.
                        json::Failure::Json(e) => std::io::Error::other(e),
                    },
                )?;
            }
        }
        writeln!(w)
    }
}

async fn call(
    sandbox: &WasmSandbox,
    module: &str,
    export: &str,
    args: &[String],
    json: Option<&str>,
) -> Result<CallResult, Error> {
    if let Some(json) = json {
        let input = json::encode_arg(json)?;
        let m = sandbox.load(module).await?;
        let out = m.call_bytes(export, &input).await?;
        drop(input);
        json::check_result(&out)?;
        return Ok(CallResult::Json(out));
    }
    let m = sandbox.load(module).await?;
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
    Ok(CallResult::Values(m.call_values(export, &values).await?))
}

/// The longest a `--tier auto` run waits at exit for its top tier's compile.
const TIER_UP_WAIT: Duration = Duration::from_secs(300);

/// The longest a command waits at exit for its artifacts to reach the remote
/// cache (each publication is bounded by the remote tier's own timeout, 60 s).
const REMOTE_PUBLISH_WAIT: Duration = Duration::from_secs(120);

/// The longest `cache stats --remote-cache` waits for the store's listing.
const REMOTE_LIST_WAIT: Duration = Duration::from_secs(120);

/// Ends a command: with `--tier auto`, lets the top tier's compile (queued
/// when the module was loaded, running beside the guest) finish, so that
/// its artifact is in the cache for the next run (waiting at most
/// [`TIER_UP_WAIT`]); lets publications to the remote cache finish (at most
/// [`REMOTE_PUBLISH_WAIT`]); then prints the metrics snapshot on stderr, with
/// `--metrics`.
async fn finish(opts: &Opts, sandbox: &WasmSandbox) -> Result<(), Error> {
    if let Some(tiered) = sandbox.default_plugin().and_then(|p| p.tiering().cloned()) {
        let _ = tokio::task::spawn_blocking(move || tiered.wait_for_tier_up(TIER_UP_WAIT)).await;
    }
    // What this command compiled is published in the background; let it land
    // before the process exits, so the fleet's next host finds it.
    if let Some(cache) = sandbox.cache().filter(|c| c.is_remote_enabled()).cloned() {
        let _ = tokio::task::spawn_blocking(move || cache.flush_remote(REMOTE_PUBLISH_WAIT)).await;
    }
    if !opts.metrics {
        return Ok(());
    }
    let metrics = sandbox.metrics();
    emit(Stream::Stderr, |w| {
        json::write(w, &metrics, AsciiFormatter::compact())?;
        writeln!(w)
    })
}

/// The command-line flag that raises a limit on `resource`.
fn flag_for(resource: Resource) -> Option<&'static str> {
    Some(match resource {
        Resource::Memory => "--max-memory",
        Resource::ResultBytes => "--max-result-size",
        Resource::ModuleBytes => "--max-module-size",
        Resource::Functions => "--max-functions",
        Resource::FunctionBodyBytes => "--max-function-size",
        Resource::CodeBytes => "--max-code-size",
        Resource::Locals => "--max-locals",
        Resource::Imports => "--max-imports",
        _ => return None,
    })
}

/// The error's message, with the command-line flag to change where a limit was hit (the
/// library's own messages name the Rust configuration field instead).
fn message(e: &Error) -> String {
    match e {
        Error::Timeout { limit } => format!(
            "guest call timed out after {limit:?} (every call is limited, 10s by default; \
             raise it with --timeout, or --timeout 0 for none, if the work is legitimate)"
        ),
        Error::OutOfFuel { fuel } => format!(
            "guest ran out of fuel ({fuel} units per call; raise it with --fuel if the work is \
             legitimate)"
        ),
        Error::LimitExceeded { resource, .. } => match flag_for(*resource) {
            Some(flag) => format!("{e} (raise it with {flag})"),
            None => e.to_string(),
        },
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
        let text = output::one_line(&info.to_string(), MAX_LINE);
        output::report(&format!("wasm-sandbox: internal error: {text}"));
    }));
    let cli = Cli::parse();
    // One thread: a command runs one guest, whose async steps need no second
    // worker (blocking work goes to the blocking pool, tier-ups to their own
    // thread); a multi-thread runtime spawned two workers for nothing.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::report(&format!(
                "wasm-sandbox: error: cannot start the async runtime: {e}"
            ));
            return ExitCode::from(exit::HOST);
        }
    };
    let code = match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let line = output::one_line(&message(&e), MAX_LINE);
            output::report(&format!("wasm-sandbox: error: {line}"));
            status(&e)
        }
    };
    // Everything of ours is written and flushed (`emit` flushes); what may
    // still run is a writer of guest output blocked on a stalled stream,
    // which dropping the runtime would wait for forever.
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    ExitCode::from(code)
}
