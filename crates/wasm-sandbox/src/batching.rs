//! Glue between the sandbox and the batch processor: each worker owns an
//! instance of the module; a guest batch entry point (`f__batch`, see
//! `docs/abi.md`) turns a batch into one guest call.

use wasm_sandbox_batch::{BatchError, BatchExecutor};
use wasm_sandbox_core::{Error, Instance, Isolation, Module};

/// Suffix of a guest's batch entry point.
const BATCH_SUFFIX: &str = "__batch";

/// The [`BatchExecutor`] of a sandboxed module: each worker owns an instance,
/// calls go through the bytes ABI (`docs/abi.md`), an instance that trapped is
/// replaced, and a batch of calls of `f` becomes one guest call when the guest
/// exports the batch entry point `f__batch`.
///
/// [`WasmSandbox::call_batched`](crate::WasmSandbox::call_batched) uses it for
/// the default module; build a [`BatchProcessor`](crate::batch::BatchProcessor)
/// over it to batch calls of any other module.
pub struct ModuleExecutor {
    module: Module,
    batch_entry: bool,
}

impl ModuleExecutor {
    /// An executor for `module`, using its batch entry points where it has them.
    pub fn new(module: Module) -> Self {
        ModuleExecutor {
            module,
            batch_entry: true,
        }
    }

    /// Whether to use the guest's `f__batch` entry points (default: yes).
    /// Without them every call is its own guest call.
    #[must_use]
    pub fn with_batch_entry(mut self, use_it: bool) -> Self {
        self.batch_entry = use_it;
        self
    }
}

impl BatchExecutor for ModuleExecutor {
    type Worker = Instance;
    type Error = Error;

    fn new_worker(&self) -> Result<Instance, Error> {
        self.module.instantiate()
    }

    fn execute(
        &self,
        worker: &mut Instance,
        function: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if self.module.isolation() == Isolation::Fresh {
            // Every call on an instance of its own, made for it: the worker's
            // instance never sees a call.
            return self.module.instantiate()?.call_bytes(function, args);
        }
        let r = worker.call_bytes(function, args);
        self.renew_if_poisoned(worker);
        r
    }

    fn execute_batch(
        &self,
        worker: &mut Instance,
        function: &str,
        args: &[&[u8]],
    ) -> Option<Vec<Result<Vec<u8>, Error>>> {
        // One call gains nothing from the entry point's framing.
        // A batch entry runs many calls in one instance: not for a module
        // whose calls must not share one.
        if !self.batch_entry || args.len() < 2 || self.module.isolation() == Isolation::Fresh {
            return None;
        }
        let entry = format!("{function}{BATCH_SUFFIX}");
        if self.module.signature(&entry).is_err() {
            return None;
        }
        let r = worker.call_bytes(&entry, &frame(args));
        self.renew_if_poisoned(worker);
        // When the guest call fails as a whole (one item's trap, memory bomb or endless
        // loop takes it down, or the result frame is broken), `None` has the processor run
        // the calls one by one on the renewed instance: each gets its own result, and the
        // failure stays with the call that caused it. Items before the failure run twice,
        // which docs/abi.md asks batch entry points to tolerate.
        r.and_then(|out| unframe(&out, args.len())).ok()
    }
}

impl ModuleExecutor {
    /// A trap may leave guest state half-updated: later calls get a fresh
    /// instance.
    fn renew_if_poisoned(&self, worker: &mut Instance) {
        if worker.is_poisoned()
            && let Ok(fresh) = self.module.instantiate()
        {
            *worker = fresh;
        }
    }
}

/// `u32 LE count`, then `u32 LE len` + bytes per item.
fn frame(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + args.iter().map(|a| a.len() + 4).sum::<usize>());
    out.extend_from_slice(&(args.len() as u32).to_le_bytes());
    for a in args {
        out.extend_from_slice(&(a.len() as u32).to_le_bytes());
        out.extend_from_slice(a);
    }
    out
}

/// `count ×` (`u8 status`, `u32 LE len`, bytes).
fn unframe(mut bytes: &[u8], count: usize) -> Result<Vec<Result<Vec<u8>, Error>>, Error> {
    let bad = |why: &str| Error::abi(format!("malformed batch result frame: {why}"));
    let mut out = Vec::with_capacity(count);
    // Exactly `count` items: a frame that claims more (or holds trailing
    // bytes) is refused after `count`, never decoded further.
    while out.len() < count {
        let [status, a, b, c, d, rest @ ..] = bytes else {
            return Err(bad("truncated item header"));
        };
        let len = u32::from_le_bytes([*a, *b, *c, *d]) as usize;
        if rest.len() < len {
            return Err(bad("item longer than the frame"));
        }
        let (item, tail) = rest.split_at(len);
        out.push(match status {
            0 => Ok(item.to_vec()),
            1 => Err(Error::Guest {
                message: String::from_utf8_lossy(item).into_owned().into(),
            }),
            other => return Err(bad(&format!("unknown status {other}"))),
        });
        bytes = tail;
    }
    if !bytes.is_empty() {
        return Err(bad(&format!(
            "{} bytes after the {count} results the batch asked for",
            bytes.len()
        )));
    }
    Ok(out)
}

/// Turns the processor's error into the sandbox's.
pub(crate) fn convert(e: BatchError<Error>) -> Error {
    match e {
        BatchError::Call { source, .. } => source,
        BatchError::QueueFull { capacity } => Error::QueueFull { capacity },
        other => Error::Engine {
            reason: other.to_string().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_garbage() {
        let f = frame(&[b"ab", b"", b"xyz"]);
        assert_eq!(&f[..4], &3u32.to_le_bytes());
        let mut result = Vec::new();
        for (status, item) in [(0u8, &b"ok"[..]), (1, b"bad")] {
            result.push(status);
            result.extend_from_slice(&(item.len() as u32).to_le_bytes());
            result.extend_from_slice(item);
        }
        let items = unframe(&result, 2).unwrap();
        assert_eq!(items[0].as_ref().unwrap(), b"ok");
        assert!(matches!(&items[1], Err(Error::Guest { message }) if &**message == "bad"));
        assert!(unframe(&result, 3).is_err());
        // More results than calls: refused, not decoded past the count.
        assert!(unframe(&result, 1).is_err());
        assert!(unframe(&result[..7], 2).is_err());
        for cut in 0..result.len() {
            let _ = unframe(&result[..cut], 2);
        }
    }
}
