//! The peer library of the `extism/*` rows of `cargo xtask bench`: Extism 1.41's runtime,
//! prebuilt as `libextism_sys.so` inside the PyPI wheel of `extism-sys` 1.41.0.
//!
//! [`lib_env`] downloads the wheel with `pip download --no-deps extism-sys==1.41.0` (pip
//! checks the file against the hash PyPI publishes, and picks the wheel of this platform),
//! unpacks it into `~/.cache/wasm-sandbox-peers/extism-sys-1.41.0/` (once: an unpacked
//! library there is reused) and hands the library's path to the suite in `EXTISM_LIB`. The
//! suite loads it at run time, so nothing of Extism is linked or built here. When the
//! library cannot be had (no pip, no network), it says so and the suite reports the rows as
//! skipped, naming the command.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasm_sandbox_bench::peers::EXTISM_VERSION as VERSION;

/// The environment variable the suite reads the library's path from.
const LIB_ENV: &str = "EXTISM_LIB";

/// The ids of the row sets that use it: a copy of `wasm_sandbox_benches::extism::sets`.
const SETS: [&str; 1] = ["extism/side-by-side"];

/// The library inside the unpacked wheel.
const LIB_IN_WHEEL: &str = "extism_sys/libextism_sys.so";

/// `(EXTISM_LIB, path)` for the suite when `only` selects the `extism/*` rows: the library
/// `EXTISM_LIB` already names, else the cached one, else one just fetched. `None`, with a
/// note on stderr, when the rows are not selected or the library cannot be had (the suite
/// then reports them as skipped).
pub(crate) fn lib_env(only: &[String]) -> Option<(&'static str, PathBuf)> {
    let selected = only.is_empty()
        || SETS
            .iter()
            .any(|id| only.iter().any(|o| id.contains(o.as_str())));
    if !selected {
        return None;
    }
    if let Some(p) = std::env::var_os(LIB_ENV).filter(|p| !p.is_empty()) {
        eprintln!(
            "xtask bench: Extism from {LIB_ENV}: {}",
            Path::new(&p).display()
        );
        return Some((LIB_ENV, PathBuf::from(p)));
    }
    match fetch() {
        Ok(lib) => Some((LIB_ENV, lib)),
        Err(e) => {
            eprintln!(
                "xtask bench: Extism {VERSION} is not available ({e}); the extism/* rows will \
                 be reported as skipped. It is fetched with `pip download --no-deps \
                 extism-sys=={VERSION}` into ~/.cache/wasm-sandbox-peers/extism-sys-{VERSION}/ \
                 (needs pip and network), or set {LIB_ENV} to a libextism_sys.so"
            );
            None
        }
    }
}

/// The cached library, downloading and unpacking the wheel first when it is missing.
fn fetch() -> Result<PathBuf, String> {
    let dir = wasm_sandbox_bench::peers::extism_dir().ok_or("HOME is not set")?;
    let lib = dir.join(LIB_IN_WHEEL);
    if lib.is_file() {
        return Ok(lib);
    }
    if !cfg!(target_os = "linux") {
        return Err("the suite loads libextism_sys.so, a Linux library".to_owned());
    }
    eprintln!(
        "xtask bench: fetching Extism {VERSION} (`pip download --no-deps extism-sys=={VERSION}`, \
         about 10 MB) into {}",
        dir.display()
    );
    // Unpacked beside the final directory and renamed into place, so an interrupted fetch
    // never leaves a half-written library where the next run would trust it.
    let parent = dir.parent().ok_or("the cache directory has no parent")?;
    let staging = parent.join(format!(
        ".extism-sys-{VERSION}.partial-{}",
        std::process::id()
    ));
    let result = download_and_unpack(&staging).and_then(|()| {
        if !staging.join(LIB_IN_WHEEL).is_file() {
            return Err(format!("the wheel has no {LIB_IN_WHEEL}"));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
        }
        std::fs::rename(&staging, &dir)
            .map_err(|e| format!("cannot move the wheel to {}: {e}", dir.display()))
    });
    if staging.exists() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result?;
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!("no {} after unpacking", lib.display()))
    }
}

/// `pip download`s the wheel into `staging/wheel/` and unpacks it into `staging/`.
fn download_and_unpack(staging: &Path) -> Result<(), String> {
    let wheels = staging.join("wheel");
    std::fs::create_dir_all(&wheels)
        .map_err(|e| format!("cannot create {}: {e}", wheels.display()))?;
    let spec = format!("extism-sys=={VERSION}");
    let pips: [&[&str]; 3] = [&["pip"], &["pip3"], &["python3", "-m", "pip"]];
    let mut tried = Vec::new();
    let downloaded = pips.iter().any(|pip| {
        let mut cmd = Command::new(pip[0]);
        cmd.args(&pip[1..])
            .args(["download", "--no-deps", "--disable-pip-version-check", "-q"])
            .arg(&spec)
            .arg("-d")
            .arg(&wheels);
        match cmd.status() {
            Ok(s) if s.success() => true,
            Ok(s) => {
                tried.push(format!("`{} download` failed with {s}", pip.join(" ")));
                false
            }
            Err(e) => {
                tried.push(format!("cannot run `{}`: {e}", pip.join(" ")));
                false
            }
        }
    });
    if !downloaded {
        return Err(tried.join("; "));
    }
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| format!("cannot read {}: {e}", wheels.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip downloaded no wheel")?;
    // A wheel is a zip file: Python's zipfile (pip implies Python) or unzip unpacks it.
    let unpacked = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(staging)
        .status()
        .is_ok_and(|s| s.success())
        || Command::new("unzip")
            .args(["-q", "-o"])
            .arg(&wheel)
            .arg("-d")
            .arg(staging)
            .status()
            .is_ok_and(|s| s.success());
    if unpacked {
        // The unpacked library is what later runs look for; the wheel itself is not needed.
        let _ = std::fs::remove_dir_all(&wheels);
        Ok(())
    } else {
        Err(format!(
            "cannot unpack {} (neither `python3 -m zipfile` nor `unzip` worked)",
            wheel.display()
        ))
    }
}
