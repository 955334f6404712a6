//! Single flight: identical misses in flight at the same time execute once.
//!
//! The first call to miss a key *leads*: it registers a [`Flight`] in the key's shard (under
//! the lock the lookup already holds) and executes. An identical asynchronous call that
//! arrives while the flight is registered *waits* for it on a [`Landing`] instead of
//! executing. When the leader succeeds it stores the result and hands it to the waiters; when
//! it fails, panics or is dropped, the flight is *aborted* and every waiter executes the
//! call itself, side by side with the others. An error is never handed on: that would
//! memoize it. Nor are the waiters lined up behind a new leader: with a call that keeps
//! failing (a timeout, say), N waiters would then take N failures' time, one after another.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::cache::MemoKey;

/// A registered flight: the leader's key (moved in at registration, taken back to store the
/// result) and, once a call waits on it, the landing the waiters share.
pub(crate) struct Flight {
    pub(crate) key: MemoKey,
    pub(crate) id: u64,
    pub(crate) landing: Option<Arc<Landing>>,
}

/// Names the flight a leader registered: its shard, its key's table hash and its id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub(crate) shard: usize,
    pub(crate) hash: u64,
    pub(crate) id: u64,
}

/// What the waiters of a flight learn: the result, or `None` if the flight was aborted.
pub(crate) type Outcome = Option<Arc<[u8]>>;

/// Where the waiters of one flight wait for its outcome.
#[derive(Default)]
pub(crate) struct Landing {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

impl Landing {
    /// Records the outcome and wakes every waiter. Called once, after the shard lock is
    /// released.
    pub(crate) fn complete(&self, outcome: Outcome) {
        let wakers = {
            let mut state = self.state.lock();
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Resolves to the outcome once the flight lands or aborts.
    pub(crate) fn wait(self: Arc<Self>) -> Wait {
        Wait { landing: self }
    }
}

/// The future of [`Landing::wait`].
pub(crate) struct Wait {
    landing: Arc<Landing>,
}

impl Future for Wait {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.landing.state.lock();
        if let Some(outcome) = &state.outcome {
            return Poll::Ready(outcome.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
