//! The remote tier's own async runtime: one thread driving a current-thread tokio runtime.
//!
//! The cache's API is synchronous and is called from plain threads, from a runtime's
//! blocking pool, and sometimes from threads of a runtime the cache knows nothing about.
//! `block_on` on such a thread would panic or deadlock, so no caller's runtime ever runs
//! remote I/O: each operation is spawned onto this runtime and the caller waits for its
//! answer on a channel, for at most the operation's deadline (the runtime enforces the
//! same deadline with `tokio::time::timeout`, and the channel wait has a little slack in
//! case the runtime thread itself is stuck).

use std::future::Future;
use std::time::Duration;

use crossbeam::channel;

/// Extra time the caller gives the runtime past an operation's own deadline before it
/// gives up on the answer.
const SLACK: Duration = Duration::from_millis(250);

/// Why an operation gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoAnswer {
    /// It did not finish within its deadline.
    TimedOut,
    /// The runtime is gone or the task panicked.
    Gone,
}

pub(crate) struct Io {
    handle: tokio::runtime::Handle,
    /// Dropped (or fired) to stop the runtime thread.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Io {
    /// Starts the runtime thread.
    pub(crate) fn start() -> std::io::Result<Io> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("wasm-sandbox-cache-remote-io")
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("wasm-sandbox-cache-remote".into())
            .spawn(move || {
                // Runs every spawned task until the tier is dropped; then tasks still
                // pending (publications nobody flushed) are cancelled.
                let _ = runtime.block_on(stopped);
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Io {
            handle,
            _stop: stop,
        })
    }

    /// The runtime's handle, for tasks that outlive the call that starts them.
    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Runs `future` on the runtime and waits for it for at most `deadline`.
    pub(crate) fn run<T, F>(&self, deadline: Duration, future: F) -> Result<T, NoAnswer>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let answer = self.spawn(deadline, future);
        match answer.recv_timeout(deadline.saturating_add(SLACK)) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(NoAnswer::TimedOut),
            Err(channel::RecvTimeoutError::Timeout) => Err(NoAnswer::TimedOut),
            Err(channel::RecvTimeoutError::Disconnected) => Err(NoAnswer::Gone),
        }
    }

    /// Spawns `future` bounded by `deadline`; the receiver gets `Some(result)`, or `None`
    /// if the deadline passed first, or is disconnected if the task panicked or the
    /// runtime stopped.
    pub(crate) fn spawn<T, F>(&self, deadline: Duration, future: F) -> channel::Receiver<Option<T>>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = channel::bounded(1);
        self.handle.spawn(async move {
            let result = tokio::time::timeout(deadline, future).await.ok();
            let _ = tx.send(result);
        });
        rx
    }
}
