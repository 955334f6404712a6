//! Where the peer runtimes that benchmark suites compare against live: one
//! directory per peer and version under `~/.cache/wasm-sandbox-peers/`,
//! filled by `cargo xtask bench` and read by the suite.

use std::path::PathBuf;

/// The `wasmtime` CLI version of the `run/*` rows (the wasmtime the sandbox
/// is built on); `cargo xtask bench --peers` installs it.
pub const WASMTIME_CLI_VERSION: &str = "48.0.8";

/// The Extism version of the `extism/*` rows (PyPI `extism-sys`).
pub const EXTISM_VERSION: &str = "1.41.0";

/// `~/.cache/wasm-sandbox-peers/<name>`, or `None` without `HOME`.
pub fn dir(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(
        PathBuf::from(home)
            .join(".cache")
            .join("wasm-sandbox-peers")
            .join(name),
    )
}

/// Where `wasmtime-cli` is installed (`cargo install --root`; the binary is
/// `bin/wasmtime` under it).
pub fn wasmtime_root() -> Option<PathBuf> {
    dir(&format!("wasmtime-{WASMTIME_CLI_VERSION}"))
}

/// Where the `extism-sys` wheel is unpacked.
pub fn extism_dir() -> Option<PathBuf> {
    dir(&format!("extism-sys-{EXTISM_VERSION}"))
}
