//! Configuration of a [`BatchProcessor`](crate::BatchProcessor).

use std::num::NonZeroUsize;
use std::time::Duration;

/// What [`call_batched`](crate::BatchProcessor::call_batched) does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Fail at once with [`BatchError::QueueFull`](crate::BatchError::QueueFull). The default.
    #[default]
    Reject,
    /// Wait (asynchronously) until a queued call completes and frees a slot.
    Wait,
}

/// Settings of a [`BatchProcessor`](crate::BatchProcessor). Every setter documents its default;
/// zero counts are raised to 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    pub(crate) batch_size: usize,
    pub(crate) batch_timeout: Duration,
    pub(crate) answer_hold: Duration,
    pub(crate) workers: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) overflow: OverflowPolicy,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            batch_timeout: Duration::from_millis(2),
            answer_hold: Duration::from_millis(2),
            workers: cores(),
            queue_capacity: 4096,
            overflow: OverflowPolicy::Reject,
        }
    }
}

impl BatchConfig {
    /// The default configuration (see each setter).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Flush a batch as soon as it holds this many calls. Default: 32. `0` is treated as 1
    /// (every call is its own batch).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Flush a batch when its oldest call has waited this long, even if it is not full, so a
    /// lone call never waits forever. Default: 2 ms.
    #[must_use]
    pub fn batch_timeout(mut self, batch_timeout: Duration) -> Self {
        self.batch_timeout = batch_timeout;
        self
    }

    /// How long a worker may hold a finished call's answer to send it together with the
    /// answers of the calls after it. Each delivery wakes the callers' runtime thread, which
    /// on a machine with as many workers as cores preempts a worker, so a worker delivers
    /// its answers when its part of a group is done, or earlier once the oldest has been
    /// held this long. The check runs between calls: a call running at that moment delays
    /// the answers held before it until it ends. `Duration::ZERO` sends every answer as soon
    /// as its call ends. Default: 2 ms.
    #[must_use]
    pub fn answer_hold(mut self, answer_hold: Duration) -> Self {
        self.answer_hold = answer_hold;
        self
    }

    /// The number of worker OS threads, each with its own executor state. Default:
    /// [`std::thread::available_parallelism`] (1 if unknown). `0` is treated as 1.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The maximum number of calls accepted but not yet answered (queued, batched or
    /// running). Default: 4096. `0` is treated as 1.
    #[must_use]
    pub fn queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = queue_capacity.max(1);
        self
    }

    /// What to do when the queue is full. Default: [`OverflowPolicy::Reject`].
    #[must_use]
    pub fn overflow(mut self, overflow: OverflowPolicy) -> Self {
        self.overflow = overflow;
        self
    }

    /// The batch size.
    #[must_use]
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// The batch timeout.
    #[must_use]
    pub fn get_batch_timeout(&self) -> Duration {
        self.batch_timeout
    }

    /// The answer hold.
    #[must_use]
    pub fn get_answer_hold(&self) -> Duration {
        self.answer_hold
    }

    /// The number of workers.
    #[must_use]
    pub fn get_workers(&self) -> usize {
        self.workers
    }

    /// The queue capacity.
    #[must_use]
    pub fn get_queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// The overflow policy.
    #[must_use]
    pub fn get_overflow(&self) -> OverflowPolicy {
        self.overflow
    }
}

/// The machine's cores, read once (`available_parallelism` reads cgroup
/// files on every call).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}
