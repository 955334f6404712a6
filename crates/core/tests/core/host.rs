//! Host functions of `HostFunctions`: state per instance and per call, guest
//! memory that refuses made-up pointers, errors that reach the caller
//! unchanged, async functions on every path, and deadlines that cover the
//! time spent in host code.

use std::time::{Duration, Instant};

use wasm_sandbox_core::{Error, HostFunctions, Module, ResourceLimits, Sandbox, SandboxConfig};

/// The state the test host functions read.
#[derive(Debug, PartialEq)]
struct Tenant(u32);

/// `env.checksum(ptr, len)` over guest memory, `env.tenant()`, and
/// functions that fail, panic, sleep or run async.
fn host() -> HostFunctions<Tenant> {
    HostFunctions::<Tenant>::new()
        .func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
            let memory = cx.memory()?;
            Ok(memory
                .read(ptr, len)?
                .iter()
                .map(|&b| u32::from(b))
                .sum::<u32>())
        })
        .func("env", "tenant", |cx, (): ()| Ok(cx.state()?.0))
        .func("env", "fail", |_cx, (): ()| -> Result<(), Error> {
            Err(Error::QueueFull { capacity: 7 })
        })
        .func("env", "panic", |_cx, (): ()| -> Result<(), Error> {
            panic!("the host function panicked on purpose")
        })
        .func("env", "block", |_cx, (ms,): (u32,)| {
            std::thread::sleep(Duration::from_millis(u64::from(ms)));
            Ok(())
        })
        .func_async("env", "wait", |mut cx, (ms,): (u32,)| {
            Box::new(async move {
                tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
                Ok(cx.state()?.0)
            })
        })
        .func("env", "write", |cx, (ptr, cap): (u32, u32)| {
            let mut memory = cx.memory()?;
            memory.write_into(ptr, cap, b"from the host")
        })
}

fn sandbox(timeout: Duration) -> Sandbox {
    Sandbox::with_host(
        SandboxConfig {
            limits: ResourceLimits {
                timeout: Some(timeout),
                ..ResourceLimits::default()
            },
            ..SandboxConfig::default()
        },
        host(),
    )
    .unwrap()
}

/// A module importing `env.<name>` of type `sig` and exporting `run`, which
/// calls it with `args` (and a 1-page memory whose first bytes are 1, 2, 3).
fn caller(s: &Sandbox, name: &str, sig: &str, args: &str, result: &str) -> Module {
    let wat = format!(
        r#"(module
            (import "env" "{name}" (func $f {sig}))
            (memory (export "memory") 1)
            (data (i32.const 0) "\01\02\03")
            (func (export "run") {result} {args} call $f))"#
    );
    s.compile(wat.as_bytes()).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn state_is_per_instance_and_per_call_and_never_outlives_a_call() {
    let s = sandbox(Duration::from_secs(5));
    let m = caller(&s, "tenant", "(result i32)", "", "(result i32)");
    let mut a = m.instantiate().unwrap();
    let mut b = m.instantiate().unwrap();
    a.set_state(Tenant(1)).unwrap();
    b.set_state(Tenant(2)).unwrap();
    assert_eq!(a.call_typed::<(), u32>("run", ()).unwrap(), 1);
    assert_eq!(b.call_typed::<(), u32>("run", ()).unwrap(), 2);
    assert_eq!(a.state_mut::<Tenant>(), Some(&mut Tenant(1)));
    assert_eq!(b.take_state::<Tenant>(), Some(Tenant(2)));
    let err = b.call_typed::<(), u32>("run", ()).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "no state: {err}");
    // State of another type is refused before anything runs.
    let err = a.set_state("not a tenant").unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");

    rt().block_on(async {
        // Per call, on pooled instances that are reused between calls.
        for t in [10, 11, 12] {
            let got: u32 = m.with_state(Tenant(t)).call_typed("run", ()).await.unwrap();
            assert_eq!(got, t);
        }
        assert_eq!(m.idle_instances(), 1, "one instance served the three calls");
        // The last tenant's state went with its call.
        let err = m.call_typed::<(), u32>("run", ()).await.unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        let err = m
            .with_state(42u64)
            .call_typed::<(), u32>("run", ())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Tenant"), "{err}");
    });
}

#[test]
fn guest_memory_is_range_checked() {
    let s = sandbox(Duration::from_secs(5));
    let read = |ptr: u32, len: u32| {
        let m = caller(
            &s,
            "checksum",
            "(param i32 i32) (result i32)",
            &format!("(i32.const {ptr}) (i32.const {len})"),
            "(result i32)",
        );
        m.instantiate().unwrap().call_typed::<(), u32>("run", ())
    };
    assert_eq!(read(0, 3).unwrap(), 6);
    assert_eq!(read(65_535, 1).unwrap(), 0, "the last byte is inside");
    for (ptr, len) in [
        (65_535, 2),
        (65_537, 0),
        (0, 65_537),
        (u32::MAX, 1),
        (1, u32::MAX),
    ] {
        let err = read(ptr, len).unwrap_err();
        assert!(matches!(err, Error::Abi { .. }), "[{ptr}, +{len}): {err}");
    }
    // Writes: into a buffer that fits, not into one that does not; a buffer
    // outside memory is refused.
    let write = |ptr: u32, cap: u32| {
        let m = caller(
            &s,
            "write",
            "(param i32 i32) (result i32)",
            &format!("(i32.const {ptr}) (i32.const {cap})"),
            "(result i32)",
        );
        let mut inst = m.instantiate().unwrap();
        inst.call_typed::<(), u32>("run", ())
    };
    assert_eq!(write(100, 64).unwrap(), 13);
    assert_eq!(
        write(100, 4).unwrap(),
        13,
        "too small: the length, nothing written"
    );
    let err = write(65_530, 64).unwrap_err();
    assert!(matches!(err, Error::Abi { .. }), "{err}");
}

#[test]
fn a_host_functions_error_reaches_the_caller_unchanged_and_poisons_the_instance() {
    let s = sandbox(Duration::from_secs(5));
    let m = caller(&s, "fail", "", "", "");
    let mut inst = m.instantiate().unwrap();
    let err = inst.call_typed::<(), ()>("run", ()).unwrap_err();
    assert!(matches!(err, Error::QueueFull { capacity: 7 }), "{err}");
    assert!(inst.is_poisoned(), "the guest was unwound half-way");
    let err = rt()
        .block_on(m.call_typed::<(), ()>("run", ()))
        .unwrap_err();
    assert!(matches!(err, Error::QueueFull { capacity: 7 }), "{err}");
    assert_eq!(m.idle_instances(), 0, "a poisoned instance is not reused");

    // The embedder's own error type, through `Error::host`.
    #[derive(Debug)]
    struct Mine(u8);
    impl std::fmt::Display for Mine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "mine {}", self.0)
        }
    }
    impl std::error::Error for Mine {}
    let s = Sandbox::with_host(
        SandboxConfig::default(),
        HostFunctions::<()>::new().func("env", "fail", |_cx, (): ()| -> Result<(), Error> {
            Err(Error::host(Mine(9)))
        }),
    )
    .unwrap();
    let err = caller(&s, "fail", "", "", "")
        .instantiate()
        .unwrap()
        .call_typed::<(), ()>("run", ())
        .unwrap_err();
    assert_eq!(err.host_error::<Mine>().map(|m| m.0), Some(9), "{err}");

    let m = caller(&sandbox(Duration::from_secs(5)), "panic", "", "", "");
    let err = m
        .instantiate()
        .unwrap()
        .call_typed::<(), ()>("run", ())
        .unwrap_err();
    assert!(
        matches!(&err, Error::HostPanic { message } if message.contains("on purpose")),
        "{err}"
    );
}

#[test]
fn async_host_functions_run_on_every_path() {
    let s = sandbox(Duration::from_secs(5));
    let m = caller(
        &s,
        "wait",
        "(param i32) (result i32)",
        "(i32.const 1)",
        "(result i32)",
    );
    // Async.
    let got: u32 = rt()
        .block_on(m.with_state(Tenant(3)).call_typed("run", ()))
        .unwrap();
    assert_eq!(got, 3);
    // Synchronous, from a thread without a runtime: on the sandbox's own.
    let m2 = m.clone();
    let got = std::thread::spawn(move || {
        let mut inst = m2.instantiate().unwrap();
        inst.set_state(Tenant(4)).unwrap();
        inst.call_typed::<(), u32>("run", ())
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(got, 4);
    // Synchronous from inside a runtime: refused before the guest runs.
    let err = rt()
        .block_on(async { m.instantiate().map(drop) })
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[test]
fn the_deadline_covers_time_in_host_functions() {
    let limit = Duration::from_millis(200);
    let s = sandbox(limit);
    // An async host function that would wait an hour is cut at the deadline.
    let m = caller(
        &s,
        "wait",
        "(param i32) (result i32)",
        "(i32.const 3600000)",
        "(result i32)",
    );
    let start = Instant::now();
    let err = rt()
        .block_on(m.with_state(Tenant(1)).call_typed::<(), u32>("run", ()))
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(took >= limit && took < Duration::from_secs(2), "{took:?}");
    // The same on the synchronous path.
    let m2 = m.clone();
    let (err, took) = std::thread::spawn(move || {
        let mut inst = m2.instantiate().unwrap();
        inst.set_state(Tenant(1)).unwrap();
        let start = Instant::now();
        (
            inst.call_typed::<(), u32>("run", ()).unwrap_err(),
            start.elapsed(),
        )
    })
    .join()
    .unwrap();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(took >= limit && took < Duration::from_secs(2), "{took:?}");
    // A synchronous host function cannot be cut, but its time counts: the
    // call ends with Timeout when it returns, although the guest returns at
    // once after it (no epoch check of the guest's would catch it).
    let m = caller(&s, "block", "(param i32)", "(i32.const 400)", "");
    let start = Instant::now();
    let err = rt()
        .block_on(m.call_typed::<(), ()>("run", ()))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "async: {err}");
    assert!(start.elapsed() >= Duration::from_millis(400));
    let err = m
        .instantiate()
        .unwrap()
        .call_typed::<(), ()>("run", ())
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "sync: {err}");
}
