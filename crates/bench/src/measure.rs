//! Timing primitives: a batch runner, batch-size calibration and the sampling settings that
//! [`BenchmarkCase`](crate::BenchmarkCase) and [`CompareConfig`](crate::CompareConfig) share.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The default least duration of one sample: batches grow until a sample takes this long, so
/// that timer resolution and `Instant::now` overhead stay well under 1% of a sample.
pub const DEFAULT_MIN_SAMPLE_TIME: Duration = Duration::from_micros(10);

/// The largest batch calibration will choose.
const MAX_BATCH: u64 = 1 << 32;

/// The most a batch grows in one calibration step, so one noisy short reading cannot make it
/// overshoot wildly.
const MAX_GROWTH: u64 = 16;

/// A type-erased timed batch: runs the closure `k` times and returns the elapsed time.
///
/// The closure is monomorphized inside, so the dynamic call happens once per sample, outside
/// the timed region, never once per iteration.
pub(crate) type BatchFn<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Wraps `f` into a timed batch runner. Each result goes through [`black_box`] so the
/// optimizer cannot drop the call.
pub(crate) fn batched<'a, R>(mut f: impl FnMut() -> R + 'a) -> BatchFn<'a> {
    Box::new(move |k| {
        let start = Instant::now();
        for _ in 0..k {
            black_box(f());
        }
        start.elapsed()
    })
}

/// How each sample of one side is taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sampling {
    /// Least duration of a sample when calibrating.
    pub(crate) min_sample_time: Duration,
    /// A fixed batch size, bypassing calibration.
    pub(crate) batch_size: Option<u64>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            min_sample_time: DEFAULT_MIN_SAMPLE_TIME,
            batch_size: None,
        }
    }
}

impl Sampling {
    /// The batch size for `run`: the fixed one, or the smallest found (growing geometrically)
    /// whose batch takes at least `min_sample_time`. Calibration runs the closure, so it also
    /// warms it up.
    pub(crate) fn batch_size(&self, run: &mut dyn FnMut(u64) -> Duration) -> u64 {
        if let Some(k) = self.batch_size {
            return k;
        }
        let target = self.min_sample_time;
        if target.is_zero() {
            return 1;
        }
        let mut k = 1u64;
        loop {
            let t = run(k);
            if t >= target || k >= MAX_BATCH {
                return k;
            }
            let next = if t.is_zero() {
                k.saturating_mul(MAX_GROWTH)
            } else {
                // Aim 10% past the target, so the next try usually suffices.
                let scaled = k as f64 * target.as_secs_f64() / t.as_secs_f64() * 1.1;
                (scaled.ceil() as u64).min(k.saturating_mul(MAX_GROWTH))
            };
            k = next.max(k + 1).min(MAX_BATCH);
        }
    }
}

/// Nanoseconds per call of a batch of `k` calls that took `elapsed`. A zero reading (a timer
/// coarser than the batch) is recorded as one nanosecond for the whole batch, so that samples
/// stay strictly positive and ratios stay finite.
pub(crate) fn per_call_ns(elapsed: Duration, k: u64) -> f64 {
    let ns = elapsed.as_nanos().max(1) as f64;
    ns / k.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_batch_skips_calibration() {
        let mut calls = 0u64;
        let mut run = batched(|| calls += 1);
        let s = Sampling {
            batch_size: Some(7),
            ..Sampling::default()
        };
        assert_eq!(s.batch_size(&mut run), 7);
        drop(run);
        assert_eq!(calls, 0);
    }

    #[test]
    fn zero_target_means_one_call_per_sample() {
        let mut run = batched(|| ());
        let s = Sampling {
            min_sample_time: Duration::ZERO,
            batch_size: None,
        };
        assert_eq!(s.batch_size(&mut run), 1);
    }

    #[test]
    fn calibration_reaches_the_target() {
        // A fake clock: every call "takes" 3 ns, so 10 µs needs at least 3334 calls.
        let mut run: BatchFn<'_> = Box::new(|k| Duration::from_nanos(3 * k));
        let k = Sampling::default().batch_size(&mut run);
        assert!(k >= 3334, "{k}");
        // Never more than 10% + one growth step past the target.
        assert!(k <= 4000, "{k}");
    }

    #[test]
    fn calibration_of_a_slow_function_is_one() {
        let mut run: BatchFn<'_> = Box::new(Duration::from_millis);
        assert_eq!(Sampling::default().batch_size(&mut run), 1);
    }

    #[test]
    fn calibration_survives_a_zero_clock() {
        let mut run: BatchFn<'_> = Box::new(|_| Duration::ZERO);
        assert_eq!(Sampling::default().batch_size(&mut run), MAX_BATCH);
    }

    #[test]
    fn per_call() {
        assert_eq!(per_call_ns(Duration::from_micros(10), 1000), 10.0);
        assert_eq!(per_call_ns(Duration::ZERO, 4), 0.25);
    }
}
