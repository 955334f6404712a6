//! [`CompilePool`]: the background threads that compile tier-ups.

use std::sync::{Arc, OnceLock};

use crossbeam::channel::{Sender, unbounded};

/// One queued compile.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// A small pool of named std threads that compile tier-ups, fed by a
/// crossbeam channel. A tier-up never compiles on the caller's thread.
///
/// By default every [`TieredModule`](crate::TieredModule) shares
/// [`CompilePool::global`], which has one thread: tier-ups are background
/// work, and wasmtime already compiles a module's functions in parallel on
/// all cores (`PerformanceConfig::parallel_compilation`), so more threads
/// mostly add contention with the callers.
///
/// Threads are named `wasm-sandbox-tier-up-<n>` and exit when the last handle
/// to the pool is dropped and the queue is drained (the global pool lives for
/// the process).
#[derive(Clone)]
pub struct CompilePool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    sender: Sender<Job>,
    threads: usize,
}

impl std::fmt::Debug for CompilePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompilePool")
            .field("threads", &self.inner.threads)
            .field("queued", &self.inner.sender.len())
            .finish()
    }
}

static GLOBAL: OnceLock<CompilePool> = OnceLock::new();

/// The global pool's size when [`CompilePool::configure_global`] is not called.
pub const DEFAULT_COMPILE_THREADS: usize = 1;

impl CompilePool {
    /// A pool of `threads` compile threads (at least one).
    ///
    /// # Errors
    ///
    /// [`Error::Engine`](wasm_sandbox_core::Error::Engine) if the operating
    /// system refuses to start a thread.
    pub fn new(threads: usize) -> wasm_sandbox_core::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = unbounded::<Job>();
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("wasm-sandbox-tier-up-{i}"))
                .spawn(move || {
                    for job in receiver {
                        // A panicking compile must not kill the pool; the job
                        // itself records the failure.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| wasm_sandbox_core::Error::Engine {
                    reason: format!("cannot start a tier-up compile thread: {e}").into(),
                })?;
        }
        Ok(CompilePool {
            inner: Arc::new(PoolInner { sender, threads }),
        })
    }

    /// The process-wide pool, started on first use with
    /// [`DEFAULT_COMPILE_THREADS`] threads unless
    /// [`CompilePool::configure_global`] ran first.
    ///
    /// # Panics
    ///
    /// If the operating system refuses to start its first thread.
    pub fn global() -> &'static CompilePool {
        GLOBAL.get_or_init(|| {
            CompilePool::new(DEFAULT_COMPILE_THREADS)
                .expect("cannot start the tier-up compile thread")
        })
    }

    /// Sizes the global pool. Only effective before its first use.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](wasm_sandbox_core::Error::Config) if the global pool
    /// already runs, [`Error::Engine`](wasm_sandbox_core::Error::Engine) if a
    /// thread cannot be started.
    pub fn configure_global(threads: usize) -> wasm_sandbox_core::Result<()> {
        let pool = CompilePool::new(threads)?;
        GLOBAL.set(pool).map_err(|_| {
            wasm_sandbox_core::Error::config(
                "the global tier-up pool is already running; configure it before the first TieredModule",
            )
        })
    }

    /// The number of compile threads.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Compiles waiting for a thread.
    pub fn queued(&self) -> usize {
        self.inner.sender.len()
    }

    /// Queues a job; never blocks. Returns the job if the pool is gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        self.inner.sender.send(job).map_err(|e| e.into_inner())
    }
}
