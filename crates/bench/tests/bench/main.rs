//! Integration tests of wasm-sandbox-bench: statistics properties, the comparison math on
//! synthetic samples, baselines and regression flags, JSON round trips and every renderer.

mod baseline;
mod compare;
mod fixtures;
mod render;
mod run;
mod stats;
