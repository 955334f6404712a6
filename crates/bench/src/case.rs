//! Single-function cases: [`BenchmarkCase`], [`PerformanceBenchmark`] and [`CaseResult`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::{BatchFn, Sampling, batched, per_call_ns};
use crate::report::Phase;
use crate::stats::Statistics;
use crate::sys;

/// How much work one iteration does, so throughput can be derived from time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSize {
    /// Bytes processed per iteration; throughput is in bytes per second.
    Bytes(u64),
    /// Items (calls, records, instances, ...) per iteration; throughput is in items per second.
    Items(u64),
}

impl InputSize {
    /// The amount, whatever its unit.
    #[must_use]
    pub fn amount(self) -> u64 {
        match self {
            Self::Bytes(n) | Self::Items(n) => n,
        }
    }

    /// Units per second when one iteration takes `ns_per_iter` nanoseconds (`None` unless
    /// `ns_per_iter` is positive and finite).
    #[must_use]
    pub fn per_second(self, ns_per_iter: f64) -> Option<f64> {
        (ns_per_iter.is_finite() && ns_per_iter > 0.0)
            .then(|| self.amount() as f64 * 1e9 / ns_per_iter)
    }
}

impl fmt::Display for InputSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(n) => write!(f, "{n} B"),
            Self::Items(n) => write!(f, "{n} items"),
        }
    }
}

/// One function to time on its own: its name, work size and sampling settings.
///
/// A *sample* times a batch of `k` calls and records the time per call; `k` is chosen so a
/// sample lasts at least [`min_sample_time`](Self::min_sample_time) (ns-scale functions get
/// large batches, slow ones `k = 1`), unless [`batch_size`](Self::batch_size) fixes it.
/// Calibrating the batch runs the function too, before the warm-up samples.
///
/// ```
/// use std::time::Duration;
/// use wasm_sandbox_bench::{BenchmarkCase, InputSize, Phase};
///
/// let case = BenchmarkCase::new("sum 4 KiB")
///     .group("call")
///     .phase(Phase::Execution)
///     .input_size(InputSize::Bytes(4096))
///     .iterations(50)
///     .warmup_iterations(5)
///     .min_sample_time(Duration::from_micros(20));
/// assert_eq!(case.name(), "sum 4 KiB");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BenchmarkCase {
    name: String,
    group: String,
    phase: Option<Phase>,
    input_size: Option<InputSize>,
    iterations: usize,
    warmup_iterations: usize,
    sampling: Sampling,
    reset_peak_rss: bool,
}

impl BenchmarkCase {
    /// A case with the default settings below.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            group: String::new(),
            phase: None,
            input_size: None,
            iterations: 100,
            warmup_iterations: 10,
            sampling: Sampling::default(),
            reset_peak_rss: true,
        }
    }

    /// The case's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The report section the case belongs to, e.g. `"call"`. Default: `""` (no section).
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// The Sightglass phase the case measures. Default: none.
    #[must_use]
    pub fn phase(mut self, phase: Phase) -> Self {
        self.phase = Some(phase);
        self
    }

    /// The work one call does, to report throughput. Default: none (no throughput).
    #[must_use]
    pub fn input_size(mut self, size: InputSize) -> Self {
        self.input_size = Some(size);
        self
    }

    /// The number of recorded samples. Default: 100.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    #[must_use]
    pub fn iterations(mut self, n: usize) -> Self {
        assert!(n > 0, "a benchmark case needs at least one iteration");
        self.iterations = n;
        self
    }

    /// The number of unrecorded samples taken first. Default: 10.
    #[must_use]
    pub fn warmup_iterations(mut self, n: usize) -> Self {
        self.warmup_iterations = n;
        self
    }

    /// The least duration of one sample when the batch size is calibrated. Default:
    /// [`DEFAULT_MIN_SAMPLE_TIME`](crate::DEFAULT_MIN_SAMPLE_TIME) (10 µs). Zero means one
    /// call per sample.
    #[must_use]
    pub fn min_sample_time(mut self, t: Duration) -> Self {
        self.sampling.min_sample_time = t;
        self
    }

    /// Fixes the number of calls per sample instead of calibrating it. Default: calibrated.
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

    /// Whether to reset the process's peak RSS (Linux `clear_refs`) before the case, so that
    /// [`MemoryUsage::host_peak_rss_bytes`] is the case's own peak. This resets a
    /// process-wide counter. Default: `true`.
    #[must_use]
    pub fn reset_peak_rss(mut self, reset: bool) -> Self {
        self.reset_peak_rss = reset;
        self
    }
}

/// Memory observed while a case ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryUsage {
    /// The largest value the case's memory probe returned (read after every sample), e.g. a
    /// guest's linear memory size in bytes. `None` without a probe.
    pub guest_linear_bytes: Option<u64>,
    /// The host process's peak resident set size (`VmHWM`) in bytes after the case. `None`
    /// where unavailable (outside Linux).
    pub host_peak_rss_bytes: Option<u64>,
    /// Whether the peak was reset before the case; if not, `host_peak_rss_bytes` is the peak
    /// over the whole process lifetime so far.
    pub host_peak_rss_is_per_case: bool,
}

/// What running one [`BenchmarkCase`] produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The report section, `""` for none.
    #[serde(default)]
    pub group: String,
    /// The Sightglass phase, if labelled.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// The work per call, if known.
    #[serde(default)]
    pub input_size: Option<InputSize>,
    /// Calls per sample.
    pub batch_size: u64,
    /// Nanoseconds per call, one per sample, in the order taken.
    pub samples_ns: Vec<f64>,
    /// Statistics of `samples_ns`.
    pub stats: Statistics,
    /// Input units per second at the median time (`None` without an input size).
    #[serde(default)]
    pub throughput_per_sec: Option<f64>,
    /// Memory observed.
    #[serde(default)]
    pub memory: MemoryUsage,
}

impl CaseResult {
    /// The key baselines match cases by: `group/name`, or `name` without a group.
    #[must_use]
    pub fn key(&self) -> String {
        crate::report::row_key(&self.group, &self.name)
    }
}

/// Times `f` according to `case`.
///
/// ```
/// use wasm_sandbox_bench::{BenchmarkCase, run_case};
///
/// let r = run_case(&BenchmarkCase::new("add").iterations(10), || 2u64 + 2);
/// assert_eq!(r.samples_ns.len(), 10);
/// assert!(r.stats.min <= r.stats.median);
/// ```
pub fn run_case<R>(case: &BenchmarkCase, f: impl FnMut() -> R) -> CaseResult {
    run(case, &mut *batched(f), None)
}

/// Times `f` according to `case`, calling `memory_probe` after every sample and recording
/// the largest value it returns as [`MemoryUsage::guest_linear_bytes`] (for a wasm guest:
/// `memory.data_size(&store)`). The probe runs outside the timed region.
pub fn run_case_with_memory<R>(
    case: &BenchmarkCase,
    f: impl FnMut() -> R,
    mut memory_probe: impl FnMut() -> u64,
) -> CaseResult {
    run(case, &mut *batched(f), Some(&mut memory_probe))
}

fn run(
    case: &BenchmarkCase,
    batch: &mut dyn FnMut(u64) -> Duration,
    mut probe: Option<&mut dyn FnMut() -> u64>,
) -> CaseResult {
    let per_case = case.reset_peak_rss && sys::reset_peak_rss();
    let k = case.sampling.batch_size(batch);
    for _ in 0..case.warmup_iterations {
        batch(k);
    }
    let mut guest_max: Option<u64> = None;
    let mut samples_ns = Vec::with_capacity(case.iterations);
    for _ in 0..case.iterations {
        samples_ns.push(per_call_ns(batch(k), k));
        if let Some(probe) = probe.as_mut() {
            let bytes = probe();
            guest_max = Some(guest_max.map_or(bytes, |m| m.max(bytes)));
        }
    }
    let stats = Statistics::from_samples(&samples_ns)
        .expect("iterations >= 1 and per-call times are finite");
    CaseResult {
        name: case.name.clone(),
        group: case.group.clone(),
        phase: case.phase,
        input_size: case.input_size,
        batch_size: k,
        throughput_per_sec: case.input_size.and_then(|s| s.per_second(stats.median)),
        samples_ns,
        stats,
        memory: MemoryUsage {
            guest_linear_bytes: guest_max,
            host_peak_rss_bytes: sys::peak_rss_bytes(),
            host_peak_rss_is_per_case: per_case,
        },
    }
}

/// A set of cases, each with its function, run one after another (the seed's
/// `PerformanceBenchmark`).
///
/// The closures may borrow from the caller (`'a`).
///
/// ```
/// use wasm_sandbox_bench::{BenchmarkCase, InputSize, PerformanceBenchmark};
///
/// let data = vec![1u8; 1024];
/// let mut bench = PerformanceBenchmark::new();
/// bench.add(
///     BenchmarkCase::new("sum").input_size(InputSize::Bytes(1024)).iterations(5),
///     || data.iter().map(|&b| u64::from(b)).sum::<u64>(),
/// );
/// let results = bench.run();
/// assert_eq!(results.len(), 1);
/// assert!(results[0].throughput_per_sec.unwrap() > 0.0);
/// ```
#[derive(Default)]
pub struct PerformanceBenchmark<'a> {
    cases: Vec<Registered<'a>>,
}

struct Registered<'a> {
    case: BenchmarkCase,
    batch: BatchFn<'a>,
    probe: Option<Box<dyn FnMut() -> u64 + 'a>>,
}

impl fmt::Debug for PerformanceBenchmark<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.cases.iter().map(|r| &r.case))
            .finish()
    }
}

impl<'a> PerformanceBenchmark<'a> {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a case timing `f`.
    pub fn add<R>(&mut self, case: BenchmarkCase, f: impl FnMut() -> R + 'a) -> &mut Self {
        self.cases.push(Registered {
            case,
            batch: batched(f),
            probe: None,
        });
        self
    }

    /// Adds a case timing `f` with a memory probe (see [`run_case_with_memory`]).
    pub fn add_with_memory<R>(
        &mut self,
        case: BenchmarkCase,
        f: impl FnMut() -> R + 'a,
        memory_probe: impl FnMut() -> u64 + 'a,
    ) -> &mut Self {
        self.cases.push(Registered {
            case,
            batch: batched(f),
            probe: Some(Box::new(memory_probe)),
        });
        self
    }

    /// The number of cases.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether there are no cases.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Runs every case in the order added.
    pub fn run(&mut self) -> Vec<CaseResult> {
        self.cases
            .iter_mut()
            .map(|r| {
                let probe = r
                    .probe
                    .as_mut()
                    .map(|p| &mut **p as &mut dyn FnMut() -> u64);
                run(&r.case, &mut *r.batch, probe)
            })
            .collect()
    }
}
