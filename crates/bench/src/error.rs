//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Measuring never fails (configuration mistakes panic at the setter, see the `# Panics`
/// sections); errors come from statistics over bad sample sets and from reading or writing
/// reports and baselines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Statistics were asked of an empty sample set.
    #[error("cannot compute statistics of an empty sample set: record at least one sample")]
    EmptySamples,

    /// A sample was NaN or infinite.
    #[error("sample {index} is {value}, but samples must be finite numbers")]
    NonFiniteSample {
        /// Position of the sample in its set.
        index: usize,
        /// The offending value.
        value: f64,
    },

    /// A ratio needs strictly positive samples, and this one was zero or negative.
    #[error(
        "sample {index} is {value}, but ratios need strictly positive samples \
         (a zero time usually means the timer is too coarse: raise the batch size)"
    )]
    NonPositiveSample {
        /// Position of the sample in its set.
        index: usize,
        /// The offending value.
        value: f64,
    },

    /// The two sides of a paired comparison have different sample counts.
    #[error(
        "baseline has {baseline} samples but candidate has {candidate}: paired samples \
         need one baseline and one candidate sample per round"
    )]
    UnpairedSamples {
        /// Number of baseline samples.
        baseline: usize,
        /// Number of candidate samples.
        candidate: usize,
    },

    /// A baseline name that is not a plain file name.
    #[error(
        "invalid baseline name {name:?}: use only letters, digits, '-', '_' and '.', \
         and do not start with '.'"
    )]
    InvalidBaselineName {
        /// The rejected name.
        name: String,
    },

    /// The named baseline does not exist in the given directory.
    #[error(
        "baseline {name:?} not found at {}: save one first with `Report::save_baseline`",
        path.display()
    )]
    BaselineNotFound {
        /// The baseline's name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// Reading, writing or creating a file or directory failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A report file is not valid JSON or does not have the report's shape.
    #[error(
        "{} is not a valid benchmark report: {source} (regenerate it with this version of \
         wasm-sandbox-bench)",
        path.display()
    )]
    Parse {
        /// The file that failed to parse.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },

    /// An in-memory JSON string is not a valid report.
    #[error("not a valid benchmark report: {0}")]
    Json(#[source] serde_json::Error),

    /// The report was written with a schema version this build does not read.
    #[error(
        "report schema version {found} is not supported (this build reads version \
         {supported}): regenerate the report or baseline with this version"
    )]
    UnsupportedSchema {
        /// The version found in the file.
        found: u64,
        /// The version this build reads and writes.
        supported: u32,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
