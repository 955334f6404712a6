//! What the processor runs: the executor trait, implemented by the facade with wasm instances.

/// Executes guest calls on per-worker state.
///
/// The processor calls [`new_worker`](Self::new_worker) once per worker thread and then only
/// ever uses that state from that thread, so `Worker` can hold a wasmtime `Store` and
/// `Instance` without any locking. Calls run on dedicated OS threads, never on tokio's, so
/// they may be CPU-bound and blocking.
///
/// Arguments and results are opaque encoded bytes; the codec is the caller's business.
pub trait BatchExecutor: Send + Sync + 'static {
    /// Per-worker state (for example a store and an instance).
    type Worker: Send + 'static;

    /// The error of one call (a trap, a limit, a host error, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Builds the state of one worker. Called for every worker when the processor is created,
    /// and again after a call panicked.
    ///
    /// # Errors
    ///
    /// Any error; at creation it makes [`BatchProcessor::new`](crate::BatchProcessor::new) fail
    /// with [`BatchError::WorkerInit`](crate::BatchError::WorkerInit).
    fn new_worker(&self) -> Result<Self::Worker, Self::Error>;

    /// Runs one call of `function` with `args`.
    ///
    /// # Errors
    ///
    /// Any error; it fails this call only.
    fn execute(
        &self,
        worker: &mut Self::Worker,
        function: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, Self::Error>;

    /// Runs a whole batch of calls of `function` at once, e.g. through a guest's batch entry
    /// point (one guest call for many inputs), returning one result per argument, in order.
    ///
    /// Return `None` (the default) to have the processor call [`execute`](Self::execute) once
    /// per call instead. Returning a vector of the wrong length fails every call of the batch
    /// with [`BatchError::Protocol`](crate::BatchError::Protocol).
    fn execute_batch(
        &self,
        worker: &mut Self::Worker,
        function: &str,
        args: &[&[u8]],
    ) -> Option<Vec<Result<Vec<u8>, Self::Error>>> {
        let _ = (worker, function, args);
        None
    }
}
