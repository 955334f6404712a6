//! A small end-to-end run: two comparison rows and a case, written as a report directory.
//!
//! `cargo run -p wasm-sandbox-bench --release --example demo -- [OUT_DIR]` (default
//! `target/bench-demo`), then open `OUT_DIR/report.md` and the SVGs.

use std::hint::black_box;
use std::path::PathBuf;

use wasm_sandbox_bench::{
    BenchmarkCase, CompareConfig, Goal, InputSize, Phase, Report, compare, run_case,
};

fn main() -> Result<(), wasm_sandbox_bench::Error> {
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/bench-demo"), PathBuf::from);
    let data: Vec<u8> = (0..=255).cycle().take(64 * 1024).collect();
    let cfg = CompareConfig::new();

    let mut report = Report::new("wasm-sandbox-bench demo");
    report.push_row(
        compare(
            "checksum 64 KiB",
            || {
                black_box(&data)
                    .iter()
                    .fold(0u32, |a, &b| a.rotate_left(5) ^ u32::from(b))
            },
            || black_box(&data).iter().map(|&b| u32::from(b)).sum::<u32>(),
            &cfg,
        )
        .with_group("execution")
        .with_phase(Phase::Execution)
        .with_measures("one pass over 64 KiB")
        .with_names("rotate-xor fold", "plain sum")
        .with_throughput(InputSize::Bytes(data.len() as u64))
        .with_goal(Goal::at_least(1.0)),
    );
    report.push_row(
        compare(
            "format vs to_string",
            || format!("{}", black_box(12345u32)),
            || black_box(12345u32).to_string(),
            &cfg,
        )
        .with_group("strings")
        .with_names("format!", "to_string")
        .with_goal(Goal::slowdown_at_most(1.5)),
    );
    report.push_case(run_case(
        &BenchmarkCase::new("sum 64 KiB")
            .group("execution")
            .input_size(InputSize::Bytes(data.len() as u64)),
        || black_box(&data).iter().map(|&b| u64::from(b)).sum::<u64>(),
    ));

    let files = report.write_to_dir(&out)?;
    print!("{}", report.render_terminal());
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
