//! Guests that do the hostile thing at the boundary between guest code and
//! host code (issue 14): each test asserts the typed error, a time bound
//! (twice the limit, as a correctness bound) and, where it matters, that the
//! host's memory did not follow the guest's.

use super::*;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the bytes each thread allocates, so a test can bound what one
/// synchronous call (which runs wholly on the calling thread) cost the host.
struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: allocations during thread teardown are not counted.
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + bytes as u64));
}

/// Bytes allocated on this thread while `f` ran.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

// SAFETY: every method forwards to `System` with the caller's own arguments,
// so the allocator contract (sizes, alignment, pointers from this allocator)
// is the caller's, as for `System` itself; the counting touches only a
// const-initialized thread-local `Cell`, which neither allocates nor panics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const LIMIT: Duration = Duration::from_millis(200);

fn wasi_sandbox(limits: ResourceLimits) -> Sandbox {
    Sandbox::new(SandboxConfig {
        limits,
        wasi: Some(WasiConfig::default()),
        ..Default::default()
    })
    .unwrap()
}

fn hostile_wasi() -> wasm_sandbox_core::Module {
    wasi_sandbox(ResourceLimits {
        timeout: Some(LIMIT),
        ..ResourceLimits::default()
    })
    .compile(guests::HOSTILE_WASI_WAT.as_bytes())
    .unwrap()
}

/// Asserts a timeout that came no earlier than the limit and within twice it.
fn assert_timed_out<T: std::fmt::Debug>(r: Result<T, Error>, started: Instant) {
    let took = started.elapsed();
    assert!(
        matches!(r, Err(Error::Timeout { limit }) if limit == LIMIT),
        "expected a timeout, got {r:?}"
    );
    assert!(took >= LIMIT, "cut short after {took:?}");
    assert!(took < 2 * LIMIT, "took {took:?} for a {LIMIT:?} limit");
}

mod wasi_sleeps {
    use super::*;

    #[test]
    fn an_hour_long_sleep_ends_at_the_deadline_on_the_async_path() {
        let m = hostile_wasi();
        for export in ["sleep_hour", "sleep_forever", "sleep_loop"] {
            let start = Instant::now();
            let r = rt().block_on(m.call_typed::<(), ()>(export, ()));
            assert_timed_out(r, start);
        }
        // The timed-out instances were discarded, not kept for the next call.
        assert_eq!(m.idle_instances(), 0);
    }

    #[test]
    fn an_hour_long_sleep_ends_at_the_deadline_on_the_sync_path() {
        let m = hostile_wasi();
        for export in ["sleep_hour", "sleep_forever", "sleep_loop"] {
            let mut inst = m.instantiate().unwrap();
            let start = Instant::now();
            let r = inst.call_typed::<(), ()>(export, ());
            assert_timed_out(r, start);
            assert!(inst.is_poisoned());
        }
    }

    #[test]
    fn a_held_instance_is_cut_on_the_async_path_too() {
        let m = hostile_wasi();
        rt().block_on(async {
            let mut inst = m.instantiate_async().await.unwrap();
            let start = Instant::now();
            let r = inst.call_typed_async::<(), ()>("sleep_hour", ()).await;
            assert_timed_out(r, start);
            assert!(inst.is_poisoned());
        });
    }

    #[test]
    fn an_async_host_function_that_never_returns_ends_at_the_deadline() {
        // An embedder's async host function that never completes, on a
        // runtime without a time driver: only the sandbox's own alarm, woken
        // by its ticker thread, can end the call.
        let host: wasm_sandbox_core::HostSetup = Arc::new(|linker| {
            linker.func_wrap_async("env", "hang", |_caller, (): ()| {
                Box::new(std::future::pending::<()>())
            })?;
            Ok(())
        });
        let config = SandboxConfig {
            limits: ResourceLimits {
                timeout: Some(LIMIT),
                ..ResourceLimits::default()
            },
            ..SandboxConfig::default()
        };
        let tier = config.performance.tier();
        let s = Sandbox::with_tier(config, tier, Some(host.into())).unwrap();
        let m = s
            .compile(
                br#"(module (import "env" "hang" (func $hang))
                    (func (export "run") (call $hang)))"#,
            )
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let start = Instant::now();
        let r = rt.block_on(m.call_typed::<(), ()>("run", ()));
        assert_timed_out(r, start);
        // The synchronous API cannot call an async host function: a usage
        // error at instantiation, not a failure half-way through a call.
        let e = m.instantiate().unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("instantiate_async"), "{e}");
    }
}

mod one_budget {
    use super::*;

    #[test]
    fn the_steps_of_a_bytes_call_share_one_deadline() {
        // Alloc, the export and both frees spin 120 ms each: 480 ms in all,
        // which no step alone exceeds. One deadline ends the call at 200 ms.
        let m = hostile_wasi();
        let start = Instant::now();
        let r = rt().block_on(m.call_bytes("slow_echo", b"hello"));
        assert_timed_out(r, start);
        let mut inst = m.instantiate().unwrap();
        let start = Instant::now();
        let r = inst.call_bytes("slow_echo", b"hello");
        assert_timed_out(r, start);
    }

    #[test]
    fn the_steps_of_a_bytes_call_share_one_fuel_budget() {
        // Each step burns about 4,000 units (500 rounds of 8 operators);
        // 6,000 units cover any one of them, not the three of them.
        const BURNER: &str = r#"(module
            (memory (export "memory") 1)
            (func $burn (local $i i32)
                (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get $i) (i32.const 500)))))
            (func (export "sandbox_alloc") (param i32) (result i32) (call $burn) (i32.const 64))
            (func (export "sandbox_free") (param i32 i32) (call $burn))
            (func (export "work") (param i32 i32) (result i64) (call $burn) (i64.const 0))
            (func (export "one_burn") (call $burn)))"#;
        let s = with_limits(ResourceLimits {
            fuel: Some(6_000),
            ..ResourceLimits::default()
        });
        let m = s.compile(BURNER.as_bytes()).unwrap();
        let mut inst = m.instantiate().unwrap();
        inst.call_typed::<(), ()>("one_burn", ()).unwrap();
        assert!(matches!(
            inst.call_bytes("work", b"x"),
            Err(Error::OutOfFuel { fuel: 6_000 })
        ));
        let r = rt().block_on(m.call_bytes("work", b"x"));
        assert!(matches!(r, Err(Error::OutOfFuel { fuel: 6_000 })), "{r:?}");
    }

    #[test]
    fn a_timeout_too_long_for_the_clock_is_no_timeout() {
        let s = with_limits(ResourceLimits {
            timeout: Some(Duration::MAX),
            ..ResourceLimits::default()
        });
        let m = s.compile(guests::SCALAR_WAT.as_bytes()).unwrap();
        let mut inst = m.instantiate().unwrap();
        assert_eq!(
            inst.call_typed::<(i32, i32), i32>("add", (2, 3)).unwrap(),
            5
        );
        let r = rt().block_on(m.call_typed::<(i32, i32), i32>("add", (2, 3)));
        assert_eq!(r.unwrap(), 5);
    }

    /// Without a timeout the engine compiles no epoch checks (as `wasmtime run`
    /// without `-W timeout`). Such code must never reach a bounded sandbox: with
    /// one cache directory shared by an unbounded and a bounded sandbox, each
    /// compiles its own artifact (also after a restart, from disk), and the
    /// bounded one still cuts an endless loop at its deadline.
    #[cfg(feature = "cache")]
    #[test]
    fn code_without_epoch_checks_never_reaches_a_bounded_sandbox() {
        use wasm_sandbox_cache::{CacheConfig, CompilationCache};
        let dir = tempfile::tempdir().unwrap();
        let unbounded = with_limits(ResourceLimits {
            timeout: None,
            ..ResourceLimits::default()
        });
        let cache = CompilationCache::open(CacheConfig::new(dir.path())).unwrap();
        let scalar = unbounded
            .compile_cached(&cache, guests::SCALAR_WAT.as_bytes())
            .unwrap();
        let mut inst = scalar.instantiate().unwrap();
        assert_eq!(
            inst.call_typed::<(i32, i32), i32>("add", (2, 3)).unwrap(),
            5
        );
        let r = rt().block_on(scalar.call_typed::<(i32, i32), i32>("add", (2, 3)));
        assert_eq!(r.unwrap(), 5);
        unbounded
            .compile_cached(&cache, guests::LOOP_WAT.as_bytes())
            .unwrap();
        assert_eq!(cache.stats().compiles, 2);
        drop(cache);

        let timeout = Duration::from_millis(200);
        let bounded = with_limits(ResourceLimits {
            timeout: Some(timeout),
            ..ResourceLimits::default()
        });
        // A new cache on the same directory: what the unbounded sandbox stored is on disk.
        let cache = CompilationCache::open(CacheConfig::new(dir.path())).unwrap();
        let m = bounded
            .compile_cached(&cache, guests::LOOP_WAT.as_bytes())
            .unwrap();
        assert_eq!(
            (cache.stats().compiles, cache.stats().disk_hits),
            (1, 0),
            "a bounded sandbox was served code compiled without epoch checks"
        );
        let start = Instant::now();
        let err = m
            .instantiate()
            .unwrap()
            .call_typed::<(), ()>("run", ())
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(start.elapsed() < timeout * 2, "{:?}", start.elapsed());
        let r = rt().block_on(m.call_typed::<(), ()>("run", ()));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    }
}

mod outputs {
    use super::*;

    fn hostile_abi(limits: ResourceLimits) -> wasm_sandbox_core::Instance {
        with_limits(limits)
            .compile(guests::HOSTILE_ABI_WAT.as_bytes())
            .unwrap()
            .instantiate()
            .unwrap()
    }

    #[test]
    fn a_result_over_the_limit_is_refused_before_it_is_copied() {
        let mut inst = hostile_abi(ResourceLimits::default());
        let (r, allocated) = allocated_by(|| inst.call_bytes("huge_json", b""));
        assert!(
            matches!(
                r,
                Err(Error::LimitExceeded {
                    resource: Resource::ResultBytes,
                    requested: 50_331_647,
                    limit: 16_777_216,
                })
            ),
            "{r:?}"
        );
        assert!(allocated < 1 << 20, "the host allocated {allocated} bytes");
        // The block was freed and the instance is fine: the limit is the
        // host's refusal, not the guest's fault.
        assert_eq!(
            inst.call_bytes("echo", b"still here").unwrap(),
            b"still here"
        );
    }

    #[test]
    fn a_result_within_a_raised_limit_arrives_whole() {
        let mut inst = hostile_abi(ResourceLimits {
            max_result_bytes: 64 << 20,
            ..ResourceLimits::default()
        });
        let out = inst.call_bytes("huge_json", b"").unwrap();
        assert_eq!(out.len(), 50_331_647);
        assert_eq!(&out[..4], b"[0,0");
        assert_eq!(out.last(), Some(&b']'));
    }

    #[test]
    fn a_huge_error_message_is_cut_and_marked() {
        let mut inst = hostile_abi(ResourceLimits::default());
        let (r, allocated) = allocated_by(|| inst.call_bytes("huge_error", b""));
        let Err(Error::Guest { message }) = r else {
            panic!("expected a guest error, got {r:?}");
        };
        assert!(
            message.ends_with(" [truncated: 50331648 bytes in all]"),
            "{message:.100}"
        );
        // 4 KiB of 0xff, each decoded as U+FFFD (3 bytes), plus the marker.
        assert!(message.len() <= 3 * 4096 + 64, "{} bytes", message.len());
        assert!(allocated < 1 << 20, "the host allocated {allocated} bytes");
    }

    #[test]
    fn a_short_error_message_is_kept_whole() {
        let m = sandbox().compile(guests::ABI_WASM).unwrap();
        let mut inst = m.instantiate().unwrap();
        let Err(Error::Guest { message }) = inst.call_bytes("fail", b"") else {
            panic!("`fail` reports an error");
        };
        assert!(!message.contains("truncated"), "{message}");
    }
}

mod inherited_output {
    use super::*;

    #[test]
    fn a_guest_past_its_inherit_limit_sees_its_writes_fail() {
        // The guest's stdout goes to the host's stderr with a 100-byte limit:
        // the first 4 KiB write is taken into the buffer (100 bytes of it reach
        // stderr), and a later write fails, which the guest sees and stops on.
        let s = Sandbox::new(SandboxConfig {
            wasi: Some(WasiConfig {
                stdout: Output::HostStderr,
                inherit_limit: Some(100),
                ..WasiConfig::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let m = s.compile(guests::HOSTILE_WASI_WAT.as_bytes()).unwrap();
        let start = Instant::now();
        let written = rt()
            .block_on(m.call_typed::<(), i64>("print_until_error", ()))
            .unwrap();
        assert!(written <= 2 * 4096, "{written} bytes reported written");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

mod guest_faults {
    use super::*;

    #[test]
    fn proc_exit_with_a_reserved_status_is_a_guest_fault() {
        let m = hostile_wasi();
        let mut inst = m.instantiate().unwrap();
        let e = inst.call_typed::<(), ()>("exit_200", ()).unwrap_err();
        assert!(matches!(e, Error::Trap { .. }), "{e:?}");
        assert!(e.is_guest_fault());
        assert!(e.to_string().contains("proc_exit"), "{e}");
    }

    #[test]
    fn a_shared_memory_is_an_invalid_module_on_every_tier() {
        let wat = r#"(module (memory (export "memory") 1 1 shared))"#;
        for tier in wasm_sandbox_core::Tier::ALL {
            let s = Sandbox::with_tier(SandboxConfig::default(), tier, None).unwrap();
            let e = s.compile(wat.as_bytes()).unwrap_err();
            assert!(matches!(e, Error::InvalidModule { .. }), "{tier}: {e:?}");
            assert!(e.is_guest_fault());
        }
    }
}
