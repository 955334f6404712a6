//! Paired comparisons: [`compare`] runs a baseline and a candidate interleaved and reports
//! the median of the per-round speedups.
//!
//! **Convention.** A row's ratio is always a *speedup*: how many times better the candidate
//! is than the baseline, per round. For times (lower is better) that is
//! `baseline_time / candidate_time`; for higher-is-better samples (throughput)
//! `candidate / baseline`. So `> 1` means the candidate wins: `3.2` renders as
//! "3.20x faster", `0.5` as "2.00x slower".

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::case::InputSize;
use crate::error::{Error, Result};
use crate::measure::{Sampling, batched, per_call_ns};
use crate::report::Phase;
use crate::stats::{Statistics, check_finite};

/// Which way a sample is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Times, instruction counts, bytes used: smaller is better.
    #[default]
    LowerIsBetter,
    /// Throughput, operations per second: larger is better.
    HigherIsBetter,
}

/// How a [`Goal`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalOp {
    /// The speedup must be at most the value.
    AtMost,
    /// The speedup must be at least the value.
    AtLeast,
}

/// A target for a row's median speedup (see [`Comparison`] for the convention: above 1 the
/// candidate is better).
///
/// ```
/// use wasm_sandbox_bench::Goal;
///
/// // "The candidate is at least 3x faster."
/// assert!(Goal::at_least(3.0).met(3.2));
/// // "The candidate is at most 1.5x slower", i.e. speedup >= 1/1.5.
/// let g = Goal::slowdown_at_most(1.5);
/// assert!(g.met(0.8) && !g.met(0.5));
/// assert_eq!(g.to_string(), "≤ 1.50x slower");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The comparison.
    pub op: GoalOp,
    /// The speedup to compare against.
    pub value: f64,
}

impl Goal {
    /// Met when the speedup is at least `value`.
    ///
    /// # Panics
    ///
    /// If `value` is not positive and finite.
    #[must_use]
    pub fn at_least(value: f64) -> Self {
        Self::new(GoalOp::AtLeast, value)
    }

    /// Met when the speedup is at most `value`.
    ///
    /// # Panics
    ///
    /// If `value` is not positive and finite.
    #[must_use]
    pub fn at_most(value: f64) -> Self {
        Self::new(GoalOp::AtMost, value)
    }

    /// Met when the candidate is at most `factor` times slower, i.e. the speedup is at least
    /// `1 / factor`. For overhead goals such as "a sandboxed call costs at most 1.5x a native
    /// one".
    ///
    /// # Panics
    ///
    /// If `factor` is not positive and finite.
    #[must_use]
    pub fn slowdown_at_most(factor: f64) -> Self {
        assert!(
            factor.is_finite() && factor > 0.0,
            "slowdown factor {factor} must be positive and finite"
        );
        Self::at_least(1.0 / factor)
    }

    fn new(op: GoalOp, value: f64) -> Self {
        assert!(
            value.is_finite() && value > 0.0,
            "goal value {value} must be positive and finite"
        );
        Self { op, value }
    }

    /// Whether `speedup` meets the goal.
    #[must_use]
    pub fn met(&self, speedup: f64) -> bool {
        match self.op {
            GoalOp::AtLeast => speedup >= self.value,
            GoalOp::AtMost => speedup <= self.value,
        }
    }

    /// The goal in words, e.g. `"≥ 3.00x faster"` or `"≤ 1.50x slower"`, with `better` and
    /// `worse` as the words.
    #[must_use]
    pub fn describe(&self, better: &str, worse: &str) -> String {
        let (op, factor, word) = match (self.op, self.value >= 1.0) {
            (GoalOp::AtLeast, true) => ("≥", self.value, better),
            (GoalOp::AtLeast, false) => ("≤", 1.0 / self.value, worse),
            (GoalOp::AtMost, true) => ("≤", self.value, better),
            (GoalOp::AtMost, false) => ("≥", 1.0 / self.value, worse),
        };
        format!("{op} {}x {word}", format_factor(factor))
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("faster", "slower"))
    }
}

/// A factor with 2 significant decimals below 10, 1 below 100, none above.
pub(crate) fn format_factor(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// Settings of [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub struct CompareConfig {
    rounds: usize,
    warmup_rounds: usize,
    sampling: Sampling,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            rounds: 50,
            warmup_rounds: 3,
            sampling: Sampling::default(),
        }
    }
}

impl CompareConfig {
    /// The default configuration (see each setter).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of recorded rounds; each round takes one sample of each side. Default: 50.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    #[must_use]
    pub fn rounds(mut self, n: usize) -> Self {
        assert!(n > 0, "a comparison needs at least one round");
        self.rounds = n;
        self
    }

    /// The number of unrecorded rounds first. Default: 3.
    #[must_use]
    pub fn warmup_rounds(mut self, n: usize) -> Self {
        self.warmup_rounds = n;
        self
    }

    /// The least duration of one sample when batch sizes are calibrated (each side gets its
    /// own batch size). Default: [`DEFAULT_MIN_SAMPLE_TIME`](crate::DEFAULT_MIN_SAMPLE_TIME)
    /// (10 µs). Zero means one call per sample.
    #[must_use]
    pub fn min_sample_time(mut self, t: Duration) -> Self {
        self.sampling.min_sample_time = t;
        self
    }

    /// Fixes the calls per sample, for both sides, instead of calibrating. Default:
    /// calibrated.
    ///
    /// # Panics
    ///
    /// If `k` is zero.
    #[must_use]
    pub fn batch_size(mut self, k: u64) -> Self {
        assert!(k > 0, "a batch needs at least one call");
        self.sampling.batch_size = Some(k);
        self
    }
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Calls per sample (`1` for synthetic samples).
    pub batch_size: u64,
    /// One sample per round, in round order, in the row's unit.
    pub samples: Vec<f64>,
    /// Statistics of `samples`.
    pub stats: Statistics,
}

/// A report row: a baseline and a candidate measured in the same rounds.
///
/// `baseline.samples[i]` and `candidate.samples[i]` come from round `i`; `speedup` holds the
/// statistics of the per-round speedups, whose median is the row's headline ratio and whose
/// `p25`–`p75` is its spread.
///
/// **Convention.** The ratio is always a *speedup*: how many times better the candidate is.
/// For lower-is-better samples (times) that is `baseline / candidate`, for higher-is-better
/// ones (throughput) `candidate / baseline`. Above 1 the candidate wins: `3.2` renders as
/// "3.20x faster", `0.5` as "2.00x slower".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The row's name, unique within its group.
    pub name: String,
    /// What the row measures, in words.
    #[serde(default)]
    pub measures: String,
    /// The report section, `""` for none.
    #[serde(default)]
    pub group: String,
    /// The Sightglass phase, if labelled.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// What the baseline is, e.g. `"wasmtime default"`.
    pub baseline_name: String,
    /// What the candidate is, e.g. `"wasm-sandbox cached"`.
    pub candidate_name: String,
    /// The unit of the samples: `"ns"` (per call) for [`compare`].
    pub unit: String,
    /// Which way the samples are better.
    pub direction: Direction,
    /// Statistics of the per-round speedups (candidate over baseline, `> 1` = candidate
    /// better).
    pub speedup: Statistics,
    /// The target for `speedup.median`, if any.
    #[serde(default)]
    pub goal: Option<Goal>,
    /// Work per call; when set, renderers also show throughput.
    #[serde(default)]
    pub throughput: Option<InputSize>,
    /// The baseline's samples and statistics.
    pub baseline: Side,
    /// The candidate's samples and statistics.
    pub candidate: Side,
}

/// Per-round speedups of paired samples (`baseline[i]` against `candidate[i]`).
///
/// # Errors
///
/// [`Error::UnpairedSamples`] if the lengths differ, [`Error::EmptySamples`] if they are
/// empty, [`Error::NonFiniteSample`] / [`Error::NonPositiveSample`] for a sample that is not
/// a positive finite number (reported at its index within its side).
///
/// ```
/// use wasm_sandbox_bench::{Direction, paired_speedups};
///
/// let s = paired_speedups(&[10.0, 12.0], &[5.0, 3.0], Direction::LowerIsBetter).unwrap();
/// assert_eq!(s, vec![2.0, 4.0]);
/// ```
pub fn paired_speedups(
    baseline: &[f64],
    candidate: &[f64],
    direction: Direction,
) -> Result<Vec<f64>> {
    if baseline.len() != candidate.len() {
        return Err(Error::UnpairedSamples {
            baseline: baseline.len(),
            candidate: candidate.len(),
        });
    }
    if baseline.is_empty() {
        return Err(Error::EmptySamples);
    }
    for side in [baseline, candidate] {
        check_finite(side)?;
        if let Some(index) = side.iter().position(|&x| x <= 0.0) {
            return Err(Error::NonPositiveSample {
                index,
                value: side[index],
            });
        }
    }
    Ok(baseline
        .iter()
        .zip(candidate)
        .map(|(&b, &c)| match direction {
            Direction::LowerIsBetter => b / c,
            Direction::HigherIsBetter => c / b,
        })
        .collect())
}

impl Comparison {
    /// A row from paired samples measured elsewhere (instruction counts, external timers) or
    /// synthesized in tests. Names default to `"baseline"` and `"candidate"`.
    ///
    /// # Errors
    ///
    /// As [`paired_speedups`].
    ///
    /// ```
    /// use wasm_sandbox_bench::{Comparison, Direction};
    ///
    /// let row = Comparison::from_paired_samples(
    ///     "add",
    ///     "instructions",
    ///     Direction::LowerIsBetter,
    ///     vec![300.0, 310.0, 290.0],
    ///     vec![100.0, 100.0, 100.0],
    /// )
    /// .unwrap();
    /// assert_eq!(row.speedup.median, 3.0);
    /// assert_eq!(row.verdict(), "3.00x better");
    /// ```
    pub fn from_paired_samples(
        name: impl Into<String>,
        unit: impl Into<String>,
        direction: Direction,
        baseline: Vec<f64>,
        candidate: Vec<f64>,
    ) -> Result<Self> {
        let speedups = paired_speedups(&baseline, &candidate, direction)?;
        let side = |samples: Vec<f64>| -> Result<Side> {
            Ok(Side {
                batch_size: 1,
                stats: Statistics::from_samples(&samples)?,
                samples,
            })
        };
        Ok(Self {
            name: name.into(),
            measures: String::new(),
            group: String::new(),
            phase: None,
            baseline_name: "baseline".to_owned(),
            candidate_name: "candidate".to_owned(),
            unit: unit.into(),
            direction,
            speedup: Statistics::from_samples(&speedups)?,
            goal: None,
            throughput: None,
            baseline: side(baseline)?,
            candidate: side(candidate)?,
        })
    }

    /// Sets what the row measures.
    #[must_use]
    pub fn with_measures(mut self, measures: impl Into<String>) -> Self {
        self.measures = measures.into();
        self
    }

    /// Sets the names of the baseline and the candidate.
    #[must_use]
    pub fn with_names(mut self, baseline: impl Into<String>, candidate: impl Into<String>) -> Self {
        self.baseline_name = baseline.into();
        self.candidate_name = candidate.into();
        self
    }

    /// Sets the report section.
    #[must_use]
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the Sightglass phase.
    #[must_use]
    pub fn with_phase(mut self, phase: Phase) -> Self {
        self.phase = Some(phase);
        self
    }

    /// Sets the goal.
    #[must_use]
    pub fn with_goal(mut self, goal: Goal) -> Self {
        self.goal = Some(goal);
        self
    }

    /// Sets the work per call, so renderers show throughput next to time. Both sides must do
    /// this much work per call; the speedup is then also the throughput ratio.
    #[must_use]
    pub fn with_throughput(mut self, work: InputSize) -> Self {
        self.throughput = Some(work);
        self
    }

    /// The key baselines match rows by: `group/name`, or `name` without a group.
    #[must_use]
    pub fn key(&self) -> String {
        crate::report::row_key(&self.group, &self.name)
    }

    /// The headline ratio: the median per-round speedup.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.speedup.median
    }

    /// Whether the median speedup meets the goal; `None` without a goal.
    #[must_use]
    pub fn goal_met(&self) -> Option<bool> {
        self.goal.map(|g| g.met(self.ratio()))
    }

    /// The per-round speedups, recomputed from the samples.
    #[must_use]
    pub fn round_speedups(&self) -> Vec<f64> {
        paired_speedups(
            &self.baseline.samples,
            &self.candidate.samples,
            self.direction,
        )
        .unwrap_or_default()
    }

    /// The words for "candidate better" and "candidate worse": `faster`/`slower` for times
    /// and throughput, `better`/`worse` for other units.
    #[must_use]
    pub fn words(&self) -> (&'static str, &'static str) {
        if self.unit == "ns" || self.throughput.is_some() {
            ("faster", "slower")
        } else {
            ("better", "worse")
        }
    }

    /// The ratio in words, e.g. `"3.20x faster"` or `"2.00x slower"`.
    #[must_use]
    pub fn verdict(&self) -> String {
        let (better, worse) = self.words();
        let s = self.ratio();
        if s >= 1.0 {
            format!("{}x {better}", format_factor(s))
        } else {
            format!("{}x {worse}", format_factor(1.0 / s))
        }
    }

    /// The p25–p75 spread of the per-round speedups in the verdict's terms: speedups when
    /// the median is at least 1 (`"3.10–3.40x"`), slowdowns otherwise (a speedup range
    /// `0.73–0.78` reads `"1.28–1.37x"`, matching a verdict of `"1.31x slower"`).
    #[must_use]
    pub fn spread_text(&self) -> String {
        let (lo, hi) = if self.ratio() >= 1.0 {
            (self.speedup.p25, self.speedup.p75)
        } else {
            (1.0 / self.speedup.p75, 1.0 / self.speedup.p25)
        };
        format!("{}–{}x", format_factor(lo), format_factor(hi))
    }

    /// The goal in words (see [`Goal::describe`]), `None` without a goal.
    #[must_use]
    pub fn goal_text(&self) -> Option<String> {
        let (better, worse) = self.words();
        self.goal.map(|g| g.describe(better, worse))
    }
}

/// Times `baseline` and `candidate` interleaved and returns the row.
///
/// Each side's batch size is calibrated first (see [`CompareConfig::min_sample_time`]), then
/// `warmup_rounds` unrecorded rounds run, then `rounds` recorded ones. A round takes one
/// sample of each side, alternating the order (baseline first in even rounds, candidate first
/// in odd ones) so that drift (frequency scaling, thermal throttling, cache state left by the
/// previous sample) hits both sides alike. Each round yields one speedup
/// `baseline_ns / candidate_ns`; the row reports their median and spread. Samples are in
/// nanoseconds per call, `unit` is `"ns"`.
///
/// Set names, goal and group with the `with_*` methods of [`Comparison`].
///
/// ```
/// use wasm_sandbox_bench::{CompareConfig, Goal, compare};
/// use std::hint::black_box;
///
/// let cfg = CompareConfig::new().rounds(10).warmup_rounds(1);
/// let row = compare(
///     "sum 1..1000",
///     || (0..black_box(1000u64)).fold(0, |a, x| a ^ x.wrapping_mul(31)),
///     || black_box(1000u64) * 999 / 2,
///     &cfg,
/// )
/// .with_names("loop", "closed form")
/// .with_goal(Goal::at_least(1.0));
/// assert_eq!(row.baseline.samples.len(), 10);
/// println!("{}", row.verdict());
/// ```
pub fn compare<A, B>(
    name: impl Into<String>,
    baseline: impl FnMut() -> A,
    candidate: impl FnMut() -> B,
    config: &CompareConfig,
) -> Comparison {
    let mut base = batched(baseline);
    let mut cand = batched(candidate);
    let kb = config.sampling.batch_size(&mut *base);
    let kc = config.sampling.batch_size(&mut *cand);
    for _ in 0..config.warmup_rounds {
        base(kb);
        cand(kc);
    }
    let mut bs = Vec::with_capacity(config.rounds);
    let mut cs = Vec::with_capacity(config.rounds);
    for round in 0..config.rounds {
        if round % 2 == 0 {
            bs.push(per_call_ns(base(kb), kb));
            cs.push(per_call_ns(cand(kc), kc));
        } else {
            cs.push(per_call_ns(cand(kc), kc));
            bs.push(per_call_ns(base(kb), kb));
        }
    }
    let mut row = Comparison::from_paired_samples(name, "ns", Direction::LowerIsBetter, bs, cs)
        .expect("rounds >= 1 and per-call times are positive and finite");
    row.baseline.batch_size = kb;
    row.candidate.batch_size = kc;
    row
}
