//! Per-store state: resource limiter, call deadline and WASI context.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use parking_lot::Mutex;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::config::{Output, SandboxConfig, WasiConfig};
use crate::engine::EPOCH_TICK;
use crate::error::{DeadlineExceeded, Error, LimitHit, Resource, Result};

/// The data every sandbox store carries.
pub struct StoreData {
    limiter: Limiter,
    /// Epoch callbacks left before the current call's deadline.
    ticks_left: u64,
    /// Yield to the async executor at every tick (async calls only).
    yield_on_tick: bool,
    /// The call timeout in epoch ticks, computed once per store (a 128-bit
    /// division is too dear for every call).
    deadline_ticks: Option<u64>,
    pub(crate) wasi: Option<wasmtime_wasi::p1::WasiP1Ctx>,
    pub(crate) stdout: Option<CapturedOutput>,
    pub(crate) stderr: Option<CapturedOutput>,
}

impl std::fmt::Debug for StoreData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreData")
            .field("limiter", &self.limiter)
            .field("ticks_left", &self.ticks_left)
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
        ticks_left: u64::MAX,
        yield_on_tick: false,
        deadline_ticks: cfg.limits.timeout.map(ticks_for),
        wasi: wasi_ctx,
        stdout,
        stderr,
    };
    let mut store = Store::new(engine, data);
    store.limiter(|d| &mut d.limiter);
    store.epoch_deadline_callback(|mut ctx| {
        let d = ctx.data_mut();
        d.ticks_left = d.ticks_left.saturating_sub(1);
        if d.ticks_left == 0 {
            return Err(wasmtime::Error::new(DeadlineExceeded));
        }
        Ok(if d.yield_on_tick {
            UpdateDeadline::Yield(1)
        } else {
            UpdateDeadline::Continue(1)
        })
    });
    Ok(store)
}

/// Number of epoch ticks for a `timeout`: the first tick can come at any
/// moment, so one more is added. Ticks are at least [`EPOCH_TICK`] apart, so
/// the deadline never fires before `timeout`; it can fire up to one tick
/// (plus the ticker's scheduling delay on a loaded machine) after it.
fn ticks_for(timeout: std::time::Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let n = timeout.as_nanos().div_ceil(tick) + 1;
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Arms the store for one call: deadline and fuel.
#[inline]
pub(crate) fn arm(store: &mut Store<StoreData>, fuel: Option<u64>, is_async: bool) {
    const FAR: u64 = 1 << 62;
    let d = store.data_mut();
    let ticks = d.deadline_ticks;
    d.yield_on_tick = is_async;
    match (ticks, is_async) {
        // Sync: one callback, exactly at the deadline.
        (Some(n), false) => {
            d.ticks_left = 1;
            store.set_epoch_deadline(n);
        }
        (None, false) => {
            d.ticks_left = u64::MAX;
            store.set_epoch_deadline(FAR);
        }
        // Async: a callback each tick, which yields to the executor and
        // counts down to the deadline.
        (Some(n), true) => {
            d.ticks_left = n;
            store.set_epoch_deadline(1);
        }
        (None, true) => {
            d.ticks_left = u64::MAX;
            store.set_epoch_deadline(1);
        }
    }
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
    if !w.stdin.is_empty() {
        b.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
            w.stdin.clone(),
        ));
    }
    let limit = w.effective_capture_limit();
    let stdout = match w.stdout {
        Output::Null => None,
        Output::Inherit => {
            b.inherit_stdout();
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
        Output::Inherit => {
            b.inherit_stderr();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ticks_cover_the_timeout() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
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
