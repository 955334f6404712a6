//! [`Report`]: rows and cases with their metadata; JSON files, named baselines and the
//! output directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::baseline::{BaselineDiff, DiffConfig};
use crate::case::CaseResult;
use crate::compare::Comparison;
use crate::error::{Error, Result};
use crate::render;
use crate::sys;

/// The report format version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A Sightglass phase label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Compiling a module.
    Compilation,
    /// Instantiating a compiled module.
    Instantiation,
    /// Running guest code.
    Execution,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compilation => "compilation",
            Self::Instantiation => "instantiation",
            Self::Execution => "execution",
        })
    }
}

/// The machine a report was measured on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model from `/proc/cpuinfo` (Linux), `None` elsewhere.
    pub cpu_model: Option<String>,
    /// Logical cores available to the process.
    pub cores: usize,
    /// `std::env::consts::OS`, e.g. `"linux"`.
    pub os: String,
    /// `std::env::consts::ARCH`, e.g. `"x86_64"`.
    pub arch: String,
}

impl Machine {
    /// Describes the current machine.
    #[must_use]
    pub fn current() -> Self {
        Self {
            cpu_model: sys::cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpu = self.cpu_model.as_deref().unwrap_or("unknown CPU");
        write!(f, "{cpu}, {} cores, {}/{}", self.cores, self.os, self.arch)
    }
}

/// When, where and from what a report was measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The report's title.
    pub title: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix_secs: u64,
    /// Creation time as RFC 3339 UTC, e.g. `"2026-05-01T12:00:00Z"`.
    pub created: String,
    /// The machine.
    pub machine: Machine,
    /// `rustc --version` of the build, if the caller provides it.
    #[serde(default)]
    pub rustc_version: Option<String>,
    /// The source's git commit, if the caller provides it.
    #[serde(default)]
    pub git_commit: Option<String>,
}

impl Metadata {
    /// Metadata for now, on this machine, with the given title.
    #[must_use]
    pub fn collect(title: impl Into<String>) -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            schema_version: SCHEMA_VERSION,
            title: title.into(),
            created_unix_secs: secs,
            created: rfc3339_utc(secs),
            machine: Machine::current(),
            rustc_version: None,
            git_commit: None,
        }
    }
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `group/name`, or `name` without a group.
pub(crate) fn row_key(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_owned()
    } else {
        format!("{group}/{name}")
    }
}

/// A benchmark run's results: comparison rows and single-function cases, with metadata.
///
/// Rows and cases carry their section in `group`; renderers show groups in order of first
/// appearance. Baselines match rows and cases by [`Comparison::key`] / [`CaseResult::key`].
///
/// ```
/// use wasm_sandbox_bench::{Comparison, Direction, Report};
///
/// let mut report = Report::new("demo");
/// report.metadata.git_commit = Some("abc123".into());
/// report.push_row(
///     Comparison::from_paired_samples("add", "ns", Direction::LowerIsBetter, vec![2.0], vec![1.0])
///         .unwrap()
///         .with_group("call"),
/// );
/// let back = Report::from_json(&report.to_json()).unwrap();
/// assert_eq!(back, report);
/// assert!(report.render_markdown().contains("| call/add |"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When, where and from what.
    pub metadata: Metadata,
    /// Paired comparisons.
    #[serde(default)]
    pub rows: Vec<Comparison>,
    /// Single-function cases.
    #[serde(default)]
    pub cases: Vec<CaseResult>,
    /// Rows that could not run here, each with the reason (a peer runtime that is not
    /// installed, say). Renderers list them after the sections, so a missing row is never
    /// mistaken for a passing one.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// Rows that a run left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// What was skipped: a row set's id, a row key.
    pub id: String,
    /// Why, and what to do to run it.
    pub reason: String,
}

impl Report {
    /// An empty report with [`Metadata::collect`].
    #[must_use]
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            metadata: Metadata::collect(title),
            rows: Vec::new(),
            cases: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push_row(&mut self, row: Comparison) -> &mut Self {
        self.rows.push(row);
        self
    }

    /// Appends a case result.
    pub fn push_case(&mut self, case: CaseResult) -> &mut Self {
        self.cases.push(case);
        self
    }

    /// Records rows that were not run, with the reason.
    pub fn push_skipped(&mut self, id: impl Into<String>, reason: impl Into<String>) -> &mut Self {
        self.skipped.push(Skipped {
            id: id.into(),
            reason: reason.into(),
        });
        self
    }

    /// Whether there are neither rows nor cases (skipped entries do not count).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.cases.is_empty()
    }

    /// The distinct groups of rows then cases, in order of first appearance.
    #[must_use]
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        let all = self.rows.iter().map(|r| r.group.as_str());
        for g in all.chain(self.cases.iter().map(|c| c.group.as_str())) {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        groups
    }

    /// Pretty-printed JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// Parses [`to_json`](Self::to_json)'s output.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedSchema`] for another schema version, [`Error::Json`] for anything
    /// else that is not a report.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(Error::Json)?;
        if let Some(found) = value
            .get("metadata")
            .and_then(|m| m.get("schema_version"))
            .and_then(serde_json::Value::as_u64)
            && found != u64::from(SCHEMA_VERSION)
        {
            return Err(Error::UnsupportedSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        serde_json::from_value(value).map_err(Error::Json)
    }

    /// Writes the JSON to `path`, creating its parent directories.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the path that failed.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_file(path, self.to_json().as_bytes())
    }

    /// Reads a report written by [`save`](Self::save).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read, [`Error::Parse`] (with line and column) or
    /// [`Error::UnsupportedSchema`] if it is not a report this build reads.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Json(source) => Error::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Saves the report as baseline `name` in `dir` (as `dir/<name>.json`, replacing an
    /// older one) and returns the file's path.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBaselineName`] unless `name` is a plain file name (letters, digits,
    /// `-`, `_`, `.`, not starting with `.`); [`Error::Io`] if writing fails.
    pub fn save_baseline(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        let path = baseline_path(dir, name)?;
        self.save(&path)?;
        Ok(path)
    }

    /// Loads baseline `name` from `dir`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBaselineName`] as in [`save_baseline`](Self::save_baseline),
    /// [`Error::BaselineNotFound`] if there is no such baseline, else as
    /// [`load`](Self::load).
    pub fn load_baseline(dir: &Path, name: &str) -> Result<Self> {
        let path = baseline_path(dir, name)?;
        if !path.is_file() {
            return Err(Error::BaselineNotFound {
                name: name.to_owned(),
                path,
            });
        }
        Self::load(&path)
    }

    /// Compares this report against `baseline` (see [`BaselineDiff`]).
    #[must_use]
    pub fn diff_against(&self, baseline: &Report, config: &DiffConfig) -> BaselineDiff {
        BaselineDiff::new(baseline, self, config)
    }

    /// The Markdown report (see [`render_markdown`](crate::render_markdown)).
    #[must_use]
    pub fn render_markdown(&self) -> String {
        render::render_markdown(self)
    }

    /// The terminal report (see [`render_terminal`](crate::render_terminal)).
    #[must_use]
    pub fn render_terminal(&self) -> String {
        render::render_terminal(self)
    }

    /// Writes `report.md`, `report.json`, `ratios.svg` (one bar per row), one
    /// `row-NN-<name>.svg` distribution chart per row and one `case-NN-<name>.svg` per case
    /// into `dir` (created if missing; files of earlier runs are not removed). Returns the
    /// paths written.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file or directory that failed.
    pub fn write_to_dir(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut files = vec![
            ("report.md".to_owned(), self.render_markdown()),
            ("report.json".to_owned(), self.to_json()),
            ("ratios.svg".to_owned(), render::render_ratio_svg(self)),
        ];
        for (i, row) in self.rows.iter().enumerate() {
            let name = format!("row-{i:02}-{}.svg", slug(&row.key()));
            files.push((name, render::render_row_distribution_svg(row)));
        }
        for (i, case) in self.cases.iter().enumerate() {
            let name = format!("case-{i:02}-{}.svg", slug(&case.key()));
            files.push((name, render::render_case_distribution_svg(case)));
        }
        files
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                write_file(&path, text.as_bytes())?;
                Ok(path)
            })
            .collect()
    }
}

/// Lower-case ASCII letters and digits, other runs collapsed to `-`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "unnamed".to_owned()
    } else {
        out.to_owned()
    }
}

fn baseline_path(dir: &Path, name: &str) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(Error::InvalidBaselineName {
            name: name.to_owned(),
        });
    }
    Ok(dir.join(format!("{name}.json")))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("call/add i32"), "call-add-i32");
        assert_eq!(slug("--"), "unnamed");
        assert_eq!(slug("Überblick"), "berblick");
    }

    #[test]
    fn baseline_names() {
        let dir = Path::new("b");
        assert!(baseline_path(dir, "main").is_ok());
        assert!(baseline_path(dir, "v0.1.0_x-y").is_ok());
        for bad in ["", ".hidden", "../up", "a/b", "a b"] {
            assert!(
                matches!(
                    baseline_path(dir, bad),
                    Err(Error::InvalidBaselineName { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
