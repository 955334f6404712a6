//! The crate's error type.

/// Why a batched call did not produce a result.
///
/// `E` is the [`BatchExecutor::Error`](crate::BatchExecutor::Error) of the executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The queue already holds `capacity` calls that have not completed, and the processor is
    /// configured with [`OverflowPolicy::Reject`](crate::OverflowPolicy::Reject). The call was
    /// not queued.
    #[error(
        "the batch queue is full ({capacity} calls pending); retry later, raise \
         `BatchConfig::queue_capacity`, or use `OverflowPolicy::Wait`"
    )]
    QueueFull {
        /// The configured queue capacity.
        capacity: usize,
    },

    /// The processor was shut down before the call was queued. The call was not executed.
    #[error("the batch processor is shut down; the call was not queued or executed")]
    Shutdown,

    /// The call was queued but the processor stopped before answering it (its tokio runtime
    /// shut down, or its worker threads are gone). The call may or may not have run.
    #[error(
        "the batch processor stopped before answering this call (its tokio runtime shut down or \
         its workers exited); the call may or may not have run"
    )]
    Abandoned,

    /// The executor returned an error for this call. Other calls of the batch are unaffected.
    #[error("batched call of `{function}` failed: {source}")]
    Call {
        /// The function called.
        function: Box<str>,
        /// The executor's error.
        #[source]
        source: E,
    },

    /// `execute_batch` returned a different number of results than it was given calls, so no
    /// result of that batch can be matched to its caller: every call of the batch fails.
    #[error(
        "protocol violation: `execute_batch` for `{function}` returned {got} results for \
         {expected} calls; every call of this batch failed (fix the guest's batch entry point, \
         or return `None` to run calls one by one)"
    )]
    Protocol {
        /// The function called.
        function: Box<str>,
        /// The number of calls in the batch.
        expected: usize,
        /// The number of results returned.
        got: usize,
    },

    /// The executor panicked while running this call (or its batch). The worker's state was
    /// discarded and is rebuilt with `new_worker` before the next call.
    #[error(
        "the executor panicked while running `{function}`; the worker state was discarded and \
         will be rebuilt"
    )]
    Panicked {
        /// The function called.
        function: Box<str>,
    },

    /// A worker's state could not be (re)built after a panic, so the call could not run.
    #[error("no worker state available to run the call: `new_worker` failed: {reason}")]
    WorkerUnavailable {
        /// The display of the `new_worker` error.
        reason: Box<str>,
    },

    /// `new_worker` failed while the processor was being created.
    #[error("could not create the state of a batch worker: {source}")]
    WorkerInit {
        /// The executor's error.
        #[source]
        source: E,
    },

    /// A worker thread could not be spawned while the processor was being created.
    #[error("could not spawn a batch worker thread: {source}")]
    Spawn {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The processor was created outside a tokio runtime, so its flush task cannot run.
    #[error(
        "no tokio runtime: create the BatchProcessor from within a tokio runtime \
         (e.g. inside #[tokio::main] or Runtime::enter)"
    )]
    NoRuntime,
}
