//! One wall-clock deadline per call, that neither guest code nor host calls
//! escape.
//!
//! A logical call (instantiation and `_initialize` when it instantiates, and
//! every step of the guest ABI) starts one [`Budget`]: an [`Instant`] by
//! which it must end, and the fuel it may burn. Three mechanisms hold it to
//! that:
//!
//! * **Guest code** is interrupted by the epoch callback (`store.rs`), which
//!   the shared ticker (`engine.rs`) triggers every [`EPOCH_TICK`]. On the
//!   async path the callback compares the clock with the deadline and yields
//!   to the executor; on the synchronous fast path the epoch deadline itself
//!   is set at the call's deadline, so a call reads no clock.
//! * **Host calls on the async path** (a WASI `poll_oneoff` sleep, a write to
//!   a stalled pipe, an embedder's slow async host function) suspend the
//!   call's future. [`bounded`] races that future against an [`Alarm`] that
//!   the ticker thread wakes once the deadline has passed; the losing future
//!   is dropped, which wasmtime supports (the fiber is unwound), and the
//!   instance is discarded. The alarm needs no timer of the caller's
//!   executor: any executor works.
//! * **WASI on the synchronous path** runs as an async call driven by
//!   [`block_on`] on the sandbox's own small runtime, so the same race cuts
//!   it. (An embedder's *synchronous* host function that blocks cannot be
//!   interrupted by anyone; the call ends with [`Error::Timeout`] as soon as
//!   it returns, since the epoch deadline has passed. `docs/security.md`.)

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::ResourceLimits;
#[cfg(doc)]
use crate::engine::EPOCH_TICK;
use crate::error::{Error, Result};

/// What one logical call may spend: a deadline and fuel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// When the call must end; `None` without a timeout (or for a timeout so
    /// long that it does not fit an `Instant`).
    pub(crate) deadline: Option<Instant>,
    /// Fuel for the whole call, set once when it starts.
    pub(crate) fuel: Option<u64>,
}

impl Budget {
    /// A budget starting now. Reads the clock once when there is a timeout.
    pub(crate) fn start(limits: &ResourceLimits) -> Budget {
        Budget::starting_at(limits, limits.timeout.map(|_| Instant::now()))
    }

    /// A budget starting at `now` (read by a caller that needs the time
    /// too, so the clock is read once); `None` only without a timeout.
    pub(crate) fn starting_at(limits: &ResourceLimits, now: Option<Instant>) -> Budget {
        Budget {
            deadline: limits.timeout.and_then(|t| now?.checked_add(t)),
            fuel: limits.fuel,
        }
    }
}

/// Alarms of pending async calls, woken by the ticker thread.
#[derive(Default)]
pub(crate) struct Alarms {
    pending: Mutex<HashMap<u64, (Instant, Waker)>>,
}

impl Alarms {
    /// The process's alarms.
    pub(crate) fn global() -> &'static Alarms {
        static ALARMS: OnceLock<Alarms> = OnceLock::new();
        ALARMS.get_or_init(Alarms::default)
    }

    /// Wakes every alarm whose deadline has passed (the ticker calls this
    /// once per tick). Wakers run after the lock is released, so an executor
    /// whose waker polls inline cannot deadlock on it.
    pub(crate) fn fire_expired(&self) {
        let due: Vec<Waker> = {
            let mut pending = self.pending.lock();
            if pending.is_empty() {
                return;
            }
            let now = Instant::now();
            let mut due = Vec::new();
            pending.retain(|_, (deadline, waker)| {
                if *deadline <= now {
                    due.push(waker.clone());
                    false
                } else {
                    true
                }
            });
            due
        };
        for waker in due {
            waker.wake();
        }
    }
}

/// A deadline a future can wait for. It registers with [`Alarms`] only when
/// first polled before its deadline, so a call that finishes without ever
/// suspending costs nothing here.
struct Alarm {
    deadline: Instant,
    id: Option<u64>,
    /// The waker last registered, so a call that yields at every tick with
    /// the same waker registers (and locks the shared table) once.
    registered: Option<Waker>,
}

impl Alarm {
    /// True once the deadline has passed; otherwise arranges for `cx` to be
    /// woken when it does.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= self.deadline {
            return true;
        }
        // Still registered with this waker: the ticker removes an entry only
        // once its deadline has passed, which the check above would see.
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return false;
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = *self
            .id
            .get_or_insert_with(|| NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let mut pending = Alarms::global().pending.lock();
        match pending.get_mut(&id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                pending.insert(id, (self.deadline, cx.waker().clone()));
            }
        }
        self.registered = Some(cx.waker().clone());
        false
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            Alarms::global().pending.lock().remove(&id);
        }
    }
}

/// Runs `fut` until it completes or `deadline` passes, whichever comes
/// first; `None` when the deadline won (and `fut` has been dropped).
///
/// `fut` is polled first, so a future that is ready at once never looks at
/// the clock or the alarm. It is `Unpin` (callers pass it pinned, `pin!`),
/// so that it is stored once, where the caller pinned it, rather than moved
/// into this future and stored again.
pub(crate) fn bounded<F: Future + Unpin>(
    deadline: Option<Instant>,
    mut fut: F,
) -> impl Future<Output = Option<F::Output>> {
    let mut alarm = deadline.map(|deadline| Alarm {
        deadline,
        id: None,
        registered: None,
    });
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        if alarm.as_mut().is_some_and(|alarm| alarm.poll_expired(cx)) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
}

/// Drives an async call to completion on the current thread, for the
/// synchronous API of WASI guests: WASI's host calls are async (sleeps,
/// pipes), and only an async call can be cut at its deadline while it waits
/// in one. The sandbox's own runtime (one worker thread for its timer and I/O
/// drivers) provides what those host calls need.
///
/// # Errors
///
/// [`Error::Config`] on a thread that already runs an async runtime (which
/// would deadlock: use the async API there), [`Error::Engine`] if the
/// runtime cannot be started.
pub(crate) fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::config(
            "this module imports WASI or an async host function, so its synchronous calls \
             run on the sandbox's own runtime, which cannot be entered from a thread of an \
             async runtime (a tokio worker or a spawn_blocking thread); use the async call \
             methods",
        ));
    }
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wasm-sandbox-wasi")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(rt) => rt.block_on(fut),
        Err(e) => Err(Error::Engine {
            reason: format!("cannot start the runtime for synchronous WASI calls: {e}").into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::time::Duration;

    /// A runtime without a timer: only the alarm can end a pending future.
    fn run<F: Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
    }

    #[test]
    fn a_ready_future_wins_without_an_alarm() {
        let deadline = Some(Instant::now() + Duration::from_secs(60));
        let out = run(bounded(deadline, pin!(async { 7 })));
        assert_eq!(out, Some(7));
    }

    #[test]
    fn a_past_deadline_cuts_a_pending_future() {
        let deadline = Some(Instant::now());
        let out = run(bounded(deadline, std::future::pending::<()>()));
        assert_eq!(out, None);
    }

    #[test]
    fn no_deadline_waits_for_the_future() {
        let out = run(bounded(None, pin!(async { "done" })));
        assert_eq!(out, Some("done"));
    }

    #[test]
    fn an_expired_alarm_wakes_its_task() {
        // A future that never completes, on an executor with no timer: only the
        // alarm (fired here by hand, as the ticker does) can end it.
        let deadline = Instant::now() + Duration::from_millis(20);
        let handle =
            std::thread::spawn(move || run(bounded(Some(deadline), std::future::pending::<()>())));
        while !handle.is_finished() {
            Alarms::global().fire_expired();
            std::thread::yield_now();
        }
        assert_eq!(handle.join().unwrap(), None);
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn an_overflowing_timeout_means_no_deadline() {
        let limits = ResourceLimits {
            timeout: Some(Duration::MAX),
            ..ResourceLimits::default()
        };
        assert_eq!(Budget::start(&limits).deadline, None);
    }
}
