//! The comparison math on synthetic paired samples: no timing involved.

use proptest::prelude::*;
use wasm_sandbox_bench::{Comparison, Direction, Error, Goal, GoalOp, paired_speedups};

fn paired() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (1usize..100).prop_flat_map(|n| {
        (
            prop::collection::vec(1.0f64..1e6, n),
            prop::collection::vec(1.0f64..1e6, n),
        )
    })
}

fn paired_odd() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (0usize..50).prop_flat_map(|k| {
        (
            prop::collection::vec(1.0f64..1e6, 2 * k + 1),
            prop::collection::vec(1.0f64..1e6, 2 * k + 1),
        )
    })
}

fn row(b: Vec<f64>, c: Vec<f64>, d: Direction) -> Comparison {
    Comparison::from_paired_samples("r", "ns", d, b, c).unwrap()
}

proptest! {
    #[test]
    fn identical_sides_have_ratio_one(b in prop::collection::vec(1.0f64..1e6, 1..100)) {
        let r = row(b.clone(), b, Direction::LowerIsBetter);
        prop_assert_eq!(r.ratio(), 1.0);
        prop_assert_eq!((r.speedup.min, r.speedup.max), (1.0, 1.0));
        prop_assert_eq!(r.verdict(), "1.00x faster");
    }

    #[test]
    fn scaling_the_candidate_scales_the_ratio(b in prop::collection::vec(1.0f64..1e6, 1..100), k in 0.1f64..10.0) {
        let c: Vec<f64> = b.iter().map(|x| x * k).collect();
        let r = row(b, c, Direction::LowerIsBetter);
        prop_assert!((r.ratio() * k - 1.0).abs() < 1e-9);
    }

    #[test]
    fn ratio_invariants((b, c) in paired()) {
        let r = row(b.clone(), c.clone(), Direction::LowerIsBetter);
        let s = &r.speedup;
        prop_assert_eq!(s.count, b.len());
        prop_assert!(s.min <= s.p25 && s.p25 <= s.median && s.median <= s.p75 && s.p75 <= s.max);
        prop_assert!(s.min > 0.0);
        // Sides keep their samples in round order.
        prop_assert_eq!(&r.baseline.samples, &b);
        prop_assert_eq!(&r.candidate.samples, &c);
        prop_assert_eq!(r.round_speedups().len(), b.len());
    }

    #[test]
    fn swapping_sides_inverts_the_ratio((b, c) in paired_odd()) {
        // For an odd count the median is one of the ratios, and 1/x is monotone, so the
        // swapped median is exactly its reciprocal.
        let ab = row(b.clone(), c.clone(), Direction::LowerIsBetter).ratio();
        let ba = row(c, b, Direction::LowerIsBetter).ratio();
        prop_assert!((ab * ba - 1.0).abs() < 1e-12);
    }

    #[test]
    fn directions_are_reciprocal((b, c) in paired()) {
        let lower = paired_speedups(&b, &c, Direction::LowerIsBetter).unwrap();
        let higher = paired_speedups(&b, &c, Direction::HigherIsBetter).unwrap();
        for (l, h) in lower.iter().zip(&higher) {
            prop_assert!((l * h - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn goals(v in 0.01f64..100.0, s in 0.01f64..100.0) {
        prop_assert_eq!(Goal::at_least(v).met(s), s >= v);
        prop_assert_eq!(Goal::at_most(v).met(s), s <= v);
    }
}

#[test]
fn hand_computed_ratio_and_spread() {
    // Per-round speedups: 2, 4, 1, 3, 5 -> median 3, p25 2, p75 4.
    let r = row(
        vec![20.0, 40.0, 10.0, 30.0, 50.0],
        vec![10.0; 5],
        Direction::LowerIsBetter,
    );
    assert_eq!(r.round_speedups(), vec![2.0, 4.0, 1.0, 3.0, 5.0]);
    assert_eq!(
        (r.speedup.median, r.speedup.p25, r.speedup.p75),
        (3.0, 2.0, 4.0)
    );
    assert_eq!((r.speedup.min, r.speedup.max), (1.0, 5.0));
    assert_eq!(r.verdict(), "3.00x faster");
    assert_eq!(r.spread_text(), "2.00–4.00x");
    // Each side keeps its own statistics.
    assert_eq!(r.baseline.stats.median, 30.0);
    assert_eq!(r.candidate.stats.median, 10.0);
}

#[test]
fn median_of_ratios_is_not_ratio_of_medians() {
    // A drift that slows both sides of round 3 cancels in its ratio.
    let r = row(
        vec![10.0, 10.0, 100.0],
        vec![5.0, 5.0, 50.0],
        Direction::LowerIsBetter,
    );
    assert_eq!(r.ratio(), 2.0);
    assert_eq!((r.speedup.min, r.speedup.max), (2.0, 2.0));
}

#[test]
fn slower_candidates_and_throughput_rows() {
    let slow = row(vec![10.0; 3], vec![25.0; 3], Direction::LowerIsBetter);
    assert_eq!(slow.ratio(), 0.4);
    assert_eq!(slow.verdict(), "2.50x slower");
    // Speedups 0.2..0.5 read as slowdowns 2..5.
    let spread = row(
        vec![10.0, 20.0, 40.0, 50.0, 30.0],
        vec![100.0; 5],
        Direction::LowerIsBetter,
    );
    assert_eq!((spread.speedup.p25, spread.speedup.p75), (0.2, 0.4));
    assert_eq!(spread.spread_text(), "2.50–5.00x");
    assert_eq!(spread.verdict(), "3.33x slower");
    assert_eq!(slow.goal_met(), None);
    let slow = slow.with_goal(Goal::slowdown_at_most(3.0));
    assert_eq!(slow.goal_met(), Some(true));
    assert_eq!(slow.goal_text().unwrap(), "≤ 3.00x slower");
    let slow = slow.with_goal(Goal::slowdown_at_most(2.0));
    assert_eq!(slow.goal_met(), Some(false));

    // Higher is better: 300 MB/s against 100 MB/s is 3x better.
    let tp = Comparison::from_paired_samples(
        "tp",
        "MB/s",
        Direction::HigherIsBetter,
        vec![100.0; 3],
        vec![300.0; 3],
    )
    .unwrap();
    assert_eq!(tp.ratio(), 3.0);
    assert_eq!(tp.verdict(), "3.00x better");
    assert_eq!(
        tp.with_goal(Goal::at_least(3.0)).goal_text().unwrap(),
        "≥ 3.00x better"
    );
}

#[test]
fn goal_descriptions() {
    assert_eq!(Goal::at_least(3.0).to_string(), "≥ 3.00x faster");
    assert_eq!(Goal::at_most(2.0).to_string(), "≤ 2.00x faster");
    assert_eq!(Goal::at_most(0.5).to_string(), "≥ 2.00x slower");
    assert_eq!(Goal::slowdown_at_most(1.5).op, GoalOp::AtLeast);
    assert_eq!(Goal::slowdown_at_most(1.5).to_string(), "≤ 1.50x slower");
}

#[test]
#[should_panic(expected = "must be positive")]
fn goal_rejects_zero() {
    let _ = Goal::at_least(0.0);
}

#[test]
fn bad_samples_are_errors() {
    let e = |b: Vec<f64>, c: Vec<f64>| {
        Comparison::from_paired_samples("r", "ns", Direction::LowerIsBetter, b, c).unwrap_err()
    };
    assert!(matches!(
        e(vec![1.0, 2.0], vec![1.0]),
        Error::UnpairedSamples {
            baseline: 2,
            candidate: 1
        }
    ));
    assert!(matches!(e(vec![], vec![]), Error::EmptySamples));
    assert!(matches!(
        e(vec![1.0, 0.0], vec![1.0, 1.0]),
        Error::NonPositiveSample { index: 1, .. }
    ));
    assert!(matches!(
        e(vec![1.0], vec![f64::NAN]),
        Error::NonFiniteSample { index: 0, .. }
    ));
    assert!(e(vec![0.0], vec![1.0]).to_string().contains("batch size"));
}
