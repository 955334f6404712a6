//! A standalone benchmark harness: paired comparisons measured interleaved, robust
//! statistics, JSON baselines with regression flags, and Markdown, terminal and SVG reports.
//!
//! It depends on nothing of wasm-sandbox or wasmtime; anything that is a closure can be
//! benchmarked. `cargo xtask bench` builds the project's report on it, and
//! `docs/benchmarking.md` explains how to read one.
//!
//! # The two kinds of measurement
//!
//! - A **comparison row** ([`compare`] → [`Comparison`]) times a *baseline* and a
//!   *candidate* in alternating order, round after round, and reports the **median of the
//!   per-round speedups** (`baseline time / candidate time`, above 1 = the candidate is
//!   faster) with its p25–p75 spread, each side's statistics and an optional typed [`Goal`].
//!   Slow drift of the machine hits both sides of a round alike and cancels in the ratio.
//! - A **case** ([`BenchmarkCase`], [`run_case`], [`PerformanceBenchmark`] → [`CaseResult`])
//!   times one function: per-call times, [`Statistics`], throughput from an [`InputSize`],
//!   and memory (a guest memory probe, the host's peak RSS).
//!
//! Fast functions are timed in batches: a sample runs `k` calls and records the time per
//! call, with `k` grown until a sample takes at least
//! [`DEFAULT_MIN_SAMPLE_TIME`] (10 µs). Percentiles interpolate linearly between closest
//! ranks (see [`Statistics`]).
//!
//! # Example
//!
//! ```
//! use std::hint::black_box;
//! use wasm_sandbox_bench::{
//!     BenchmarkCase, CompareConfig, DiffConfig, Goal, InputSize, Phase, Report, compare, run_case,
//! };
//!
//! let data: Vec<u32> = (0..4096).collect();
//! let cfg = CompareConfig::new().rounds(20).warmup_rounds(2);
//!
//! let mut report = Report::new("demo");
//! report.push_row(
//!     compare(
//!         "sum 4096",
//!         || black_box(&data).iter().fold(0u64, |a, &x| a + u64::from(x)),
//!         || black_box(&data).iter().map(|&x| u64::from(x)).sum::<u64>(),
//!         &cfg,
//!     )
//!     .with_group("call")
//!     .with_phase(Phase::Execution)
//!     .with_measures("summing a 16 KiB slice")
//!     .with_names("fold", "sum")
//!     .with_goal(Goal::slowdown_at_most(10.0)),
//! );
//! report.push_case(run_case(
//!     &BenchmarkCase::new("sum 4096")
//!         .group("call")
//!         .input_size(InputSize::Bytes(4 * 4096))
//!         .iterations(20),
//!     || black_box(&data).iter().map(|&x| u64::from(x)).sum::<u64>(),
//! ));
//!
//! let dir = tempfile::tempdir().unwrap();
//! let files = report.write_to_dir(dir.path()).unwrap();
//! assert!(files.iter().any(|f| f.ends_with("report.md")));
//!
//! // Save a baseline, then compare a later run with it.
//! report.save_baseline(dir.path(), "main").unwrap();
//! let baseline = Report::load_baseline(dir.path(), "main").unwrap();
//! let diff = report.diff_against(&baseline, &DiffConfig::new().threshold_pct(10.0));
//! assert!(!diff.has_regressions()); // the same report cannot regress against itself
//! println!("{}", report.render_terminal());
//! ```

mod baseline;
mod case;
mod compare;
mod error;
mod measure;
pub mod peers;
mod render;
mod report;
mod stats;
mod sys;

pub use baseline::{
    BaselineDiff, CaseDelta, DEFAULT_THRESHOLD_PCT, DeltaStatus, DiffConfig, RowDelta,
};
pub use case::{
    BenchmarkCase, CaseResult, InputSize, MemoryUsage, PerformanceBenchmark, run_case,
    run_case_with_memory,
};
pub use compare::{
    CompareConfig, Comparison, Direction, Goal, GoalOp, Side, compare, paired_speedups,
};
pub use error::{Error, Result};
pub use measure::DEFAULT_MIN_SAMPLE_TIME;
pub use render::{
    render_case_distribution_svg, render_diff_markdown, render_diff_terminal, render_markdown,
    render_ratio_svg, render_row_distribution_svg, render_terminal,
};
pub use report::{Machine, Metadata, Phase, Report, SCHEMA_VERSION, Skipped};
pub use stats::{Statistics, percentile_sorted};
