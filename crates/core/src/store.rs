//! Per-store state: resource limiter, call deadline and WASI context.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use parking_lot::Mutex;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::config::{Output, SandboxConfig, WasiConfig};
use crate::deadline::Budget;
use crate::engine::EPOCH_TICK;
use crate::error::{DeadlineExceeded, Error, LimitHit, Resource, Result};

/// The data every sandbox store carries.
pub struct StoreData {
    limiter: Limiter,
    /// The current async call's deadline, checked against the clock at every
    /// epoch tick (`None`: no timeout).
    deadline: Option<Instant>,
    /// The call is async: yield to the executor at every tick.
    yield_on_tick: bool,
    /// The call timeout in epoch ticks, computed once per store (a 128-bit
    /// division is too dear for every call).
    timeout_ticks: Option<u64>,
    pub(crate) wasi: Option<wasmtime_wasi::p1::WasiP1Ctx>,
    pub(crate) stdout: Option<CapturedOutput>,
    pub(crate) stderr: Option<CapturedOutput>,
    /// The embedder's state for its host functions (`HostFunctions<S>`'s
    /// `S`), of the instance or of the call under way.
    pub(crate) state: Option<crate::host::State>,
    /// The guest's `memory` export, once a host function has looked it up.
    pub(crate) host_memory: Option<wasmtime::Memory>,
    /// A synchronous call's deadline in ticker ticks ([`crate::engine::ticks`]),
    /// for host functions to check when they return.
    sync_deadline: Option<u64>,
}

impl StoreData {
    /// True once the call under way is past its deadline: checked by host
    /// functions when they return, so that time spent in a synchronous host
    /// function (which nothing can interrupt) still ends the call.
    pub(crate) fn past_deadline(&self) -> bool {
        if self.yield_on_tick {
            self.deadline.is_some_and(|d| Instant::now() >= d)
        } else {
            self.sync_deadline
                .is_some_and(|t| crate::engine::ticks() >= t)
        }
    }
}

impl std::fmt::Debug for StoreData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreData")
            .field("limiter", &self.limiter)
            .field("deadline", &self.deadline)
            .field("wasi", &self.wasi.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct Limiter {
    max_memory: usize,
    max_table_elements: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            return Err(wasmtime::Error::new(LimitHit {
                resource: Resource::Memory,
                requested: desired as u64,
                limit: self.max_memory as u64,
            }));
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(wasmtime::Error::new(LimitHit {
                resource: Resource::TableElements,
                requested: desired as u64,
                limit: self.max_table_elements as u64,
            }));
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }
}

/// Creates a store with the sandbox's limiter, epoch callback and, when
/// configured, WASI context.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    cfg: &SandboxConfig,
    wasi: Option<&WasiConfig>,
) -> Result<Store<StoreData>> {
    let (wasi_ctx, stdout, stderr) = match wasi {
        Some(w) => {
            let (ctx, out, err) = build_wasi(w)?;
            (Some(ctx), out, err)
        }
        None => (None, None, None),
    };
    let data = StoreData {
        limiter: Limiter {
            max_memory: cfg.limits.max_memory,
            max_table_elements: cfg.limits.max_table_elements,
        },
        deadline: None,
        yield_on_tick: false,
        timeout_ticks: cfg.limits.timeout.map(ticks_for),
        wasi: wasi_ctx,
        stdout,
        stderr,
        state: None,
        host_memory: None,
        sync_deadline: None,
    };
    let mut store = Store::new(engine, data);
    store.limiter(|d| &mut d.limiter);
    store.epoch_deadline_callback(|ctx| {
        let d = ctx.data();
        if d.yield_on_tick {
            // Async: a callback every tick. The deadline is an instant, so the
            // time the call spent suspended in host calls counts too.
            if d.deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Err(wasmtime::Error::new(DeadlineExceeded));
            }
            return Ok(UpdateDeadline::Yield(1));
        }
        if d.timeout_ticks.is_some() {
            // Sync: the epoch deadline was set at the timeout, so the one
            // callback comes at the deadline.
            return Err(wasmtime::Error::new(DeadlineExceeded));
        }
        Ok(UpdateDeadline::Continue(FAR))
    });
    Ok(store)
}

/// An epoch deadline that never comes (2^62 ticks of 5 ms), and small enough
/// that wasmtime adding it to the current epoch cannot overflow.
const FAR: u64 = 1 << 62;

/// Number of epoch ticks for a `timeout`: the first tick can come at any
/// moment, so one more is added. Ticks are at least [`EPOCH_TICK`] apart, so
/// the deadline never fires before `timeout`; it can fire up to one tick
/// (plus the ticker's scheduling delay on a loaded machine) after it.
fn ticks_for(timeout: std::time::Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let n = timeout.as_nanos().div_ceil(tick) + 1;
    u64::try_from(n).unwrap_or(FAR).min(FAR)
}

/// Arms the store for one synchronous call: the epoch deadline is the call's
/// timeout, counted from now on the engine's epoch (which the ticker advances
/// with wall-clock time, whatever the guest is doing, so time in host calls
/// counts). Reads no clock: this is the fast path.
#[inline]
pub(crate) fn arm_sync(store: &mut Store<StoreData>, fuel: Option<u64>) {
    let d = store.data_mut();
    // `deadline` is read only when `yield_on_tick` is set: no need to clear it.
    d.yield_on_tick = false;
    d.sync_deadline = d.timeout_ticks.map(|t| crate::engine::ticks() + t);
    let ticks = d.timeout_ticks.unwrap_or(FAR);
    store.set_epoch_deadline(ticks);
    set_fuel(store, fuel);
}

/// Arms the store for the steps of one async call under `budget`: a
/// callback every tick, which yields and checks the deadline. Fuel is set by
/// [`set_fuel`] once per call, not per step.
#[inline]
pub(crate) fn arm_async(store: &mut Store<StoreData>, budget: &Budget) {
    let d = store.data_mut();
    d.yield_on_tick = true;
    d.deadline = budget.deadline;
    store.set_epoch_deadline(1);
}

/// Gives the store the fuel of one call.
#[inline]
pub(crate) fn set_fuel(store: &mut Store<StoreData>, fuel: Option<u64>) {
    if let Some(fuel) = fuel {
        // `set_fuel` only fails when fuel is not enabled, and the engine
        // enables it exactly when a fuel limit is set.
        let _ = store.set_fuel(fuel);
    }
}

fn build_wasi(
    w: &WasiConfig,
) -> Result<(
    wasmtime_wasi::p1::WasiP1Ctx,
    Option<CapturedOutput>,
    Option<CapturedOutput>,
)> {
    let mut b = wasmtime_wasi::WasiCtxBuilder::new();
    b.args(&w.args);
    for (k, v) in &w.env {
        b.env(k, v);
    }
    for p in &w.preopens {
        let perms = if p.read_only {
            wasmtime_wasi::FsPerms::ReadOnly
        } else {
            wasmtime_wasi::FsPerms::ReadWrite
        };
        b.preopened_dir(&p.host, &p.guest, perms)
            .map_err(|e| Error::io(&p.host, std::io::Error::other(format!("{e:#}"))))?;
    }
    if w.inherit_stdin {
        // wasmtime-wasi's stdin: read on a worker thread on demand, and
        // pollable, so a guest blocked on it suspends instead of blocking.
        b.inherit_stdin();
    } else if !w.stdin.is_empty() {
        b.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
            w.stdin.clone(),
        ));
    }
    let limit = w.effective_capture_limit();
    let stdout = match w.stdout {
        Output::Null => None,
        Output::Inherit => {
            b.stdout(HostOutput::new(HostFd::Stdout, w.inherit_limit));
            None
        }
        Output::HostStderr => {
            b.stdout(HostOutput::new(HostFd::Stderr, w.inherit_limit));
            None
        }
        Output::Capture => {
            let pipe = CapturedOutput::new(limit);
            b.stdout(pipe.clone());
            Some(pipe)
        }
    };
    let stderr = match w.stderr {
        Output::Null => None,
        Output::Inherit | Output::HostStderr => {
            b.stderr(HostOutput::new(HostFd::Stderr, w.inherit_limit));
            None
        }
        Output::Capture => {
            let pipe = CapturedOutput::new(limit);
            b.stderr(pipe.clone());
            Some(pipe)
        }
    };
    Ok((b.build_p1(), stdout, stderr))
}

/// Bytes a guest may have in flight to a host stream: past them its write
/// waits (suspending an async call, which its deadline still cuts) until the
/// host stream has taken them.
const HOST_OUTPUT_BUFFER: usize = 64 * 1024;

/// One of the host process's own output streams.
#[derive(Debug, Clone, Copy)]
enum HostFd {
    Stdout,
    Stderr,
}

/// A guest output stream written to the host's stdout or stderr.
///
/// wasmtime-wasi's own inherited streams write with a blocking `write(2)`
/// inside the guest's call, so a reader that stops reading blocks the
/// calling thread where no deadline can reach it. Here the guest's bytes go
/// through a bounded buffer ([`HOST_OUTPUT_BUFFER`]) drained by a task of
/// the async runtime (tokio's stdio, which writes on its blocking pool):
/// when the buffer is full the guest's write *waits*, asynchronously, and a
/// call waiting there ends at its deadline like any other. With a limit,
/// writes past it fail (the guest sees an I/O error), so a guest cannot fill
/// the host's disk or terminal without bound.
#[derive(Debug, Clone, Copy)]
struct HostOutput {
    fd: HostFd,
    limit: Option<u64>,
}

impl HostOutput {
    fn new(fd: HostFd, limit: Option<u64>) -> Self {
        HostOutput { fd, limit }
    }

    fn writer(&self) -> LimitedWrite {
        let inner: Box<dyn tokio::io::AsyncWrite + Send + Sync + Unpin> = match self.fd {
            HostFd::Stdout => Box::new(tokio::io::stdout()),
            HostFd::Stderr => Box::new(tokio::io::stderr()),
        };
        LimitedWrite {
            inner,
            left: self.limit,
        }
    }
}

impl wasmtime_wasi::cli::IsTerminal for HostOutput {
    fn is_terminal(&self) -> bool {
        match self.fd {
            HostFd::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            HostFd::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

impl wasmtime_wasi::cli::StdoutStream for HostOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(wasmtime_wasi::p2::pipe::AsyncWriteStream::new(
            HOST_OUTPUT_BUFFER,
            self.writer(),
        ))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.writer())
    }
}

/// An `AsyncWrite` that takes at most `left` more bytes (`None`: any number).
struct LimitedWrite {
    inner: Box<dyn tokio::io::AsyncWrite + Send + Sync + Unpin>,
    left: Option<u64>,
}

impl tokio::io::AsyncWrite for LimitedWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let allowed = match self.left {
            Some(0) if !buf.is_empty() => {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "the guest reached its output limit (WasiConfig::inherit_limit)",
                )));
            }
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let r = Pin::new(&mut self.inner).poll_write(cx, &buf[..allowed]);
        if let (Poll::Ready(Ok(n)), Some(left)) = (&r, &mut self.left) {
            *left = left.saturating_sub(*n as u64);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A captured WASI output stream: bounded, and truncating rather than failing
/// the guest's write once full.
#[derive(Clone, Debug)]
pub struct CapturedOutput {
    buf: Arc<Mutex<Vec<u8>>>,
    cap: usize,
    truncated: Arc<AtomicBool>,
}

impl CapturedOutput {
    fn new(cap: usize) -> Self {
        CapturedOutput {
            buf: Arc::default(),
            cap,
            truncated: Arc::default(),
        }
    }

    /// The bytes written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.buf.lock().clone()
    }

    /// How many bytes were kept so far.
    pub fn len(&self) -> usize {
        self.buf.lock().len()
    }

    /// Whether nothing was kept so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the guest wrote more than the capture limit and bytes were
    /// dropped.
    pub fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Relaxed)
    }

    fn append(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock();
        let room = self.cap.saturating_sub(buf.len());
        if bytes.len() > room {
            self.truncated.store(true, Ordering::Relaxed);
        }
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl wasmtime_wasi::cli::IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Most bytes of a guest's stderr that a trap's message carries.
const STDERR_TAIL: usize = 4096;

/// `err` (a trap) with the end of what the guest wrote on its captured
/// stderr since `from` appended to its message: an interpreter guest that
/// reports an error on stderr and traps (Lua without `setjmp`) explains
/// itself. Only the call's own output is used (`from` is where the stream
/// stood when the call began), so a reused instance never passes one
/// caller's output to another.
pub(crate) fn with_stderr_tail(err: Error, stderr: Option<&CapturedOutput>, from: usize) -> Error {
    let Error::Trap { code, message } = err else {
        return err;
    };
    let tail = stderr
        .map(|out| {
            let buf = out.buf.lock();
            let own = buf.get(from..).unwrap_or_default();
            let start = own.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&own[start..]).trim().to_owned()
        })
        .unwrap_or_default();
    let message = if tail.is_empty() {
        message
    } else {
        format!("{message}; the guest's stderr ends with: {tail}").into()
    };
    Error::Trap { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ticks_cover_the_timeout() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
        assert_eq!(ticks_for(Duration::MAX), FAR);
        assert_eq!(ticks_for(EPOCH_TICK), 2);
        assert!(ticks_for(Duration::from_secs(1)) as u128 * EPOCH_TICK.as_nanos() >= 1_000_000_000);
    }

    #[test]
    fn capture_truncates_instead_of_failing() {
        let c = CapturedOutput::new(4);
        c.append(b"hello");
        assert_eq!(c.contents(), b"hell");
        assert!(c.truncated());
    }
}
