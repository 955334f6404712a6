//! Descriptive statistics over sample sets.
//!
//! Percentiles use **linear interpolation between closest ranks** (Hyndman & Fan type 7, the
//! default of NumPy, R and Excel's `PERCENTILE.INC`): for `n` sorted samples `x[0..n]` and a
//! quantile `q` in `[0, 1]`, let `h = (n - 1) * q`; the percentile is
//! `x[floor(h)] + (h - floor(h)) * (x[ceil(h)] - x[floor(h)])`. So the 0th percentile is the
//! minimum, the 100th is the maximum and the 50th is the usual median (the mean of the two
//! middle samples for even `n`).
//!
//! The standard deviation is the *sample* standard deviation (divisor `n - 1`). For a single
//! sample it is undefined; [`Statistics`] reports `0.0` there.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Summary statistics of one sample set, in the samples' unit.
///
/// Built by [`Statistics::from_samples`].
///
/// Percentiles interpolate linearly between closest ranks (Hyndman & Fan type 7, as NumPy
/// and R): for `n` sorted samples `x` and quantile `q`, with `h = (n - 1) * q`, the
/// percentile is `x[floor(h)] + (h - floor(h)) * (x[ceil(h)] - x[floor(h)])`. The standard
/// deviation is the sample one (divisor `n - 1`), reported as `0.0` for one sample.
///
/// Invariants: `min <= p25 <= median <= p75 <= p95 <=
/// p99 <= max`, `min <= mean <= max`, `std_dev >= 0`, `count >= 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Number of samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n - 1`); `0.0` for a single sample.
    pub std_dev: f64,
    /// Smallest sample.
    pub min: f64,
    /// 25th percentile.
    pub p25: f64,
    /// 50th percentile.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Statistics {
    /// Computes the statistics of `samples` (in any order).
    ///
    /// # Errors
    ///
    /// [`Error::EmptySamples`] if `samples` is empty, [`Error::NonFiniteSample`] if one is NaN
    /// or infinite.
    ///
    /// # Examples
    ///
    /// ```
    /// use wasm_sandbox_bench::Statistics;
    ///
    /// let s = Statistics::from_samples(&[3.0, 1.0, 2.0]).unwrap();
    /// assert_eq!((s.min, s.median, s.max, s.mean, s.std_dev), (1.0, 2.0, 3.0, 2.0, 1.0));
    /// ```
    pub fn from_samples(samples: &[f64]) -> Result<Self> {
        check_finite(samples)?;
        if samples.is_empty() {
            return Err(Error::EmptySamples);
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (sorted[0], sorted[sorted.len() - 1]);

        // Welford's algorithm: no intermediate sum that could overflow or lose precision.
        let mut mean = 0.0;
        let mut m2 = 0.0;
        for (i, &x) in samples.iter().enumerate() {
            let delta = x - mean;
            mean += delta / (i + 1) as f64;
            m2 += delta * (x - mean);
        }
        let n = samples.len();
        let std_dev = if n > 1 {
            (m2.max(0.0) / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let at = |q| percentile_sorted(&sorted, q).expect("sorted is not empty");
        Ok(Self {
            count: n,
            // Rounding can push the mean an ulp outside the range; the true mean is inside it.
            mean: mean.clamp(min, max),
            std_dev,
            min,
            p25: at(0.25),
            median: at(0.5),
            p75: at(0.75),
            p95: at(0.95),
            p99: at(0.99),
            max,
        })
    }

    /// The coefficient of variation, `std_dev / mean` (`0.0` when the mean is zero).
    #[must_use]
    pub fn relative_std_dev(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            self.std_dev / self.mean.abs()
        }
    }
}

/// The `q`-quantile (`q` in `[0, 1]`) of an ascending slice, by linear interpolation between
/// closest ranks (see [`Statistics`]). `None` for an empty slice.
///
/// # Panics
///
/// If `q` is not within `[0, 1]` (this includes NaN).
///
/// # Examples
///
/// ```
/// use wasm_sandbox_bench::percentile_sorted;
///
/// let x = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(percentile_sorted(&x, 0.5), Some(2.5));
/// assert_eq!(percentile_sorted(&x, 1.0), Some(4.0));
/// assert_eq!(percentile_sorted(&[], 0.5), None);
/// ```
#[must_use]
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    assert!(
        (0.0..=1.0).contains(&q),
        "quantile {q} is not within [0, 1]"
    );
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    // `h` is within [0, last], so these casts neither truncate nor go out of bounds.
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (a, b) = (sorted[lo], sorted[hi]);
    let v = a + (h - lo as f64) * (b - a);
    // Clamp away rounding so that percentiles stay monotone across neighbouring intervals.
    Some(v.clamp(a, b))
}

/// Fails with [`Error::NonFiniteSample`] on the first NaN or infinite sample.
pub(crate) fn check_finite(samples: &[f64]) -> Result<()> {
    match samples.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFiniteSample {
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
