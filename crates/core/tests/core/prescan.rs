//! The compile limits: a module over a structural limit is refused before any
//! compiler runs, quickly and with a typed error; every committed guest
//! passes the defaults; the scan never panics and never refuses as malformed
//! what wasmtime would accept.

use proptest::prelude::*;
use wasm_sandbox_core::{CompileLimits, ErrorClass, Tier, check_module};

use super::*;

/// A generous correctness bound for a refusal, not a benchmark: the scan of
/// these modules takes microseconds to a few milliseconds.
const FAST: Duration = Duration::from_secs(1);

fn leb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(content.len() as u64, out);
    out.extend_from_slice(content);
}

/// A binary module of `n` functions of type `() -> ()`, each with the body
/// `body` (locals declarations, instructions and the final `end`).
fn module(n: u32, body: &[u8]) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut out);
    let mut funcs = Vec::with_capacity(n as usize + 5);
    leb(n.into(), &mut funcs);
    funcs.resize(funcs.len() + n as usize, 0);
    section(3, &funcs, &mut out);
    let mut code = Vec::with_capacity((body.len() + 5) * n as usize + 5);
    leb(n.into(), &mut code);
    for _ in 0..n {
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(body);
    }
    section(10, &code, &mut out);
    out
}

/// The smallest body: no locals, `end`.
const EMPTY_BODY: &[u8] = &[0x00, 0x0b];

/// A body of `len` bytes: no locals, `nop`s, `end`.
fn nops(len: usize) -> Vec<u8> {
    assert!(len >= 2);
    let mut body = vec![0x01; len];
    body[0] = 0x00;
    body[len - 1] = 0x0b;
    body
}

/// A body of at most `len` bytes: one `i32` local, then
/// `(if (local.get 0) (then (local.set 0 (i32.add (local.get 0) (i32.const 1)))))`
/// repeated: many small basic blocks, the shape of real branchy code.
fn branchy(len: usize) -> Vec<u8> {
    const STEP: [u8; 12] = [
        0x20, 0x00, 0x04, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, 0x0b,
    ];
    let mut body = vec![0x01, 0x01, 0x7f];
    while body.len() + STEP.len() < len {
        body.extend_from_slice(&STEP);
    }
    body.push(0x0b);
    body
}

fn unlimited() -> CompileLimits {
    CompileLimits {
        max_module_bytes: usize::MAX,
        max_functions: u32::MAX,
        max_function_body_bytes: usize::MAX,
        max_code_bytes: usize::MAX,
        max_locals: u64::MAX,
        max_imports: u32::MAX,
    }
}

fn with_compile_limits(compile_limits: CompileLimits) -> Sandbox {
    Sandbox::new(SandboxConfig {
        compile_limits,
        ..Default::default()
    })
    .unwrap()
}

/// Compiles `wasm` on `sandbox`, which must refuse it quickly with exactly
/// this limit error.
fn assert_refused(sandbox: &Sandbox, wasm: &[u8], resource: Resource, requested: u64, limit: u64) {
    let start = Instant::now();
    let err = sandbox.compile(wasm).unwrap_err();
    let took = start.elapsed();
    match &err {
        Error::LimitExceeded {
            resource: r,
            requested: q,
            limit: l,
        } => assert_eq!((*r, *q, *l), (resource, requested, limit), "{err}"),
        other => panic!("expected a {resource} limit error, got {other}"),
    }
    assert_eq!(err.class(), ErrorClass::Limit);
    assert!(err.is_guest_fault());
    assert!(took < FAST, "refused in {took:?}");
}

/// The report: 100,000 trivial functions (about 400 KB) took 9 s and
/// 576 MiB to compile. The defaults refuse them, on every tier, at once.
#[test]
fn a_hundred_thousand_trivial_functions_are_refused_by_default() {
    let wasm = module(100_000, EMPTY_BODY);
    assert!(wasm.len() < 500_000, "{}", wasm.len());
    let limit = CompileLimits::default().max_functions;
    assert!(limit < 100_000);
    for tier in Tier::ALL {
        let s = Sandbox::with_tier(SandboxConfig::default(), tier, None).unwrap();
        assert_refused(&s, &wasm, Resource::Functions, 100_000, limit.into());
    }
}

/// The function count is read from the function section's header, so a
/// declared count far beyond what the bytes could hold is refused before the
/// scan reads further.
#[test]
fn function_count_at_and_over_the_limit() {
    let s = with_compile_limits(CompileLimits {
        max_functions: 1000,
        ..Default::default()
    });
    let at = s.compile(&module(1000, EMPTY_BODY)).unwrap();
    assert_eq!(at.function_exports().len(), 0);
    assert_refused(
        &s,
        &module(1001, EMPTY_BODY),
        Resource::Functions,
        1001,
        1000,
    );

    // A function section declaring u32::MAX functions in a 30-byte module.
    let mut lying = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut lying);
    section(3, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0], &mut lying);
    assert_refused(
        &sandbox(),
        &lying,
        Resource::Functions,
        u32::MAX.into(),
        CompileLimits::default().max_functions.into(),
    );
}

#[test]
fn one_huge_function_body_is_refused_by_default() {
    let limit = CompileLimits::default().max_function_body_bytes;
    // A small function first, then one body a byte over the limit.
    let body = nops(limit + 1);
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut wasm);
    section(3, &[2, 0, 0], &mut wasm);
    let mut code = vec![2];
    leb(EMPTY_BODY.len() as u64, &mut code);
    code.extend_from_slice(EMPTY_BODY);
    leb(body.len() as u64, &mut code);
    code.extend_from_slice(&body);
    section(10, &code, &mut wasm);
    assert_refused(
        &sandbox(),
        &wasm,
        Resource::FunctionBodyBytes,
        limit as u64 + 1,
        limit as u64,
    );
    // At the limit, the scan passes it on to the compiler.
    let at = module(1, &nops(limit));
    assert_eq!(
        check_module(&at, &CompileLimits::default())
            .unwrap()
            .largest_function_body,
        limit
    );
}

#[test]
fn declared_locals_over_the_limit_are_refused() {
    // A 6-byte body declaring 50,000 i32 locals (one run: count 50,000 as
    // LEB128, type i32), then `end`: 100 of them are 5,000,000 locals in a
    // module of 700 bytes, which would take the compiler about a second.
    let body = [0x01, 0xd0, 0x86, 0x03, 0x7f, 0x0b];
    let wasm = module(100, &body);
    let start = Instant::now();
    let e = sandbox().compile(&wasm).unwrap_err();
    assert!(start.elapsed() < FAST, "{:?}", start.elapsed());
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                resource: Resource::Locals,
                limit: 4_000_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_guest_fault());
    // Under the limit, the same shape compiles.
    let few = module(10, &body);
    assert_eq!(
        check_module(&few, &CompileLimits::default())
            .unwrap()
            .locals,
        500_000
    );
    sandbox().compile(&few).unwrap();
}

#[test]
fn total_code_over_the_limit_is_refused() {
    let body = branchy(4096);
    let wasm = module(64, &body);
    let total = 64 * body.len();
    let s = with_compile_limits(CompileLimits {
        max_code_bytes: total - 1,
        ..Default::default()
    });
    assert_refused(
        &s,
        &wasm,
        Resource::CodeBytes,
        total as u64,
        total as u64 - 1,
    );
    let s = with_compile_limits(CompileLimits {
        max_code_bytes: total,
        ..Default::default()
    });
    s.compile(&wasm).unwrap();
}

#[test]
fn module_bytes_over_the_limit_are_refused_as_binary_and_as_text() {
    let sqlite = guests::SQLITE_WASM;
    let s = with_compile_limits(CompileLimits {
        max_module_bytes: sqlite.len() - 1,
        ..Default::default()
    });
    assert_refused(
        &s,
        sqlite,
        Resource::ModuleBytes,
        sqlite.len() as u64,
        sqlite.len() as u64 - 1,
    );
    // Text is measured as text, before it is assembled...
    let text = guests::SCALAR_WAT.as_bytes();
    let s = with_compile_limits(CompileLimits {
        max_module_bytes: text.len() - 1,
        ..Default::default()
    });
    assert_refused(
        &s,
        text,
        Resource::ModuleBytes,
        text.len() as u64,
        text.len() as u64 - 1,
    );
    // ... and its binary is held to the structural limits.
    let functions = check_module(text, &CompileLimits::default())
        .unwrap()
        .functions;
    let s = with_compile_limits(CompileLimits {
        max_functions: functions - 1,
        ..Default::default()
    });
    assert_refused(
        &s,
        text,
        Resource::Functions,
        functions.into(),
        (functions - 1).into(),
    );
}

/// Every committed guest passes the defaults with room to spare, and SQLite,
/// the large real module, compiles under them.
#[test]
fn every_committed_guest_passes_the_defaults() {
    let defaults = CompileLimits::default();
    let wat = [
        guests::SCALAR_WAT,
        guests::LOOP_WAT,
        guests::RECURSION_WAT,
        guests::MEMBOMB_WAT,
        guests::MEMORY_IMAGE_WAT,
        guests::TENANT_WAT,
    ];
    let binaries = [
        guests::ABI_WASM,
        guests::HELLO_WASM,
        guests::MEMBOMB_C_WASM,
        guests::SQLITE_WASM,
    ];
    for wasm in wat.iter().map(|t| t.as_bytes()).chain(binaries) {
        let shape = check_module(wasm, &defaults).unwrap();
        assert!(shape.functions > 0);
        assert!(shape.functions < defaults.max_functions / 10);
        assert!(shape.largest_function_body < defaults.max_function_body_bytes / 4);
        assert!(shape.code_bytes < defaults.max_code_bytes / 100);
    }
    let sqlite = check_module(guests::SQLITE_WASM, &defaults).unwrap();
    assert_eq!(sqlite.module_bytes, guests::SQLITE_WASM.len());
    assert!(sqlite.functions > 1000, "{sqlite:?}");
    let s = Sandbox::new(SandboxConfig {
        wasi: Some(WasiConfig::default()),
        ..Default::default()
    })
    .unwrap();
    let m = s.compile(guests::SQLITE_WASM).unwrap();
    assert!(m.function_exports().iter().any(|e| e == "workload"));
}

#[test]
fn components_are_refused_as_before() {
    let component = b"\0asm\x0d\0\x01\0";
    for wasm in [&component[..], b"(component)"] {
        let err = sandbox().compile(wasm).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidModule { reason }
                if reason.contains("expected a WebAssembly module but was given a WebAssembly component")),
            "{err}"
        );
    }
}

/// `wasmtime::Module::validate` (binary only) on the default sandbox's engine.
fn wasmtime_accepts(wasm: &[u8]) -> bool {
    thread_local! {
        static SANDBOX: Sandbox = sandbox();
    }
    SANDBOX.with(|s| wasm_sandbox_core::wasmtime::Module::validate(s.engine(), wasm).is_ok())
}

/// Every strict prefix of a small valid module: the scan refuses exactly the
/// prefixes wasmtime refuses (a prefix that ends between sections is a valid
/// module when the function and code sections agree).
#[test]
fn truncation_at_every_length_agrees_with_wasmtime() {
    let wasm = guests::wat(
        r#"(module
            (import "env" "f" (func $f (param i32)))
            (memory 1)
            (global $g (mut i32) (i32.const 7))
            (func (export "a") (param i32) (result i32) local.get 0 global.get $g i32.add)
            (func (export "b") i32.const 1 call $f)
            (data (i32.const 8) "hello"))"#,
    );
    for cut in 0..wasm.len() {
        let prefix = &wasm[..cut];
        let scan = check_module(prefix, &CompileLimits::default());
        assert!(
            matches!(scan, Ok(_) | Err(Error::InvalidModule { .. })),
            "{cut}: {scan:?}"
        );
        assert_eq!(scan.is_ok(), wasmtime_accepts(prefix), "{cut}: {scan:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes, with or without a module header: never a panic, only a
    /// verdict; and when the scan calls the bytes malformed, so does wasmtime.
    #[test]
    fn random_bytes_never_panic(
        header in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut wasm = if header { b"\0asm\x01\0\0\0".to_vec() } else { Vec::new() };
        wasm.extend_from_slice(&tail);
        match check_module(&wasm, &CompileLimits::default()) {
            Ok(_) | Err(Error::LimitExceeded { .. }) => {}
            Err(Error::InvalidModule { .. }) => prop_assert!(!wasmtime_accepts(&wasm)),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    /// Random text: assembled or refused as invalid, never a panic.
    #[test]
    fn random_text_never_panics(text in "[ -~\n]{0,200}") {
        let scan = check_module(text.as_bytes(), &CompileLimits::default());
        prop_assert!(matches!(scan, Ok(_) | Err(Error::InvalidModule { .. })), "{scan:?}");
    }

    /// A real module (the C ABI guest) truncated anywhere and with a few bytes
    /// overwritten: never a panic; a truncation is refused exactly when
    /// wasmtime refuses it, a corruption refused as malformed only if wasmtime
    /// refuses it too.
    #[test]
    fn truncated_and_corrupted_real_modules_never_panic(
        cut in 0..guests::ABI_WASM.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let wasm = &guests::ABI_WASM[..cut];
        let scan = check_module(wasm, &CompileLimits::default());
        prop_assert!(matches!(scan, Ok(_) | Err(Error::InvalidModule { .. })), "{scan:?}");
        prop_assert_eq!(scan.is_ok(), wasmtime_accepts(wasm));

        let mut corrupt = guests::ABI_WASM.to_vec();
        for (at, byte) in edits {
            let i = at.index(corrupt.len());
            corrupt[i] = byte;
        }
        match check_module(&corrupt, &CompileLimits::default()) {
            Ok(_) | Err(Error::LimitExceeded { .. }) => {}
            Err(Error::InvalidModule { .. }) => prop_assert!(!wasmtime_accepts(&corrupt)),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The module a measurement compiles: `empty:N` (N empty functions),
/// `branchy:BYTES` or `nop:BYTES` (one body of that size), `funcs:N:BYTES`
/// (N branchy bodies of that size), `text:N` (WAT text of N empty
/// functions), `sqlite`.
fn measured_module(case: &str) -> Vec<u8> {
    let mut parts = case.split(':');
    let kind = parts.next().unwrap();
    let mut arg = || parts.next().map_or(0, |n| n.parse::<usize>().unwrap());
    match kind {
        "empty" => module(arg() as u32, EMPTY_BODY),
        "branchy" => module(1, &branchy(arg())),
        "nop" => module(1, &nops(arg())),
        "funcs" => {
            let n = arg();
            module(n as u32, &branchy(arg()))
        }
        "text" => {
            let mut text = String::from("(module\n");
            for _ in 0..arg() {
                text.push_str("(func)\n");
            }
            text.push(')');
            text.into_bytes()
        }
        // N functions declaring 50,000 `i32` locals each in 6 bytes.
        "locals" => module(arg() as u32, &[0x01, 0xd0, 0x86, 0x03, 0x7f, 0x0b]),
        "sqlite" => guests::SQLITE_WASM.to_vec(),
        _ => panic!("unknown case {case}"),
    }
}

/// One measurement in a fresh process (so the peak is this compile's own):
/// `PRESCAN_MEASURE=<tier> <case>` compiles the case with no compile limits
/// and prints its compile time and peak memory above the RSS before it;
/// `PRESCAN_MEASURE=scan <case>` measures `check_module` alone.
#[test]
#[ignore = "measurement, run by `measure_compile_costs`"]
fn measure_one() {
    let Ok(spec) = std::env::var("PRESCAN_MEASURE") else {
        return;
    };
    let (tier, case) = spec.split_once(' ').unwrap();
    let wasm = measured_module(case);
    if tier == "scan" {
        let before = status_kib("VmRSS:");
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let start = Instant::now();
        check_module(&wasm, &unlimited()).unwrap();
        let took = start.elapsed();
        let peak = status_kib("VmHWM:").saturating_sub(before);
        println!("MEASURED {} {}", took.as_millis(), peak / 1024);
        return;
    }
    let tier: Tier = tier.parse().unwrap();
    let s = Sandbox::with_tier(
        SandboxConfig {
            wasi: Some(WasiConfig::default()),
            compile_limits: unlimited(),
            ..Default::default()
        },
        tier,
        None,
    )
    .unwrap();
    let before = status_kib("VmRSS:");
    // Writing 5 to clear_refs resets the peak RSS to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let start = Instant::now();
    let m = s.compile(&wasm).unwrap();
    let took = start.elapsed();
    let peak = status_kib("VmHWM:").saturating_sub(before);
    drop(m);
    println!("MEASURED {} {}", took.as_millis(), peak / 1024);
}

/// The measurements behind the defaults (`docs/security.md`,
/// "Compilation"): the scan against SQLite's compile, and the compile time
/// and peak memory of many empty functions and of single large bodies, each
/// compile in a process of its own. Run alone:
/// `cargo test -p wasm-sandbox-core --test core -- --ignored --nocapture
/// --test-threads=1 prescan::measure_compile_costs`.
#[test]
#[ignore = "measurement, not a test: prints compile costs"]
fn measure_compile_costs() {
    let defaults = CompileLimits::default();
    let sqlite = guests::SQLITE_WASM;
    let shape = check_module(sqlite, &defaults).unwrap();
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        check_module(std::hint::black_box(sqlite), &defaults).unwrap();
    }
    let scan = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(blake3::hash(std::hint::black_box(sqlite)));
    }
    let hash = start.elapsed() / rounds;
    println!("sqlite: {shape:?}; scan {scan:?}, blake3 {hash:?}");
    let cases = std::env::var("PRESCAN_CASES").unwrap_or_else(|_| {
        "highly-optimized sqlite,baseline sqlite,\
         highly-optimized empty:10000,highly-optimized empty:25000,highly-optimized empty:50000,\
         highly-optimized branchy:32768,highly-optimized branchy:65536,highly-optimized branchy:131072,\
         optimized branchy:65536,baseline branchy:65536,baseline branchy:1048576,\
         highly-optimized nop:1048576,highly-optimized nop:7654321"
            .into()
    });
    for spec in cases.split(',') {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "prescan::measure_one",
                "--nocapture",
            ])
            .env("PRESCAN_MEASURE", spec)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("MEASURED "))
            .unwrap_or_else(|| panic!("{spec}: {}", String::from_utf8_lossy(&out.stderr)));
        let (ms, mib) = line.split_once(' ').unwrap();
        println!("{spec}: compile {ms} ms, peak +{mib} MiB");
    }
}
