//! Integration tests for `wasm-sandbox-mempool`: one binary, one module per concern.
//!
//! - `model`: proptest-generated operation sequences checked against a model after every
//!   step, using the fuzz target's harness (`fuzz/src/mempool.rs`, compiled in here so
//!   `cargo test -p wasm-sandbox-mempool` also runs the fuzz smoke, corpus and regression
//!   tests).
//! - `concurrent`: many threads allocating, writing, verifying and freeing at once.

mod concurrent;
mod model;
