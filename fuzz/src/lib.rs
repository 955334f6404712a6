//! Fuzz target logic for wasm-sandbox, as plain functions.
//!
//! Each module holds one target's `pub fn run(data: &[u8])`, which panics on any bug it
//! detects, and a `#[test] fn smoke()` running it on a few hundred pseudo-random inputs plus
//! the committed corpus and regression inputs. `fuzz_targets/*.rs` are three-line glue.
//! Each module is behind the feature of its target's name (see `Cargo.toml`).

#[cfg(feature = "abi_decode")]
pub mod abi_decode;
#[cfg(feature = "cache_artifact")]
pub mod cache_artifact;
#[cfg(feature = "differential")]
pub mod differential;
#[cfg(feature = "mempool")]
pub mod mempool;
#[cfg(test)]
mod replay;
