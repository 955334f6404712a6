//! The `cargo xtask bench` suite: runs the rows of `wasm_sandbox_benches::suite` and writes
//! the report as JSON (the xtask renders it).
//!
//! ```text
//! suite [--quick | --mode smoke|quick|full] [--out report.json] [--only ID]... [--list]
//! suite --callgrind TARGET [--iters N] [--repeats R]
//! ```
//!
//! Progress goes to stdout as `@progress DONE TOTAL ID` lines (the xtask turns them into a
//! progress bar); everything else goes to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use wasm_sandbox_benches::suite::{self, Ctx, Mode};

struct Args {
    mode: Mode,
    out: PathBuf,
    only: Vec<String>,
    list: bool,
    callgrind: Option<String>,
    iters: u64,
    repeats: u32,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        mode: Mode::Full,
        out: PathBuf::from("target/bench/suite.json"),
        only: Vec::new(),
        list: false,
        callgrind: None,
        iters: 2000,
        repeats: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => args.mode = Mode::Quick,
            "--mode" => {
                let v = value("--mode")?;
                args.mode = Mode::parse(&v).ok_or_else(|| format!("unknown mode `{v}`"))?;
            }
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--only" => args.only.push(value("--only")?),
            "--list" => args.list = true,
            "--callgrind" => args.callgrind = Some(value("--callgrind")?),
            "--iters" => {
                args.iters = value("--iters")?
                    .parse()
                    .map_err(|e| format!("--iters: {e}"))?
            }
            "--repeats" => {
                args.repeats = value("--repeats")?
                    .parse()
                    .map_err(|e| format!("--repeats: {e}"))?
            }
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("suite: {e}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for set in suite::sets() {
            println!("{}", set.id);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(target) = &args.callgrind {
        return match wasm_sandbox_benches::callgrind::run(target, args.iters, args.repeats) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("suite: callgrind target {target}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let ctx = Ctx::new(args.mode);
    let started = std::time::Instant::now();
    let (report, failures) = suite::run(&ctx, &args.only, |done, total, id| {
        println!("@progress {done} {total} {id}");
        let _ = std::io::stdout().flush();
        if !id.is_empty() {
            eprintln!(
                "[{done:>2}/{total}] {id} ({:.0?} so far)",
                started.elapsed()
            );
        }
    });
    if let Some(dir) = args.out.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("suite: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = report.save(&args.out) {
        eprintln!("suite: cannot write {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    for s in &report.skipped {
        // On stdout, which the xtask shows, and in the log.
        println!("suite: skipped {}: {}", s.id, s.reason);
        eprintln!("suite: skipped {}: {}", s.id, s.reason);
    }
    eprintln!(
        "suite: {} rows in {:.1?}, written to {}",
        report.rows.len(),
        started.elapsed(),
        args.out.display()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (id, e) in &failures {
            eprintln!("suite: row set {id} failed: {e}");
        }
        ExitCode::FAILURE
    }
}
