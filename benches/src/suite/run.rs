//! Whole processes: `wasm-sandbox run` against `wasmtime run` 48.0.8, the CLI of the same
//! wasmtime the sandbox is built on.
//!
//! Every sample is one process, timed from just before `spawn` to the return of `wait`
//! (and, for the first-output row, to the first byte read from its stdout pipe). The two
//! sides run interleaved in the same rounds (the schedule of [`compare`]: warm-up rounds,
//! then recorded rounds alternating which side goes first); the rows are built from the
//! per-process times, so emptying a cache before a cold run is not timed.
//!
//! Each side has its own temporary cache: `wasmtime run` gets `XDG_CACHE_HOME` (its cache
//! is `$XDG_CACHE_HOME/wasmtime`, on with `-C cache=y`, which is also its default) and an
//! empty `XDG_CONFIG_HOME` (so no user `config.toml` changes it); `wasm-sandbox run` gets
//! `--cache-dir`. Both sides' stdout, stderr and exit status are asserted equal once before
//! measuring, and every measured run's stdout and status are checked against that.
//!
//! The binaries: `WASMTIME_CLI` names the peer (`cargo xtask bench` sets it to
//! `~/.cache/wasm-sandbox-peers/wasmtime-48.0.8/bin/wasmtime`, installed there by
//! `cargo xtask bench --peers`; without the variable the suite looks there too), and
//! `WASM_SANDBOX_CLI` ours (the xtask builds it next to the suite; without the variable the
//! suite looks for `wasm-sandbox` beside its own executable). When either is missing, the
//! row sets return a [`Skip`](super::Skip) naming `cargo xtask bench --peers`, which the
//! report lists under "Skipped".

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wasm_sandbox_bench::{Comparison, Direction, Goal, compare};

use super::{Ctx, RowResult, RowSet, Scale, fmt_ns, skip};
use crate::plain::BoxError;

/// The wasmtime CLI version the rows compare against: the wasmtime the sandbox uses.
pub use wasm_sandbox_bench::peers::WASMTIME_CLI_VERSION as PEER_VERSION;
/// Where `cargo xtask bench --peers` installs the peer (its binary is `bin/wasmtime` under it).
pub use wasm_sandbox_bench::peers::wasmtime_root as peer_root;
/// The environment variable naming the `wasmtime` binary.
pub const PEER_ENV: &str = "WASMTIME_CLI";
/// The environment variable naming the `wasm-sandbox` binary.
pub const CLI_ENV: &str = "WASM_SANDBOX_CLI";

/// The SQL the SQLite shell reads from stdin in the `--tier auto` rows: a little work and a
/// few lines of output.
const SHELL_SQL: &str = "\
create table t(x integer, y text);
with recursive c(i) as (select 1 union all select i + 1 from c where i < 2000)
  insert into t select i, printf('row %d', i) from c;
select count(*), sum(x), max(y) from t;
select x, y from t where x % 500 = 0 order by x;
";

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "run/warm",
            run: warm,
        },
        RowSet {
            id: "run/cold",
            run: cold,
        },
        RowSet {
            id: "run/tier-auto",
            run: tier_auto,
        },
    ]
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The path of a guest under `guests/c/`.
fn guest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("guests")
        .join("c")
        .join(rel)
}

/// The two binaries.
struct Clis {
    ours: PathBuf,
    peer: PathBuf,
    /// What `wasmtime --version` says, e.g. `48.0.8`.
    peer_version: String,
}

/// A binary named by `var`, or found by `fallback`; a variable naming a missing file is an
/// error, nothing found at all is `None`.
fn locate(
    var: &str,
    fallback: impl FnOnce() -> Option<PathBuf>,
) -> Result<Option<PathBuf>, BoxError> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_file() {
                Ok(Some(p))
            } else {
                Err(format!("{var}={} is not a file", p.display()).into())
            }
        }
        _ => Ok(fallback().filter(|p| p.is_file())),
    }
}

/// `wasm-sandbox` beside the running executable (`target/release/suite`), or one directory
/// up from it (`target/debug/deps/smoke-*`, the test build).
fn sibling_cli() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let dir = me.parent()?;
    let here = dir.join(exe("wasm-sandbox"));
    if here.is_file() {
        return Some(here);
    }
    (dir.file_name()? == "deps").then(|| dir.parent().map(|d| d.join(exe("wasm-sandbox"))))?
}

fn clis() -> Result<Clis, BoxError> {
    let peer = locate(PEER_ENV, || {
        peer_root().map(|r| r.join("bin").join(exe("wasmtime")))
    })?
    .ok_or_else(|| {
        skip(format!(
            "`wasmtime run` {PEER_VERSION} is not installed: `cargo xtask bench --peers` \
             installs it (into ~/.cache/wasm-sandbox-peers/wasmtime-{PEER_VERSION}), or set \
             {PEER_ENV}"
        ))
    })?;
    let ours = locate(CLI_ENV, sibling_cli)?.ok_or_else(|| {
        skip(format!(
            "the `wasm-sandbox` CLI binary was not found: `cargo xtask bench --peers` builds \
             it and installs the peer, or set {CLI_ENV}"
        ))
    })?;
    let out = Command::new(&peer).arg("--version").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `wasmtime 48.0.8 (2d6d7dc3a 2025-10-20)`
    let peer_version = text
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("{} --version printed {text:?}", peer.display()))?
        .to_owned();
    Ok(Clis {
        ours,
        peer,
        peer_version,
    })
}

/// One side of a row: a command line, its environment, and the cache directories that a
/// cold run empties first.
struct Side {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(&'static str, PathBuf)>,
    caches: Vec<PathBuf>,
    stdin: &'static [u8],
    _dir: tempfile::TempDir,
}

impl Side {
    /// `wasmtime run -C cache=y [FLAGS] MODULE ARGS` with its own empty XDG cache and config
    /// directories.
    fn peer(
        clis: &Clis,
        flags: &[&str],
        module: &Path,
        args: &[&str],
        stdin: &'static [u8],
    ) -> Result<Side, BoxError> {
        let dir = tempfile::tempdir()?;
        let cache = dir.path().join("xdg-cache");
        let config = dir.path().join("xdg-config");
        std::fs::create_dir_all(&cache)?;
        std::fs::create_dir_all(&config)?;
        let mut argv: Vec<OsString> = vec!["run".into(), "-C".into(), "cache=y".into()];
        argv.extend(flags.iter().map(OsString::from));
        argv.push(module.into());
        argv.extend(args.iter().map(OsString::from));
        Ok(Side {
            program: clis.peer.clone(),
            args: argv,
            envs: vec![
                ("XDG_CACHE_HOME", cache.clone()),
                ("XDG_CONFIG_HOME", config),
            ],
            caches: vec![cache],
            stdin,
            _dir: dir,
        })
    }

    /// `wasm-sandbox run --cache-dir D [FLAGS] MODULE ARGS`, `XDG_CACHE_HOME` also its own.
    fn ours(
        clis: &Clis,
        flags: &[&str],
        module: &Path,
        args: &[&str],
        stdin: &'static [u8],
    ) -> Result<Side, BoxError> {
        let dir = tempfile::tempdir()?;
        let cache = dir.path().join("cache");
        let xdg = dir.path().join("xdg-cache");
        std::fs::create_dir_all(&xdg)?;
        let mut argv: Vec<OsString> =
            vec!["run".into(), "--cache-dir".into(), cache.clone().into()];
        argv.extend(flags.iter().map(OsString::from));
        argv.push(module.into());
        argv.extend(args.iter().map(OsString::from));
        Ok(Side {
            program: clis.ours.clone(),
            args: argv,
            envs: vec![("XDG_CACHE_HOME", xdg.clone())],
            caches: vec![cache, xdg],
            stdin,
            _dir: dir,
        })
    }

    /// Empties the side's caches (not timed).
    fn wipe(&self) -> std::io::Result<()> {
        for c in &self.caches {
            if c.exists() {
                std::fs::remove_dir_all(c)?;
            }
        }
        // wasmtime wants its XDG directory to exist; ours creates `--cache-dir` itself.
        for c in self.caches.iter().filter(|c| c.ends_with("xdg-cache")) {
            std::fs::create_dir_all(c)?;
        }
        Ok(())
    }

    /// Files under the side's caches.
    fn cached_files(&self) -> usize {
        fn count(p: &Path) -> usize {
            match std::fs::read_dir(p) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() { count(&p) } else { 1 }
                    })
                    .sum(),
                Err(_) => 0,
            }
        }
        self.caches.iter().map(|c| count(c)).sum()
    }

    /// The command line, for messages.
    fn shown(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// The times of one process.
#[derive(Clone, Copy, Debug)]
struct Timing {
    /// From spawn to the first byte read from its stdout.
    first_output: Duration,
    /// From spawn to the return of `wait`.
    exit: Duration,
}

/// What one process did.
struct Outcome {
    timing: Timing,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs the side once: writes its stdin (a few hundred bytes: it fits the pipe, so writing
/// before reading cannot block) and closes it, reads stdout to its end, waits.
fn run_once(side: &Side, keep_stderr: bool) -> Result<Outcome, BoxError> {
    let mut cmd = Command::new(&side.program);
    cmd.args(&side.args)
        .stdin(if side.stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(if keep_stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in &side.envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", side.program.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A guest that exits without reading all of it gets EPIPE here: not an error.
        let _ = stdin.write_all(side.stdin);
    }
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = e.read_to_end(&mut v);
            v
        })
    });
    let mut out = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stdout = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = None;
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(|| start.elapsed());
        stdout.extend_from_slice(&buf[..n]);
    }
    let status = child.wait()?;
    let exit = start.elapsed();
    let stderr = match stderr {
        Some(t) => t.join().map_err(|_| "stderr reader panicked")?,
        None => Vec::new(),
    };
    Ok(Outcome {
        timing: Timing {
            first_output: first.unwrap_or(exit),
            exit,
        },
        status,
        stdout,
        stderr,
    })
}

/// Runs both sides once and fails unless their stdout, stderr and exit status are equal.
/// Returns the expected stdout and status.
fn check_equal(base: &Side, cand: &Side) -> Result<(Vec<u8>, ExitStatus), BoxError> {
    let b = run_once(base, true)?;
    let c = run_once(cand, true)?;
    let show = |o: &Outcome| {
        format!(
            "status {}, stdout {:?}, stderr {:?}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    if b.status.code() != c.status.code() || b.stdout != c.stdout || b.stderr != c.stderr {
        return Err(format!(
            "the two sides differ:\n  {}\n    {}\n  {}\n    {}",
            base.shown(),
            show(&b),
            cand.shown(),
            show(&c)
        )
        .into());
    }
    if b.stdout.is_empty() {
        return Err(format!("{} printed nothing", base.shown()).into());
    }
    Ok((b.stdout, b.status))
}

/// One side's recorded runs, and the first failure, if any.
#[derive(Default)]
struct Record {
    timings: Vec<Timing>,
    error: Option<String>,
}

impl Record {
    /// Runs `side` once (emptying its caches first when `cold`), checks the run against the
    /// expected stdout and status, and records its times.
    fn run(&mut self, side: &Side, cold: bool, want: &(Vec<u8>, ExitStatus)) {
        if self.error.is_some() {
            // Keep the schedule; the row set fails after `compare` returns.
            self.timings.push(Timing {
                first_output: Duration::from_nanos(1),
                exit: Duration::from_nanos(1),
            });
            return;
        }
        let result = (|| -> Result<Timing, BoxError> {
            if cold {
                side.wipe()?;
            }
            let o = run_once(side, false)?;
            if o.status.code() != want.1.code() || o.stdout != want.0 {
                return Err(format!(
                    "{}: a measured run gave status {} and {} bytes of stdout, not {} and {}",
                    side.shown(),
                    o.status,
                    o.stdout.len(),
                    want.1,
                    want.0.len()
                )
                .into());
            }
            Ok(o.timing)
        })();
        match result {
            Ok(t) => self.timings.push(t),
            Err(e) => {
                self.error = Some(e.to_string());
                self.timings.push(Timing {
                    first_output: Duration::from_nanos(1),
                    exit: Duration::from_nanos(1),
                });
            }
        }
    }
}

/// Runs both sides on the schedule of [`compare`] at `scale` (one call per sample at the
/// slow scales: warm-up rounds, then recorded rounds alternating which side goes first) and
/// returns the per-process times of the recorded rounds, baseline then candidate. `want`
/// is what [`check_equal`] found.
fn measure(
    ctx: &Ctx,
    scale: Scale,
    base: &Side,
    cand: &Side,
    cold: bool,
    want: &(Vec<u8>, ExitStatus),
) -> Result<(Vec<Timing>, Vec<Timing>), BoxError> {
    let mut b = Record::default();
    let mut c = Record::default();
    let scheduled = compare(
        "schedule",
        || b.run(base, cold, want),
        || c.run(cand, cold, want),
        &ctx.config(scale),
    );
    if let Some(e) = b.error.or(c.error) {
        return Err(e.into());
    }
    let n = scheduled.baseline.samples.len();
    if scheduled.baseline.batch_size != 1 || scheduled.candidate.batch_size != 1 {
        return Err("process rows need one call per sample".into());
    }
    let tail = |mut v: Vec<Timing>| v.split_off(v.len().saturating_sub(n));
    Ok((tail(b.timings), tail(c.timings)))
}

/// A row from per-process times, `pick` choosing which time.
fn row(
    name: impl Into<String>,
    base: &[Timing],
    cand: &[Timing],
    pick: fn(&Timing) -> Duration,
) -> Result<Comparison, BoxError> {
    let ns = |v: &[Timing]| v.iter().map(|t| pick(t).as_nanos() as f64).collect();
    Ok(
        Comparison::from_paired_samples(name, "ns", Direction::LowerIsBetter, ns(base), ns(cand))?
            .with_group("run"),
    )
}

fn hello() -> Result<PathBuf, BoxError> {
    let p = guest("hello/hello.wasm");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} is missing", p.display()).into())
    }
}

/// A warm-start row's program: its row name, module, arguments, stdin and what it does.
type Program = (
    &'static str,
    PathBuf,
    &'static [&'static str],
    &'static [u8],
    &'static str,
);

fn warm(ctx: &Ctx) -> RowResult {
    let clis = clis()?;
    let mut rows = Vec::new();
    // A small program, and a large one that also starts and exits at once: the artifact
    // wasmtime decompresses (and we map) grows with the module.
    let shell = guest("sqlite-shell/sqlite-shell.wasm");
    let programs: [Program; 2] = [
        (
            "warm start, hello.wasm",
            hello()?,
            &["a", "b"],
            b"",
            "`run` of hello.wasm (36 KB of C: prints a line, its arguments and a line on \
             stderr, exits 0)",
        ),
        (
            "warm start, sqlite-shell.wasm (1.4 MB), one query",
            shell,
            &[":memory:", "select 6*7;"],
            b"",
            "`run` of SQLite's shell (1.4 MB of wasm) on an in-memory \
             database with one query on its command line (prints 42, exits 0)",
        ),
    ];
    for (name, module, args, stdin, what) in programs {
        if !module.is_file() {
            return Err(format!("{} is missing", module.display()).into());
        }
        let base = Side::peer(&clis, &[], &module, args, stdin)?;
        let cand = Side::ours(&clis, &[], &module, args, stdin)?;
        // The equality check fills both caches; make sure it did, so that "warm" is warm:
        // wasmtime's cache is on, ours wrote its artifact.
        let want = check_equal(&base, &cand)?;
        for side in [&base, &cand] {
            if side.cached_files() == 0 {
                return Err(format!("{} left its cache empty", side.shown()).into());
            }
        }
        let (b, c) = measure(ctx, Scale::Slow, &base, &cand, false, &want)?;
        let r = row(name, &b, &c, |t| t.exit)?
            .with_names(
                format!("wasmtime run {} -C cache=y, warm cache", clis.peer_version),
                "wasm-sandbox run --cache-dir, warm cache",
            )
            .with_goal(Goal::at_least(2.0))
            .with_measures(format!(
                "One whole process from spawn to exit: {what}, both compilation caches warm \
                 (filled before measuring). wasmtime reads its zstd-compressed artifact from \
                 $XDG_CACHE_HOME/wasmtime; wasm-sandbox maps its verified artifact from \
                 --cache-dir. Each side's own temporary cache; default flags otherwise \
                 (Cranelift), stdin /dev/null."
            ));
        rows.push(r);
    }
    // Attribution: hello.wasm again with no wall-clock limit on our side (no epoch checks,
    // no ticker thread), as `wasmtime run` runs by default.
    let module = hello()?;
    let base = Side::peer(&clis, &[], &module, &["a", "b"], b"")?;
    let cand = Side::ours(&clis, &["--timeout", "0"], &module, &["a", "b"], b"")?;
    let want = check_equal(&base, &cand)?;
    let (b, c) = measure(ctx, Scale::Slow, &base, &cand, false, &want)?;
    rows.push(
        row(
            "warm start, hello.wasm, no wall-clock limit on either side",
            &b,
            &c,
            |t| t.exit,
        )?
        .with_names(
            format!("wasmtime run {} -C cache=y, warm cache", clis.peer_version),
            "wasm-sandbox run --timeout 0 --cache-dir, warm cache",
        )
        .with_measures(
            "Attribution for the hello.wasm warm row: the same processes with wasm-sandbox's \
             wall-clock limit off (`--timeout 0`: no epoch checks in the code, no ticker \
             thread), as `wasmtime run` has by default.",
        ),
    );
    Ok(rows)
}

fn cold(ctx: &Ctx) -> RowResult {
    let clis = clis()?;
    let module = hello()?;
    let base = Side::peer(&clis, &[], &module, &["a", "b"], b"")?;
    let cand = Side::ours(&clis, &[], &module, &["a", "b"], b"")?;
    let want = check_equal(&base, &cand)?;
    let (b, c) = measure(ctx, Scale::Slow, &base, &cand, true, &want)?;
    let r = row("cold start, hello.wasm, Cranelift on both", &b, &c, |t| {
        t.exit
    })?
    .with_names(
        format!("wasmtime run {} -C cache=y, empty cache", clis.peer_version),
        "wasm-sandbox run --cache-dir, empty cache",
    )
    .with_goal(Goal::at_least(1.0))
    .with_measures(
        "One whole process from spawn to exit, both caches emptied before every run (not \
             timed): `run` of hello.wasm compiles it with Cranelift at opt-level speed on both \
             sides (wasmtime's default; wasm-sandbox's default tier, highly-optimized), runs \
             it, and writes the artifact to the cache. Goal: no slower than wasmtime.",
    );
    // Attribution: the same cold runs against wasmtime given the same wall-clock limit.
    // `-W timeout` turns on epoch interruption, as every wasm-sandbox engine has it (the
    // deadline of every call), and with it the epoch checks Cranelift compiles into every
    // function entry and loop header.
    let limited = Side::peer(&clis, &["-W", "timeout=10s"], &module, &["a", "b"], b"")?;
    let want = check_equal(&limited, &cand)?;
    let (b, c) = measure(ctx, Scale::Slow, &limited, &cand, true, &want)?;
    let attribution = row(
        "cold start, hello.wasm, vs wasmtime with the same 10 s limit",
        &b,
        &c,
        |t| t.exit,
    )?
    .with_names(
        format!(
            "wasmtime run {} -W timeout=10s -C cache=y, empty cache",
            clis.peer_version
        ),
        "wasm-sandbox run --cache-dir, empty cache",
    )
    .with_measures(
        "Attribution for the cold row: the same processes, but wasmtime runs with the \
         wall-clock limit wasm-sandbox has by default (`-W timeout=10s`), which makes its engine \
         use epoch interruption and Cranelift compile an epoch check into every function entry \
         and loop header, as wasm-sandbox's engines always do. What remains is everything else \
         either side does on a cold start.",
    );
    // The same comparison with no wall-clock limit on either side: `--timeout 0` compiles
    // without epoch checks, as `wasmtime run` does by default, so the two compile the same
    // code and what remains is each side's own cold-start work.
    let unbounded = Side::ours(&clis, &["--timeout", "0"], &module, &["a", "b"], b"")?;
    let want = check_equal(&base, &unbounded)?;
    let (b, c) = measure(ctx, Scale::Slow, &base, &unbounded, true, &want)?;
    let no_limit = row(
        "cold start, hello.wasm, no wall-clock limit on either side",
        &b,
        &c,
        |t| t.exit,
    )?
    .with_names(
        format!("wasmtime run {} -C cache=y, empty cache", clis.peer_version),
        "wasm-sandbox run --timeout 0 --cache-dir, empty cache",
    )
    .with_goal(Goal::at_least(1.0))
    .with_measures(
        "The cold row with wasm-sandbox's wall-clock limit turned off (`--timeout 0`, which \
         builds its engine without epoch interruption, as `wasmtime run` has by default): both \
         sides compile the same code with Cranelift, so this row is their cold-start overhead \
         alone. Memory, table and stack limits stay on for wasm-sandbox. Goal: no slower.",
    );
    Ok(vec![r, attribution, no_limit])
}

fn tier_auto(ctx: &Ctx) -> RowResult {
    let clis = clis()?;
    let module = guest("sqlite-shell/sqlite-shell.wasm");
    if !module.is_file() {
        return Err(format!(
            "{} is missing (`cargo xtask guests sqlite-shell` builds it)",
            module.display()
        )
        .into());
    }
    let size = std::fs::metadata(&module)?.len();
    let sql = SHELL_SQL.as_bytes();
    let base = Side::peer(&clis, &[], &module, &[], sql)?;
    let cand = Side::ours(&clis, &["--tier", "auto"], &module, &[], sql)?;
    let want = check_equal(&base, &cand)?;
    let (b, c) = measure(ctx, Scale::VerySlow, &base, &cand, true, &want)?;

    // What the next run gets: the same command on the cache the last cold run left.
    let again = run_once(&cand, false)?.timing.exit;
    let again_cached = cand.cached_files();

    let names = (
        format!(
            "wasmtime run {} (Cranelift), empty cache",
            clis.peer_version
        ),
        "wasm-sandbox run --tier auto, empty cache".to_owned(),
    );
    let mb = size as f64 / 1e6;
    let first = row(
        "cold start --tier auto, sqlite-shell.wasm, time to first output",
        &b,
        &c,
        |t| t.first_output,
    )?
    .with_names(names.0.clone(), names.1.clone())
    .with_goal(Goal::at_least(3.0))
    .with_measures(format!(
        "SQLite's shell ({mb:.1} MB of wasm) reads a script from stdin (create a table, \
         insert 2,000 rows, two queries, 6 lines of output); both caches emptied before every \
         run. Time from spawn to the first byte on stdout. wasmtime compiles the whole module \
         with Cranelift before it starts; `--tier auto` starts on Winch at once and compiles \
         the Cranelift tier in the background, beside the guest."
    ));
    let exit = row(
        "cold start --tier auto, sqlite-shell.wasm, time to exit",
        &b,
        &c,
        |t| t.exit,
    )?
    .with_names(names.0, names.1)
    .with_measures(format!(
        "The same processes as the first-output row, to exit. Our `--tier auto` run finishes \
         the Cranelift compile after the guest's output, before it exits (the CLI waits for \
         it, so the artifact is in the cache), so the exit includes Winch's compile and \
         Cranelift's; the next run starts on the Cranelift artifact: one more run on the \
         cache the last measured run left took {} to exit ({again_cached} files cached).",
        fmt_ns(again.as_nanos() as f64)
    ));
    Ok(vec![first, exit])
}
