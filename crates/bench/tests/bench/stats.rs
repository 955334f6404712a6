//! Property tests of the statistics against a trivially correct model.

use proptest::prelude::*;
use wasm_sandbox_bench::{Error, Statistics, percentile_sorted};

fn sample_vec() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(1e-3f64..1e9, 1..200)
}

/// The model: the type-7 percentile straight from its definition, on a sorted copy.
fn model_percentile(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

proptest! {
    #[test]
    fn order_invariants(v in sample_vec()) {
        let s = Statistics::from_samples(&v).unwrap();
        prop_assert_eq!(s.count, v.len());
        prop_assert!(s.min <= s.p25);
        prop_assert!(s.p25 <= s.median);
        prop_assert!(s.median <= s.p75);
        prop_assert!(s.p75 <= s.p95);
        prop_assert!(s.p95 <= s.p99);
        prop_assert!(s.p99 <= s.max);
        prop_assert!(s.min <= s.mean && s.mean <= s.max);
        prop_assert!(s.std_dev >= 0.0);
        prop_assert!(s.std_dev <= s.max - s.min || v.len() < 2 || close(s.std_dev, s.max - s.min));
    }

    #[test]
    fn matches_the_model(v in sample_vec(), q in 0.0f64..=1.0) {
        let s = Statistics::from_samples(&v).unwrap();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        prop_assert!(close(percentile_sorted(&sorted, q).unwrap(), model_percentile(&v, q)));
        prop_assert!(close(s.median, model_percentile(&v, 0.5)));
        prop_assert!(close(s.p95, model_percentile(&v, 0.95)));
        prop_assert!(close(s.p99, model_percentile(&v, 0.99)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        prop_assert!(close(s.mean, mean));
        if v.len() > 1 {
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
            prop_assert!((s.std_dev - var.sqrt()).abs() <= 1e-6 * mean.max(1.0));
        }
    }

    #[test]
    fn order_of_samples_does_not_matter(v in sample_vec()) {
        let a = Statistics::from_samples(&v).unwrap();
        let mut rev = v.clone();
        rev.reverse();
        let b = Statistics::from_samples(&rev).unwrap();
        prop_assert_eq!((a.min, a.p25, a.median, a.p75, a.p95, a.p99, a.max),
                        (b.min, b.p25, b.median, b.p75, b.p95, b.p99, b.max));
        prop_assert!(close(a.mean, b.mean));
    }

    #[test]
    fn percentiles_are_monotone_in_q(v in sample_vec(), q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0) {
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        prop_assert!(percentile_sorted(&sorted, lo).unwrap() <= percentile_sorted(&sorted, hi).unwrap());
    }

    #[test]
    fn constant_samples(x in 1e-3f64..1e9, n in 1usize..50) {
        let s = Statistics::from_samples(&vec![x; n]).unwrap();
        prop_assert_eq!((s.min, s.median, s.p99, s.max), (x, x, x, x));
        prop_assert!(s.std_dev <= 1e-9 * x);
    }
}

#[test]
fn empty_is_an_error_with_a_useful_message() {
    let err = Statistics::from_samples(&[]).unwrap_err();
    assert!(matches!(err, Error::EmptySamples));
    assert!(err.to_string().contains("at least one sample"));
}
