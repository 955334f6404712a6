//! Single flight: identical asynchronous misses in flight together execute once; a flight
//! that fails, panics or is dropped never strands its waiters, never hands on an error and
//! never lines them up one after another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use wasm_sandbox_callopt::{CallOptimizer, ModuleHash};

fn module() -> ModuleHash {
    *blake3::hash(b"flight").as_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Waits (bounded) until `cond` holds.
async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..4000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached within 4 s");
}

/// A spawned call's answer, failing (instead of hanging) if it never comes.
async fn answer(
    call: tokio::task::JoinHandle<Result<Arc<[u8]>, String>>,
) -> Result<Arc<[u8]>, String> {
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("a call was stranded")
        .expect("no panic")
}

/// `waiters` calls that will find the leader's flight, each counting its executions, which
/// take `takes` and answer `answer`.
fn spawn_waiters(
    rt: &tokio::runtime::Runtime,
    optimizer: &Arc<CallOptimizer>,
    runs: &Arc<AtomicUsize>,
    waiters: usize,
    (takes, answer): (Duration, Result<&'static [u8], &'static str>),
) -> Vec<tokio::task::JoinHandle<Result<Arc<[u8]>, String>>> {
    (0..waiters)
        .map(|_| {
            let (o, runs) = (Arc::clone(optimizer), Arc::clone(runs));
            rt.spawn(async move {
                o.call_async(&module(), "f", b"k", async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(takes).await;
                    answer.map(<[u8]>::to_vec).map_err(str::to_owned)
                })
                .await
            })
        })
        .collect()
}
/// A waiter's execution that succeeds at once.
const QUICK: (Duration, Result<&[u8], &str>) = (Duration::ZERO, Ok(b"from a waiter"));

/// A leader that executes until `gate` is notified, then answers `answer`.
fn spawn_leader(
    rt: &tokio::runtime::Runtime,
    optimizer: &Arc<CallOptimizer>,
    runs: &Arc<AtomicUsize>,
    gate: &Arc<Notify>,
    answer: Result<&'static [u8], &'static str>,
) -> tokio::task::JoinHandle<Result<Arc<[u8]>, String>> {
    let (o, counter, gate) = (Arc::clone(optimizer), Arc::clone(runs), Arc::clone(gate));
    let handle = rt.spawn(async move {
        o.call_async(&module(), "f", b"k", async {
            counter.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            answer.map(<[u8]>::to_vec).map_err(str::to_owned)
        })
        .await
    });
    rt.block_on(until(|| runs.load(Ordering::SeqCst) == 1));
    handle
}

#[test]
fn identical_async_misses_execute_once() {
    let rt = runtime();
    let optimizer = Arc::new(CallOptimizer::builder().pure("f").build());
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let leader = spawn_leader(&rt, &optimizer, &runs, &gate, Ok(b"from the leader"));
    let waiters = spawn_waiters(&rt, &optimizer, &runs, 15, QUICK);
    rt.block_on(until(|| optimizer.stats().coalesced == 15));
    gate.notify_one();
    rt.block_on(async {
        assert_eq!(&*answer(leader).await.expect("ok"), b"from the leader");
        for w in waiters {
            assert_eq!(&*answer(w).await.expect("ok"), b"from the leader");
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one execution for 16 calls");
    let stats = optimizer.stats();
    assert_eq!((stats.misses, stats.coalesced, stats.hits), (1, 15, 0));
    assert_eq!(
        (stats.insertions, stats.replacements, stats.entries),
        (1, 0, 1)
    );
}

/// The waiters of a failed flight get no error: each executes, and they execute side by
/// side, not one after another behind a new leader each: a call that keeps failing after
/// 300 ms (a guest that always times out) would otherwise cost its eight waiters 2.4 s.
#[test]
fn a_failed_flight_hands_on_no_error_and_its_waiters_execute_side_by_side() {
    let rt = runtime();
    let optimizer = Arc::new(CallOptimizer::builder().pure("f").build());
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let leader = spawn_leader(&rt, &optimizer, &runs, &gate, Err("the leader's trap"));
    let slow_failure = (Duration::from_millis(300), Err("a waiter's trap"));
    let waiters = spawn_waiters(&rt, &optimizer, &runs, 8, slow_failure);
    rt.block_on(until(|| optimizer.stats().coalesced == 8));
    gate.notify_one();
    let released = std::time::Instant::now();
    rt.block_on(async {
        let err = answer(leader).await.expect_err("the leader failed");
        assert_eq!(err, "the leader's trap");
        for w in waiters {
            let err = answer(w).await.expect_err("each waiter failed");
            assert_eq!(err, "a waiter's trap", "its own error, never the leader's");
        }
    });
    let took = released.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1 + 8);
    let stats = optimizer.stats();
    assert_eq!((stats.errors, stats.misses, stats.coalesced), (9, 1, 8));
    assert_eq!(stats.entries, 0);
}

#[test]
fn a_dropped_leader_does_not_strand_its_waiters() {
    let rt = runtime();
    let optimizer = Arc::new(CallOptimizer::builder().pure("f").build());
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let leader = spawn_leader(&rt, &optimizer, &runs, &gate, Ok(b"never"));
    let waiters = spawn_waiters(&rt, &optimizer, &runs, 4, QUICK);
    rt.block_on(until(|| optimizer.stats().coalesced == 4));
    // The leader's caller gives up mid-call: its future is dropped, the gate never opens.
    leader.abort();
    rt.block_on(async {
        for w in waiters {
            assert_eq!(&*answer(w).await.expect("ok"), b"from a waiter");
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1 + 4);
}

#[test]
fn a_panicking_blocking_leader_aborts_its_flight() {
    let rt = runtime();
    let optimizer = Arc::new(CallOptimizer::builder().pure("f").build());
    let runs = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let leader = {
        let o = Arc::clone(&optimizer);
        std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                o.call(&module(), "f", b"k", || -> Result<Vec<u8>, String> {
                    started_tx.send(()).expect("test alive");
                    go_rx.recv().expect("test alive");
                    panic!("the guest runner panicked")
                })
            }))
        })
    };
    started_rx.recv().expect("leader started");
    let waiters = spawn_waiters(&rt, &optimizer, &runs, 3, QUICK);
    rt.block_on(until(|| optimizer.stats().coalesced == 3));
    go_tx.send(()).expect("leader alive");
    assert!(
        leader.join().expect("caught").is_err(),
        "the leader panicked"
    );
    rt.block_on(async {
        for w in waiters {
            assert_eq!(&*answer(w).await.expect("ok"), b"from a waiter");
        }
    });
    // Only the waiters count in `runs`: each executed once the flight was aborted.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[test]
fn blocking_calls_never_wait_for_a_flight() {
    let rt = runtime();
    let optimizer = Arc::new(CallOptimizer::builder().pure("f").build());
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let leader = spawn_leader(&rt, &optimizer, &runs, &gate, Ok(b"from the leader"));
    // A blocking call could deadlock waiting for a flight led on its own thread; it executes.
    let solo = optimizer
        .call(&module(), "f", b"k", || {
            Ok::<_, String>(b"from the blocking call".to_vec())
        })
        .expect("ok");
    assert_eq!(&*solo, b"from the blocking call");
    gate.notify_one();
    rt.block_on(async {
        assert_eq!(&*answer(leader).await.expect("ok"), b"from the leader");
    });
    let stats = optimizer.stats();
    assert_eq!(
        (stats.misses, stats.coalesced, stats.replacements),
        (2, 0, 1)
    );
}
