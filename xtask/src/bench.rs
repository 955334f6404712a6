//! `cargo xtask bench`: build the benchmark suite in release mode, run it with a progress
//! bar, count instructions of the call rows under callgrind, and write the report.
//!
//! The `run/*` rows time whole processes of the `wasm-sandbox` CLI against `wasmtime run`
//! 48.0.8: the xtask builds the CLI next to the suite (the test build's debug binary in a
//! smoke run) and passes both binaries to the suite as `WASM_SANDBOX_CLI` and
//! `WASMTIME_CLI`. `--peers` installs the peer with `cargo install` when it is missing;
//! without it, or when it is not installed, the suite reports those rows as skipped.
//!
//! Writes into `target/bench/`: `report.md`, `report.json`, `ratios.svg` and one
//! `row-NN-*.svg` per row (the harness's `Report::write_to_dir`), plus `suite.log` (the
//! suite's own log) and `callgrind/` (raw callgrind dumps); a `--smoke` run writes into
//! `target/bench/smoke/` instead, so it never replaces a measured report. Baselines live in
//! `target/bench/baselines/<NAME>.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use wasm_sandbox_bench::peers::{WASMTIME_CLI_VERSION as PEER_VERSION, wasmtime_root as peer_root};
use wasm_sandbox_bench::{Comparison, DiffConfig, Direction, Phase, Report};

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    /// Few rounds per row: finishes in under 3 minutes on 2 cores.
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// Check that the suite runs, not what it measures: every row at tiny sizes, on the
    /// suite binary that `cargo test --workspace` builds (so no release build of wasmtime),
    /// no instruction counts. Its ratios mean nothing. What CI runs.
    #[arg(long)]
    smoke: bool,
    /// Run only the row sets whose id contains this (repeatable), e.g. `call` or `compile/large`.
    #[arg(long)]
    only: Vec<String>,
    /// Save this run as a named baseline (`target/bench/baselines/NAME.json`).
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,
    /// Compare this run with a saved baseline and flag regressions.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Exit non-zero when `--baseline` finds a regression (off by default: shared machines
    /// are noisy).
    #[arg(long)]
    fail_on_regression: bool,
    /// The change, in percent, that counts as a regression or an improvement.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// Compare only ratios against the baseline, not absolute times (for a baseline measured
    /// on another machine).
    #[arg(long)]
    ratios_only: bool,
    /// Skip the instruction counts under callgrind.
    #[arg(long)]
    no_callgrind: bool,
    /// Install the peer CLI that the `run/*` rows compare against when it is missing:
    /// wasmtime-cli 48.0.8 (`cargo install --locked`) into
    /// ~/.cache/wasm-sandbox-peers/wasmtime-48.0.8; 10–20 minutes on 2 cores, once.
    /// Without it an installed peer is still used (or the one `WASMTIME_CLI` names), and
    /// the rows are reported as skipped when there is none.
    #[arg(long)]
    peers: bool,
}

/// The ids of the row sets that run the CLIs: a copy of `wasm_sandbox_benches::suite::run::sets`.
const RUN_SETS: [&str; 3] = ["run/warm", "run/cold", "run/tier-auto"];

/// The `wasmtime` binary for the `run/*` rows: the one `WASMTIME_CLI` names, else the one
/// installed under [`peer_root`], installed first with `--peers` when missing. `None` (and a
/// note) when there is none: the suite then reports the rows as skipped.
fn peer(cargo: &str, install: bool) -> Result<Option<PathBuf>, String> {
    if let Some(p) = std::env::var_os("WASMTIME_CLI").filter(|p| !p.is_empty()) {
        eprintln!(
            "xtask bench: peer from WASMTIME_CLI: {}",
            Path::new(&p).display()
        );
        return Ok(Some(PathBuf::from(p)));
    }
    let root = peer_root().ok_or("HOME is not set: cannot find the peer's directory")?;
    let bin = root
        .join("bin")
        .join(format!("wasmtime{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        return Ok(Some(bin));
    }
    if !install {
        eprintln!(
            "xtask bench: `wasmtime run` {PEER_VERSION} is not installed ({}): the run/* rows \
             will be reported as skipped; `cargo xtask bench --peers` installs it",
            bin.display()
        );
        return Ok(None);
    }
    eprintln!(
        "xtask bench: installing wasmtime-cli {PEER_VERSION} into {} (--peers; 10–20 \
         minutes on 2 cores, once)",
        root.display()
    );
    // Its own temporary target directory: not the workspace's, which other builds share.
    crate::run(
        Command::new(cargo)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .args([
                "install",
                "wasmtime-cli",
                "--version",
                PEER_VERSION,
                "--locked",
                "--root",
            ])
            .arg(&root),
    )?;
    if bin.is_file() {
        Ok(Some(bin))
    } else {
        Err(format!(
            "cargo install wasmtime-cli left no {}",
            bin.display()
        ))
    }
}

/// Whether `--only` selects any of the `run/*` row sets (the suite's filter: the id contains
/// one of the strings).
fn runs_cli_rows(only: &[String]) -> bool {
    only.is_empty()
        || RUN_SETS
            .iter()
            .any(|id| only.iter().any(|o| id.contains(o.as_str())))
}

/// Builds the workspace's tests (`cargo test --workspace --no-run`, a no-op right after
/// `cargo test --workspace`) and returns the `suite` binary built with them, and the
/// `wasm-sandbox` CLI binary of the same build. Building them with `cargo build -p` instead
/// would resolve features for one package and rebuild the Cranelift stack once more.
fn test_build_suite(cargo: &str, root: &Path) -> Result<(PathBuf, PathBuf), String> {
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "test",
            "--workspace",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo test --no-run: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo test --no-run failed with {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let messages: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let bin = |name: &str| {
        messages
            .iter()
            .find(|m| {
                m["reason"] == "compiler-artifact"
                    && m["target"]["name"] == name
                    && m["profile"]["test"] == false
                    && m["target"]["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .and_then(|m| m["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| format!("cargo test --no-run built no `{name}` binary"))
    };
    Ok((bin("suite")?, bin("wasm-sandbox")?))
}

/// Runs `cargo xtask bench`.
pub(crate) fn run(root: &Path, args: &BenchArgs) -> Result<(), String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bench_dir = target.join("bench");
    let out = if args.smoke {
        bench_dir.join("smoke")
    } else {
        bench_dir.clone()
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let cli_rows = runs_cli_rows(&args.only);
    // Installed first: `--peers` fails early, before a long build, if it cannot install.
    let peer = if cli_rows {
        peer(&cargo, args.peers)?
    } else {
        None
    };
    let (suite, cli) = if args.smoke {
        eprintln!("xtask bench: using the suite and CLI binaries of the test build (smoke run)");
        let (suite, cli) = test_build_suite(&cargo, root)?;
        (suite, Some(cli))
    } else {
        eprintln!(
            "xtask bench: building the suite in release mode (the first build compiles wasmtime and takes several minutes)"
        );
        crate::run(Command::new(&cargo).current_dir(root).args([
            "build",
            "--release",
            "-p",
            "wasm-sandbox-benches",
            "--bin",
            "suite",
        ]))?;
        let release = target.join("release");
        let exe = |name: &str| release.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        // A build of its own: one `cargo build` of both packages would unify their features
        // and rebuild the suite's dependencies.
        let cli = if cli_rows {
            eprintln!("xtask bench: building the wasm-sandbox CLI in release mode");
            crate::run(Command::new(&cargo).current_dir(root).args([
                "build",
                "--release",
                "-p",
                "wasm-sandbox-cli",
                "--bin",
                "wasm-sandbox",
            ]))?;
            Some(exe("wasm-sandbox"))
        } else {
            None
        };
        (exe("suite"), cli)
    };
    let mut envs: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(cli) = cli {
        envs.push(("WASM_SANDBOX_CLI", cli));
    }
    if let Some(peer) = peer {
        envs.push(("WASMTIME_CLI", peer));
    }
    envs.extend(crate::extism::lib_env(&args.only));

    let mode = if args.smoke {
        "smoke"
    } else if args.quick {
        "quick"
    } else {
        "full"
    };
    let raw = out.join("suite.json");
    let started = Instant::now();
    run_suite(
        &suite,
        root,
        mode,
        &args.only,
        &envs,
        &raw,
        &out.join("suite.log"),
    )?;
    let mut report = Report::load(&raw).map_err(|e| e.to_string())?;
    eprintln!("xtask bench: suite ran in {:.0?}", started.elapsed());

    if args.no_callgrind || args.smoke {
        eprintln!("xtask bench: instruction counts skipped (--no-callgrind or --smoke)");
    } else if !args.only.is_empty() && !args.only.iter().any(|o| o.contains("call")) {
        eprintln!("xtask bench: instruction counts skipped (--only excludes the call rows)");
    } else {
        callgrind_rows(&suite, root, &out, args.quick, &mut report);
    }

    report.metadata.rustc_version = command_line(Command::new("rustc").arg("-V"));
    report.metadata.git_commit =
        command_line(
            Command::new("git")
                .current_dir(root)
                .args(["rev-parse", "--short", "HEAD"]),
        );
    let files = report.write_to_dir(&out).map_err(|e| e.to_string())?;
    println!("{}", report.render_terminal());
    summary(&report);
    eprintln!(
        "xtask bench: wrote {} files to {}",
        files.len(),
        out.display()
    );

    let baselines = bench_dir.join("baselines");
    let mut regressed = false;
    if let Some(name) = &args.baseline {
        let base = Report::load_baseline(&baselines, name).map_err(|e| e.to_string())?;
        let config = DiffConfig::new()
            .threshold_pct(args.threshold)
            .check_time(!args.ratios_only);
        let diff = report.diff_against(&base, &config);
        println!("{}", wasm_sandbox_bench::render_diff_terminal(&diff));
        let md = out.join("diff.md");
        std::fs::write(&md, diff.render_markdown())
            .map_err(|e| format!("cannot write {}: {e}", md.display()))?;
        if diff.has_regressions() {
            regressed = true;
            eprintln!(
                "xtask bench: {} regression(s) against baseline `{name}`: {}",
                diff.regressions().len(),
                diff.regressions().join(", ")
            );
        } else {
            eprintln!(
                "xtask bench: no regression against baseline `{name}` (threshold {}%)",
                args.threshold
            );
        }
    }
    if let Some(name) = &args.save_baseline {
        let path = report
            .save_baseline(&baselines, name)
            .map_err(|e| e.to_string())?;
        eprintln!("xtask bench: saved baseline `{name}` to {}", path.display());
    }
    if regressed && args.fail_on_regression {
        return Err("regressions found (--fail-on-regression)".to_owned());
    }
    Ok(())
}

/// Runs the suite binary with `envs` set, turning its `@progress` lines into a progress bar
/// and sending its log to `log`.
fn run_suite(
    suite: &Path,
    root: &Path,
    mode: &str,
    only: &[String],
    envs: &[(&str, PathBuf)],
    raw: &Path,
    log: &Path,
) -> Result<(), String> {
    let log_file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(suite);
    cmd.current_dir(root)
        .args(["--mode", mode, "--out"])
        .arg(raw)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for o in only {
        cmd.args(["--only", o]);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", suite.display()))?;
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut parts = line.splitn(4, ' ');
            if parts.next() != Some("@progress") {
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
                continue;
            }
            let done: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let total: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
            let id = parts.next().unwrap_or("");
            // The bar is hidden when stderr is not a terminal (CI): print plain lines there.
            if bar.is_hidden() && !id.is_empty() {
                eprintln!("[{}/{total}] {id}", done + 1);
            }
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(id.to_owned());
        }
    }
    let status = child.wait().map_err(|e| format!("suite: {e}"))?;
    bar.finish_and_clear();
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    for line in tail.into_iter().rev() {
        eprintln!("  {line}");
    }
    Err(format!(
        "the suite failed with {status} (log: {})",
        log.display()
    ))
}

/// Counts instructions per call of both sides of each call row under callgrind and adds a
/// row per pair. Skips with a note when valgrind is missing or fails.
fn callgrind_rows(suite: &Path, root: &Path, out: &Path, quick: bool, report: &mut Report) {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "xtask bench: valgrind not found: instruction counts skipped (apt-get install valgrind)"
        );
        return;
    }
    let dir = out.join("callgrind");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!(
            "xtask bench: cannot create {}: {e}; instruction counts skipped",
            dir.display()
        );
        return;
    }
    let (iters, repeats) = if quick { (500u64, 3u32) } else { (2000, 5) };
    eprintln!(
        "xtask bench: counting instructions under callgrind ({} runs)",
        2 * PAIRS.len()
    );
    let bar = ProgressBar::new(2 * PAIRS.len() as u64);
    for (key, baseline, candidate) in PAIRS {
        let mut sides = Vec::new();
        for target in [baseline, candidate] {
            bar.set_message(target);
            match callgrind_target(suite, root, &dir, target, iters, repeats) {
                Ok(samples) => sides.push(samples),
                Err(e) => {
                    eprintln!("xtask bench: callgrind {target}: {e}; row skipped");
                    break;
                }
            }
            bar.inc(1);
        }
        if sides.len() != 2 {
            continue;
        }
        let time_row = report
            .rows
            .iter()
            .find(|r| r.group == "call" && r.name == key);
        let names = time_row.map_or((baseline.to_owned(), candidate.to_owned()), |r| {
            (r.baseline_name.clone(), r.candidate_name.clone())
        });
        let candidate_samples = sides.pop().unwrap_or_default();
        let baseline_samples = sides.pop().unwrap_or_default();
        match Comparison::from_paired_samples(
            format!("{key}, instructions"),
            "instructions",
            Direction::LowerIsBetter,
            baseline_samples,
            candidate_samples,
        ) {
            Ok(row) => report.rows.push(
                row.with_group("call")
                    .with_phase(Phase::Execution)
                    .with_names(names.0, names.1)
                    .with_measures(format!(
                        "The same pair as `call/{key}`, as instructions per call counted by \
                         callgrind ({repeats} runs of {iters} calls per side, only the call \
                         loop collected via --toggle-collect): repeatable where times are noisy."
                    )),
            ),
            Err(e) => eprintln!("xtask bench: callgrind {key}: {e}"),
        }
    }
    bar.finish_and_clear();
}

/// The callgrind targets of the suite binary: a copy of `wasm_sandbox_benches::callgrind::PAIRS`
/// (the xtask does not depend on the benches package, which pulls in wasmtime).
const PAIRS: [(&str, &str, &str); 3] = [
    ("typed call, sync", "sync-plain", "sync-ours"),
    ("typed call, async", "async-plain", "async-ours"),
    ("serde call, 8 x i32 JSON", "serde-plain", "serde-ours"),
];

/// Runs one target under callgrind `repeats` times (a fresh process each time, only the
/// call loop collected) and returns instructions per call, one sample per run.
fn callgrind_target(
    suite: &Path,
    root: &Path,
    dir: &Path,
    target: &str,
    iters: u64,
    repeats: u32,
) -> Result<Vec<f64>, String> {
    let mut samples = Vec::new();
    for i in 1..=repeats {
        let path = dir.join(format!("{target}.{i}.out"));
        let output = Command::new("valgrind")
            .current_dir(root)
            .args([
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=*callgrind_measured_loop*",
            ])
            .arg(format!("--callgrind-out-file={}", path.display()))
            .arg(suite)
            .args([
                "--callgrind",
                target,
                "--iters",
                &iters.to_string(),
                "--repeats",
                "1",
            ])
            .output()
            .map_err(|e| format!("cannot start valgrind: {e}"))?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            return Err(format!(
                "valgrind failed ({}): {}",
                output.status,
                tail.join(" | ")
            ));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let ir =
            total_ir(&text).ok_or_else(|| format!("no instruction total in {}", path.display()))?;
        samples.push(ir as f64 / iters as f64);
    }
    Ok(samples)
}

/// The `Ir` total of a callgrind dump (`summary:` or `totals:` line, first event).
fn total_ir(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .max()
}

/// Prints the goals that were not met and the rows that were skipped, so they stand out
/// under the tables.
fn summary(report: &Report) {
    let total = report.rows.iter().filter(|r| r.goal.is_some()).count();
    let missed: Vec<&Comparison> = report
        .rows
        .iter()
        .filter(|r| r.goal_met() == Some(false))
        .collect();
    println!("Goals met: {}/{total}", total - missed.len());
    for row in missed {
        println!(
            "  not met: {} — {} (goal {})",
            row.key(),
            row.verdict(),
            row.goal_text().unwrap_or_default()
        );
    }
    if !report.skipped.is_empty() {
        println!("Skipped: {}", report.skipped.len());
        for s in &report.skipped {
            println!("  skipped: {} — {}", s.id, s.reason);
        }
    }
}

/// The first line a command prints, if it runs.
fn command_line(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok().filter(|o| o.status.success())?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .next()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::total_ir;

    #[test]
    fn reads_callgrind_totals() {
        let dump = "version: 1\nevents: Ir\nfn=(1) x\n3 4\ntotals: 123456\n";
        assert_eq!(total_ir(dump), Some(123_456));
        assert_eq!(total_ir("summary: 42\n"), Some(42));
        assert_eq!(total_ir("nothing"), None);
    }
}
