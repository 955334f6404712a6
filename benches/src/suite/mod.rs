//! The rows of `cargo xtask bench`.
//!
//! Every row compares a **candidate** (wasm-sandbox) with a **baseline** (plain wasmtime, the
//! naive approach, or a peer runtime) measured interleaved in the same run by
//! [`wasm_sandbox_bench::compare`]; the row's ratio is the median of the per-round speedups.
//! A [`RowSet`] is one function producing one or more related rows; [`sets`] lists them all,
//! in report order, and [`run()`] runs them into a [`Report`].
//!
//! [`Mode`] scales the effort: [`Mode::Smoke`] runs each row once with tiny inputs (the test
//! in `tests/smoke.rs`), [`Mode::Quick`] is `cargo xtask bench --quick` (under 3 minutes on
//! 2 cores), [`Mode::Full`] the default run.

use std::time::Duration;

use wasm_sandbox_bench::{CompareConfig, Comparison, Report};

use crate::plain::BoxError;

pub mod batch;
pub mod cache;
pub mod call;
pub mod instantiate;
pub mod memo;
pub mod mempool;
pub mod peers;
pub mod plugin;
pub mod remote;
pub mod run;
pub mod snapshot;
pub mod sqlite;
pub mod tiering;

/// How much effort a run puts into each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One round per row, no calibration, small modules where the row allows: proves the
    /// row code works, measures nothing.
    Smoke,
    /// `cargo xtask bench --quick`: few rounds; ratios good to roughly ±10 %.
    Quick,
    /// The default: more rounds and longer samples.
    Full,
}

impl Mode {
    /// Parses `smoke`, `quick` or `full`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "smoke" => Some(Mode::Smoke),
            "quick" => Some(Mode::Quick),
            "full" => Some(Mode::Full),
            _ => None,
        }
    }

    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
}

/// What a row function gets: the mode, and the sampling settings derived from it.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The effort level.
    pub mode: Mode,
}

/// How long one call of the measured closures takes, roughly; picks rounds and sample times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Nanoseconds to a few microseconds: calibrated batches.
    Fast,
    /// Tens of microseconds to a few milliseconds.
    Medium,
    /// Tens of milliseconds (compiling a small module).
    Slow,
    /// Seconds (compiling SQLite).
    VerySlow,
}

impl Ctx {
    /// A context for `mode`.
    pub fn new(mode: Mode) -> Self {
        Ctx { mode }
    }

    /// True in [`Mode::Smoke`].
    pub fn smoke(&self) -> bool {
        self.mode == Mode::Smoke
    }

    /// The comparison settings for closures of the given scale.
    pub fn config(&self, scale: Scale) -> CompareConfig {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        match (self.mode, scale) {
            (Mode::Smoke, _) => CompareConfig::new()
                .rounds(1)
                .warmup_rounds(0)
                .batch_size(1),
            (Mode::Quick, Scale::Fast) => CompareConfig::new()
                .rounds(31)
                .warmup_rounds(2)
                .min_sample_time(us(300)),
            (Mode::Quick, Scale::Medium) => CompareConfig::new()
                .rounds(21)
                .warmup_rounds(2)
                .min_sample_time(ms(2)),
            (Mode::Quick, Scale::Slow) => CompareConfig::new()
                .rounds(9)
                .warmup_rounds(1)
                .min_sample_time(Duration::ZERO),
            (Mode::Quick, Scale::VerySlow) => CompareConfig::new()
                .rounds(3)
                .warmup_rounds(0)
                .min_sample_time(Duration::ZERO),
            (Mode::Full, Scale::Fast) => CompareConfig::new()
                .rounds(101)
                .warmup_rounds(5)
                .min_sample_time(ms(1)),
            (Mode::Full, Scale::Medium) => CompareConfig::new()
                .rounds(51)
                .warmup_rounds(3)
                .min_sample_time(ms(5)),
            (Mode::Full, Scale::Slow) => CompareConfig::new()
                .rounds(21)
                .warmup_rounds(2)
                .min_sample_time(Duration::ZERO),
            (Mode::Full, Scale::VerySlow) => CompareConfig::new()
                .rounds(7)
                .warmup_rounds(1)
                .min_sample_time(Duration::ZERO),
        }
    }

    /// `quick` in quick mode, `full` in the full run, `smoke` in smoke mode: for work sizes.
    pub fn pick<T>(&self, smoke: T, quick: T, full: T) -> T {
        match self.mode {
            Mode::Smoke => smoke,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

/// What a row function returns.
pub type RowResult = Result<Vec<Comparison>, BoxError>;

/// One function of related rows.
#[derive(Clone, Copy)]
pub struct RowSet {
    /// A short id, `section/what` (used by `--only` and the progress bar).
    pub id: &'static str,
    /// Runs the rows.
    pub run: fn(&Ctx) -> RowResult,
}

impl std::fmt::Debug for RowSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSet")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every row set, in report order.
pub fn sets() -> Vec<RowSet> {
    let mut all = Vec::new();
    all.extend(call::sets());
    all.extend(plugin::sets());
    all.extend(cache::sets());
    all.extend(remote::sets());
    all.extend(instantiate::sets());
    all.extend(snapshot::sets());
    all.extend(memo::sets());
    all.extend(batch::sets());
    all.extend(mempool::sets());
    all.extend(tiering::sets());
    all.extend(sqlite::sets());
    all.extend(peers::sets());
    all.extend(crate::extism::sets());
    all.extend(run::sets());
    all
}

/// The error a row set returns when it cannot run on this machine (a peer runtime that is
/// not installed): [`run()`] records it in the report's `skipped` list, with the reason,
/// instead of counting it as a failure. Build one with [`skip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped: {}", self.0)
    }
}

impl std::error::Error for Skip {}

/// A [`Skip`] with `reason`, as a row set's error.
pub fn skip(reason: impl Into<String>) -> BoxError {
    Box::new(Skip(reason.into()))
}

/// The reason, when `e` is a [`Skip`].
pub fn skipped(e: &BoxError) -> Option<&str> {
    e.downcast_ref::<Skip>().map(|s| s.0.as_str())
}

/// Runs the row sets whose id contains one of `only` (all of them when `only` is empty),
/// calling `progress(done, total, id)` before each set and once at the end with `id = ""`.
/// A set that fails is reported in the returned error list; the others still run. A set that
/// returns a [`Skip`] is listed in the report's `skipped` entries, not as a failure.
pub fn run(
    ctx: &Ctx,
    only: &[String],
    mut progress: impl FnMut(usize, usize, &str),
) -> (Report, Vec<(String, String)>) {
    let chosen: Vec<RowSet> = sets()
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| s.id.contains(o.as_str())))
        .collect();
    let mut report = Report::new(format!(
        "wasm-sandbox benchmark suite ({})",
        ctx.mode.name()
    ));
    let mut failures = Vec::new();
    for (i, set) in chosen.iter().enumerate() {
        progress(i, chosen.len(), set.id);
        match (set.run)(ctx) {
            Ok(rows) => {
                for row in rows {
                    report.push_row(row);
                }
            }
            Err(e) => match skipped(&e) {
                Some(reason) => {
                    report.push_skipped(set.id, reason);
                }
                None => failures.push((set.id.to_owned(), e.to_string())),
            },
        }
    }
    progress(chosen.len(), chosen.len(), "");
    (report, failures)
}

/// Appends a sentence to a row's `measures`.
pub fn note(mut row: Comparison, sentence: impl AsRef<str>) -> Comparison {
    if !row.measures.is_empty() {
        row.measures.push(' ');
    }
    row.measures.push_str(sentence.as_ref());
    row
}

/// Formats nanoseconds for the notes appended to rows.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The guests the rows use, compiled from the committed sources.
pub mod guests {
    /// `SCALAR_WAT` as wasm bytes.
    pub fn scalar() -> Vec<u8> {
        wasm_sandbox_guests::wat(wasm_sandbox_guests::SCALAR_WAT)
    }

    /// `MEMORY_IMAGE_WAT` (16 pages, data segments) as wasm bytes.
    pub fn memory_image() -> Vec<u8> {
        wasm_sandbox_guests::wat(wasm_sandbox_guests::MEMORY_IMAGE_WAT)
    }
}
