//! Project automation for wasm-sandbox: `cargo xtask <command>`.
//!
//! * `guests`: rebuild the C guests under `guests/c/` with Debian's clang for
//!   wasm32-wasi (the built `.wasm` files are committed, so tests never need
//!   clang).
//! * `bench [--quick | --smoke] [--peers] [--baseline NAME] [--save-baseline NAME]`: build
//!   and run the benchmark suite in release mode (`--smoke`: the test build, tiny sizes;
//!   `--peers`: install the `wasmtime` CLI the `run/*` rows compare against); write
//!   `target/bench/report.{md,json}` and SVG charts.
//! * `fuzz [TARGET] [--seconds N]`: run one cargo-fuzz target, or every
//!   target for N seconds each, under AddressSanitizer; fails on a crash.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

mod bench;
mod extism;
mod fuzz;
mod guests;
mod tidy;

#[derive(Parser)]
#[command(name = "xtask", about = "wasm-sandbox project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Rebuild the C guests (needs clang, lld, wasi-libc, libclang-rt-14-dev-wasm32).
    Guests {
        /// Rebuild only these guests (directory names under guests/c/).
        names: Vec<String>,
    },
    /// Build and run the benchmark suite in release mode and write target/bench/report.md.
    Bench(bench::BenchArgs),
    /// Run cargo-fuzz targets (nightly; installs cargo-fuzz if missing).
    Fuzz {
        /// The target to run; every target when absent.
        target: Option<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

/// The workspace root (the parent of this crate's directory).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, failing with its name on a non-zero status.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Guests { names } => guests::build(&project_root(), &names),
        Cmd::Bench(args) => bench::run(&project_root(), &args),
        Cmd::Fuzz { target, seconds } => fuzz::run(target.as_deref(), seconds),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
