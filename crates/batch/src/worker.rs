//! Worker threads: each owns its executor state and runs jobs from the shared channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crossbeam::channel::Receiver;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use crate::error::BatchError;
use crate::executor::BatchExecutor;
use crate::stats::Counters;

pub(crate) type Reply<Err> = oneshot::Sender<Result<Vec<u8>, BatchError<Err>>>;

/// One accepted call. Dropping it frees its queue slot and, if unanswered, makes its caller
/// see [`BatchError::Abandoned`].
pub(crate) struct Call<Err> {
    pub(crate) args: Vec<u8>,
    pub(crate) reply: Reply<Err>,
    pub(crate) _permit: OwnedSemaphorePermit,
}

/// Calls of one function, run by one worker.
pub(crate) struct Job<Err> {
    pub(crate) function: Arc<str>,
    pub(crate) calls: Vec<Call<Err>>,
}

pub(crate) struct Worker<E: BatchExecutor> {
    pub(crate) executor: Arc<E>,
    pub(crate) state: Option<E::Worker>,
    /// Why the state is missing, when it is.
    pub(crate) init_error: Option<Box<str>>,
    pub(crate) jobs: Receiver<Job<E::Error>>,
    pub(crate) counters: Arc<Counters>,
    /// Never sent on: dropped when the thread exits, which `shutdown` waits for.
    pub(crate) _done: mpsc::Sender<()>,
}

impl<E: BatchExecutor> Worker<E> {
    pub(crate) fn run(mut self) {
        while let Ok(job) = self.jobs.recv() {
            self.run_job(job);
        }
    }

    fn answer(&self, call: Call<E::Error>, result: Result<Vec<u8>, BatchError<E::Error>>) {
        self.counters.answered(result.is_ok());
        // The caller may be gone; then there is nobody to tell.
        let _ = call.reply.send(result);
    }

    fn call_result(
        function: &str,
        result: Result<Vec<u8>, E::Error>,
    ) -> Result<Vec<u8>, BatchError<E::Error>> {
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

    fn run_job(&mut self, job: Job<E::Error>) {
        let Job { function, calls } = job;
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
            let args: Vec<&[u8]> = live.iter().map(|c| c.args.as_slice()).collect();
            catch_unwind(AssertUnwindSafe(|| {
                executor.execute_batch(state, &function, &args)
            }))
        };
        match batch {
            Ok(Some(results)) => {
                self.counters.guest_batch();
                if results.len() == live.len() {
                    for (call, result) in live.into_iter().zip(results) {
                        self.answer(call, Self::call_result(&function, result));
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
            Ok(None) => self.run_one_by_one(&function, live),
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
        }
    }
}
