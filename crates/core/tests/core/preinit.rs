//! Runtime pre-initialization (`Sandbox::preinitialize`, feature `preinit`) and fresh
//! isolation (`Isolation::Fresh`): a snapshot behaves like the original after its init step,
//! on every tier; state never crosses calls in fresh mode; an init step that fails fails with
//! its typed error and caches nothing; a restarted process loads the snapshot without running
//! the init step.

use super::*;
use wasm_sandbox_core::{HostFunctions, Isolation, PreInit, Tier};

/// A module whose `init` builds state: a table of squares in memory, a checksum in a mutable
/// global, a counter; `init` traps if run twice (a snapshot must not run it again, nor its
/// start function, which counts instantiations in another global).
const STATEFUL: &str = r#"(module
  (memory (export "memory") 1 4)
  (global $inited (mut i32) (i32.const 0))
  (global $sum (mut i64) (i64.const 0))
  (global $starts (mut i32) (i32.const 0))
  (global $ratio (mut f64) (f64.const 0))
  (func $start (global.set $starts (i32.add (global.get $starts) (i32.const 1))))
  (start $start)
  (func (export "init") (local $i i32)
    (if (global.get $inited) (then unreachable))
    (global.set $inited (i32.const 1))
    (loop $l
      (i32.store (i32.mul (local.get $i) (i32.const 4)) (i32.mul (local.get $i) (local.get $i)))
      (global.set $sum (i64.add (global.get $sum) (i64.extend_i32_u (i32.mul (local.get $i) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    ;; Grow once: the snapshot must keep the second page and what is in it.
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 70000) (i32.const 77))
    (global.set $ratio (f64.div (f64.const 1) (f64.const 3))))
  (func (export "square") (param i32) (result i32)
    (i32.load (i32.mul (local.get 0) (i32.const 4))))
  (func (export "sum") (result i64) (global.get $sum))
  (func (export "starts") (result i32) (global.get $starts))
  (func (export "pages") (result i32) (memory.size))
  (func (export "far") (result i32) (i32.load (i32.const 70000)))
  (func (export "ratio") (result f64) (global.get $ratio))
  ;; A call that changes state: bumps the square of 0 and returns it.
  (func (export "bump") (result i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (i32.load (i32.const 0))))"#;

fn on(tier: Tier) -> Sandbox {
    Sandbox::with_tier(SandboxConfig::default(), tier, None).unwrap()
}

/// The observable state, read through calls.
fn observe(inst: &mut wasm_sandbox_core::Instance) -> (Vec<i32>, i64, i32, i32, i32, u64) {
    let squares = [0, 1, 2, 31, 999, 1000]
        .iter()
        .map(|&i| inst.call_typed::<i32, i32>("square", i).unwrap())
        .collect();
    (
        squares,
        inst.call_typed::<(), i64>("sum", ()).unwrap(),
        inst.call_typed::<(), i32>("pages", ()).unwrap(),
        inst.call_typed::<(), i32>("far", ()).unwrap(),
        inst.call_typed::<(), i32>("starts", ()).unwrap(),
        inst.call_typed::<(), f64>("ratio", ()).unwrap().to_bits(),
    )
}

#[test]
fn a_snapshot_behaves_like_the_original_after_init_on_every_tier() {
    let init = PreInit::export("init");
    for tier in Tier::ALL {
        let sandbox = on(tier);
        // The original, initialized by hand.
        let original = sandbox.compile(STATEFUL.as_bytes()).unwrap();
        let mut reference = original.instantiate().unwrap();
        reference.call_typed::<(), ()>("init", ()).unwrap();
        let want = observe(&mut reference);
        assert_eq!(want.0, vec![0, 1, 4, 961, 998_001, 0], "{tier:?}");
        assert_eq!(want.2, 2, "{tier:?}: init grew the memory");

        let snapshot = sandbox
            .compile_preinitialized(STATEFUL.as_bytes(), &init)
            .unwrap();
        for _ in 0..2 {
            // Every instance starts from the initialized state, and its start function
            // does not run again (the count stays the one from init's instantiation).
            let mut inst = snapshot.instantiate().unwrap();
            assert_eq!(observe(&mut inst), want, "{tier:?}");
            // The same call sequence gives the same results.
            assert_eq!(inst.call_typed::<(), i32>("bump", ()).unwrap(), 1);
            assert_eq!(reference.call_typed::<(), i32>("bump", ()).unwrap(), 1);
            reference.call_typed::<(), ()>("init", ()).unwrap_err();
            // The init export ran in the snapshot: it is gone, not runnable twice.
            assert!(matches!(
                inst.call_typed::<(), ()>("init", ()),
                Err(Error::MissingExport { .. })
            ));
            reference = original.instantiate().unwrap();
            reference.call_typed::<(), ()>("init", ()).unwrap();
        }
        assert_ne!(
            snapshot.content_hash(),
            original.content_hash(),
            "a snapshot has an identity of its own"
        );
        assert_eq!(
            snapshot.content_hash(),
            init.snapshot_id(&original.content_hash())
        );
    }
}

/// A reactor's `_initialize` (C constructors) runs in the snapshot's init and never again.
#[test]
fn a_reactor_is_initialized_once_and_its_initialize_export_is_gone() {
    let wat = r#"(module
      (memory (export "memory") 1)
      (global $n (mut i32) (i32.const 0))
      (func (export "_initialize") (global.set $n (i32.add (global.get $n) (i32.const 1))))
      (func (export "n") (result i32) (global.get $n)))"#;
    let sandbox = sandbox();
    let snapshot = sandbox
        .compile_preinitialized(wat.as_bytes(), &PreInit::initialize())
        .unwrap();
    assert!(
        !snapshot
            .function_exports()
            .contains(&"_initialize".to_owned())
    );
    let mut inst = snapshot.instantiate().unwrap();
    assert_eq!(inst.call_typed::<(), i32>("n", ()).unwrap(), 1);
}

/// The ABI init step: an argument goes in (here a byte string the guest keeps), the result
/// is dropped, and a guest error fails the pre-initialization.
#[test]
fn an_abi_init_step_gets_its_argument_and_its_guest_error_fails_it() {
    let sandbox = sandbox();
    // A bump allocator, `setup` copying its argument to offset 1024 (length at 1020), and
    // `get` returning it; `setup` reports an error for an empty argument.
    let wat = r#"(module
      (memory (export "memory") 2)
      (global $top (mut i32) (i32.const 4096))
      (func (export "sandbox_alloc") (param $n i32) (result i32) (local $p i32)
        (local.set $p (global.get $top))
        (global.set $top (i32.add (global.get $top) (local.get $n)))
        (local.get $p))
      (func (export "sandbox_free") (param i32 i32))
      (data (i32.const 2048) "empty setup")
      (func (export "setup") (param $p i32) (param $n i32) (result i64)
        (if (i32.eqz (local.get $n))
          (then (return (i64.or (i64.shl (i64.const 2048) (i64.const 32))
                                (i64.const 0x8000000b)))))
        (i32.store (i32.const 1020) (local.get $n))
        (memory.copy (i32.const 1024) (local.get $p) (local.get $n))
        (i64.const 0))
      (func (export "get") (param i32 i32) (result i64)
        (i64.or (i64.shl (i64.const 1024) (i64.const 32))
                (i64.extend_i32_u (i32.load (i32.const 1020))))))"#;
    let init = PreInit::call_bytes("setup", b"prelude: 42".to_vec());
    let snapshot = sandbox
        .compile_preinitialized(wat.as_bytes(), &init)
        .unwrap();
    let mut inst = snapshot.instantiate().unwrap();
    assert_eq!(inst.call_bytes("get", b"").unwrap(), b"prelude: 42");

    let err = sandbox
        .compile_preinitialized(wat.as_bytes(), &PreInit::call_bytes("setup", Vec::new()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Guest { message } if message.contains("empty setup")),
        "{err}"
    );
    // Keys tell the steps apart.
    assert_ne!(
        init.key(),
        PreInit::call_bytes("setup", b"prelude: 43".to_vec()).key()
    );
    assert_ne!(
        PreInit::export("a").key(),
        PreInit::call_bytes("a", Vec::new()).key()
    );
}

/// What a snapshot cannot carry is refused with `Error::Preinit`, naming it, before any
/// guest code runs; so is an init step that calls a host function.
#[test]
fn what_a_snapshot_cannot_carry_is_refused_with_a_clear_error() {
    let sandbox = sandbox();
    let cases = [
        (
            r#"(module (global (import "env" "g") (mut i32)) (func (export "init")))"#,
            "imported globals",
        ),
        (
            r#"(module (table 2 funcref) (func $f)
                 (func (export "init") (table.set 0 (i32.const 0) (ref.func $f)))
                 (elem declare func $f))"#,
            "table.set",
        ),
        (
            r#"(module (global (mut externref) (ref.null extern)) (func (export "init")))"#,
            "reference type",
        ),
    ];
    for (wat, what) in cases {
        let err = sandbox
            .preinitialize(wat.as_bytes(), &PreInit::export("init"))
            .unwrap_err();
        // An import the sandbox does not provide is refused first, as at load time.
        let ok = match &err {
            Error::Preinit { reason } => reason.contains(what),
            Error::ImportNotAllowed { name, .. } => &**name == "g",
            _ => false,
        };
        assert!(ok, "{what}: {err}");
    }

    // A host function exists for calls, but the init step may not call it.
    let host = HostFunctions::<()>::new().func("env", "ping", |_cx, (): ()| Ok(7i32));
    let sandbox = Sandbox::with_host(SandboxConfig::default(), host).unwrap();
    let wat = r#"(module (import "env" "ping" (func $ping (result i32)))
      (global $v (mut i32) (i32.const 0))
      (func (export "init") (global.set $v (call $ping)))
      (func (export "later") (result i32) (call $ping)))"#;
    let err = sandbox
        .preinitialize(wat.as_bytes(), &PreInit::export("init"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Preinit { reason } if reason.contains("env.ping")),
        "{err}"
    );
    // Without calling it in init, the snapshot links it for its calls.
    let wat_ok = wat.replace("(global.set $v (call $ping))", "");
    let snapshot = sandbox
        .compile_preinitialized(wat_ok.as_bytes(), &PreInit::export("init"))
        .unwrap();
    let mut inst = snapshot.instantiate().unwrap();
    assert_eq!(inst.call_typed::<(), i32>("later", ()).unwrap(), 7);

    // The init export must exist and be `[] -> []`.
    let err = sandbox
        .preinitialize(wat_ok.as_bytes(), &PreInit::export("nope"))
        .unwrap_err();
    assert!(matches!(err, Error::MissingExport { .. }), "{err}");
    let err = sandbox
        .preinitialize(wat_ok.as_bytes(), &PreInit::export("later"))
        .unwrap_err();
    assert!(matches!(err, Error::SignatureMismatch { .. }), "{err}");
}

/// Init steps that trap, time out, exceed memory or exit fail with their typed error.
#[test]
fn an_init_step_that_fails_fails_with_its_typed_error() {
    let sandbox = with_limits(ResourceLimits {
        timeout: Some(Duration::from_millis(200)),
        max_memory: 4 * 65536,
        ..Default::default()
    });
    let run = |body: &str| {
        let wat = format!(r#"(module (memory 1) (func (export "init") {body}))"#);
        sandbox
            .preinitialize(wat.as_bytes(), &PreInit::export("init"))
            .unwrap_err()
    };
    let err = run("unreachable");
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
    let start = Instant::now();
    let err = run("(loop $l (br $l))");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let err = run("(drop (memory.grow (i32.const 10)))");
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

/// An init step gets WASI without the host's files, arguments or environment: clocks and
/// randomness work, stdout is swallowed, and a trap's message carries the guest's stderr.
#[test]
fn an_init_step_gets_wasi_without_files_and_its_stderr_explains_a_trap() {
    let sandbox = Sandbox::new(SandboxConfig {
        wasi: Some(
            WasiConfig::capture()
                .args(["prog", "secret-arg"])
                .env("SECRET", "1"),
        ),
        ..Default::default()
    })
    .unwrap();
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 200) "init failed: no config")
      (func (export "init")
        (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
        (drop (call $random (i32.const 16) (i32.const 16)))
        (drop (call $args (i32.const 32) (i32.const 36))))
      (func (export "fail")
        (i32.store (i32.const 300) (i32.const 200))
        (i32.store (i32.const 304) (i32.const 22))
        (drop (call $write (i32.const 2) (i32.const 300) (i32.const 1) (i32.const 308)))
        unreachable)
      (func (export "time") (result i64) (i64.load (i32.const 0)))
      (func (export "argc") (result i32) (i32.load (i32.const 32))))"#;
    let snapshot = sandbox
        .compile_preinitialized(wat.as_bytes(), &PreInit::export("init"))
        .unwrap();
    let mut inst = snapshot.instantiate().unwrap();
    assert!(inst.call_typed::<(), i64>("time", ()).unwrap() > 0);
    // The init step saw no arguments (the sandbox's are for calls).
    assert_eq!(inst.call_typed::<(), i32>("argc", ()).unwrap(), 0);

    let err = sandbox
        .preinitialize(wat.as_bytes(), &PreInit::export("fail"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Trap { message, .. } if message.contains("init failed: no config")),
        "{err}"
    );
}

/// A guest that writes a secret into its memory, a global and a table in one call never
/// sees it in the next when calls are fresh, pooled or not; with reuse it does (the control).
#[test]
fn state_never_crosses_calls_in_fresh_mode_pooled_or_not() {
    let wat = r#"(module
      (memory (export "memory") 1)
      (global $g (mut i32) (i32.const 0))
      (table $t 2 funcref)
      (func $secret (result i32) (i32.const 0x5ec2e7))
      (elem declare func $secret)
      (func (export "leave") (param $v i32)
        (i32.store (i32.const 4096) (local.get $v))
        (global.set $g (local.get $v))
        (table.set $t (i32.const 1) (ref.func $secret)))
      (func (export "seen") (result i32)
        (i32.add (i32.add (i32.load (i32.const 4096)) (global.get $g))
                 (if (result i32) (ref.is_null (table.get $t (i32.const 1)))
                   (then (i32.const 0)) (else (i32.const 1))))))"#;
    let rt = rt();
    for pool in [0, 4 * 1024 * 1024] {
        let sandbox = Sandbox::new(SandboxConfig {
            performance: PerformanceConfig {
                memory_pool_size: pool,
                ..Default::default()
            },
            limits: ResourceLimits {
                max_memory: 1024 * 1024,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let module = sandbox.compile(wat.as_bytes()).unwrap();
        let fresh = module.with_isolation(Isolation::Fresh);
        assert_eq!(fresh.isolation(), Isolation::Fresh);
        assert_eq!(module.isolation(), Isolation::Reuse);
        rt.block_on(async {
            for tenant in 1..=50 {
                fresh.call_typed::<i32, ()>("leave", tenant).await.unwrap();
                assert_eq!(
                    fresh.call_typed::<(), i32>("seen", ()).await.unwrap(),
                    0,
                    "pool {pool}: tenant {tenant}'s secret reached the next call"
                );
            }
            assert_eq!(fresh.idle_instances(), 0, "fresh calls keep no instance");
            // The control: reused instances do carry state, so the test can see a leak.
            module.call_typed::<i32, ()>("leave", 5).await.unwrap();
            assert_eq!(module.call_typed::<(), i32>("seen", ()).await.unwrap(), 11);
        });
    }
}

/// A restarted process (a new sandbox and a new cache on the same directory) loads the
/// snapshot from disk without running the init step; a failed init caches nothing.
#[cfg(feature = "cache")]
#[test]
fn a_restarted_process_loads_the_snapshot_without_running_init() {
    use wasm_sandbox_cache::{CacheConfig, CompilationCache};
    let dir = tempfile::tempdir().unwrap();
    let metered = || {
        Sandbox::new(SandboxConfig {
            metrics: true,
            ..Default::default()
        })
        .unwrap()
    };
    let init = PreInit::export("init");

    let first = metered();
    let cache = CompilationCache::open(CacheConfig::new(dir.path())).unwrap();
    let a = first
        .compile_preinitialized_cached(&cache, STATEFUL.as_bytes(), &init)
        .unwrap();
    assert_eq!(first.metrics().preinits, 1);
    // In the same process: the memory layer, no second init.
    let again = first
        .compile_preinitialized_cached(&cache, STATEFUL.as_bytes(), &init)
        .unwrap();
    assert_eq!(first.metrics().preinits, 1);
    assert_eq!(again.content_hash(), a.content_hash());
    drop((a, again, cache, first));

    let second = metered();
    let cache = CompilationCache::open(CacheConfig::new(dir.path())).unwrap();
    let b = second
        .compile_preinitialized_cached(&cache, STATEFUL.as_bytes(), &init)
        .unwrap();
    assert_eq!(
        second.metrics().preinits,
        0,
        "the restart ran the init step"
    );
    assert_eq!(cache.stats().disk_hits, 1);
    let mut inst = b.instantiate().unwrap();
    assert_eq!(inst.call_typed::<i32, i32>("square", 31).unwrap(), 961);
    // Another step is another snapshot: a miss, and an init run.
    let other = PreInit::initialize();
    second
        .compile_preinitialized_cached(&cache, STATEFUL.as_bytes(), &other)
        .unwrap();
    assert_eq!(second.metrics().preinits, 1);

    // A failing init stores nothing.
    let failing = br#"(module (func (export "init") unreachable))"#;
    let before = cache.stats();
    second
        .compile_preinitialized_cached(&cache, failing, &init)
        .unwrap_err();
    let after = cache.stats();
    assert_eq!(
        after.compiles, before.compiles,
        "nothing was compiled or stored"
    );
    assert_eq!(after.entries_on_disk, before.entries_on_disk);
}
