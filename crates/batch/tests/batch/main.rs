//! Integration tests of the batch processor with mock executors: result matching under random
//! interleavings, flush rules, errors, backpressure, dropped callers, the batch entry point,
//! panics and shutdown.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use wasm_sandbox_batch::{BatchConfig, BatchError, BatchExecutor, BatchProcessor, OverflowPolicy};

#[derive(Debug, PartialEq, Eq)]
struct MockError(String);

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MockError {}

/// What the mock guest returns: a function of (function, args).
fn expected(function: &str, args: &[u8]) -> Vec<u8> {
    let mut out = function.as_bytes().to_vec();
    out.push(b':');
    out.extend(args.iter().rev());
    out
}

/// A gate the executor waits on, so tests can hold calls in flight.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn closed() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn open(&self) {
        *self.open.lock().expect("gate lock") = true;
        self.cv.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().expect("gate lock");
        while !*open {
            open = self.cv.wait(open).expect("gate lock");
        }
    }
}

#[derive(Default)]
struct Mock {
    /// Support `execute_batch`.
    batch: bool,
    /// `execute_batch` of the function "short" returns one result too few.
    short_batches: bool,
    /// Sleep a little, depending on the arguments, to shuffle completion order.
    delays: bool,
    gate: Option<Arc<Gate>>,
    /// Sleep this long in every call.
    sleep: Option<Duration>,
    workers_created: AtomicUsize,
    batch_calls: AtomicUsize,
    fail_new_worker_after: Option<usize>,
}

impl Mock {
    fn run(&self, worker: &mut usize, function: &str, args: &[u8]) -> Result<Vec<u8>, MockError> {
        *worker += 1;
        if let Some(gate) = &self.gate {
            gate.wait();
        }
        if let Some(sleep) = self.sleep {
            std::thread::sleep(sleep);
        }
        if self.delays {
            std::thread::sleep(Duration::from_micros(u64::from(args.len() as u8 % 4) * 40));
        }
        if args.first() == Some(&b'!') {
            return Err(MockError(format!("trap in {function}")));
        }
        if args == b"panic" {
            panic!("the mock guest panicked");
        }
        Ok(expected(function, args))
    }
}

impl BatchExecutor for Mock {
    /// Counts the calls this worker ran.
    type Worker = usize;
    type Error = MockError;

    fn new_worker(&self) -> Result<usize, MockError> {
        let n = self.workers_created.fetch_add(1, Ordering::SeqCst);
        match self.fail_new_worker_after {
            Some(limit) if n >= limit => Err(MockError("no memory for a new instance".into())),
            _ => Ok(0),
        }
    }

    fn execute(
        &self,
        worker: &mut usize,
        function: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, MockError> {
        self.run(worker, function, args)
    }

    fn execute_batch(
        &self,
        worker: &mut usize,
        function: &str,
        args: &[&[u8]],
    ) -> Option<Vec<Result<Vec<u8>, MockError>>> {
        if !self.batch {
            return None;
        }
        self.batch_calls.fetch_add(1, Ordering::SeqCst);
        let mut results: Vec<_> = args.iter().map(|a| self.run(worker, function, a)).collect();
        if self.short_batches && function == "short" {
            results.pop();
        }
        Some(results)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Waits (bounded) until `cond` holds.
async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition not reached within 4 s");
}

#[derive(Debug, Clone)]
struct Task {
    function: u8,
    args: Vec<u8>,
    delay_us: u64,
    /// Give up on the call after this many microseconds (drops the future).
    give_up_us: Option<u64>,
}

fn task() -> impl Strategy<Value = Task> {
    (
        0..4u8,
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..12),
            1 => proptest::collection::vec(any::<u8>(), 0..6).prop_map(|mut v| { v.insert(0, b'!'); v }),
        ],
        0..300u64,
        prop_oneof![4 => Just(None), 1 => (0..400u64).prop_map(Some)],
    )
        .prop_map(|(function, args, delay_us, give_up_us)| Task {
            function,
            args,
            delay_us,
            give_up_us,
        })
}

const FUNCTIONS: [&str; 4] = ["f", "g", "short", "h"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Many tasks with random delays, functions, failures and abandoned futures: every caller
    /// that waits gets exactly the result of its own (function, args), and nothing hangs.
    #[test]
    fn results_reach_the_right_callers(
        tasks in proptest::collection::vec(task(), 1..150),
        batch_size in 1..20usize,
        workers in 1..4usize,
        timeout_us in 0..3000u64,
        batch in any::<bool>(),
    ) {
        let rt = runtime();
        rt.block_on(async move {
            let mock = Mock { batch, delays: true, ..Mock::default() };
            let config = BatchConfig::new()
                .batch_size(batch_size)
                .workers(workers)
                .batch_timeout(Duration::from_micros(timeout_us))
                .queue_capacity(10_000);
            let processor = Arc::new(BatchProcessor::new(mock, config).expect("processor"));
            let handles: Vec<_> = tasks
                .iter()
                .cloned()
                .map(|t| {
                    let processor = Arc::clone(&processor);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_micros(t.delay_us)).await;
                        let function = FUNCTIONS[usize::from(t.function)];
                        let call = processor.call_batched(function, t.args.clone());
                        let result = match t.give_up_us {
                            None => Some(call.await),
                            Some(us) => tokio::time::timeout(Duration::from_micros(us), call).await.ok(),
                        };
                        (t, function, result)
                    })
                })
                .collect();
            for handle in handles {
                let (t, function, result) =
                    tokio::time::timeout(Duration::from_secs(20), handle)
                        .await
                        .expect("no call hangs")
                        .expect("task did not panic");
                let Some(result) = result else { continue };
                if t.args.first() == Some(&b'!') {
                    match result {
                        Err(BatchError::Call { function: f, source }) => {
                            prop_assert_eq!(&*f, function);
                            prop_assert_eq!(source, MockError(format!("trap in {function}")));
                        }
                        other => prop_assert!(false, "expected a call error, got {:?}", other),
                    }
                } else {
                    prop_assert_eq!(result.expect("call succeeds"), expected(function, &t.args));
                }
            }
            processor.shutdown().await;
            let s = processor.stats();
            prop_assert_eq!(s.calls, tasks.len() as u64);
            prop_assert_eq!(s.succeeded + s.errors + s.skipped, s.calls);
            prop_assert_eq!(s.flushed_calls, s.calls);
            prop_assert_eq!(processor.in_flight(), 0);
            Ok(())
        })?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_call_is_flushed_by_timeout() {
    let timeout = Duration::from_millis(20);
    let config = BatchConfig::new()
        .batch_size(1000)
        .batch_timeout(timeout)
        .workers(1);
    let processor = BatchProcessor::new(Mock::default(), config).expect("processor");
    let start = std::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        processor.call_batched("f", b"abc".to_vec()),
    )
    .await
    .expect("a lone call must not wait forever")
    .expect("ok");
    let elapsed = start.elapsed();
    assert_eq!(out, expected("f", b"abc"));
    // A correctness bound, not a benchmark: generous for a loaded 2-core machine.
    let bound = timeout + Duration::from_millis(500);
    assert!(elapsed <= bound, "took {elapsed:?}, bound {bound:?}");
    let s = processor.stats();
    assert_eq!((s.batches_by_timeout, s.batches_by_size), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_batch_is_flushed_by_size() {
    let config = BatchConfig::new()
        .batch_size(4)
        .batch_timeout(Duration::from_secs(3600))
        .workers(2);
    let processor = BatchProcessor::new(Mock::default(), config).expect("processor");
    let calls = (0..4u8).map(|i| processor.call_batched("g", vec![i]));
    let results = tokio::time::timeout(Duration::from_secs(10), futures_join_all(calls))
        .await
        .expect("a full batch is flushed without waiting for the hour-long timeout");
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.expect("ok"), expected("g", &[i as u8]));
    }
    let s = processor.stats();
    assert_eq!((s.batches_by_size, s.batches_by_timeout), (1, 0));
    assert!((s.mean_batch_size() - 4.0).abs() < f64::EPSILON);
}

/// `join_all` without a futures dependency: spawn-free, polls in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_fails_only_its_call() {
    for batch in [false, true] {
        let config = BatchConfig::new()
            .batch_size(5)
            .batch_timeout(Duration::from_secs(3600))
            .workers(1);
        let mock = Mock {
            batch,
            ..Mock::default()
        };
        let processor = BatchProcessor::new(mock, config).expect("processor");
        let args: [&[u8]; 5] = [b"a", b"b", b"!boom", b"c", b"d"];
        let results =
            futures_join_all(args.iter().map(|a| processor.call_batched("f", a.to_vec()))).await;
        for (a, r) in args.iter().zip(results) {
            if a.starts_with(b"!") {
                let err = r.expect_err("the failing call fails");
                assert!(matches!(&err, BatchError::Call { .. }), "{err:?}");
                assert_eq!(err.to_string(), "batched call of `f` failed: trap in f");
            } else {
                assert_eq!(r.expect("others succeed"), expected("f", a));
            }
        }
        let s = processor.stats();
        assert_eq!((s.batches_by_size, s.errors, s.succeeded), (1, 1, 4));
        assert_eq!(s.guest_batches, u64::from(batch));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_full_is_reported_or_waited_for() {
    for policy in [OverflowPolicy::Reject, OverflowPolicy::Wait] {
        let gate = Gate::closed();
        let mock = Mock {
            gate: Some(Arc::clone(&gate)),
            ..Mock::default()
        };
        let config = BatchConfig::new()
            .queue_capacity(2)
            .batch_size(1)
            .workers(1)
            .overflow(policy);
        let processor = Arc::new(BatchProcessor::new(mock, config).expect("processor"));
        let first: Vec<_> = (0..2u8)
            .map(|i| {
                let p = Arc::clone(&processor);
                tokio::spawn(async move { p.call_batched("f", vec![i]).await })
            })
            .collect();
        eventually(|| processor.in_flight() == 2).await;

        let third = {
            let p = Arc::clone(&processor);
            tokio::spawn(async move { p.call_batched("f", vec![9]).await })
        };
        match policy {
            OverflowPolicy::Reject => {
                let err = third.await.expect("no panic").expect_err("queue is full");
                assert!(
                    matches!(err, BatchError::QueueFull { capacity: 2 }),
                    "{err:?}"
                );
                assert!(err.to_string().contains("queue_capacity"));
                assert_eq!(processor.stats().queue_full, 1);
                gate.open();
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert!(!third.is_finished(), "the third call waits for a slot");
                gate.open();
                assert_eq!(
                    third.await.expect("no panic").expect("ok"),
                    expected("f", &[9])
                );
            }
        }
        for (i, h) in first.into_iter().enumerate() {
            assert_eq!(
                h.await.expect("no panic").expect("ok"),
                expected("f", &[i as u8])
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_callers_do_not_disturb_others() {
    let gate = Gate::closed();
    let mock = Mock {
        gate: Some(Arc::clone(&gate)),
        ..Mock::default()
    };
    let config = BatchConfig::new()
        .batch_size(10)
        .batch_timeout(Duration::from_millis(1))
        .workers(1);
    let processor = Arc::new(BatchProcessor::new(mock, config).expect("processor"));
    let handles: Vec<_> = (0..10u8)
        .map(|i| {
            let p = Arc::clone(&processor);
            tokio::spawn(async move { p.call_batched("f", vec![i]).await })
        })
        .collect();
    eventually(|| processor.stats().flushed_calls == 10).await;
    // Abandon every odd call while the worker is stuck in the first one.
    for (i, h) in handles.iter().enumerate() {
        if i % 2 == 1 {
            h.abort();
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    gate.open();
    for (i, h) in handles.into_iter().enumerate() {
        match h.await {
            Ok(r) => assert_eq!(r.expect("ok"), expected("f", &[i as u8])),
            Err(e) => assert!(e.is_cancelled() && i % 2 == 1),
        }
    }
    processor.shutdown().await;
    let s = processor.stats();
    assert_eq!(s.succeeded + s.skipped + s.errors, 10);
    assert!(
        s.skipped >= 4,
        "abandoned calls that had not started were skipped: {s:?}"
    );
    assert_eq!(processor.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_batch_is_used_and_wrong_counts_fail_the_batch() {
    let mock = Arc::new(Mock {
        batch: true,
        short_batches: true,
        ..Mock::default()
    });
    let config = BatchConfig::new()
        .batch_size(6)
        .batch_timeout(Duration::from_secs(3600))
        .workers(1);
    let processor = BatchProcessor::new(SharedMock(Arc::clone(&mock)), config).expect("processor");
    let calls = [
        ("f", 1u8),
        ("short", 2),
        ("f", 3),
        ("short", 4),
        ("short", 5),
        ("f", 6),
    ];
    let results = futures_join_all(
        calls
            .iter()
            .map(|(f, a)| processor.call_batched(f, vec![*a])),
    )
    .await;
    for ((f, a), r) in calls.iter().zip(results) {
        if *f == "short" {
            match r {
                Err(
                    ref e @ BatchError::Protocol {
                        ref function,
                        expected,
                        got,
                    },
                ) => {
                    assert_eq!((&**function, expected, got), ("short", 3, 2));
                    assert!(
                        e.to_string().contains("returned 2 results for 3 calls"),
                        "{e}"
                    );
                }
                other => panic!("expected a protocol error, got {other:?}"),
            }
        } else {
            assert_eq!(r.expect("ok"), expected(f, &[*a]));
        }
    }
    // One flush, two functions: one guest batch each.
    assert_eq!(mock.batch_calls.load(Ordering::SeqCst), 2);
    assert_eq!(processor.stats().guest_batches, 2);
}

/// Lets a test keep a handle on the mock's counters.
struct SharedMock(Arc<Mock>);

impl BatchExecutor for SharedMock {
    type Worker = usize;
    type Error = MockError;

    fn new_worker(&self) -> Result<usize, MockError> {
        self.0.new_worker()
    }

    fn execute(&self, w: &mut usize, function: &str, args: &[u8]) -> Result<Vec<u8>, MockError> {
        self.0.execute(w, function, args)
    }

    fn execute_batch(
        &self,
        w: &mut usize,
        function: &str,
        args: &[&[u8]],
    ) -> Option<Vec<Result<Vec<u8>, MockError>>> {
        self.0.execute_batch(w, function, args)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_call_fails_alone_and_the_worker_is_rebuilt() {
    let mock = Arc::new(Mock::default());
    let config = BatchConfig::new().batch_size(1).workers(1);
    let processor = BatchProcessor::new(SharedMock(Arc::clone(&mock)), config).expect("processor");
    let err = processor
        .call_batched("f", b"panic".to_vec())
        .await
        .expect_err("the panic fails the call");
    assert!(matches!(err, BatchError::Panicked { .. }), "{err:?}");
    assert_eq!(
        processor
            .call_batched("f", b"ok".to_vec())
            .await
            .expect("ok"),
        expected("f", b"ok")
    );
    assert_eq!(
        mock.workers_created.load(Ordering::SeqCst),
        2,
        "state rebuilt once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rebuild_is_reported_per_call() {
    let mock = Mock {
        fail_new_worker_after: Some(1),
        ..Mock::default()
    };
    let config = BatchConfig::new().batch_size(1).workers(1);
    let processor = BatchProcessor::new(mock, config).expect("processor");
    let _ = processor.call_batched("f", b"panic".to_vec()).await;
    let err = processor
        .call_batched("f", b"x".to_vec())
        .await
        .expect_err("no state");
    assert!(
        matches!(err, BatchError::WorkerUnavailable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no memory for a new instance"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_accepted_calls_and_refuses_new_ones() {
    let config = BatchConfig::new()
        .batch_size(1000)
        .batch_timeout(Duration::from_secs(3600))
        .workers(2);
    let processor = Arc::new(BatchProcessor::new(Mock::default(), config).expect("processor"));
    let handles: Vec<_> = (0..50u8)
        .map(|i| {
            let p = Arc::clone(&processor);
            tokio::spawn(async move { p.call_batched("f", vec![b'a', i]).await })
        })
        .collect();
    eventually(|| processor.in_flight() == 50).await;
    tokio::time::timeout(Duration::from_secs(10), processor.shutdown())
        .await
        .expect("shutdown does not hang");
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(
            h.await.expect("no panic").expect("completed"),
            expected("f", &[b'a', i as u8])
        );
    }
    assert!(processor.is_shut_down());
    let err = processor
        .call_batched("f", vec![])
        .await
        .expect_err("shut down");
    assert!(matches!(err, BatchError::Shutdown), "{err:?}");
    assert_eq!(processor.stats().batches_by_shutdown, 1);
    // A second shutdown returns at once.
    processor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_wakes_callers_waiting_for_a_slot() {
    let gate = Gate::closed();
    let mock = Mock {
        gate: Some(Arc::clone(&gate)),
        ..Mock::default()
    };
    let config = BatchConfig::new()
        .queue_capacity(1)
        .batch_size(1)
        .workers(1)
        .overflow(OverflowPolicy::Wait);
    let processor = Arc::new(BatchProcessor::new(mock, config).expect("processor"));
    let running = {
        let p = Arc::clone(&processor);
        tokio::spawn(async move { p.call_batched("f", vec![1]).await })
    };
    eventually(|| processor.in_flight() == 1).await;
    let waiting = {
        let p = Arc::clone(&processor);
        tokio::spawn(async move { p.call_batched("f", vec![2]).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let shutdown = {
        let p = Arc::clone(&processor);
        tokio::spawn(async move { p.shutdown().await })
    };
    let err = waiting
        .await
        .expect("no panic")
        .expect_err("woken by shutdown");
    assert!(matches!(err, BatchError::Shutdown), "{err:?}");
    gate.open();
    assert_eq!(
        running.await.expect("no panic").expect("completed"),
        expected("f", &[1])
    );
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown does not hang")
        .expect("no panic");
}

/// An executor whose worker states count themselves, to see the worker threads exit.
struct Counted(Arc<AtomicUsize>);

struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl BatchExecutor for Counted {
    type Worker = Live;
    type Error = MockError;

    fn new_worker(&self) -> Result<Live, MockError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Live(Arc::clone(&self.0)))
    }

    fn execute(&self, _: &mut Live, function: &str, args: &[u8]) -> Result<Vec<u8>, MockError> {
        Ok(expected(function, args))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_processor_stops_its_workers() {
    let live = Arc::new(AtomicUsize::new(0));
    let processor = BatchProcessor::new(Counted(Arc::clone(&live)), BatchConfig::new().workers(3))
        .expect("processor");
    assert_eq!(live.load(Ordering::SeqCst), 3);
    assert_eq!(
        processor
            .call_batched("f", b"x".to_vec())
            .await
            .expect("ok"),
        expected("f", b"x")
    );
    drop(processor);
    eventually(|| live.load(Ordering::SeqCst) == 0).await;
}

#[test]
fn creation_errors_are_reported() {
    let err = BatchProcessor::new(Mock::default(), BatchConfig::new()).expect_err("no runtime");
    assert!(matches!(err, BatchError::NoRuntime), "{err:?}");

    let rt = runtime();
    let _guard = rt.enter();
    let mock = Mock {
        fail_new_worker_after: Some(1),
        ..Mock::default()
    };
    let err =
        BatchProcessor::new(mock, BatchConfig::new().workers(3)).expect_err("second worker fails");
    assert!(matches!(err, BatchError::WorkerInit { .. }), "{err:?}");
    assert!(err.to_string().contains("no memory"), "{err}");
}

#[test]
fn config_setters_clamp_and_report() {
    let c = BatchConfig::new()
        .batch_size(0)
        .workers(0)
        .queue_capacity(0);
    assert_eq!(
        (c.get_batch_size(), c.get_workers(), c.get_queue_capacity()),
        (1, 1, 1)
    );
    let d = BatchConfig::default();
    assert_eq!(d.get_batch_size(), 32);
    assert_eq!(d.get_batch_timeout(), Duration::from_millis(2));
    assert_eq!(d.get_answer_hold(), Duration::from_millis(2));
    assert_eq!(d.get_overflow(), OverflowPolicy::Reject);
    assert!(d.get_workers() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_drained_in_guided_chunks() {
    let config = BatchConfig::new()
        .batch_size(16)
        .batch_timeout(Duration::from_secs(3600))
        .workers(2);
    let mock = Mock {
        batch: true,
        ..Mock::default()
    };
    let processor = BatchProcessor::new(mock, config).expect("processor");
    let args: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i]).collect();
    let results =
        futures_join_all(args.iter().map(|a| processor.call_batched("f", a.clone()))).await;
    for (a, r) in args.iter().zip(results) {
        assert_eq!(r.expect("ok"), expected("f", a));
    }
    let s = processor.stats();
    assert_eq!(s.batches_by_size, 1);
    // 16 calls, 2 workers: each take is ceil(remaining / 4) calls, so the chunks are
    // 4, 3, 3, 2, 1, 1, 1, 1 whichever worker takes them: 8 guest batch calls.
    assert_eq!(s.guest_batches, 8, "{s:?}");
}

/// Answers are held to be sent together, but not past `answer_hold`: in one long group on a
/// lone worker, the first answers arrive while later calls still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_answers_are_sent_within_the_answer_hold() {
    let per_call = Duration::from_millis(40);
    let config = BatchConfig::new()
        .batch_size(6)
        .batch_timeout(Duration::from_secs(3600))
        .answer_hold(Duration::from_millis(10))
        .workers(1);
    let mock = Mock {
        sleep: Some(per_call),
        ..Mock::default()
    };
    let processor = Arc::new(BatchProcessor::new(mock, config).expect("processor"));
    let handles: Vec<_> = (0..6u8)
        .map(|i| {
            let processor = Arc::clone(&processor);
            tokio::spawn(async move {
                let out = processor.call_batched("f", vec![i]).await;
                (i, out, std::time::Instant::now())
            })
        })
        .collect();
    let mut arrivals = Vec::new();
    for h in handles {
        let (i, out, at) = h.await.expect("task");
        assert_eq!(out.expect("ok"), expected("f", &[i]));
        arrivals.push(at);
    }
    let first = arrivals.iter().min().expect("six calls");
    let last = arrivals.iter().max().expect("six calls");
    // The six calls take 240 ms one after another. With every answer held to the end of the
    // group they would all arrive together; held at most 10 ms, the first ones are sent after
    // the second call (about 80 ms in), the last ones at about 240 ms.
    assert!(
        *last - *first >= 2 * per_call,
        "answers arrived within {:?} of each other",
        *last - *first
    );
}

/// Answers normally travel through the flush task; once its runtime is gone, a worker
/// answers callers (here on a runtime of its own) directly.
#[test]
fn answers_reach_callers_after_the_processors_runtime_is_gone() {
    let gate = Gate::closed();
    let mock = Mock {
        gate: Some(Arc::clone(&gate)),
        ..Mock::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let processor = Arc::new(
        rt.block_on(async {
            BatchProcessor::new(mock, BatchConfig::new().batch_size(1).workers(1))
        })
        .expect("processor"),
    );
    let caller = {
        let p = Arc::clone(&processor);
        std::thread::spawn(move || {
            let own = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("the caller's runtime");
            own.block_on(p.call_batched("f", vec![7]))
        })
    };
    // Drive the flush task until it has handed the call to the worker, then drop its runtime.
    rt.block_on(eventually(|| processor.stats().batches_by_size == 1));
    drop(rt);
    gate.open();
    let answer = caller.join().expect("no panic");
    assert_eq!(answer.expect("answered"), expected("f", &[7]));
}
