//! The fuzz targets' logic (`fuzz/src/*.rs`), compiled in verbatim so that the
//! workspace's `cargo test` runs their smoke tests and committed corpora.

#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/abi_decode.rs"]
mod abi_decode;

#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/cache_artifact.rs"]
mod cache_artifact;

#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/differential.rs"]
mod differential;

#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;
