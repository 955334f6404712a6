//! Tests of the facade: the builder, the default module and the re-exports.

use std::sync::Arc;
use std::time::Duration;

use wasm_sandbox::{Codec, Error, PerformanceConfig, Tier, WasiConfig, WasmSandbox};
use wasm_sandbox_guests as guests;

mod plugins;
mod snapshots;

#[tokio::test]
async fn calls_target_the_first_module_loaded() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let err = sandbox
        .call_typed::<(i32, i32), i32>("add", (1, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let abi = sandbox.load(guests::ABI_WASM).await.unwrap();
    let scalar = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let r: Vec<i32> = sandbox.call("process_batch", &vec![1, 2, 3]).await.unwrap();
    assert_eq!(r, [2, 4, 6]);
    sandbox.set_default(&scalar);
    assert_eq!(
        sandbox
            .call_typed::<(i32, i32), i32>("add", (1, 2))
            .await
            .unwrap(),
        3
    );
    let bytes = abi.call_bytes("echo", b"hi").await.unwrap();
    assert_eq!(bytes, b"hi");
}

#[tokio::test]
async fn modules_load_from_paths_and_missing_files_are_io_errors() {
    let sandbox = WasmSandbox::builder()
        .codec(Codec::Postcard)
        .build()
        .await
        .unwrap();
    let path = format!("{}/c/abi/abi.wasm", guests::DIR);
    let m = sandbox.compile_with_cache(path.as_str()).await.unwrap();
    sandbox.warmup(&m).await.unwrap();
    assert!(m.module().idle_instances() >= 1);
    let r: Vec<i32> = sandbox
        .call("process_batch_postcard", &vec![5])
        .await
        .unwrap();
    assert_eq!(r, [10]);
    let err = sandbox.load("/no/such/module.wasm").await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/module.wasm"));
}

#[tokio::test]
async fn builder_settings_reach_the_core() {
    let sandbox = WasmSandbox::builder()
        .performance_config(PerformanceConfig {
            enable_jit: false,
            ..Default::default()
        })
        .timeout(Duration::from_millis(100))
        .enable_metrics(true)
        .build()
        .await
        .unwrap();
    assert_eq!(sandbox.tier(), Tier::Interpreter);
    sandbox.load(guests::LOOP_WAT.as_bytes()).await.unwrap();
    let err = sandbox.call_typed::<(), ()>("run", ()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(sandbox.metrics().timeouts, 1);
}

#[tokio::test]
async fn wasi_commands_run_through_the_facade() {
    let sandbox = WasmSandbox::builder()
        .wasi(WasiConfig::default())
        .build()
        .await
        .unwrap();
    sandbox.load(guests::HELLO_WASM).await.unwrap();
    let out = sandbox
        .run(&WasiConfig::capture().args(["hello", "x"]))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("arg 1: x"));
}

#[test]
fn re_exports_name_the_core_types() {
    // The facade's types are the core's types, not copies.
    let _: fn(
        wasm_sandbox::core::SandboxConfig,
    ) -> wasm_sandbox::Result<wasm_sandbox::core::Sandbox> = wasm_sandbox::core::Sandbox::new;
    let e: wasm_sandbox::core::Error = wasm_sandbox::Error::config("x");
    assert!(matches!(e, wasm_sandbox::Error::Config { .. }));
}

#[tokio::test]
async fn compile_with_cache_hits_disk_across_sandboxes() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let perf = PerformanceConfig {
        enable_caching: true,
        ..Default::default()
    };
    let first = WasmSandbox::builder()
        .performance_config(perf.clone())
        .cache_dir(&cache_dir)
        .build()
        .await
        .unwrap();
    first.compile_with_cache(guests::ABI_WASM).await.unwrap();
    let stats = first.cache().unwrap().stats();
    assert_eq!(
        (stats.misses, stats.compiles, stats.entries_on_disk),
        (1, 1, 1)
    );

    // A new sandbox (a restarted process, as far as memory goes) loads the
    // verified artifact from disk instead of compiling.
    let second = WasmSandbox::builder()
        .performance_config(perf)
        .cache_dir(&cache_dir)
        .build()
        .await
        .unwrap();
    second.compile_with_cache(guests::ABI_WASM).await.unwrap();
    let stats = second.cache().unwrap().stats();
    assert_eq!((stats.disk_hits, stats.compiles), (1, 0));
    let r: Vec<i32> = second.call("process_batch", &vec![21]).await.unwrap();
    assert_eq!(r, [42]);

    // Invalid modules are still invalid through the cache.
    let err = second.load(&b"\0asm\x02"[..]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidModule { .. }), "{err}");
}

#[tokio::test]
async fn a_world_writable_cache_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = WasmSandbox::builder()
        .performance_config(PerformanceConfig {
            enable_caching: true,
            ..Default::default()
        })
        .cache_dir(&shared)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("writable by other users"), "{err}");
}

#[tokio::test]
async fn each_tier_gets_its_own_cache_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut stats = Vec::new();
    for tier_cfg in [
        PerformanceConfig {
            enable_caching: true,
            ..Default::default()
        },
        PerformanceConfig {
            enable_caching: true,
            optimization_level: wasm_sandbox::OptimizationLevel::Balanced,
            ..Default::default()
        },
    ] {
        let s = WasmSandbox::builder()
            .performance_config(tier_cfg)
            .cache_dir(dir.path())
            .build()
            .await
            .unwrap();
        s.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
        assert_eq!(
            s.call_typed::<(i32, i32), i32>("add", (2, 2))
                .await
                .unwrap(),
            4
        );
        stats.push(s.cache().unwrap().stats());
    }
    // Cranelift with and without optimizations: two compiles, two entries.
    assert_eq!(stats[1].compiles, 1);
    assert_eq!(stats[1].entries_on_disk, 2);
}

mod memo {
    use super::*;

    #[tokio::test]
    async fn pure_exports_are_memoized_and_errors_never_are() {
        let sandbox = WasmSandbox::builder()
            .pure_export("process_batch")
            .pure_export("abort_now")
            .build()
            .await
            .unwrap();
        sandbox.load(guests::ABI_WASM).await.unwrap();
        let input = vec![1, 2, 3];
        let a: Vec<i32> = sandbox.call("process_batch", &input).await.unwrap();
        let b: Vec<i32> = sandbox.call("process_batch", &input).await.unwrap();
        let c: Vec<i32> = sandbox.call("process_batch", &vec![4]).await.unwrap();
        assert_eq!((a.clone(), c), (vec![2, 4, 6], vec![8]));
        assert_eq!(a, b);
        // Not declared pure: always executed.
        let d = sandbox.call_bytes("echo", b"x").await.unwrap();
        let e = sandbox.call_bytes("echo", b"x").await.unwrap();
        assert_eq!((d.as_slice(), e.as_slice()), (&b"x"[..], &b"x"[..]));
        // Declared pure but trapping: never memoized, so it traps every time.
        for _ in 0..2 {
            let err = sandbox.call_bytes("abort_now", b"x").await.unwrap_err();
            assert!(matches!(err, Error::Trap { .. }), "{err}");
        }
        let stats = sandbox.call_optimizer().unwrap().stats();
        assert_eq!(stats.hits, 1);
        assert_eq!(stats.misses, 4);
        // Calls of exports that are not pure take the direct path and never reach the
        // optimizer (no bypass to count).
        assert_eq!(stats.bypasses, 0);
        assert_eq!(stats.insertions, 2);
    }

    /// A sandbox on the ABI guest with `export` declared pure, to share between tasks.
    async fn abi_sandbox_with_pure(export: &str) -> Arc<WasmSandbox> {
        let sandbox = WasmSandbox::builder()
            .pure_export(export)
            .build()
            .await
            .unwrap();
        sandbox.load(guests::ABI_WASM).await.unwrap();
        Arc::new(sandbox)
    }

    /// Identical calls of a pure export made at once execute once: the others wait for
    /// that execution's result (or, arriving after it, find it cached).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_concurrent_calls_execute_once() {
        let sandbox = abi_sandbox_with_pure("process_batch").await;
        // Large enough that the guest runs for milliseconds, while the callers arrive.
        let input: Arc<Vec<i32>> = Arc::new((0..200_000).collect());
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (sandbox, input) = (Arc::clone(&sandbox), Arc::clone(&input));
                tokio::spawn(async move {
                    sandbox
                        .call::<Vec<i32>, Vec<i32>>("process_batch", &*input)
                        .await
                })
            })
            .collect();
        for call in calls {
            let out = call.await.unwrap().unwrap();
            assert_eq!((out.len(), out[199_999]), (200_000, 399_998));
        }
        let stats = sandbox.call_optimizer().unwrap().stats();
        assert_eq!(stats.misses, 1, "{stats:?}");
        assert_eq!(stats.coalesced + stats.hits, 7, "{stats:?}");
    }

    /// Identical calls of a pure export that traps, made at once: every caller gets its own
    /// typed trap (none hangs, none is handed another's error), and nothing is memoized.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_concurrent_calls_that_trap_each_fail_on_their_own() {
        let sandbox = abi_sandbox_with_pure("abort_now").await;
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let sandbox = Arc::clone(&sandbox);
                tokio::spawn(async move { sandbox.call_bytes("abort_now", b"x").await })
            })
            .collect();
        for call in calls {
            let outcome = tokio::time::timeout(Duration::from_secs(10), call)
                .await
                .expect("no caller hangs")
                .unwrap();
            let err = outcome.expect_err("the guest traps");
            assert!(matches!(err, Error::Trap { .. }), "{err}");
        }
        let stats = sandbox.call_optimizer().unwrap().stats();
        assert_eq!((stats.entries, stats.errors), (0, 8), "{stats:?}");
        assert_eq!(stats.misses + stats.coalesced, 8, "{stats:?}");
    }

    /// Batched calls of a pure export share the memo cache with plain calls: a hit is
    /// answered without a batch, a miss runs batched and is stored, errors never are.
    #[tokio::test]
    async fn batched_calls_of_pure_exports_are_memoized() {
        let sandbox = WasmSandbox::builder()
            .pure_export("process_batch")
            .batching(wasm_sandbox::batch::BatchConfig::new().workers(1))
            .build()
            .await
            .unwrap();
        sandbox.load(guests::ABI_WASM).await.unwrap();
        let a: Vec<i32> = sandbox.call("process_batch", &vec![1, 2]).await.unwrap();
        let b: Vec<i32> = sandbox
            .call_batched("process_batch", &vec![1, 2])
            .await
            .unwrap();
        let c: Vec<i32> = sandbox
            .call_batched("process_batch", &vec![3])
            .await
            .unwrap();
        let d: Vec<i32> = sandbox.call("process_batch", &vec![3]).await.unwrap();
        assert_eq!((a, b, c, d), (vec![2, 4], vec![2, 4], vec![6], vec![6]));
        for _ in 0..2 {
            let err = sandbox
                .call_batched::<_, Vec<i32>>("process_batch", "garbage")
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Guest { .. }), "{err}");
        }
        let stats = sandbox.call_optimizer().unwrap().stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.errors),
            (2, 4, 2),
            "{stats:?}"
        );
        // Only the two batched misses that succeeded or failed went through the queue.
        let batch = sandbox.default_plugin().unwrap().stats().batch.unwrap();
        assert_eq!(batch.calls, 3, "{batch:?}");
    }

    #[tokio::test]
    async fn memoized_and_direct_results_agree() {
        let memo = WasmSandbox::builder()
            .pure_export("process_batch")
            .build()
            .await
            .unwrap();
        let direct = WasmSandbox::builder().build().await.unwrap();
        memo.load(guests::ABI_WASM).await.unwrap();
        direct.load(guests::ABI_WASM).await.unwrap();
        for n in 0..50i32 {
            let input: Vec<i32> = (0..n % 7).map(|k| k * n - 3).collect();
            for _ in 0..2 {
                let a: Vec<i32> = memo.call("process_batch", &input).await.unwrap();
                let b: Vec<i32> = direct.call("process_batch", &input).await.unwrap();
                assert_eq!(a, b);
            }
        }
    }
}

mod batched {
    use super::*;
    use wasm_sandbox::batch::BatchConfig;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_frame_of_the_whole_memory_fails_the_batch_not_its_calls() {
        // `echo__batch` answers any batch with the guest's whole memory as its
        // frame: far more items than calls. The frame is refused after the
        // batch's count and every call runs alone, getting its own echo.
        let sandbox = std::sync::Arc::new(
            WasmSandbox::builder()
                .batching(BatchConfig::new().batch_size(8).workers(1))
                .build()
                .await
                .unwrap(),
        );
        sandbox
            .load(guests::HOSTILE_ABI_WAT.as_bytes())
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = std::sync::Arc::clone(&sandbox);
                tokio::spawn(async move {
                    let got: String = s.call_batched("echo", &format!("call {i}")).await.unwrap();
                    assert_eq!(got, format!("call {i}"));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_guest_asleep_in_wasi_cannot_hold_a_batch_worker() {
        // One worker, whose guest sleeps for an hour in `poll_oneoff`: the
        // call ends at its deadline, and the worker is free for the next.
        let limit = std::time::Duration::from_millis(200);
        let sandbox = WasmSandbox::builder()
            .batching(BatchConfig::new().workers(1))
            .wasi(wasm_sandbox::WasiConfig::default())
            .timeout(limit)
            .build()
            .await
            .unwrap();
        sandbox
            .load(guests::HOSTILE_WASI_WAT.as_bytes())
            .await
            .unwrap();
        for _ in 0..2 {
            let start = std::time::Instant::now();
            let err = sandbox
                .call_batched::<_, ()>("sleep_hour_bytes", &())
                .await
                .unwrap_err();
            let took = start.elapsed();
            assert!(matches!(err, Error::Timeout { .. }), "{err}");
            assert!(took >= limit && took < 2 * limit, "took {took:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_calls_reach_the_right_callers() {
        let sandbox = std::sync::Arc::new(
            WasmSandbox::builder()
                .batching(BatchConfig::new().batch_size(8).workers(2))
                .build()
                .await
                .unwrap(),
        );
        sandbox.load(guests::ABI_WASM).await.unwrap();
        let mut tasks = Vec::new();
        for t in 0..100i32 {
            let s = std::sync::Arc::clone(&sandbox);
            tasks.push(tokio::spawn(async move {
                let input = vec![t, -t, t * 3];
                // Every tenth call sends garbage: it must fail alone.
                if t % 10 == 0 {
                    let err = s
                        .call_batched::<_, Vec<i32>>("process_batch", "garbage")
                        .await
                        .unwrap_err();
                    assert!(matches!(err, Error::Guest { .. }), "{err}");
                } else {
                    let got: Vec<i32> = s.call_batched("process_batch", &input).await.unwrap();
                    assert_eq!(got, vec![2 * t, -2 * t, 6 * t]);
                }
                // An export without a batch entry point runs call by call.
                let echoed: String = s.call_batched("echo", &format!("call {t}")).await.unwrap();
                assert_eq!(echoed, format!("call {t}"));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// The executor the facade batches with, used directly on another module:
    /// the guest's batch entry point is used unless switched off, and the
    /// results are the same either way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn module_executor_uses_batch_entries_only_when_asked() {
        use wasm_sandbox::ModuleExecutor;
        use wasm_sandbox::batch::BatchProcessor;
        let sandbox =
            wasm_sandbox_core::Sandbox::new(wasm_sandbox_core::SandboxConfig::default()).unwrap();
        let module = sandbox.compile(guests::ABI_WASM).unwrap();
        for entry in [true, false] {
            let processor = BatchProcessor::new(
                ModuleExecutor::new(module.clone()).with_batch_entry(entry),
                BatchConfig::new().batch_size(4).workers(1),
            )
            .unwrap();
            let call =
                |i: i32| processor.call_batched("process_batch", format!("[{i}]").into_bytes());
            let results = tokio::join!(call(0), call(1), call(2), call(3));
            let results = [results.0, results.1, results.2, results.3];
            for (i, r) in results.into_iter().enumerate() {
                assert_eq!(
                    r.unwrap(),
                    format!("[{}]", 2 * i).into_bytes(),
                    "entry {entry}"
                );
            }
            assert_eq!(processor.stats().guest_batches, u64::from(entry));
        }
    }

    #[tokio::test]
    async fn a_lone_call_is_flushed_by_the_timeout() {
        let timeout = Duration::from_millis(20);
        let sandbox = WasmSandbox::builder()
            .batching(BatchConfig::new().batch_size(1000).batch_timeout(timeout))
            .build()
            .await
            .unwrap();
        sandbox.load(guests::ABI_WASM).await.unwrap();
        // The first call also instantiates the workers; time the second.
        let _: Vec<i32> = sandbox
            .call_batched("process_batch", &vec![1])
            .await
            .unwrap();
        let start = std::time::Instant::now();
        let got: Vec<i32> = sandbox
            .call_batched("process_batch", &vec![5])
            .await
            .unwrap();
        assert_eq!(got, [10]);
        assert!(
            start.elapsed() < timeout + Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }

    /// A hostile call batched with others through the guest's batch entry point: its
    /// memory bomb takes the whole guest batch call down, and the chunk is then run call by
    /// call, so the bomb gets its own typed limit error and its neighbours their results.
    #[tokio::test]
    async fn a_failing_guest_batch_fails_only_the_call_that_broke_it() {
        let sandbox = WasmSandbox::builder()
            .max_memory(16 << 20)
            .batching(
                BatchConfig::new()
                    .batch_size(8)
                    .workers(1)
                    .batch_timeout(Duration::from_secs(3600)),
            )
            .build()
            .await
            .unwrap();
        sandbox.load(guests::ABI_WASM).await.unwrap();
        let bomb = vec![7i32; 3_000_000];
        let small = |i: i32| vec![i, i + 1];
        let call = |v: Vec<i32>| {
            let s = &sandbox;
            async move { s.call_batched::<_, Vec<i32>>("process_batch", &v).await }
        };
        let (a, b, c, d, e, f, g, h) = tokio::join!(
            call(small(0)),
            call(small(1)),
            call(small(2)),
            call(bomb.clone()),
            call(small(4)),
            call(small(5)),
            call(small(6)),
            call(small(7)),
        );
        for (i, r) in [a, b, c, e, f, g, h].into_iter().enumerate() {
            let i = if i >= 3 { i as i32 + 1 } else { i as i32 };
            assert_eq!(r.unwrap(), vec![2 * i, 2 * i + 2]);
        }
        assert!(
            matches!(d, Err(Error::LimitExceeded { .. })),
            "the bomb gets its own limit error: {d:?}"
        );
    }

    /// One call waits in a batch that is not full (for up to the 1 s batch timeout) and holds
    /// the queue's only slot, so the next call must be refused with the typed error at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_a_typed_error() {
        let sandbox = std::sync::Arc::new(
            WasmSandbox::builder()
                .batching(
                    BatchConfig::new()
                        .batch_size(2)
                        .batch_timeout(Duration::from_secs(1))
                        .workers(1)
                        .queue_capacity(1),
                )
                .build()
                .await
                .unwrap(),
        );
        sandbox.load(guests::ABI_WASM).await.unwrap();
        let s = std::sync::Arc::clone(&sandbox);
        let waiting = tokio::spawn(async move {
            s.call_batched::<_, Vec<i32>>("process_batch", &vec![7; 3])
                .await
        });
        while sandbox
            .default_plugin()
            .and_then(|p| p.stats().batch)
            .is_none_or(|b| b.calls == 0)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let refused = sandbox
            .call_batched::<_, Vec<i32>>("process_batch", &vec![1])
            .await;
        assert!(
            matches!(refused, Err(Error::QueueFull { capacity: 1 })),
            "{refused:?}"
        );
        // The waiting call still runs, flushed by the timeout.
        assert_eq!(waiting.await.unwrap().unwrap(), vec![14; 3]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiering_sandbox_starts_on_winch_and_tiers_up() {
    use wasm_sandbox::tiering::TieringPolicy;
    let sandbox = WasmSandbox::builder()
        .tiering(TieringPolicy::straight_to_top())
        .pure_export("process_batch")
        .build()
        .await
        .unwrap();
    let first = sandbox.load(guests::ABI_WASM).await.unwrap();
    assert_eq!(first.tier(), Tier::Baseline);
    let r: Vec<i32> = sandbox.call("process_batch", &vec![1, 2]).await.unwrap();
    assert_eq!(r, [2, 4]);
    let tiered = first.tiering().unwrap();
    assert!(tiered.wait_for_tier_up(Duration::from_secs(60)));
    assert_eq!(tiered.current_tier(), Tier::HighlyOptimized);
    // The memo key is the wasm's content hash: the same on every tier.
    let r: Vec<i32> = sandbox.call("process_batch", &vec![1, 2]).await.unwrap();
    assert_eq!(r, [2, 4]);
    assert_eq!(sandbox.call_optimizer().unwrap().stats().hits, 1);
    let r: Vec<i32> = sandbox.call("process_batch", &vec![3]).await.unwrap();
    assert_eq!(r, [6]);
}
