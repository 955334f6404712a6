//! Integration tests of `wasm-sandbox-cache` with real wasmtime artifacts.
//!
//! Some tests re-run this binary as child processes (see [`child_entry`]) to test several
//! processes sharing a directory and a process dying in the middle of a write.

mod concurrency;
mod directories;
mod faults;
mod hostile;
mod model;
mod usage;

use std::path::{Path, PathBuf};

use wasm_sandbox_cache::{CacheConfig, CacheKey, CompilationCache, CompileSettings};
use wasmtime::{Engine, Instance, Module, Store};

/// A tiny module whose `answer` export returns `n`; each `n` is a distinct module.
pub(crate) fn wat(n: i32) -> Vec<u8> {
    format!(
        r#"(module
             (memory 1)
             (func (export "answer") (result i32) i32.const {n})
             (func (export "add") (param i32 i32) (result i32)
               local.get 0 local.get 1 i32.add))"#
    )
    .into_bytes()
}

/// Sets the permission bits of `path`.
pub(crate) fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A new directory `parent/name` with permission bits `mode`.
pub(crate) fn dir_with_mode(parent: &Path, name: &str, mode: u32) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, mode);
    dir
}

/// Asserts that `err` refuses `dir` as insecure with `mode`; its message.
pub(crate) fn insecure(err: wasm_sandbox_cache::CacheError, dir: &Path, mode: u32) -> String {
    match &err {
        wasm_sandbox_cache::CacheError::InsecureDirectory {
            path, mode: got, ..
        } => {
            assert_eq!(path, dir);
            assert_eq!(*got, mode);
        }
        other => panic!("expected InsecureDirectory, got {other:?}"),
    }
    err.to_string()
}

pub(crate) fn engine() -> Engine {
    Engine::default()
}

pub(crate) fn settings() -> CompileSettings {
    CompileSettings::new("test")
}

pub(crate) fn open(dir: &Path) -> CompilationCache {
    CompilationCache::open(CacheConfig::new(dir)).expect("open cache")
}

/// Instantiates `module` and calls its `answer` export.
pub(crate) fn answer(engine: &Engine, module: &Module) -> i32 {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).expect("instantiate");
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "answer")
        .expect("export");
    f.call(&mut store, ()).expect("call")
}

pub(crate) fn artifact_path(dir: &Path, key: &CacheKey) -> PathBuf {
    dir.join(format!("{key}.cwasm"))
}

pub(crate) fn meta_path(dir: &Path, key: &CacheKey) -> PathBuf {
    dir.join(format!("{key}.meta"))
}

/// Replaces `path` by writing `bytes` next to it and renaming over it, as the cache's
/// contract requires of anyone changing files.
pub(crate) fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("replacement");
    std::fs::write(&tmp, bytes).expect("write replacement");
    std::fs::rename(&tmp, path).expect("rename replacement");
}

/// Names of the files in `dir` that start with `prefix`.
pub(crate) fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Names of the files in `dir` that end with `suffix`.
pub(crate) fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect()
}

/// Selects a child mode when this binary is run by [`concurrency`] tests.
pub(crate) const CHILD_MODE: &str = "WASM_SANDBOX_CACHE_TEST_CHILD";
/// The cache directory a child uses.
pub(crate) const CHILD_DIR: &str = "WASM_SANDBOX_CACHE_TEST_DIR";

/// Runs this test binary as a child in `mode` on `dir`.
pub(crate) fn spawn_child(mode: &str, dir: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// The child half of the multi-process tests; does nothing in a normal run.
#[test]
fn child_entry() {
    let (Some(mode), Some(dir)) = (std::env::var_os(CHILD_MODE), std::env::var_os(CHILD_DIR))
    else {
        return;
    };
    let dir = PathBuf::from(dir);
    let engine = engine();
    match mode.to_str() {
        Some("write") => concurrency::child_write(&engine, &dir),
        Some("abort") => concurrency::child_abort(&engine, &dir),
        other => panic!("unknown child mode {other:?}"),
    }
}
