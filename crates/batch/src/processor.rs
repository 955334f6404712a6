//! The processor: intake, the flush task, and the handle callers use.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use crossbeam::channel as cb;
use tokio::sync::{Mutex as AsyncMutex, Semaphore, TryAcquireError, mpsc, oneshot};
use tokio::time::Instant;

use crate::config::{BatchConfig, OverflowPolicy};
use crate::error::BatchError;
use crate::executor::BatchExecutor;
use crate::stats::{BatchStats, Counters, FlushReason};
use crate::worker::{Call, Group, Held, Worker, dispatch};

/// A call on its way from `call_batched` to the flush task.
struct Submit<Err> {
    function: Arc<str>,
    call: Call<Err>,
    enqueued: Instant,
}

/// Queues calls, flushes them in batches and runs them on worker threads.
///
/// - A batch is flushed when it holds [`batch_size`](BatchConfig::batch_size) calls or when its
///   oldest call has waited [`batch_timeout`](BatchConfig::batch_timeout), whichever comes
///   first. A dedicated tokio task sleeps until the oldest call's deadline.
/// - A flushed batch is grouped by function. The worker threads drain each group in
///   shrinking chunks (a chunk is `ceil(remaining / (2 × workers))` calls; the whole group
///   with one worker), so they finish together. A chunk runs through
///   [`execute_batch`](BatchExecutor::execute_batch) if the executor supports it, else call
///   by call. A worker sends its answers when its part of the group is done, or once the
///   oldest has waited [`answer_hold`](BatchConfig::answer_hold).
/// - Each caller gets exactly its own result through its own channel. A caller that drops
///   its future does not disturb the others, and its call is skipped if it has not run yet.
/// - At most [`queue_capacity`](BatchConfig::queue_capacity) calls are accepted and not yet
///   answered; beyond that [`OverflowPolicy`] decides.
/// - [`shutdown`](Self::shutdown) (or dropping the processor) stops accepting calls and
///   completes every call already accepted.
///
/// See the [crate docs](crate) for an example.
pub struct BatchProcessor<E: BatchExecutor> {
    intake: mpsc::UnboundedSender<Submit<E::Error>>,
    permits: Arc<Semaphore>,
    closed: AtomicBool,
    stop: parking_lot::Mutex<Option<oneshot::Sender<()>>>,
    done: AsyncMutex<Option<mpsc::Receiver<()>>>,
    counters: Arc<Counters>,
    config: BatchConfig,
}

impl<E: BatchExecutor> fmt::Debug for BatchProcessor<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchProcessor")
            .field("config", &self.config)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .field("stats", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl<E: BatchExecutor> BatchProcessor<E> {
    /// Creates the worker states (one [`new_worker`](BatchExecutor::new_worker) per worker),
    /// spawns the worker threads and the flush task.
    ///
    /// # Errors
    ///
    /// [`BatchError::NoRuntime`] outside a tokio runtime, [`BatchError::WorkerInit`] if
    /// `new_worker` fails, [`BatchError::Spawn`] if a thread cannot be spawned. Nothing keeps
    /// running after an error.
    pub fn new(executor: E, config: BatchConfig) -> Result<Self, BatchError<E::Error>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BatchError::NoRuntime)?;
        let executor = Arc::new(executor);
        let counters = Arc::new(Counters::default());

        let (group_tx, group_rx) = cb::unbounded::<Arc<Group<E::Error>>>();
        let (done_tx, done_rx) = mpsc::channel::<()>(1);
        let (outbox, answers) = mpsc::unbounded_channel();
        // Each worker builds its state on its own thread, as it does when it rebuilds
        // one after a panic: executors whose state must not be built on an async runtime
        // thread (the sandbox instantiates WASI guests on its own runtime) work, and the
        // caller's thread does not instantiate them one after another.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), E::Error>>();
        for i in 0..config.workers {
            let mut worker = Worker {
                executor: Arc::clone(&executor),
                state: None,
                init_error: None,
                groups: group_rx.clone(),
                counters: Arc::clone(&counters),
                held: Vec::new(),
                outbox: outbox.clone(),
                held_since: None,
                hold: config.answer_hold,
            };
            let ready = ready_tx.clone();
            std::thread::Builder::new()
                .name(format!("wasm-sandbox-batch-{i}"))
                .spawn(move || match worker.executor.new_worker() {
                    Ok(state) => {
                        worker.state = Some(state);
                        let _ = ready.send(Ok(()));
                        drop(ready);
                        worker.run();
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                })
                // Threads already spawned exit when `group_tx` is dropped on return.
                .map_err(|source| BatchError::Spawn { source })?;
        }
        drop(ready_tx);
        for _ in 0..config.workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(source)) => return Err(BatchError::WorkerInit { source }),
                // A worker thread died building its state (its `new_worker` panicked).
                Err(_) => {
                    return Err(BatchError::WorkerUnavailable {
                        reason: "it panicked while the processor was being created".into(),
                    });
                }
            }
        }
        drop(group_rx);
        drop(outbox);

        let (intake, intake_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let flusher = Flusher {
            intake: intake_rx,
            stop: stop_rx,
            groups: group_tx,
            answers,
            _done: done_tx,
            counters: Arc::clone(&counters),
            batch_size: config.batch_size,
            batch_timeout: config.batch_timeout,
            workers: config.workers,
        };
        runtime.spawn(flusher.run());

        Ok(Self {
            intake,
            permits: Arc::new(Semaphore::new(config.queue_capacity)),
            closed: AtomicBool::new(false),
            stop: parking_lot::Mutex::new(Some(stop_tx)),
            done: AsyncMutex::new(Some(done_rx)),
            counters,
            config,
        })
    }

    /// Queues a call of `function` with encoded `args` and resolves to its encoded result.
    ///
    /// `args` is anything that converts into [`Bytes`]: a `Vec<u8>` moves in without a copy,
    /// and a `Bytes` shared by many calls is reference-counted rather than copied per call.
    ///
    /// Nothing is queued until the future is first polled. Dropping the future afterwards
    /// withdraws the call if it has not run yet, and never affects other calls.
    ///
    /// # Errors
    ///
    /// - [`BatchError::QueueFull`] at once if the queue is full and the policy is
    ///   [`OverflowPolicy::Reject`];
    /// - [`BatchError::Shutdown`] if the processor is shut down;
    /// - [`BatchError::Call`] with the executor's error for this call;
    /// - [`BatchError::Protocol`], [`BatchError::Panicked`], [`BatchError::WorkerUnavailable`]
    ///   if the batch or the worker failed;
    /// - [`BatchError::Abandoned`] if the processor stopped before answering.
    pub async fn call_batched(
        &self,
        function: &str,
        args: impl Into<Bytes>,
    ) -> Result<Vec<u8>, BatchError<E::Error>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(BatchError::Shutdown);
        }
        let permit = match self.config.overflow {
            OverflowPolicy::Wait => Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| BatchError::Shutdown)?,
            _ => match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(TryAcquireError::NoPermits) => {
                    self.counters.queue_full();
                    return Err(BatchError::QueueFull {
                        capacity: self.config.queue_capacity,
                    });
                }
                Err(TryAcquireError::Closed) => return Err(BatchError::Shutdown),
            },
        };
        let (reply, answer) = oneshot::channel();
        let submit = Submit {
            function: Arc::from(function),
            call: Call {
                args: args.into(),
                reply,
                _permit: permit,
            },
            enqueued: Instant::now(),
        };
        self.intake.send(submit).map_err(|_| BatchError::Shutdown)?;
        self.counters.call();
        answer.await.unwrap_or(Err(BatchError::Abandoned))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Wakes callers waiting for a slot: they get `Shutdown`.
        self.permits.close();
        if let Some(stop) = self.stop.lock().take() {
            let _ = stop.send(());
        }
    }

    /// Stops accepting calls, completes every call already accepted, and waits until the
    /// worker threads have exited. Later calls fail with [`BatchError::Shutdown`]. Calling it
    /// again (or concurrently) waits for the same completion.
    pub async fn shutdown(&self) {
        self.close();
        let mut done = self.done.lock().await;
        if let Some(rx) = done.as_mut() {
            // Resolves to `None` once every worker thread has dropped its sender.
            while rx.recv().await.is_some() {}
        }
        *done = None;
    }

    /// Whether the processor stopped accepting calls.
    #[must_use]
    pub fn is_shut_down(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The number of calls accepted and not yet answered.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.config
            .queue_capacity
            .saturating_sub(self.permits.available_permits())
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> BatchStats {
        self.counters.snapshot()
    }
}

impl<E: BatchExecutor> Drop for BatchProcessor<E> {
    /// Stops accepting calls; calls already accepted still complete in the background.
    fn drop(&mut self) {
        self.close();
    }
}

/// Where the flush timer waits while no call is pending.
const IDLE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The flush task: collects calls into a batch and hands it to the workers, and sends the
/// workers' answers on to their callers.
struct Flusher<Err> {
    intake: mpsc::UnboundedReceiver<Submit<Err>>,
    stop: oneshot::Receiver<()>,
    groups: cb::Sender<Arc<Group<Err>>>,
    /// Closed once every worker has exited.
    answers: mpsc::UnboundedReceiver<Vec<Held<Err>>>,
    /// Never sent on: dropped when the task ends, after every answer was sent, which
    /// `shutdown` waits for.
    _done: mpsc::Sender<()>,
    counters: Arc<Counters>,
    batch_size: usize,
    batch_timeout: std::time::Duration,
    workers: usize,
}

impl<Err: Send + 'static> Flusher<Err> {
    async fn run(mut self) {
        let mut pending: Vec<Submit<Err>> = Vec::with_capacity(self.batch_size);
        let mut deadline: Option<Instant> = None;
        let mut stopping = false;
        let sleep = tokio::time::sleep(self.batch_timeout);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                Some(answers) = self.answers.recv() => dispatch(answers),
                _ = &mut self.stop, if !stopping => {
                    // Refuse new calls, but keep draining the ones already sent.
                    stopping = true;
                    self.intake.close();
                }
                () = &mut sleep, if deadline.is_some() => {
                    self.flush(&mut pending, FlushReason::Timeout);
                    deadline = None;
                }
                received = self.intake.recv() => {
                    let Some(submit) = received else { break };
                    if pending.is_empty() {
                        let at = submit.enqueued + self.batch_timeout;
                        deadline = Some(at);
                        sleep.as_mut().reset(at);
                    }
                    pending.push(submit);
                    while pending.len() < self.batch_size {
                        match self.intake.try_recv() {
                            Ok(submit) => pending.push(submit),
                            Err(_) => break,
                        }
                    }
                    if pending.len() >= self.batch_size {
                        self.flush(&mut pending, FlushReason::Size);
                        deadline = None;
                        // The timer stays registered after a flush by size; left at its
                        // deadline, it would wake this task (and the callers' runtime
                        // thread) once for nothing while the workers run.
                        sleep.as_mut().reset(Instant::now() + IDLE);
                    }
                }
            }
        }
        if !pending.is_empty() {
            self.flush(&mut pending, FlushReason::Shutdown);
        }
        // Dropping the group sender lets the workers exit once they have drained every
        // group; their last answers arrive before the answer channel closes.
        drop(self.groups);
        while let Some(answers) = self.answers.recv().await {
            dispatch(answers);
        }
    }

    fn flush(&self, pending: &mut Vec<Submit<Err>>, reason: FlushReason) {
        if pending.is_empty() {
            return;
        }
        self.counters.flushed(reason, pending.len());
        // Group by function, keeping first-seen order.
        let mut groups: Vec<(Arc<str>, Vec<Call<Err>>)> = Vec::new();
        let mut index: HashMap<Arc<str>, usize> = HashMap::new();
        for submit in pending.drain(..) {
            if let Some(&i) = index.get(&submit.function) {
                groups[i].1.push(submit.call);
            } else {
                index.insert(Arc::clone(&submit.function), groups.len());
                groups.push((submit.function, vec![submit.call]));
            }
        }
        for (function, calls) in groups {
            // Every worker that could help is told about the group; whichever are free
            // drain it in shrinking chunks (see `Group`). A lone call needs one worker.
            let helpers = self.workers.min(calls.len());
            let group = Arc::new(Group::new(function, calls, self.workers));
            for _ in 0..helpers {
                // Fails only if every worker is gone; the dropped calls then see `Abandoned`.
                let _ = self.groups.send(Arc::clone(&group));
            }
        }
    }
}
