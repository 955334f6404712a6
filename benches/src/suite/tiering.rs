//! Tiered compilation rows (`wasm-sandbox-tiering`): time to first result and steady state
//! per tier on SQLite.
//!
//! **No rows yet.** The crate is being written (its `lib.rs` is a placeholder), so there is
//! no API to measure. The rows come with the crate: when `TieredModule` lands, add
//! `wasm-sandbox-tiering` to this package's dependencies and return, per tier, a row of
//! "compile + instantiate + first `workload(n)`" against the highly optimized tier, and a
//! steady-state row of `workload(n)` on a tiered-up module against a module compiled at the
//! top tier directly. Never a placeholder row with made-up numbers.

use super::RowSet;

/// The row sets of this section: none until the crate exists.
pub fn sets() -> Vec<RowSet> {
    Vec::new()
}
