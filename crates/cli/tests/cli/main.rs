//! End-to-end tests of the `wasm-sandbox` binary: output and exit statuses.

use std::process::{Command, Output};

use wasm_sandbox_guests::DIR;

mod hostile;
mod parity;
mod programs;
mod remote;

/// The binary with `args`, its default cache directory kept out of the
/// user's home.
fn command(args: &[&str]) -> Command {
    static CACHE_HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let home = CACHE_HOME.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasm-sandbox"));
    c.args(args).env("XDG_CACHE_HOME", home.path());
    c
}

/// `child`'s output once it exits, waiting at most `bound`: a correctness
/// bound, not a timing (the CLI's own `--timeout` ends a run far sooner). A
/// run still going then is killed and the test fails with `what`.
fn output_within(child: std::process::Child, bound: std::time::Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(bound) {
        Ok(out) => out.expect("the binary's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what}: still running after {bound:?}");
        }
    }
}

fn cli(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

fn guest(rel: &str) -> String {
    format!("{DIR}/{rel}")
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "one line on stderr, got: {text}");
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "{text}"
    );
    text
}

#[test]
fn call_parses_scalars_by_signature() {
    let out = cli(&["call", &guest("wat/scalar.wat"), "add", "-5", "1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-4\n");
    let out = cli(&[
        "call",
        &guest("wat/scalar.wat"),
        "hypot",
        "3",
        "4",
        "--timeout",
        "2s",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "5\n");
}

#[test]
fn call_json_goes_through_the_serde_abi() {
    let out = cli(&[
        "call",
        &guest("c/abi/abi.wasm"),
        "process_batch",
        "--json",
        "[1, 2, -3]",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[2,4,-6]\n");
}

#[test]
fn run_passes_args_env_and_the_guest_exit_status() {
    let out = cli(&[
        "run",
        &guest("c/hello/hello.wasm"),
        "--env",
        "GREETING=yo",
        "--",
        "x",
        "--exit",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(9));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("arg 1: x") && stdout.contains("GREETING=yo"),
        "{stdout}"
    );
}

#[test]
fn run_sees_only_the_directories_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "from the host\n").unwrap();
    let hello = guest("c/hello/hello.wasm");
    let out = cli(&["run", &hello, "--", "--ls", "/data/input.txt"]);
    assert_eq!(out.status.code(), Some(3));
    let mapping = format!("{}::/data", dir.path().display());
    let out = cli(&[
        "run",
        &hello,
        "--dir",
        &mapping,
        "--",
        "--ls",
        "/data/input.txt",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("from the host"));
}

#[test]
fn each_failure_class_has_its_own_status_and_one_line() {
    let cases: [(&[&str], i32, &str); 7] = [
        (
            &["call", &guest("wat/loop.wat"), "run", "--timeout", "200ms"],
            5,
            "timed out after 200ms (every call is limited, 10s by default; raise it with --timeout",
        ),
        (
            &[
                "call",
                &guest("wat/membomb.wat"),
                "bomb",
                "--max-memory",
                "8MiB",
            ],
            6,
            "(raise it with --max-memory)",
        ),
        (
            &["call", &guest("wat/scalar.wat"), "div", "1", "0"],
            4,
            "divide by zero",
        ),
        (
            &["call", &guest("wat/scalar.wat"), "nope"],
            2,
            "missing export",
        ),
        (&["call", &guest("Cargo.toml"), "add"], 3, "invalid module"),
        (&["call", "/no/such.wasm", "add"], 7, "/no/such.wasm"),
        (
            &[
                "call",
                &guest("wat/scalar.wat"),
                "busy",
                "100000000",
                "--fuel",
                "1000",
            ],
            6,
            "fuel",
        ),
    ];
    for (args, code, text) in cases {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let line = stderr_line(&out);
        assert!(line.contains(text), "{args:?}: {line}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = cli(&[
        "call",
        &guest("wat/scalar.wat"),
        "add",
        "1",
        "2",
        "--timeout",
        "forever",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&["call", &guest("wat/scalar.wat"), "add", "x", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn metrics_go_to_stderr_as_json() {
    let out = cli(&[
        "call",
        &guest("wat/scalar.wat"),
        "add",
        "1",
        "2",
        "--metrics",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"calls\":1"), "{err}");
}

#[test]
fn compile_fills_the_cache_and_cache_commands_maintain_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("c");
    let d = d.to_str().unwrap();
    let abi = guest("c/abi/abi.wasm");
    let out = cli(&["compile", &abi, "--cache-dir", d]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("compiled"));
    let out = cli(&["compile", &abi, "--cache-dir", d]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already cached"));
    let out = cli(&[
        "call",
        &abi,
        "process_batch",
        "--json",
        "[4]",
        "--cache-dir",
        d,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[8]\n");
    let out = cli(&["cache", "stats", "--cache-dir", d]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"entries_on_disk\": 1"));
    let out = cli(&["cache", "verify", "--cache-dir", d]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"valid\": 1"));
    let out = cli(&["cache", "clear", "--cache-dir", d]);
    assert_eq!(out.status.code(), Some(0));
    let out = cli(&["cache", "stats", "--cache-dir", d]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"entries_on_disk\": 0"));
    let out = cli(&["call", &abi, "process_batch", "--json", "[4]", "--no-cache"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[8]\n");
}

#[test]
fn every_tier_gives_the_same_answer_and_honours_the_timeout() {
    for tier in [
        "interpreter",
        "baseline",
        "optimized",
        "highly-optimized",
        "auto",
    ] {
        let out = cli(&[
            "call",
            &guest("wat/scalar.wat"),
            "fib",
            "20",
            "--tier",
            tier,
            "--no-cache",
        ]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "6765\n", "{tier}");
        let out = cli(&[
            "call",
            &guest("wat/loop.wat"),
            "run",
            "--tier",
            tier,
            "--timeout",
            "100ms",
            "--no-cache",
        ]);
        assert_eq!(out.status.code(), Some(5), "{tier}");
    }
    let out = cli(&[
        "call",
        &guest("wat/scalar.wat"),
        "fib",
        "1",
        "--tier",
        "turbo",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
