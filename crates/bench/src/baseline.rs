//! Comparing a report against a saved baseline: per-row deltas and regression flags.

use serde::{Deserialize, Serialize};

use crate::compare::{Comparison, Direction};
use crate::report::Report;

/// The default regression threshold, in percent.
pub const DEFAULT_THRESHOLD_PCT: f64 = 10.0;

/// Settings of a baseline comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffConfig {
    threshold_pct: f64,
    check_time: bool,
}

impl Default for DiffConfig {
    fn default() -> Self {
        Self {
            threshold_pct: DEFAULT_THRESHOLD_PCT,
            check_time: true,
        }
    }
}

impl DiffConfig {
    /// The default configuration (see each setter).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many percent worse a figure must get to count as a regression (and better, as an
    /// improvement). Default: [`DEFAULT_THRESHOLD_PCT`] (10%).
    ///
    /// # Panics
    ///
    /// If `pct` is negative or not finite.
    #[must_use]
    pub fn threshold_pct(mut self, pct: f64) -> Self {
        assert!(
            pct.is_finite() && pct >= 0.0,
            "threshold {pct}% must be a finite non-negative percentage"
        );
        self.threshold_pct = pct;
        self
    }

    /// Whether a row's candidate median (absolute time) is checked as well as its speedup.
    /// The speedup is robust against a different or busier machine; the absolute median is
    /// not, so turn this off when the baseline comes from another machine. Default: `true`.
    #[must_use]
    pub fn check_time(mut self, check: bool) -> Self {
        self.check_time = check;
        self
    }
}

/// Whether a figure moved past the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaStatus {
    /// Worse by more than the threshold.
    Regressed,
    /// Better by more than the threshold, and nothing regressed.
    Improved,
    /// Within the threshold.
    Unchanged,
}

/// How one row moved between the baseline and the current report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowDelta {
    /// The row's key (`group/name`).
    pub key: String,
    /// The baseline report's median speedup.
    pub baseline_speedup: f64,
    /// The current report's median speedup.
    pub current_speedup: f64,
    /// `(current / baseline - 1) * 100` of the speedup; negative is worse.
    pub speedup_change_pct: f64,
    /// The baseline report's candidate median, in `unit`.
    pub baseline_candidate_median: f64,
    /// The current report's candidate median, in `unit`.
    pub current_candidate_median: f64,
    /// `(current / baseline - 1) * 100` of the candidate median; which sign is worse
    /// depends on `direction`.
    pub candidate_median_change_pct: f64,
    /// The current row's unit.
    pub unit: String,
    /// The current row's direction.
    pub direction: Direction,
    /// The speedup fell by more than the threshold.
    pub speedup_regressed: bool,
    /// The candidate median got worse by more than the threshold (only with
    /// [`DiffConfig::check_time`]).
    pub time_regressed: bool,
    /// The overall verdict.
    pub status: DeltaStatus,
}

/// How one case's median time moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseDelta {
    /// The case's key (`group/name`).
    pub key: String,
    /// The baseline's median, ns per call.
    pub baseline_median_ns: f64,
    /// The current median, ns per call.
    pub current_median_ns: f64,
    /// `(current / baseline - 1) * 100`; positive is slower.
    pub median_change_pct: f64,
    /// The verdict (slower by more than the threshold = regressed).
    pub status: DeltaStatus,
}

/// The result of comparing a report against a baseline.
///
/// Rows and cases are matched by key (the first occurrence of a duplicated key wins). A row
/// regresses when its median speedup falls by more than the threshold, or (with
/// [`DiffConfig::check_time`]) its candidate median gets worse by more than the threshold;
/// a case regresses when its median time grows by more than the threshold.
///
/// ```
/// use wasm_sandbox_bench::{Comparison, DiffConfig, Direction, Report};
///
/// let row = |cand: f64| {
///     Comparison::from_paired_samples("add", "ns", Direction::LowerIsBetter, vec![100.0], vec![cand])
///         .unwrap()
/// };
/// let mut old = Report::new("old");
/// old.push_row(row(50.0));
/// let mut new = Report::new("new");
/// new.push_row(row(60.0));
/// let diff = new.diff_against(&old, &DiffConfig::new());
/// assert!(diff.has_regressions());
/// assert_eq!(diff.regressions(), vec!["add"]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineDiff {
    /// The baseline report's title.
    pub baseline_title: String,
    /// The baseline report's creation time (RFC 3339).
    pub baseline_created: String,
    /// The threshold used, in percent.
    pub threshold_pct: f64,
    /// Rows present on both sides, in the current report's order.
    pub rows: Vec<RowDelta>,
    /// Cases present on both sides, in the current report's order.
    pub cases: Vec<CaseDelta>,
    /// Keys of rows and cases in the baseline but not in the current report.
    pub missing_in_current: Vec<String>,
    /// Keys of rows and cases in the current report but not in the baseline.
    pub missing_in_baseline: Vec<String>,
}

fn change_pct(old: f64, new: f64) -> f64 {
    if old == 0.0 {
        if new == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (new / old - 1.0) * 100.0
    }
}

fn status(regressed: bool, improved: bool) -> DeltaStatus {
    if regressed {
        DeltaStatus::Regressed
    } else if improved {
        DeltaStatus::Improved
    } else {
        DeltaStatus::Unchanged
    }
}

impl BaselineDiff {
    /// Compares `current` against `baseline`.
    #[must_use]
    pub fn new(baseline: &Report, current: &Report, config: &DiffConfig) -> Self {
        let t = config.threshold_pct;
        let old_rows = keyed(baseline.rows.iter().map(|r| (r.key(), r)));
        let new_rows = keyed(current.rows.iter().map(|r| (r.key(), r)));
        let old_cases = keyed(baseline.cases.iter().map(|c| (c.key(), c)));
        let new_cases = keyed(current.cases.iter().map(|c| (c.key(), c)));

        let rows = new_rows
            .iter()
            .filter_map(|(key, new)| {
                let old = find(&old_rows, key)?;
                Some(row_delta(key, old, new, t, config.check_time))
            })
            .collect();
        let cases = new_cases
            .iter()
            .filter_map(|(key, new)| {
                let old = find(&old_cases, key)?;
                let pct = change_pct(old.stats.median, new.stats.median);
                Some(CaseDelta {
                    key: key.clone(),
                    baseline_median_ns: old.stats.median,
                    current_median_ns: new.stats.median,
                    median_change_pct: pct,
                    status: status(pct > t, pct < -t),
                })
            })
            .collect();

        let mut missing_in_current = missing_keys(&old_rows, &new_rows);
        missing_in_current.extend(missing_keys(&old_cases, &new_cases));
        let mut missing_in_baseline = missing_keys(&new_rows, &old_rows);
        missing_in_baseline.extend(missing_keys(&new_cases, &old_cases));

        Self {
            baseline_title: baseline.metadata.title.clone(),
            baseline_created: baseline.metadata.created.clone(),
            threshold_pct: t,
            rows,
            cases,
            missing_in_current,
            missing_in_baseline,
        }
    }

    /// Keys of the regressed rows, then of the regressed cases.
    #[must_use]
    pub fn regressions(&self) -> Vec<&str> {
        let rows = self.rows.iter().map(|r| (&r.key, r.status));
        rows.chain(self.cases.iter().map(|c| (&c.key, c.status)))
            .filter(|(_, s)| *s == DeltaStatus::Regressed)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Whether anything regressed.
    #[must_use]
    pub fn has_regressions(&self) -> bool {
        !self.regressions().is_empty()
    }

    /// The diff as Markdown (see [`render_diff_markdown`](crate::render_diff_markdown)).
    #[must_use]
    pub fn render_markdown(&self) -> String {
        crate::render::render_diff_markdown(self)
    }
}

fn row_delta(key: &str, old: &Comparison, new: &Comparison, t: f64, check_time: bool) -> RowDelta {
    let speedup_change_pct = change_pct(old.ratio(), new.ratio());
    let (old_med, new_med) = (old.candidate.stats.median, new.candidate.stats.median);
    let time_pct = change_pct(old_med, new_med);
    // A positive change of a lower-is-better figure is worse.
    let time_worse_pct = match new.direction {
        Direction::LowerIsBetter => time_pct,
        Direction::HigherIsBetter => -time_pct,
    };
    let speedup_regressed = speedup_change_pct < -t;
    let time_regressed = check_time && time_worse_pct > t;
    let improved = speedup_change_pct > t || (check_time && time_worse_pct < -t);
    RowDelta {
        key: key.to_owned(),
        baseline_speedup: old.ratio(),
        current_speedup: new.ratio(),
        speedup_change_pct,
        baseline_candidate_median: old_med,
        current_candidate_median: new_med,
        candidate_median_change_pct: time_pct,
        unit: new.unit.clone(),
        direction: new.direction,
        speedup_regressed,
        time_regressed,
        status: status(speedup_regressed || time_regressed, improved),
    }
}

/// `(key, item)` pairs with the first occurrence of each key.
fn keyed<'a, T>(items: impl Iterator<Item = (String, &'a T)>) -> Vec<(String, &'a T)> {
    let mut out: Vec<(String, &T)> = Vec::new();
    for (k, v) in items {
        if find(&out, &k).is_none() {
            out.push((k, v));
        }
    }
    out
}

/// Keys of `from` that `other` lacks.
fn missing_keys<A, B>(from: &[(String, A)], other: &[(String, B)]) -> Vec<String> {
    from.iter()
        .filter(|(k, _)| !other.iter().any(|(o, _)| o == k))
        .map(|(k, _)| k.clone())
        .collect()
}

fn find<'a, T>(items: &[(String, &'a T)], key: &str) -> Option<&'a T> {
    items.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}
