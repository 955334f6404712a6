//! `run` flags that `wasmtime run` users reach for: `--argv0`,
//! `--unknown-imports`, read-only preopens and `--env NAME`. The guests are
//! the WAT files in `wat/` next to this file.

use super::{cli, command, guest, stderr_line};

const ARGV0: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wat/argv0.wat");
const CREATE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wat/create_file.wat");
const BENCH_IMPORTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/cli/wat/bench_imports.wat"
);

#[test]
fn argv0_is_the_module_unless_given() {
    let out = cli(&["run", ARGV0, "--", "a", "b"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{ARGV0}\n"));
    let out = cli(&["run", "--argv0", "lua", ARGV0, "--", "a"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lua\n");
}

#[test]
fn unknown_imports_are_refused_trapped_or_zero_as_asked() {
    // deny (the default): refused at load time, naming the import.
    let out = cli(&["run", BENCH_IMPORTS]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stderr_line(&out).contains("bench"), "{out:?}");
    // trap: the module runs until it calls one; the trap names it.
    let out = cli(&["run", "--unknown-imports", "trap", BENCH_IMPORTS]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let line = stderr_line(&out);
    assert!(line.contains("`bench.start`"), "{line}");
    // default: each returns zeros, so the exit status is 0 + 9.
    let out = cli(&["run", "--unknown-imports", "default", BENCH_IMPORTS]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    // WASI itself is never replaced: a known import stays the real one.
    let out = cli(&[
        "run",
        "--unknown-imports",
        "default",
        &guest("c/hello/hello.wasm"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from wasm\n");
}

#[test]
fn a_read_only_preopen_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |suffix: &str| format!("{}::/work{suffix}", dir.path().display());
    let out = cli(&["run", "--dir", &spec(":ro"), CREATE_FILE]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !dir.path().join("out.txt").exists(),
        "the guest created a file in a read-only directory"
    );
    let out = cli(&["run", "--dir", &spec(""), CREATE_FILE]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(dir.path().join("out.txt").exists());
    // A read-only directory can still be read.
    std::fs::write(dir.path().join("input.txt"), "line one\n").unwrap();
    let out = cli(&[
        "run",
        "--dir",
        &format!("{}::/data:ro", dir.path().display()),
        &guest("c/hello/hello.wasm"),
        "--",
        "--ls",
        "/data/input.txt",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("line one\n"));
    // A malformed spec is a usage error.
    let out = cli(&["run", "--dir", "::/x", CREATE_FILE]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn env_name_passes_on_the_hosts_value() {
    let hello = guest("c/hello/hello.wasm");
    let out = command(&["run", "--env", "GREETING", &hello])
        .env("GREETING", "from the host")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("GREETING=from the host\n"),
        "{out:?}"
    );
    // Unset on the host: the guest gets nothing, and it is no error.
    let out = command(&["run", "--env", "GREETING", &hello])
        .env_remove("GREETING")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("GREETING"));
}

#[test]
fn the_default_timeout_is_said_where_it_bites() {
    let out = cli(&["run", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("[default: 10s]") && help.contains("`0` for none"),
        "{help}"
    );
    let out = cli(&["call", &guest("wat/loop.wat"), "run", "--timeout", "50ms"]);
    assert_eq!(out.status.code(), Some(5));
    let line = stderr_line(&out);
    assert!(
        line.contains("10s by default") && line.contains("--timeout 0"),
        "{line}"
    );
}

/// `--tier auto` starts on Winch and compiles the optimized tier beside the
/// guest; the run waits for that compile before it exits, so both artifacts
/// are in the cache after the first run (that a module then starts on the
/// best tier its cache holds is `crates/tiering/tests/tiering/restart.rs`).
#[test]
fn a_tier_auto_run_leaves_the_optimized_artifact_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    let hello = guest("c/hello/hello.wasm");
    let entries = || {
        let out = cli(&["cache", "stats", "--cache-dir", cache]);
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        stats["stats"]["entries_on_disk"].as_u64().unwrap()
    };
    for run in 0..2 {
        let out = cli(&["run", "--tier", "auto", "--cache-dir", cache, &hello]);
        assert_eq!(out.status.code(), Some(0), "run {run}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from wasm\n");
        assert_eq!(
            entries(),
            2,
            "run {run}: the Winch and the Cranelift artifact"
        );
    }
}

/// `wasmtime run`'s argv convention: what follows the module goes to the
/// guest, flags included, without a `--`.
#[test]
fn arguments_after_the_module_go_to_the_guest() {
    let hello = guest("c/hello/hello.wasm");
    let out = cli(&["run", &hello, "-c", "print(1)", "--exit", "4"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from wasm\narg 1: -c\narg 2: print(1)\narg 3: --exit\narg 4: 4\n"
    );
    // `--` passes even a flag of `run`'s own name.
    let out = cli(&["run", &hello, "--", "--timeout"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from wasm\narg 1: --timeout\n"
    );
}
