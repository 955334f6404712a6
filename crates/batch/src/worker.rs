//! Worker threads: each owns its executor state and drains the groups sent to it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel::Receiver;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::error::BatchError;
use crate::executor::BatchExecutor;
use crate::stats::Counters;

/// What a caller gets back.
pub(crate) type Answer<Err> = Result<Vec<u8>, BatchError<Err>>;

pub(crate) type Reply<Err> = oneshot::Sender<Answer<Err>>;

/// An answered call, waiting to be sent.
pub(crate) type Held<Err> = (Call<Err>, Answer<Err>);

/// Where a worker sends its answers: to the flush task, which sends each to its caller.
pub(crate) type Outbox<Err> = mpsc::UnboundedSender<Vec<Held<Err>>>;

/// Sends each answer to its caller. A caller that is gone has nobody to tell.
pub(crate) fn dispatch<Err>(answers: Vec<Held<Err>>) {
    for (call, result) in answers {
        let _ = call.reply.send(result);
    }
}

/// One accepted call. Dropping it frees its queue slot and, if unanswered, makes its caller
/// see [`BatchError::Abandoned`].
pub(crate) struct Call<Err> {
    pub(crate) args: Bytes,
    pub(crate) reply: Reply<Err>,
    pub(crate) _permit: OwnedSemaphorePermit,
}

/// The calls of one function from one flushed batch, shared by the workers that drain it.
///
/// With several workers, chunks are taken by guided self-scheduling: each take is
/// `ceil(remaining / (2 × workers))` calls. Early chunks are large (few hand-offs, few guest
/// calls through a batch entry point); the last ones are single calls, so workers finish
/// within about one call of each other however late one of them started or however unevenly
/// the calls cost. A lone worker takes the whole group as one chunk (one guest call with a
/// batch entry point).
pub(crate) struct Group<Err> {
    pub(crate) function: Arc<str>,
    calls: Mutex<VecDeque<Call<Err>>>,
    divisor: usize,
}

impl<Err> Group<Err> {
    pub(crate) fn new(function: Arc<str>, calls: Vec<Call<Err>>, workers: usize) -> Self {
        Self {
            function,
            calls: Mutex::new(calls.into()),
            divisor: if workers <= 1 { 1 } else { 2 * workers },
        }
    }

    /// The next chunk; empty once the group is drained.
    fn take(&self) -> Vec<Call<Err>> {
        let mut calls = self.calls.lock();
        let n = calls.len().div_ceil(self.divisor);
        calls.drain(..n).collect()
    }
}

pub(crate) struct Worker<E: BatchExecutor> {
    pub(crate) executor: Arc<E>,
    pub(crate) state: Option<E::Worker>,
    /// Why the state is missing, when it is.
    pub(crate) init_error: Option<Box<str>>,
    /// Groups to help drain; a group is sent once per worker that may work on it.
    pub(crate) groups: Receiver<Arc<Group<E::Error>>>,
    pub(crate) counters: Arc<Counters>,
    /// Answers not yet sent. They are held and sent together when the worker finishes its
    /// part of a group, or once the oldest has been held for `hold`, whichever comes first.
    /// The hold is checked between calls (a call cannot be interrupted to send earlier
    /// answers).
    ///
    /// They go to the flush task, on the callers' runtime, in one message: waking that
    /// runtime's thread from a worker makes the kernel run it at once, preempting the worker
    /// on a machine with as many workers as cores. Sent one by one to the callers, 32
    /// answers cost up to 32 such round trips (profiled: 160 context switches per 256
    /// calls); sent as one message, one.
    pub(crate) held: Vec<Held<E::Error>>,
    pub(crate) outbox: Outbox<E::Error>,
    /// When the oldest held answer was recorded.
    pub(crate) held_since: Option<Instant>,
    /// How long an answer may be held ([`BatchConfig::answer_hold`](crate::BatchConfig::answer_hold)).
    pub(crate) hold: Duration,
}

impl<E: BatchExecutor> Worker<E> {
    pub(crate) fn run(mut self) {
        while let Ok(group) = self.groups.recv() {
            loop {
                let chunk = group.take();
                if chunk.is_empty() {
                    break;
                }
                self.run_chunk(&group.function, chunk);
                self.deliver_if_due();
            }
            self.deliver();
        }
    }

    /// Records the answer of a call; [`deliver`](Self::deliver) sends it.
    fn answer(&mut self, call: Call<E::Error>, result: Answer<E::Error>) {
        self.counters.answered(result.is_ok());
        self.held_since.get_or_insert_with(Instant::now);
        self.held.push((call, result));
    }

    /// Sends the held answers if the oldest has been held for `hold`.
    fn deliver_if_due(&mut self) {
        if self
            .held_since
            .is_some_and(|since| since.elapsed() >= self.hold)
        {
            self.deliver();
        }
    }

    /// Sends every held answer.
    fn deliver(&mut self) {
        self.held_since = None;
        if self.held.is_empty() {
            return;
        }
        let answers = std::mem::take(&mut self.held);
        if let Err(unsent) = self.outbox.send(answers) {
            // The flush task is gone (its runtime was shut down): answer directly.
            dispatch(unsent.0);
        }
    }

    fn call_result(function: &str, result: Result<Vec<u8>, E::Error>) -> Answer<E::Error> {
        result.map_err(|source| BatchError::Call {
            function: function.into(),
            source,
        })
    }

    /// Rebuilds the state after a panic (or a failed rebuild).
    fn rebuild(&mut self) {
        match self.executor.new_worker() {
            Ok(state) => {
                self.state = Some(state);
                self.init_error = None;
            }
            Err(e) => {
                self.state = None;
                self.init_error = Some(e.to_string().into());
            }
        }
    }

    fn unavailable(&self) -> BatchError<E::Error> {
        BatchError::WorkerUnavailable {
            reason: self
                .init_error
                .clone()
                .unwrap_or_else(|| "the worker state was lost".into()),
        }
    }

    fn run_chunk(&mut self, function: &Arc<str>, calls: Vec<Call<E::Error>>) {
        let before = calls.len();
        // A caller that dropped its future no longer needs its call.
        let live: Vec<Call<E::Error>> =
            calls.into_iter().filter(|c| !c.reply.is_closed()).collect();
        self.counters.skipped(before - live.len());
        if live.is_empty() {
            return;
        }
        if self.state.is_none() {
            self.rebuild();
        }
        let Some(state) = self.state.as_mut() else {
            for call in live {
                let err = self.unavailable();
                self.answer(call, Err(err));
            }
            return;
        };

        let executor = Arc::clone(&self.executor);
        let batch = {
            let args: Vec<&[u8]> = live.iter().map(|c| c.args.as_ref()).collect();
            catch_unwind(AssertUnwindSafe(|| {
                executor.execute_batch(state, function, &args)
            }))
        };
        match batch {
            Ok(Some(results)) => {
                self.counters.guest_batch();
                if results.len() == live.len() {
                    for (call, result) in live.into_iter().zip(results) {
                        self.answer(call, Self::call_result(function, result));
                    }
                } else {
                    let got = results.len();
                    let expected = live.len();
                    for call in live {
                        let err = BatchError::Protocol {
                            function: function.as_ref().into(),
                            expected,
                            got,
                        };
                        self.answer(call, Err(err));
                    }
                }
            }
            Ok(None) => self.run_one_by_one(function, live),
            Err(_panic) => {
                self.state = None;
                for call in live {
                    let err = BatchError::Panicked {
                        function: function.as_ref().into(),
                    };
                    self.answer(call, Err(err));
                }
                self.rebuild();
            }
        }
    }

    /// Runs the calls one after another.
    fn run_one_by_one(&mut self, function: &str, live: Vec<Call<E::Error>>) {
        let executor = Arc::clone(&self.executor);
        for call in live {
            if call.reply.is_closed() {
                self.counters.skipped(1);
                continue;
            }
            if self.state.is_none() {
                self.rebuild();
            }
            let Some(state) = self.state.as_mut() else {
                let err = self.unavailable();
                self.answer(call, Err(err));
                continue;
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                executor.execute(state, function, &call.args)
            }));
            match outcome {
                Ok(result) => self.answer(call, Self::call_result(function, result)),
                Err(_panic) => {
                    self.state = None;
                    let err = BatchError::Panicked {
                        function: function.into(),
                    };
                    self.answer(call, Err(err));
                }
            }
            self.deliver_if_due();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(n: usize) -> Vec<Call<()>> {
        let permits = Arc::new(tokio::sync::Semaphore::new(n));
        (0..n)
            .map(|i| Call {
                args: Bytes::from(vec![u8::try_from(i % 256).unwrap_or(0)]),
                reply: oneshot::channel().0,
                _permit: Arc::clone(&permits).try_acquire_owned().expect("permit"),
            })
            .collect()
    }

    /// Chunks shrink to single calls, keep the submission order and cover every call once.
    #[test]
    fn chunks_are_guided() {
        let group = Group::new("f".into(), calls(64), 2);
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        loop {
            let chunk = group.take();
            if chunk.is_empty() {
                break;
            }
            sizes.push(chunk.len());
            seen.extend(chunk.iter().map(|c| c.args[0]));
        }
        assert_eq!(sizes, [16, 12, 9, 7, 5, 4, 3, 2, 2, 1, 1, 1, 1]);
        assert_eq!(seen, (0..64u8).collect::<Vec<_>>());
    }
}
