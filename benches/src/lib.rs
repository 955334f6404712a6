//! Cross-crate benchmarks of wasm-sandbox.
//!
//! Two consumers share this library:
//!
//! * the criterion targets in `benches/` (`call`, `instantiation`, `compile`), named after
//!   wasmtime's own benches where they measure the same thing;
//! * the `suite` binary that `cargo xtask bench` runs: every report row is a function in
//!   [`suite`], measured with the `wasm-sandbox-bench` harness (baseline and candidate
//!   interleaved in the same run, median of per-round ratios).
//!
//! [`plain`] holds the hand-written plain-wasmtime baselines, [`callgrind`] the loops that
//! `cargo xtask bench` runs under `valgrind --tool=callgrind` for instruction counts.
//!
//! A smoke test (`tests/smoke.rs`) runs every row with one round so none of them rot.

pub mod callgrind;
pub mod extism;
pub mod plain;
pub mod suite;
