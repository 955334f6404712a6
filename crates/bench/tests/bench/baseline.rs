//! Baselines: saving and loading, JSON round trips, deltas and regression flags.

use crate::fixtures::{case, empty, full, metadata, time_row};
use wasm_sandbox_bench::{
    Comparison, DeltaStatus, DiffConfig, Direction, Error, Report, SCHEMA_VERSION,
};

fn report(rows: Vec<Comparison>) -> Report {
    Report {
        metadata: metadata("r"),
        rows,
        cases: Vec::new(),
        skipped: Vec::new(),
    }
}

#[test]
fn json_round_trip() {
    for r in [empty(), full()] {
        let back = Report::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn json_round_trip_of_measured_values_is_bit_exact() {
    let mut r = empty();
    r.push_row(time_row("x", 1.0 / 3.0, 2.0 / 7.0));
    let back = Report::from_json(&r.to_json()).unwrap();
    assert_eq!(back.rows[0].speedup, r.rows[0].speedup);
}

#[test]
fn save_and_load_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let r = full();
    let path = r.save_baseline(dir.path(), "main").unwrap();
    assert_eq!(path, dir.path().join("main.json"));
    assert_eq!(Report::load_baseline(dir.path(), "main").unwrap(), r);
    // Saving again replaces it.
    empty().save_baseline(dir.path(), "main").unwrap();
    assert_eq!(Report::load_baseline(dir.path(), "main").unwrap(), empty());
}

#[test]
fn baseline_errors_are_actionable() {
    let dir = tempfile::tempdir().unwrap();
    let err = Report::load_baseline(dir.path(), "nope").unwrap_err();
    assert!(matches!(err, Error::BaselineNotFound { .. }));
    assert!(err.to_string().contains("save_baseline"), "{err}");

    let err = full().save_baseline(dir.path(), "../escape").unwrap_err();
    assert!(matches!(err, Error::InvalidBaselineName { .. }));

    std::fs::write(dir.path().join("bad.json"), "{ not json").unwrap();
    let err = Report::load_baseline(dir.path(), "bad").unwrap_err();
    assert!(matches!(err, Error::Parse { .. }));
    let msg = err.to_string();
    assert!(msg.contains("bad.json") && msg.contains("line 1"), "{msg}");

    let mut json: serde_json::Value = serde_json::from_str(&full().to_json()).unwrap();
    json["metadata"]["schema_version"] = (SCHEMA_VERSION + 1).into();
    std::fs::write(dir.path().join("future.json"), json.to_string()).unwrap();
    let err = Report::load_baseline(dir.path(), "future").unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedSchema { found, .. } if found == u64::from(SCHEMA_VERSION) + 1)
    );

    let err = Report::load(&dir.path().join("missing/report.json")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn identical_reports_do_not_regress() {
    let r = full();
    let diff = r.diff_against(&r, &DiffConfig::new());
    assert!(!diff.has_regressions());
    assert_eq!(diff.rows.len(), r.rows.len());
    assert_eq!(diff.cases.len(), r.cases.len());
    assert!(diff.rows.iter().all(|d| d.status == DeltaStatus::Unchanged));
    assert!(diff.rows.iter().all(|d| d.speedup_change_pct == 0.0));
    assert!(diff.missing_in_current.is_empty() && diff.missing_in_baseline.is_empty());
    assert_eq!(diff.threshold_pct, 10.0);
}

#[test]
fn a_slower_candidate_regresses() {
    let old = report(vec![time_row("add", 100.0, 50.0)]);
    let new = report(vec![time_row("add", 100.0, 60.0)]);
    let diff = new.diff_against(&old, &DiffConfig::new());
    let d = &diff.rows[0];
    // Speedup 2 -> 1.667: -16.7%; candidate median +20%.
    assert!((d.speedup_change_pct + 100.0 / 6.0).abs() < 1e-9);
    assert!((d.candidate_median_change_pct - 20.0).abs() < 1e-9);
    assert!(d.speedup_regressed && d.time_regressed);
    assert_eq!(d.status, DeltaStatus::Regressed);
    assert_eq!(diff.regressions(), vec!["add"]);
}

#[test]
fn the_threshold_decides() {
    let old = report(vec![time_row("add", 100.0, 50.0)]);
    let new = report(vec![time_row("add", 100.0, 52.5)]); // 5% slower
    assert!(!new.diff_against(&old, &DiffConfig::new()).has_regressions());
    let strict = DiffConfig::new().threshold_pct(4.0);
    assert!(new.diff_against(&old, &strict).has_regressions());
}

#[test]
fn improvements_are_flagged() {
    let old = report(vec![time_row("add", 100.0, 50.0)]);
    let new = report(vec![time_row("add", 100.0, 35.0)]);
    let diff = new.diff_against(&old, &DiffConfig::new());
    assert_eq!(diff.rows[0].status, DeltaStatus::Improved);
    assert!(!diff.has_regressions());
}

#[test]
fn a_slower_machine_only_regresses_absolute_time() {
    let old = report(vec![time_row("add", 100.0, 50.0)]);
    let new = report(vec![time_row("add", 150.0, 75.0)]);
    let diff = new.diff_against(&old, &DiffConfig::new());
    assert!(!diff.rows[0].speedup_regressed);
    assert!(diff.rows[0].time_regressed);
    let ratio_only = DiffConfig::new().check_time(false);
    let diff = new.diff_against(&old, &ratio_only);
    assert_eq!(diff.rows[0].status, DeltaStatus::Unchanged);
}

#[test]
fn higher_is_better_rows_regress_when_they_fall() {
    let tp = |c: f64| {
        Comparison::from_paired_samples(
            "tp",
            "MB/s",
            Direction::HigherIsBetter,
            vec![100.0; 3],
            vec![c; 3],
        )
        .unwrap()
    };
    let old = report(vec![tp(300.0)]);
    let new = report(vec![tp(240.0)]);
    let d = &new.diff_against(&old, &DiffConfig::new()).rows[0];
    assert!((d.candidate_median_change_pct + 20.0).abs() < 1e-9);
    assert!(d.time_regressed && d.speedup_regressed);
    // And rising throughput is an improvement.
    let d = &old.diff_against(&new, &DiffConfig::new()).rows[0];
    assert_eq!(d.status, DeltaStatus::Improved);
}

#[test]
fn missing_rows_and_cases_are_reported() {
    let mut old = report(vec![
        time_row("a", 10.0, 5.0).with_group("g"),
        time_row("b", 10.0, 5.0),
    ]);
    old.push_case(case("gone", "", 100.0));
    let mut new = report(vec![time_row("b", 10.0, 5.0), time_row("c", 10.0, 5.0)]);
    new.push_case(case("fresh", "x", 100.0));
    let diff = new.diff_against(&old, &DiffConfig::new());
    assert_eq!(diff.rows.len(), 1);
    assert_eq!(diff.rows[0].key, "b");
    assert_eq!(diff.missing_in_current, vec!["g/a", "gone"]);
    assert_eq!(diff.missing_in_baseline, vec!["c", "x/fresh"]);
    let md = diff.render_markdown();
    assert!(
        md.contains("Missing in the current run:\n\n- g/a\n- gone"),
        "{md}"
    );
    assert!(
        md.contains("New since the baseline:\n\n- c\n- x/fresh"),
        "{md}"
    );
}

#[test]
fn case_regressions() {
    let mut old = empty();
    old.push_case(case("sum", "call", 1000.0));
    let mut new = empty();
    new.push_case(case("sum", "call", 1150.0));
    let diff = new.diff_against(&old, &DiffConfig::new());
    assert_eq!(diff.cases[0].status, DeltaStatus::Regressed);
    assert_eq!(diff.regressions(), vec!["call/sum"]);
    let md = wasm_sandbox_bench::render_diff_markdown(&diff);
    assert!(
        md.contains("| call/sum |") && md.contains("REGRESSED"),
        "{md}"
    );
    let text = wasm_sandbox_bench::render_diff_terminal(&diff);
    assert!(
        text.lines()
            .any(|l| l.starts_with("call/sum") && l.ends_with("REGRESSED"))
    );
}

#[test]
fn diff_serializes() {
    let diff = full().diff_against(&empty(), &DiffConfig::new());
    let json = serde_json::to_string(&diff).unwrap();
    let back: wasm_sandbox_bench::BaselineDiff = serde_json::from_str(&json).unwrap();
    assert_eq!(back, diff);
    assert_eq!(diff.missing_in_baseline.len(), 6);
}
