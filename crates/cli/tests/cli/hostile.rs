//! A hostile guest against the CLI's output: forged results, closed and
//! stalled streams, control characters, invalid and huge JSON, and the limit
//! flags. The guests are `wat/hostile.wat` and `wat/flood.wat` next to this
//! file, and modules written to a temporary directory by the tests.

use std::io::Read;
use std::process::{Output, Stdio};
use std::time::Duration;

use super::{cli, command, guest, stderr_line};

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wat/hostile.wat");
const FLOOD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wat/flood.wat");
const CAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wat/cat.wat");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one line on stderr, checked to hold nothing a terminal would obey:
/// no control character (C0, DEL, C1) but its final newline, no
/// bidirectional override.
fn safe_line(out: &Output) -> String {
    let line = stderr_line(out);
    let body = line.strip_suffix('\n').unwrap_or(&line);
    assert!(
        !body
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
        "raw control characters on stderr: {body:?}"
    );
    line
}

/// Asserts that the command `what` exited with `status` and returns its
/// (control-free) error line.
fn failure(out: &Output, status: i32, what: impl std::fmt::Debug) -> String {
    assert_eq!(
        out.status.code(),
        Some(status),
        "{what:?}: {}",
        text(&out.stderr)
    );
    safe_line(out)
}

#[test]
fn call_prints_only_the_result_on_stdout() {
    let out = cli(&["call", HOSTILE, "answer"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "42\n");
    assert!(
        text(&out.stderr).contains("FORGED 99\n"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&["call", HOSTILE, "forge_json", "--json", "{\"x\": 1}"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"ok\":true}\n");
    assert!(
        text(&out.stderr).contains("FORGED 99\n"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs the binary with a stdout whose reading end is already closed.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    command(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

#[test]
fn a_closed_stdout_is_a_host_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    let scalar = guest("wat/scalar.wat");
    for args in [
        &["call", &scalar, "add", "1", "2"][..],
        &["call", HOSTILE, "zeros", "--json", "100000"],
        &["compile", &scalar, "--cache-dir", cache],
        &["cache", "stats", "--cache-dir", cache],
    ] {
        let out = with_closed_stdout(args);
        let line = failure(&out, 7, args);
        assert!(
            line.starts_with("wasm-sandbox: error: ")
                && line.contains("standard output")
                && line.contains("Broken pipe"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn guest_text_reaches_the_terminal_escaped() {
    let out = cli(&["call", HOSTILE, "fail", "--json", "0"]);
    assert_eq!(out.status.code(), Some(4));
    let line = safe_line(&out);
    assert!(line.contains(r"\x1b[2J\x0dgotcha\x07\u{9b}"), "{line}");

    let out = cli(&["call", HOSTILE, "trap"]);
    assert_eq!(out.status.code(), Some(4));
    let line = safe_line(&out);
    assert!(line.contains(r"\x1b[31mevil\x0d"), "{line}");

    let out = cli(&["call", &guest("wat/scalar.wat"), "\x1b[31mnope\r"]);
    assert_eq!(out.status.code(), Some(2));
    let line = safe_line(&out);
    assert!(
        line.contains(r"missing export `\x1b[31mnope\x0d`"),
        "{line}"
    );

    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("import.wat");
    std::fs::write(
        &evil,
        r#"(module (import "env\1b]0;owned\07" "x\0d\1b[2K\c2\9b\e2\80\ae" (func)))"#,
    )
    .unwrap();
    let out = cli(&["call", evil.to_str().unwrap(), "f"]);
    assert_eq!(out.status.code(), Some(3));
    let line = safe_line(&out);
    assert!(
        line.contains(r"env\x1b]0;owned\x07::x\x0d\x1b[2K\u{9b}\u{202e}"),
        "{line}"
    );

    // A 100,000-byte import name: the line is cut, and says so.
    let long = dir.path().join("long.wat");
    let name = "A".repeat(100_000);
    std::fs::write(&long, format!(r#"(module (import "env" "{name}" (func)))"#)).unwrap();
    let out = cli(&["call", long.to_str().unwrap(), "f"]);
    assert_eq!(out.status.code(), Some(3));
    let line = safe_line(&out);
    assert!(line.len() < 4096 + 100, "{} bytes", line.len());
    assert!(line.trim_end().ends_with("more bytes]"), "{line}");
}

#[test]
fn json_results_are_printed_compact_and_ascii() {
    let out = cli(&["call", HOSTILE, "unicode", "--json", "null"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[\"\\u00e9\\u009b\\u007f\\u202e\\ud83d\\ude00\\u001b\"]\n"
    );
}

#[test]
fn invalid_json_from_the_guest_is_a_codec_error() {
    for (export, says) in [
        ("bad_json", r"\x1b[31m"),
        ("lone_surrogate", r#"(near `"\ud800"`)"#),
        ("deep", "recursion limit"),
    ] {
        let out = cli(&["call", HOSTILE, export, "--json", "0"]);
        let line = failure(&out, 2, export);
        assert!(out.stdout.is_empty(), "{export}: {}", text(&out.stdout));
        assert!(
            line.contains("codec error (json): the guest's result") && line.contains(says),
            "{export}: {line}"
        );
    }
    let out = cli(&["call", HOSTILE, "zeros", "--json", "[1,"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(safe_line(&out).contains("--json is not valid JSON"));
}

/// Calls `zeros` for `n` zeros and returns the process's peak RSS (VmHWM)
/// and its stdout. The peak is read while the process is blocked writing
/// its result: the result (2n + 2 bytes) is far larger than the pipe, so
/// once its first byte is read the process has copied and checked the
/// result, and cannot exit before the rest is read.
fn peak_rss_of_zeros(n: usize) -> (u64, Vec<u8>) {
    let arg = n.to_string();
    let mut child = command(&[
        "call",
        HOSTILE,
        "zeros",
        "--json",
        &arg,
        "--tier",
        "baseline",
        "--no-cache",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the binary runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut result = vec![0u8; 1];
    stdout.read_exact(&mut result).expect("the result starts");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().parse().unwrap())
        .expect("VmHWM in /proc/<pid>/status");
    stdout.read_to_end(&mut result).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (hwm_kib * 1024, result)
}

#[test]
fn a_big_json_result_is_streamed_in_memory_proportional_to_its_bytes() {
    let expected = |n: usize| {
        let mut v = b"[".to_vec();
        v.extend(b"0,".repeat(n - 1));
        v.extend(b"0]\n");
        v
    };
    let (small_n, big_n) = (1 << 20, 5 << 20);
    let (small_rss, small) = peak_rss_of_zeros(small_n);
    assert!(small == expected(small_n), "2 MiB of zeros, not byte-exact");
    let (big_rss, big) = peak_rss_of_zeros(big_n);
    assert!(big == expected(big_n), "10 MiB of zeros, not byte-exact");
    // The 8 MiB more of result cost the guest's memory and the host's copy
    // of it: about 16 MiB. A `serde_json::Value` per element would cost at
    // least 4 Mi × 32 bytes = 128 MiB more.
    let extra_result = (big.len() - small.len()) as u64;
    let extra_rss = big_rss.saturating_sub(small_rss);
    eprintln!(
        "peak RSS: {} KiB for {} bytes, {} KiB for {} bytes",
        small_rss / 1024,
        small.len(),
        big_rss / 1024,
        big.len()
    );
    assert!(
        extra_rss < 4 * extra_result,
        "{extra_rss} bytes more of peak RSS for {extra_result} bytes more of result"
    );
}

#[test]
fn each_limit_flag_reaches_its_limit_and_names_itself() {
    let scalar = guest("wat/scalar.wat");
    let abi = guest("c/abi/abi.wasm");
    let hello = guest("c/hello/hello.wasm");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    // A module already in the cache is held to the limits too.
    let out = cli(&["compile", &abi, "--cache-dir", cache]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cases: [(&[&str], &str); 10] = [
        (
            &[
                "call",
                &abi,
                "process_batch",
                "--json",
                "[1]",
                "--max-module-size",
                "1KiB",
            ],
            "--max-module-size",
        ),
        (
            &[
                "call",
                &abi,
                "process_batch",
                "--json",
                "[1]",
                "--max-module-size",
                "1KiB",
                "--cache-dir",
                cache,
            ],
            "--max-module-size",
        ),
        (
            &["call", &scalar, "add", "1", "2", "--max-functions", "2"],
            "--max-functions",
        ),
        (
            &["call", &scalar, "add", "1", "2", "--max-function-size", "8"],
            "--max-function-size",
        ),
        (
            &["call", &scalar, "add", "1", "2", "--max-code-size", "16"],
            "--max-code-size",
        ),
        (
            &[
                "call",
                HOSTILE,
                "zeros",
                "--json",
                "1000",
                "--max-result-size",
                "2000",
            ],
            "--max-result-size",
        ),
        (&["run", &hello, "--max-functions", "1"], "--max-functions"),
        (&["run", &hello, "--max-imports", "3"], "--max-imports"),
        (
            &[
                "compile",
                &scalar,
                "--max-module-size",
                "64",
                "--cache-dir",
                cache,
            ],
            "--max-module-size",
        ),
        (
            &["run", &hello, "--max-code-size", "1KiB", "--no-cache"],
            "--max-code-size",
        ),
    ];
    for (args, flag) in cases {
        let out = cli(args);
        let line = failure(&out, 6, args);
        assert!(
            line.contains("limit exceeded") && line.contains(&format!("(raise it with {flag})")),
            "{args:?}: {line}"
        );
    }
    // Limits that the module and result fit are accepted; the result limit
    // is inclusive (2001 bytes for 1000 zeros).
    let out = cli(&[
        "call",
        &scalar,
        "add",
        "1",
        "2",
        "--max-module-size",
        "1MiB",
        "--max-functions",
        "1000",
        "--max-function-size",
        "64KiB",
        "--max-code-size",
        "1MiB",
    ]);
    assert_eq!(text(&out.stdout), "3\n", "{}", text(&out.stderr));
    let out = cli(&[
        "call",
        HOSTILE,
        "zeros",
        "--json",
        "1000",
        "--max-result-size",
        "2001",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 2002);
    // Each flag's help states its default.
    for cmd in ["run", "call", "compile"] {
        let help = text(&cli(&[cmd, "--help"]).stdout);
        for flag in [
            "--max-memory",
            "--max-result-size",
            "--max-module-size",
            "--max-functions",
            "--max-function-size",
            "--max-code-size",
            "--max-imports",
        ] {
            let at = help
                .find(&format!("{flag} <"))
                .unwrap_or_else(|| panic!("{cmd} --help lacks {flag}"));
            // The entry: its flag line and the lines up to the next flag.
            let entry = help[at..]
                .lines()
                .enumerate()
                .take_while(|(i, l)| *i == 0 || !l.trim_start().starts_with('-'))
                .map(|(_, l)| l)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(entry.contains("[default: "), "{cmd} {flag}: {entry}");
        }
    }
}

#[test]
fn a_stalled_stdout_does_not_keep_the_cli_alive() {
    // Nobody reads this pipe: the guest fills it, waits, and is cut by its
    // deadline; the writer thread stays blocked, and the CLI must exit
    // anyway.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let child = command(&["run", FLOOD, "--timeout", "300ms"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A correctness bound, not a timing: without a bounded shutdown the
    // process never exits.
    let out = output_within_a_minute(child);
    drop(reader);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(safe_line(&out).contains("timed out after 300ms"));
}

fn output_within_a_minute(child: std::process::Child) -> Output {
    super::output_within(
        child,
        Duration::from_secs(60),
        "the CLI did not exit 60 s after a 300 ms deadline",
    )
}

/// `run` with `input` on the guest's stdin (closed after it), and `extra` flags.
fn run_cat(input: &[u8], extra: &[&str]) -> Output {
    use std::io::Write;
    let mut args = vec!["run", CAT];
    args.extend_from_slice(extra);
    let mut child = command(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // Written beside the read of the outputs (a guest echoing more than a pipe
    // holds would otherwise block both), and a CLI that never reads its stdin
    // (`--no-stdin`) may close it first.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn run_passes_stdin_to_the_guest_unless_told_not_to() {
    let out = run_cat(b"hello\nworld\n", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello\nworld\n");
    assert_eq!(text(&out.stderr), "copied 12\n");
    // More than one read's worth, byte for byte.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let out = run_cat(&big, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == big, "{} bytes came back", out.stdout.len());
    let out = run_cat(b"not for the guest", &["--no-stdin"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), "copied 0\n");
}

#[test]
fn a_guest_waiting_on_an_open_silent_stdin_ends_at_its_deadline() {
    // The pipe stays open and nothing is written: the guest waits in
    // `fd_read` until the deadline cuts it.
    let mut child = command(&["run", CAT, "--timeout", "300ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stdin = child.stdin.take().expect("piped stdin");
    let start = std::time::Instant::now();
    let out = output_within_a_minute(child);
    drop(stdin);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(safe_line(&out).contains("timed out after 300ms"));
}
