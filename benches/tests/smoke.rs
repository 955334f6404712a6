//! The suite's rows must not rot: run every row set once, in smoke mode (one round, no
//! calibration, small inputs), and check that each produces sensible rows. A row set that
//! cannot run here (the `run` rows without the peer `wasmtime` CLI) is printed as SKIPPED on
//! stderr, uncaptured, and does not fail the test.

use std::io::Write;
use std::time::Instant;

use wasm_sandbox_benches::suite::{self, Ctx, Mode};

#[test]
fn every_row_set_runs_in_smoke_mode() {
    let ctx = Ctx::new(Mode::Smoke);
    let mut failures = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for set in suite::sets() {
        let start = Instant::now();
        match (set.run)(&ctx) {
            Ok(rows) => {
                assert!(!rows.is_empty(), "{}: no rows", set.id);
                for row in rows {
                    assert!(!row.group.is_empty(), "{}: a row without a section", set.id);
                    assert!(
                        !row.measures.is_empty(),
                        "{}: row `{}` says nothing",
                        set.id,
                        row.name
                    );
                    assert!(
                        row.ratio().is_finite() && row.ratio() > 0.0,
                        "{}: ratio {}",
                        set.id,
                        row.ratio()
                    );
                    assert!(keys.insert(row.key()), "duplicate row key {}", row.key());
                }
            }
            Err(e) => match suite::skipped(&e) {
                // Not a failure (a peer that is not installed here), but never silent: written
                // to the process's stderr directly, which the test harness does not capture.
                Some(reason) => {
                    let _ = writeln!(std::io::stderr(), "SKIPPED {}: {reason}", set.id);
                }
                None => failures.push(format!("{}: {e}", set.id)),
            },
        }
        eprintln!("{:<28} {:>8.2?}", set.id, start.elapsed());
    }
    assert!(
        failures.is_empty(),
        "row sets failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn callgrind_targets_run() {
    for (_, baseline, candidate) in wasm_sandbox_benches::callgrind::PAIRS {
        wasm_sandbox_benches::callgrind::run(baseline, 3, 1).unwrap();
        wasm_sandbox_benches::callgrind::run(candidate, 3, 1).unwrap();
    }
}

#[test]
fn row_ids_are_unique_and_filterable() {
    let sets = suite::sets();
    let ids: std::collections::HashSet<_> = sets.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), sets.len());
    assert!(sets.iter().all(|s| s.id.contains('/')));
}
