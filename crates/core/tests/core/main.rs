//! Integration tests of the sandbox core against real guests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasm_sandbox_core::{
    Codec, Error, Output, PerformanceConfig, Resource, ResourceLimits, Sandbox, SandboxConfig,
    TrapCode, WasiConfig,
};
use wasm_sandbox_guests as guests;

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).unwrap()
}

fn with_limits(limits: ResourceLimits) -> Sandbox {
    Sandbox::new(SandboxConfig {
        limits,
        ..Default::default()
    })
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

mod host;
mod hostile;
mod isolation;
#[cfg(feature = "preinit")]
mod preinit;
mod prescan;

mod calls {
    use super::*;

    #[test]
    fn typed_scalar_calls_of_every_type() {
        let m = sandbox().compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        assert_eq!(i.call_typed::<(i32, i32), i32>("add", (40, 2)).unwrap(), 42);
        assert_eq!(
            i.call_typed::<(i64, i64), i64>("add_i64", (1 << 40, 1))
                .unwrap(),
            (1 << 40) + 1
        );
        assert_eq!(
            i.call_typed::<(f32, f32), f32>("mul_f32", (1.5, 4.0))
                .unwrap(),
            6.0
        );
        assert_eq!(
            i.call_typed::<(f64, f64), f64>("hypot", (3.0, 4.0))
                .unwrap(),
            5.0
        );
        assert_eq!(i.call_typed::<i32, i32>("fib", 20).unwrap(), 6765);
        assert_eq!(
            i.call_typed::<i32, i64>("fib_iter", 90).unwrap(),
            2_880_067_194_370_816_120
        );
        let add = i.typed::<(i32, i32), i32>("add").unwrap();
        for k in 0..1000 {
            assert_eq!(add.call(&mut i, (k, k)).unwrap(), 2 * k);
        }
    }

    #[test]
    fn async_typed_calls() {
        let m = sandbox().compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        rt().block_on(async {
            assert_eq!(
                m.call_typed::<(i32, i32), i32>("add", (1, 2))
                    .await
                    .unwrap(),
                3
            );
            let mut i = m.instantiate_async().await.unwrap();
            assert_eq!(i.call_typed_async::<i32, i32>("fib", 10).await.unwrap(), 55);
        });
    }

    #[test]
    fn a_handle_cannot_be_used_on_another_instance() {
        let m = sandbox().compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut a = m.instantiate().unwrap();
        let mut b = m.instantiate().unwrap();
        let add = a.typed::<(i32, i32), i32>("add").unwrap();
        assert!(matches!(
            add.call(&mut b, (1, 1)),
            Err(Error::Config { .. })
        ));
        assert_eq!(add.call(&mut a, (1, 1)).unwrap(), 2);
    }

    #[test]
    fn serde_calls_with_both_codecs() {
        let m = sandbox().compile(guests::ABI_WASM).unwrap();
        let input: Vec<i32> = vec![1, -2, 3, i32::MAX, i32::MIN];
        let want: Vec<i32> = input.iter().map(|x| x.wrapping_mul(2)).collect();
        let mut i = m.instantiate().unwrap();
        let got: Vec<i32> = i.call(Codec::Json, "process_batch", &input).unwrap();
        assert_eq!(got, want);
        let got: Vec<i32> = i
            .call(Codec::Postcard, "process_batch_postcard", &input)
            .unwrap();
        assert_eq!(got, want);
        let empty: Vec<i32> = i
            .call(Codec::Json, "process_batch", &Vec::<i32>::new())
            .unwrap();
        assert!(empty.is_empty());
        rt().block_on(async {
            let got: Vec<i32> = m.call(Codec::Json, "process_batch", &input).await.unwrap();
            assert_eq!(got, want);
        });
    }

    #[test]
    fn serde_calls_marshal_through_the_sandbox_buffer_pool() {
        let input: Vec<i32> = (0..5000).collect();
        let want: Vec<i32> = input.iter().map(|x| x * 2).collect();
        for pooled in [true, false] {
            let s = Sandbox::new(SandboxConfig {
                host_buffer_pool: pooled,
                ..Default::default()
            })
            .unwrap();
            assert_eq!(s.buffer_pool().is_some(), pooled);
            let m = s.compile(guests::ABI_WASM).unwrap();
            let mut i = m.instantiate().unwrap();
            for _ in 0..10 {
                let got: Vec<i32> = i.call(Codec::Json, "process_batch", &input).unwrap();
                assert_eq!(got, want);
                let got: Vec<i32> = i
                    .call(Codec::Postcard, "process_batch_postcard", &input)
                    .unwrap();
                assert_eq!(got, want);
            }
            rt().block_on(async {
                let got: Vec<i32> = m.call(Codec::Json, "process_batch", &input).await.unwrap();
                assert_eq!(got, want);
                let got: Vec<i32> = i
                    .call_async(Codec::Json, "process_batch", &input)
                    .await
                    .unwrap();
                assert_eq!(got, want);
            });
            if let Some(pool) = s.buffer_pool() {
                let stats = pool.stats();
                // Arguments and results of 22 calls, each grown through a few classes.
                assert!(stats.total_allocations() >= 44, "{stats:?}");
                assert!(stats.total_hits() > 0, "buffers are reused: {stats:?}");
                assert!(stats.classes.iter().all(|c| c.in_use() == 0), "{stats:?}");
            }
            // Raw byte calls still hand back a `Vec`.
            assert_eq!(i.call_bytes("echo", b"abc").unwrap(), b"abc");
        }
    }

    #[test]
    fn bytes_round_trip_64k() {
        let m = sandbox().compile(guests::ABI_WASM).unwrap();
        let mut i = m.instantiate().unwrap();
        let input: Vec<u8> = (0..65536u32).map(|x| (x * 31 % 251) as u8).collect();
        for _ in 0..20 {
            assert_eq!(i.call_bytes("echo", &input).unwrap(), input);
        }
        assert_eq!(i.call_bytes("echo", b"").unwrap(), b"");
    }

    #[test]
    fn many_concurrent_async_calls_are_all_correct() {
        let m = sandbox().compile(guests::ABI_WASM).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..64i32 {
                let m = m.clone();
                tasks.push(tokio::spawn(async move {
                    for k in 0..20i32 {
                        let input = vec![t, k, t * k];
                        let got: Vec<i32> =
                            m.call(Codec::Json, "process_batch", &input).await.unwrap();
                        assert_eq!(got, vec![2 * t, 2 * k, 2 * t * k]);
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(m.idle_instances() >= 1);
    }
}

mod errors {
    use super::*;

    #[test]
    fn malformed_module() {
        for bytes in [
            &b""[..],
            b"\0asm",
            b"\0asm\x01\0\0\0\x01\xff",
            b"not wasm at all",
            b"(module (func",
        ] {
            let err = sandbox().compile(bytes).unwrap_err();
            assert!(matches!(err, Error::InvalidModule { .. }), "{err}");
        }
        // A binary without the magic is read as WAT; say what it is not.
        let err = sandbox().compile(&[0xff, 0xfe, 0x00, 0x61]).unwrap_err();
        assert!(
            err.to_string()
                .contains("neither a WebAssembly binary (no `\\0asm` header) nor WAT text"),
            "{err}"
        );
    }

    /// Guest failures that wasmtime reports as errors of their own, not as a
    /// `wasmtime::Trap`, are traps with a code too, in calls and in start
    /// functions alike.
    #[test]
    fn uncaught_exceptions_and_gc_heap_exhaustion_are_traps() {
        let s = with_limits(ResourceLimits {
            max_memory: 16 << 20,
            ..Default::default()
        });
        let call_f = |wat: &[u8]| {
            s.compile(wat)
                .unwrap()
                .instantiate()
                .and_then(|mut i| i.call_typed::<(), ()>("f", ()))
                .unwrap_err()
        };
        let code = |err: &Error| match err {
            Error::Trap { code, .. } => Some(*code),
            _ => None,
        };
        let err = call_f(b"(module (tag $t) (func (export \"f\") (throw $t)))");
        assert_eq!(code(&err), Some(TrapCode::UncaughtException), "{err}");
        // Thrown by the start function: instantiation fails the same way.
        let err =
            call_f(b"(module (tag $t) (func $s (throw $t)) (start $s) (func (export \"f\")))");
        assert_eq!(code(&err), Some(TrapCode::UncaughtException), "{err}");
        // A linked list of live GC objects: it cannot be collected, so the GC
        // heap fills up to the memory limit.
        let err = call_f(
            br#"(module
              (type $n (struct (field (ref null $n)) (field i64) (field i64)))
              (func (export "f")
                (local $head (ref null $n))
                (loop $l
                  (local.set $head (struct.new $n (local.get $head) (i64.const 1) (i64.const 2)))
                  (br $l))))"#,
        );
        assert_eq!(code(&err), Some(TrapCode::GcHeapOutOfMemory), "{err}");
        assert!(err.to_string().contains("within the memory limit"), "{err}");
    }

    #[test]
    fn missing_export_and_wrong_signature() {
        let m = sandbox().compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        let err = i.call_typed::<(), ()>("does_not_exist", ()).unwrap_err();
        assert!(
            matches!(err, Error::MissingExport { ref name } if &**name == "does_not_exist"),
            "{err}"
        );
        let err = i.call_typed::<i32, i32>("add", 1).unwrap_err();
        match &err {
            Error::SignatureMismatch { export, actual, .. } => {
                assert_eq!(&**export, "add");
                assert_eq!(&**actual, "(i32, i32) -> (i32)");
            }
            other => panic!("expected SignatureMismatch, got {other}"),
        }
        // A scalar guest has no ABI exports.
        let err = i.call_bytes("add", b"x").unwrap_err();
        assert!(matches!(err, Error::Abi { .. }), "{err}");
        assert!(err.to_string().contains("sandbox_alloc"));
    }

    #[test]
    fn unknown_import_is_refused_at_load() {
        let wat = r#"(module (import "env" "system" (func (param i32))) (func (export "f")))"#;
        match sandbox().compile(wat.as_bytes()).unwrap_err() {
            Error::ImportNotAllowed { module, name } => {
                assert_eq!((&*module, &*name), ("env", "system"));
            }
            other => panic!("expected ImportNotAllowed, got {other}"),
        }
        // WASI is not linked unless enabled.
        let err = sandbox().compile(guests::HELLO_WASM).unwrap_err();
        assert!(
            matches!(err, Error::ImportNotAllowed { ref module, .. } if &**module == "wasi_snapshot_preview1")
        );
    }

    #[test]
    fn guest_reported_errors_and_abi_violations() {
        let m = sandbox().compile(guests::ABI_WASM).unwrap();
        let mut i = m.instantiate().unwrap();
        let err = i.call_bytes("fail", b"x").unwrap_err();
        assert!(
            matches!(err, Error::Guest { ref message } if message.contains("always fails")),
            "{err}"
        );
        let err = i.call_bytes("bad_pointer", b"x").unwrap_err();
        assert!(matches!(err, Error::Abi { .. }), "{err}");
        let err: Error = i
            .call::<_, Vec<i32>>(Codec::Json, "process_batch", "not an array")
            .unwrap_err();
        assert!(matches!(err, Error::Guest { .. }), "{err}");
        // The instance is still usable after guest-reported errors.
        let v: Vec<i32> = i.call(Codec::Json, "process_batch", &[1]).unwrap();
        assert_eq!(v, [2]);
        let err = i.call_bytes("abort_now", b"x").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Trap {
                    code: TrapCode::UnreachableCodeReached,
                    ..
                }
            ),
            "{err}"
        );
        assert!(i.is_poisoned());
    }

    #[test]
    fn traps_carry_their_code() {
        let m = sandbox().compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        let err = i.call_typed::<(i32, i32), i32>("div", (1, 0)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Trap {
                    code: TrapCode::IntegerDivisionByZero,
                    ..
                }
            ),
            "{err}"
        );
        let err = i.call_typed::<(), ()>("trap", ()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Trap {
                    code: TrapCode::UnreachableCodeReached,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_panicking_host_function_leaves_the_sandbox_usable() {
        let host: wasm_sandbox_core::HostSetup = Arc::new(|linker| {
            linker.func_wrap("host", "maybe_panic", |x: i32| -> i32 {
                if x == 13 {
                    panic!("host function refuses 13");
                }
                x + 1
            })?;
            Ok(())
        });
        let s = Sandbox::with_tier(
            SandboxConfig::default(),
            wasm_sandbox_core::Tier::HighlyOptimized,
            Some(host.into()),
        )
        .unwrap();
        let m = s
            .compile(
                br#"(module (import "host" "maybe_panic" (func $h (param i32) (result i32)))
                    (func (export "f") (param i32) (result i32) local.get 0 call $h))"#,
            )
            .unwrap();
        let mut i = m.instantiate().unwrap();
        assert_eq!(i.call_typed::<i32, i32>("f", 1).unwrap(), 2);
        let err = i.call_typed::<i32, i32>("f", 13).unwrap_err();
        assert!(
            matches!(err, Error::HostPanic { ref message } if message.contains("refuses 13")),
            "{err}"
        );
        let mut j = m.instantiate().unwrap();
        assert_eq!(j.call_typed::<i32, i32>("f", 2).unwrap(), 3);
        rt().block_on(async {
            let err = m.call_typed::<i32, i32>("f", 13).await.unwrap_err();
            assert!(matches!(err, Error::HostPanic { .. }), "{err}");
            assert_eq!(m.call_typed::<i32, i32>("f", 5).await.unwrap(), 6);
        });
    }
}

mod limits {
    use super::*;

    #[test]
    fn guest_code_run_while_instantiating_is_limited_like_a_call() {
        let timeout = Duration::from_millis(100);
        let s = with_limits(ResourceLimits {
            timeout: Some(timeout),
            ..Default::default()
        });
        // An infinite loop in the start function: a timeout, not an engine error.
        let spin = s
            .compile(b"(module (func $s (loop $l br $l)) (start $s))")
            .unwrap();
        let started = Instant::now();
        let err = spin.instantiate().unwrap_err();
        assert!(
            matches!(err, Error::Timeout { limit } if limit == timeout),
            "{err}"
        );
        assert!(started.elapsed() < timeout * 2, "{:?}", started.elapsed());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(spin.instantiate_async()).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "async: {err}");
        // A trap in the start function is a trap, with its code.
        let trap = s
            .compile(b"(module (func $s unreachable) (start $s))")
            .unwrap();
        let err = trap.instantiate().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Trap {
                    code: TrapCode::UnreachableCodeReached,
                    ..
                }
            ),
            "{err}"
        );
        // The sandbox stays usable.
        let scalar = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        assert_eq!(
            scalar
                .instantiate()
                .unwrap()
                .call_typed::<(i32, i32), i32>("add", (2, 3))
                .unwrap(),
            5
        );
    }

    #[test]
    fn infinite_loop_times_out_and_the_sandbox_stays_usable() {
        let timeout = Duration::from_millis(200);
        let s = with_limits(ResourceLimits {
            timeout: Some(timeout),
            ..Default::default()
        });
        let m = s.compile(guests::LOOP_WAT.as_bytes()).unwrap();
        let scalar = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        for export in ["run", "spin"] {
            let start = Instant::now();
            let err = if export == "run" {
                i.call_typed::<(), ()>(export, ()).unwrap_err()
            } else {
                i.call_typed::<i32, i32>(export, 0).unwrap_err()
            };
            let took = start.elapsed();
            assert!(
                matches!(err, Error::Timeout { limit } if limit == timeout),
                "{err}"
            );
            // The limit's resolution is one epoch tick either way.
            assert!(
                took + wasm_sandbox_core::EPOCH_TICK >= timeout,
                "stopped early: {took:?}"
            );
            assert!(took < timeout * 2, "stopped late: {took:?}");
        }
        assert_eq!(
            scalar
                .instantiate()
                .unwrap()
                .call_typed::<(i32, i32), i32>("add", (1, 2))
                .unwrap(),
            3
        );
        rt().block_on(async {
            let start = Instant::now();
            let err = m.call_typed::<(), ()>("run", ()).await.unwrap_err();
            assert!(matches!(err, Error::Timeout { .. }), "{err}");
            assert!(start.elapsed() < timeout * 2);
            assert_eq!(
                scalar
                    .call_typed::<(i32, i32), i32>("add", (2, 2))
                    .await
                    .unwrap(),
                4
            );
        });
    }

    #[test]
    fn a_long_guest_call_does_not_stall_the_runtime() {
        // Current-thread runtime: the guest and the ticker share one thread.
        let s = with_limits(ResourceLimits {
            timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        });
        let m = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        rt().block_on(async {
            // Calibrate a call of about a second.
            let mut i = m.instantiate_async().await.unwrap();
            let mut n = 1_000_000i32;
            loop {
                let t = Instant::now();
                i.call_typed_async::<i32, i32>("busy", n).await.unwrap();
                if t.elapsed() > Duration::from_millis(100) || n > i32::MAX / 4 {
                    n = (n as f64 * 1.0 / t.elapsed().as_secs_f64()) as i32;
                    break;
                }
                n *= 4;
            }
            let ticks = Arc::new(AtomicU64::new(0));
            let t2 = Arc::clone(&ticks);
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    t2.fetch_add(1, Ordering::Relaxed);
                }
            });
            let start = Instant::now();
            i.call_typed_async::<i32, i32>("busy", n).await.unwrap();
            let took = start.elapsed();
            ticker.abort();
            let got = ticks.load(Ordering::Relaxed);
            assert!(
                took > Duration::from_millis(300),
                "calibration failed: {took:?}"
            );
            // With 10 ms sleeps, a free runtime ticks ~took/10ms times. A
            // stalled one ticks at most once; on a loaded CI machine the
            // thread gets a fraction of a core, so demand a fifth.
            let expected = took.as_millis() as u64 / 10;
            assert!(
                got * 5 >= expected && got >= 10,
                "ticker ticked {got} times in {took:?}"
            );
        });
    }

    #[test]
    fn memory_bombs_hit_the_limit_and_host_memory_stays_bounded() {
        let limit = 32 * 1024 * 1024;
        let s = with_limits(ResourceLimits {
            max_memory: limit,
            ..Default::default()
        });
        let before = rss_kib();
        for (bytes, export) in [
            (guests::wat(guests::MEMBOMB_WAT), "bomb"),
            (guests::wat(guests::MEMBOMB_WAT), "grow_huge"),
            (guests::MEMBOMB_C_WASM.to_vec(), "bomb"),
        ] {
            let m = s.compile(&bytes).unwrap();
            let mut i = m.instantiate().unwrap();
            let err = i.call_typed::<(), i32>(export, ()).unwrap_err();
            match err {
                Error::LimitExceeded {
                    resource: Resource::Memory,
                    requested,
                    limit: l,
                } => {
                    assert_eq!(l, limit as u64);
                    assert!(requested > limit as u64);
                }
                other => panic!("{export}: expected a memory limit error, got {other}"),
            }
            assert!(i.memory_size() <= limit);
        }
        let grown = rss_kib().saturating_sub(before);
        assert!(
            grown < 3 * limit as u64 / 1024,
            "host RSS grew by {grown} KiB"
        );
    }

    #[test]
    fn initial_memory_above_the_limit_fails_to_instantiate() {
        let s = with_limits(ResourceLimits {
            max_memory: 1024 * 1024,
            ..Default::default()
        });
        let m = s.compile(br#"(module (memory 64))"#).unwrap();
        let err = m.instantiate().unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    resource: Resource::Memory,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn table_growth_past_the_limit() {
        let s = with_limits(ResourceLimits {
            max_table_elements: 1000,
            ..Default::default()
        });
        let m = s
            .compile(
                br#"(module (table 10 funcref)
                (func (export "grow") (param i32) (result i32) ref.null func local.get 0 table.grow 0))"#,
            )
            .unwrap();
        let mut i = m.instantiate().unwrap();
        assert_eq!(i.call_typed::<i32, i32>("grow", 100).unwrap(), 10);
        let err = i.call_typed::<i32, i32>("grow", 100_000).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    resource: Resource::TableElements,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn stack_overflow_is_a_trap() {
        let s = sandbox();
        let m = s.compile(guests::RECURSION_WAT.as_bytes()).unwrap();
        for _ in 0..3 {
            let mut i = m.instantiate().unwrap();
            let err = i.call_typed::<i32, i32>("recurse", 0).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Trap {
                        code: TrapCode::StackOverflow,
                        ..
                    }
                ),
                "{err}"
            );
        }
        rt().block_on(async {
            let err = m.call_typed::<i32, i32>("recurse", 0).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Trap {
                        code: TrapCode::StackOverflow,
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(m.call_typed::<i32, i32>("depth", 1000).await.unwrap(), 1000);
        });
    }

    #[test]
    fn fuel_is_deterministic() {
        let fuel = 100_000;
        let s = with_limits(ResourceLimits {
            fuel: Some(fuel),
            ..Default::default()
        });
        let m = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        // Find the largest n that fits, then check it is stable.
        let mut lo = 1;
        let mut hi = 1_000_000;
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if i.call_typed::<i32, i32>("busy", mid).is_ok() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        for _ in 0..1000 {
            assert!(i.call_typed::<i32, i32>("busy", lo).is_ok());
            let err = i.call_typed::<i32, i32>("busy", hi).unwrap_err();
            assert!(
                matches!(err, Error::OutOfFuel { fuel: f } if f == fuel),
                "{err}"
            );
        }
    }
}

mod wasi {
    use super::*;

    fn wasi_sandbox() -> Sandbox {
        Sandbox::new(SandboxConfig {
            wasi: Some(WasiConfig::default()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_command_prints_and_exits() {
        let m = wasi_sandbox().compile(guests::HELLO_WASM).unwrap();
        rt().block_on(async {
            let out = m
                .run(
                    &WasiConfig::capture()
                        .args(["hello", "a b", "c"])
                        .env("GREETING", "hi"),
                )
                .await
                .unwrap();
            assert_eq!(out.exit_code, 0);
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert_eq!(
                stdout,
                "hello from wasm\narg 1: a b\narg 2: c\nGREETING=hi\n"
            );
            assert_eq!(out.stderr, b"this goes to stderr\n");
            let out = m
                .run(&WasiConfig::capture().args(["hello", "--exit", "7"]))
                .await
                .unwrap();
            assert_eq!(out.exit_code, 7);
        });
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("input.txt"), "secret\n").unwrap();
        let m = wasi_sandbox().compile(guests::HELLO_WASM).unwrap();
        rt().block_on(async {
            // No env, no directories, no stdio unless configured.
            let out = m
                .run(&WasiConfig::capture().args(["hello", "--ls", "/data/input.txt"]))
                .await
                .unwrap();
            assert_eq!(out.exit_code, 3);
            assert!(!String::from_utf8_lossy(&out.stdout).contains("secret"));
            assert!(!String::from_utf8_lossy(&out.stdout).contains("GREETING"));
            let mut cfg = WasiConfig::capture().args(["hello", "--ls", "/data/input.txt"]);
            cfg = cfg.preopen(dir.path(), "/data");
            let out = m.run(&cfg).await.unwrap();
            assert_eq!(out.exit_code, 0);
            assert!(String::from_utf8_lossy(&out.stdout).ends_with("secret\n"));
            // Null output: nothing captured.
            let out = m
                .run(&WasiConfig {
                    stdout: Output::Null,
                    ..WasiConfig::default().args(["hello"])
                })
                .await
                .unwrap();
            assert!(out.stdout.is_empty());
        });
    }
}

mod pooling {
    use super::*;

    #[test]
    fn a_full_pool_is_a_clear_error_and_recovers() {
        let s = Sandbox::new(SandboxConfig {
            performance: PerformanceConfig {
                memory_pool_size: 4 * 1024 * 1024,
                ..Default::default()
            },
            limits: ResourceLimits {
                max_memory: 1024 * 1024,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.pool_capacity(), Some(4));
        let m = s.compile(guests::MEMORY_IMAGE_WAT.as_bytes());
        // 16 pages = 1 MiB: fits exactly.
        let m = m.unwrap();
        let held: Vec<_> = (0..4).map(|_| m.instantiate().unwrap()).collect();
        let err = m.instantiate().unwrap_err();
        assert!(matches!(err, Error::PoolExhausted { capacity: 4 }), "{err}");
        drop(held);
        let mut i = m.instantiate().unwrap();
        assert_eq!(
            i.call_typed::<i32, i32>("read", 1024).unwrap(),
            i32::from(b'w')
        );
    }
}

mod metrics {
    use super::*;

    #[test]
    fn snapshot_counts_calls_traps_and_timeouts() {
        let s = Sandbox::new(SandboxConfig {
            metrics: true,
            limits: ResourceLimits {
                timeout: Some(Duration::from_millis(50)),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let m = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let l = s.compile(guests::LOOP_WAT.as_bytes()).unwrap();
        let mut i = m.instantiate().unwrap();
        for k in 0..10 {
            i.call_typed::<(i32, i32), i32>("add", (k, k)).unwrap();
        }
        let _ = i.call_typed::<(), ()>("trap", ());
        let _ = l.instantiate().unwrap().call_typed::<(), ()>("run", ());
        let snap = s.metrics();
        assert_eq!(snap.compiles, 2);
        assert_eq!(snap.instantiations, 2);
        assert_eq!(snap.calls, 12);
        assert_eq!(snap.traps, 1);
        assert_eq!(snap.timeouts, 1);
        assert_eq!(snap.call.count, 12);
        assert!(snap.call.p99_ns >= 50_000_000, "{:?}", snap.call);
    }

    /// A serde or bytes call makes four guest calls (alloc, the export, two frees) but is
    /// one call to the embedder: one metrics sample, under one deadline.
    #[test]
    fn a_serde_call_counts_once() {
        let s = Sandbox::new(SandboxConfig {
            metrics: true,
            ..Default::default()
        })
        .unwrap();
        let m = s.compile(guests::ABI_WASM).unwrap();
        let mut i = m.instantiate().unwrap();
        let before = s.metrics().calls;
        let out: Vec<i32> = i
            .call(Codec::Json, "process_batch", &vec![1, 2, 3])
            .unwrap();
        assert_eq!(out, vec![2, 4, 6]);
        i.call_bytes("echo", b"abc").unwrap();
        assert_eq!(s.metrics().calls - before, 2);
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

mod lifetimes {
    use super::*;

    /// Idle instances refer to their module weakly: dropping the last module
    /// handle frees them, and the pool slots they held.
    #[test]
    fn dropping_a_module_frees_its_idle_instances() {
        let s = Sandbox::new(SandboxConfig {
            performance: PerformanceConfig {
                memory_pool_size: 2 * 1024 * 1024,
                ..Default::default()
            },
            limits: ResourceLimits {
                max_memory: 1024 * 1024,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let a = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        rt().block_on(async {
            assert_eq!(
                a.call_typed::<(i32, i32), i32>("add", (1, 1))
                    .await
                    .unwrap(),
                2
            );
        });
        assert_eq!(a.idle_instances(), 1);
        // An instance's own module handle does not keep the idle list alive.
        let held = a.instantiate().unwrap();
        assert_eq!(held.module().idle_instances(), 1);
        drop(held);
        drop(a);
        let b = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let both: Vec<_> = (0..2).map(|_| b.instantiate().unwrap()).collect();
        assert_eq!(both.len(), 2);
    }
}
