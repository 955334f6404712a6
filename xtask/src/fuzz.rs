//! `cargo xtask fuzz [TARGET] [--seconds N]`: run cargo-fuzz targets for a fixed time.
//!
//! Installs `cargo-fuzz` if it is missing, lists the targets in `fuzz/` when none is named,
//! runs each under libFuzzer (AddressSanitizer, cargo-fuzz's default) with
//! `-max_total_time=N`, prints the executions per target, and fails if any target crashed.
//! Each target is built with only its own Cargo feature, so `mempool` does not build wasmtime.
//!
//! New corpus entries go to `fuzz/target/corpus/<target>` (ignored by git); the committed
//! seeds in `fuzz/corpus/<target>` are only read. A crash leaves its input in
//! `fuzz/artifacts/<target>/`: copy it to `fuzz/regressions/<target>/` once fixed, and the
//! target's `regressions` test replays it forever.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The outcome of one target's run.
struct Report {
    target: String,
    executions: Option<u64>,
    seconds: f64,
    crashed: bool,
}

/// Runs `target` (or every target from `cargo fuzz list`) for `seconds` seconds each.
///
/// Returns an error naming the crashed targets if any found a crash, or if cargo-fuzz could
/// not be installed, listed or started.
pub(crate) fn run(target: Option<&str>, seconds: u64) -> Result<(), String> {
    let fuzz_dir = crate::project_root().join("fuzz");
    if !fuzz_dir.join("Cargo.toml").is_file() {
        return Err(format!("no fuzz crate at {}", fuzz_dir.display()));
    }
    ensure_cargo_fuzz()?;
    let targets = match target {
        Some(t) => vec![t.to_owned()],
        None => list_targets(&fuzz_dir)?,
    };
    if targets.is_empty() {
        return Err("`cargo fuzz list` found no targets".to_owned());
    }

    let mut reports = Vec::new();
    for target in &targets {
        reports.push(run_target(&fuzz_dir, target, seconds)?);
    }

    eprintln!();
    eprintln!(
        "{:<24} {:>14} {:>9}  result",
        "target", "executions", "seconds"
    );
    for r in &reports {
        let execs = r
            .executions
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        let result = if r.crashed { "CRASH" } else { "ok" };
        eprintln!(
            "{:<24} {:>14} {:>9.1}  {result}",
            r.target, execs, r.seconds
        );
    }
    let crashed: Vec<&str> = reports
        .iter()
        .filter(|r| r.crashed)
        .map(|r| r.target.as_str())
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz target(s) crashed: {}; inputs are in fuzz/artifacts/",
            crashed.join(", ")
        ))
    }
}

/// The workspace root: the parent of this crate's manifest directory.
/// Installs cargo-fuzz unless `cargo +nightly fuzz --version` already works.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(());
    }
    eprintln!("cargo-fuzz not found: running `cargo install cargo-fuzz`");
    let status = Command::new("cargo")
        .args(["install", "cargo-fuzz"])
        .status()
        .map_err(|e| format!("cannot run `cargo install cargo-fuzz`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo install cargo-fuzz` failed ({status}); fuzzing also needs a nightly \
             toolchain: `rustup toolchain install nightly`"
        ));
    }
    Ok(())
}

/// The targets `cargo +nightly fuzz list` reports.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(fuzz_dir)
        .output()
        .map_err(|e| format!("cannot run `cargo +nightly fuzz list`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo +nightly fuzz list` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Runs one target; streams libFuzzer's output except its per-input progress lines.
fn run_target(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<Report, String> {
    let work_corpus = fuzz_dir.join("target").join("corpus").join(target);
    std::fs::create_dir_all(&work_corpus)
        .map_err(|e| format!("cannot create {}: {e}", work_corpus.display()))?;
    let seeds = fuzz_dir.join("corpus").join(target);

    // Each target is built with only its own feature (fuzz/Cargo.toml), so the memory
    // pool's target does not compile wasmtime.
    let features = ["--no-default-features", "--features", target];

    // Build first, so the reported time is fuzzing time only.
    let built = Command::new("cargo")
        .args(["+nightly", "fuzz", "build", target])
        .args(features)
        .current_dir(fuzz_dir)
        .status()
        .map_err(|e| format!("cannot run `cargo +nightly fuzz build {target}`: {e}"))?;
    if !built.success() {
        return Err(format!(
            "`cargo +nightly fuzz build {target}` failed ({built})"
        ));
    }

    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "fuzz", "run", target])
        .args(features)
        .arg(&work_corpus)
        .current_dir(fuzz_dir)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");

    eprintln!("fuzzing `{target}` for {seconds} s");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `cargo +nightly fuzz run {target}`: {e}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut executions = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.map_err(|e| format!("reading libFuzzer output: {e}"))?;
        if let Some(n) = parse_executions(&line) {
            executions = Some(n);
        }
        if !is_progress_line(&line) {
            eprintln!("{line}");
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `cargo fuzz run {target}`: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    match executions {
        Some(n) => eprintln!("`{target}`: {n} executions in {seconds:.1} s"),
        None => eprintln!("`{target}`: executions unknown after {seconds:.1} s"),
    }
    Ok(Report {
        target: target.to_owned(),
        executions,
        seconds,
        crashed: !status.success(),
    })
}

/// libFuzzer's per-input status lines (`#1234\tNEW ...`) and recommended-dictionary entries
/// (`"\001\000" # Uses: 3`), too many to echo; the `DONE` line is kept.
fn is_progress_line(line: &str) -> bool {
    (line.starts_with('#') && !line.contains("DONE"))
        || (line.starts_with('"') && line.contains("# Uses:"))
}

/// The execution count from a libFuzzer summary line: `stat::number_of_executed_units: N`,
/// `#N\tDONE ...` or `Done N runs in S second(s)`. Status lines of a run that has not ended
/// (`#N\tpulse`, `NEW`, ...) also count, so a crashed run still reports how far it got.
fn parse_executions(line: &str) -> Option<u64> {
    if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
        return rest.trim().parse().ok();
    }
    if let Some(rest) = line.strip_prefix("Done ") {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let rest = line.strip_prefix('#')?;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{is_progress_line, parse_executions};

    #[test]
    fn parses_libfuzzer_summaries() {
        assert_eq!(
            parse_executions("stat::number_of_executed_units: 15277"),
            Some(15277)
        );
        assert_eq!(
            parse_executions("#15277\tDONE   cov: 650 ft: 3727 corp: 431/318Kb"),
            Some(15277)
        );
        assert_eq!(
            parse_executions("Done 15277 runs in 61 second(s)"),
            Some(15277)
        );
        assert_eq!(
            parse_executions("#512\tpulse  cov: 600 ft: 2000"),
            Some(512)
        );
        assert_eq!(parse_executions("INFO: Seed: 1572516574"), None);
        assert_eq!(parse_executions("#"), None);
    }

    #[test]
    fn hides_progress_but_keeps_done() {
        assert!(is_progress_line("#8\tNEW    cov: 574"));
        assert!(!is_progress_line("#15277\tDONE   cov: 650"));
        assert!(is_progress_line("\"\\001\\000\" # Uses: 22"));
        assert!(!is_progress_line("==123==ERROR: AddressSanitizer"));
    }
}
