//! Statistics against hand-computed values.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {
        assert!(
            close($a, $b),
            "{} = {} but expected {}",
            stringify!($a),
            $a,
            $b
        )
    };
}

#[test]
fn empty_is_an_error() {
    assert!(matches!(
        Statistics::from_samples(&[]),
        Err(Error::EmptySamples)
    ));
    assert_eq!(percentile_sorted(&[], 0.5), None);
}

#[test]
fn non_finite_is_an_error() {
    let err = Statistics::from_samples(&[1.0, f64::NAN]).unwrap_err();
    assert!(matches!(err, Error::NonFiniteSample { index: 1, .. }));
    let err = Statistics::from_samples(&[f64::INFINITY]).unwrap_err();
    assert!(matches!(err, Error::NonFiniteSample { index: 0, .. }));
}

#[test]
fn one_sample() {
    let s = Statistics::from_samples(&[42.0]).unwrap();
    assert_eq!(s.count, 1);
    for v in [s.mean, s.min, s.p25, s.median, s.p75, s.p95, s.p99, s.max] {
        assert_eq!(v, 42.0);
    }
    assert_eq!(
        s.std_dev, 0.0,
        "sample std dev of one sample is reported as 0"
    );
}

#[test]
fn two_samples() {
    let s = Statistics::from_samples(&[20.0, 10.0]).unwrap();
    assert_close!(s.mean, 15.0);
    assert_close!(s.median, 15.0);
    // h = 1 * 0.95 = 0.95 -> 10 + 0.95 * 10
    assert_close!(s.p95, 19.5);
    assert_close!(s.p99, 19.9);
    assert_close!(s.p25, 12.5);
    // sqrt((25 + 25) / 1)
    assert_close!(s.std_dev, 50f64.sqrt());
    assert_eq!((s.min, s.max), (10.0, 20.0));
}

#[test]
fn odd_length() {
    let s = Statistics::from_samples(&[3.0, 1.0, 2.0]).unwrap();
    assert_close!(s.mean, 2.0);
    assert_close!(s.median, 2.0);
    // h = 2 * 0.95 = 1.9 -> 2 + 0.9 * 1
    assert_close!(s.p95, 2.9);
    assert_close!(s.p99, 2.98);
    assert_close!(s.std_dev, 1.0);
}

#[test]
fn even_length_one_to_ten() {
    let x: Vec<f64> = (1..=10).rev().map(f64::from).collect();
    let s = Statistics::from_samples(&x).unwrap();
    assert_eq!(s.count, 10);
    assert_close!(s.mean, 5.5);
    assert_close!(s.median, 5.5);
    // h = 9 * 0.25 = 2.25 -> 3.25; h = 6.75 -> 7.75
    assert_close!(s.p25, 3.25);
    assert_close!(s.p75, 7.75);
    // h = 8.55 -> 9.55; h = 8.91 -> 9.91
    assert_close!(s.p95, 9.55);
    assert_close!(s.p99, 9.91);
    // sum of squared deviations = 82.5, / 9
    assert_close!(s.std_dev, (82.5f64 / 9.0).sqrt());
    assert_eq!((s.min, s.max), (1.0, 10.0));
}

#[test]
fn textbook_std_dev() {
    // Population std dev 2, so sample std dev sqrt(32 / 7).
    let s = Statistics::from_samples(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
    assert_close!(s.mean, 5.0);
    assert_close!(s.median, 4.5);
    assert_close!(s.std_dev, (32f64 / 7.0).sqrt());
    assert_close!(s.relative_std_dev(), (32f64 / 7.0).sqrt() / 5.0);
}

#[test]
fn hundred_samples_p95_p99() {
    // 0..=100: 101 samples, h = 100 q lands exactly on a sample.
    let x: Vec<f64> = (0..=100).map(f64::from).collect();
    let s = Statistics::from_samples(&x).unwrap();
    assert_eq!((s.median, s.p95, s.p99), (50.0, 95.0, 99.0));
}

#[test]
fn identical_samples() {
    let s = Statistics::from_samples(&[0.1; 7]).unwrap();
    assert_eq!((s.min, s.median, s.max), (0.1, 0.1, 0.1));
    assert!(s.mean >= s.min && s.mean <= s.max);
    assert!(s.std_dev < 1e-15);
}

#[test]
#[should_panic(expected = "not within [0, 1]")]
fn quantile_out_of_range_panics() {
    let _ = percentile_sorted(&[1.0], 1.5);
}
