//! Tier-ups happen after their thresholds, in the background, and swap
//! atomically under concurrent callers.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasm_sandbox_core::Tier;
use wasm_sandbox_guests::SCALAR_WAT;
use wasm_sandbox_tiering::{CompilePool, Threshold, TieredModule, TieringPolicy};

use crate::config;

const WAIT: Duration = Duration::from_secs(60);

/// A compile hook that reports the compiling thread and then waits for a go.
struct Gate {
    started: mpsc::Receiver<(Tier, String, std::thread::ThreadId)>,
    go: mpsc::Sender<()>,
}

fn gated(policy: TieringPolicy) -> (TieredModule, Gate) {
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let go_rx = Mutex::new(go_rx);
    let m = TieredModule::builder(SCALAR_WAT.as_bytes(), config())
        .policy(policy)
        .pool(CompilePool::new(1).unwrap())
        .on_background_compile(Arc::new(move |tier| {
            let me = std::thread::current();
            let _ = started_tx.lock().unwrap().send((
                tier,
                me.name().unwrap_or_default().to_owned(),
                me.id(),
            ));
            let _ = go_rx.lock().unwrap().recv_timeout(WAIT);
        }))
        .build()
        .unwrap();
    (m, Gate { started, go })
}

#[tokio::test]
async fn the_call_that_crosses_the_threshold_does_not_wait_for_the_compile() {
    let policy = TieringPolicy::stepwise()
        .top(Tier::Optimized)
        .threshold_from(Tier::Baseline, Threshold::new(20, Duration::ZERO));
    let (m, gate) = gated(policy);
    assert_eq!(m.current_tier(), Tier::Baseline);
    for i in 0..19 {
        assert_eq!(
            m.module()
                .call_typed::<(i32, i32), i32>("add", (i, i))
                .await
                .unwrap(),
            2 * i
        );
    }
    assert!(!m.tier_up_pending(), "19 calls are below the threshold");
    // The 20th call queues the tier-up and returns while it is held back.
    assert_eq!(
        m.module()
            .call_typed::<(i32, i32), i32>("add", (1, 1))
            .await
            .unwrap(),
        2
    );
    let (tier, thread, id) = gate.started.recv_timeout(WAIT).unwrap();
    assert_eq!(tier, Tier::Optimized);
    assert!(
        thread.starts_with("wasm-sandbox-tier-up-"),
        "compiled on {thread}"
    );
    assert_ne!(id, std::thread::current().id());
    assert!(m.tier_up_pending());
    assert!(!m.request_tier_up(), "only one tier-up in flight");
    // Calls keep running on the old tier meanwhile.
    for _ in 0..50 {
        assert_eq!(
            m.module()
                .call_typed::<i32, i64>("fib_iter", 10)
                .await
                .unwrap(),
            55
        );
    }
    assert_eq!(m.current_tier(), Tier::Baseline);
    gate.go.send(()).unwrap();
    assert!(m.wait_for_tier_up(WAIT));
    assert_eq!(m.current_tier(), Tier::Optimized);
    let stats = m.stats();
    assert_eq!(stats.tier_ups, 1);
    assert_eq!(stats.calls_on(Tier::Baseline), 70);
    assert_eq!(stats.next_tier, None);
    assert_eq!(
        stats
            .compiles
            .iter()
            .map(|c| (c.tier, c.background))
            .collect::<Vec<_>>(),
        [(Tier::Baseline, false), (Tier::Optimized, true)]
    );
    assert!(stats.compile_time(Tier::Optimized).is_some());
    let add = stats.exports.iter().find(|e| e.name == "add").unwrap();
    assert_eq!((add.calls, add.calls_on_current_tier), (20, 0));
    // New calls run on the new tier.
    m.module()
        .call_typed::<(i32, i32), i32>("add", (1, 2))
        .await
        .unwrap();
    assert_eq!(m.stats().calls_on(Tier::Optimized), 1);
    let json = serde_json::to_value(m.stats()).unwrap();
    assert_eq!(json["current_tier"], "Optimized");
}

#[test]
fn the_minimum_interval_since_the_last_tier_change_is_honoured() {
    let policy = TieringPolicy::stepwise()
        .top(Tier::Optimized)
        .threshold_from(
            Tier::Baseline,
            Threshold::new(1, Duration::from_millis(300)),
        );
    let (m, gate) = gated(policy);
    m.record_calls("add", Tier::Baseline, 100, Duration::from_millis(1));
    assert!(!m.tier_up_pending(), "too soon after the start");
    std::thread::sleep(Duration::from_millis(350));
    m.record_calls("add", Tier::Baseline, 1, Duration::from_millis(1));
    assert!(m.tier_up_pending());
    gate.started.recv_timeout(WAIT).unwrap();
    gate.go.send(()).unwrap();
    assert!(m.wait_for_tier_up(WAIT));
    assert_eq!(m.current_tier(), Tier::Optimized);
}

#[test]
fn calls_of_unknown_exports_and_older_tiers_do_not_trigger() {
    let policy = TieringPolicy::stepwise().all_thresholds(Threshold::new(3, Duration::ZERO));
    let (m, _gate) = gated(policy);
    m.record_calls("no_such_export", Tier::Baseline, 1_000, Duration::ZERO);
    m.record_calls("add", Tier::Interpreter, 1_000, Duration::ZERO);
    assert!(!m.tier_up_pending());
    assert_eq!(m.stats().calls_on(Tier::Interpreter), 1_000);
}

#[test]
fn a_fixed_policy_never_tiers_up() {
    let m = TieredModule::new(
        SCALAR_WAT.as_bytes(),
        config(),
        TieringPolicy::fixed(Tier::Baseline),
    )
    .unwrap();
    m.record_calls("add", Tier::Baseline, 1_000_000, Duration::from_secs(10));
    assert!(!m.tier_up_pending());
    assert!(!m.request_tier_up());
    assert_eq!(m.stats().next_tier, None);
    assert_eq!(m.current_tier(), Tier::Baseline);
}

#[test]
fn straight_to_top_is_one_background_compile() {
    let (m, gate) = gated(TieringPolicy::straight_to_top());
    assert_eq!(m.current_tier(), Tier::Baseline);
    assert!(m.tier_up_pending(), "queued at construction");
    let mut before = m.instantiate().unwrap();
    assert_eq!(
        gate.started.recv_timeout(WAIT).unwrap().0,
        Tier::HighlyOptimized
    );
    gate.go.send(()).unwrap();
    assert!(m.wait_for_tier_up(WAIT));
    assert_eq!(m.current_tier(), Tier::HighlyOptimized);
    let stats = m.stats();
    assert_eq!(stats.tier_ups, 1);
    assert_eq!(stats.compiles.len(), 2);

    // Instances stay on their tier (with their state); new ones use the top tier.
    assert_eq!(before.module().tier(), Tier::Baseline);
    assert_eq!(before.call_typed::<(), i32>("next", ()).unwrap(), 1);
    let mut after = m.instantiate().unwrap();
    assert_eq!(after.module().tier(), Tier::HighlyOptimized);
    assert_eq!(after.call_typed::<(), i32>("next", ()).unwrap(), 1);
    assert_eq!(before.call_typed::<(), i32>("next", ()).unwrap(), 2);
}

#[test]
fn calls_on_many_threads_across_every_swap_all_succeed() {
    let policy = TieringPolicy::stepwise()
        .start(Tier::Interpreter)
        .all_thresholds(Threshold::new(40, Duration::ZERO));
    let m = TieredModule::builder(SCALAR_WAT.as_bytes(), config())
        .policy(policy)
        .pool(CompilePool::new(1).unwrap())
        .build()
        .unwrap();
    assert_eq!(m.current_tier(), Tier::Interpreter);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut tiers_seen = Vec::new();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8i32 {
            let m = m.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                for i in 0..400i32 {
                    let r = m
                        .module()
                        .call_typed::<(i32, i32), i32>("add", (t, i))
                        .await
                        .unwrap();
                    assert_eq!(r, t + i);
                    seen.push(m.current_tier());
                    if m.current_tier() == Tier::HighlyOptimized && i > 40 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                seen
            }));
        }
        // The sync fast path, on plain threads, at the same time.
        let sync: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..100i32 {
                        let mut inst = m.instantiate().unwrap();
                        let tier = inst.module().tier();
                        assert_eq!(inst.call_typed::<i32, i64>("fib_iter", 20).unwrap(), 6765);
                        m.record_calls("fib_iter", tier, 1, Duration::from_micros(1));
                        assert_eq!(
                            inst.call_typed::<(i32, i32), i32>("div", (i, 1)).unwrap(),
                            i
                        );
                    }
                })
            })
            .collect();
        for task in tasks {
            tiers_seen.extend(task.await.unwrap());
        }
        for s in sync {
            s.join().unwrap();
        }
    });
    assert!(m.wait_for_tier_up(WAIT));
    // Keep calling until the top tier is reached (each step needs 40 calls).
    let mut inst_calls = 0;
    while m.current_tier() != Tier::HighlyOptimized && inst_calls < 1_000 {
        m.record_calls("add", m.current_tier(), 1, Duration::ZERO);
        inst_calls += 1;
        m.wait_for_tier_up(WAIT);
    }
    assert_eq!(m.current_tier(), Tier::HighlyOptimized);
    let stats = m.stats();
    assert_eq!(stats.tier_ups, 3, "{stats:?}");
    assert!(tiers_seen.windows(2).all(|w| w[0] <= w[1]) || tiers_seen.len() > 1);
    assert!(stats.failures.is_empty());
}
