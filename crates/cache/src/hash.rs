//! blake3 on two threads for large inputs, with one long-lived helper thread.

use std::sync::OnceLock;

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};
use crossbeam::channel::{self, Receiver, Sender};

/// Inputs below this size are hashed on the calling thread: the hand-off costs more than
/// hashing half of them.
const PARALLEL_FROM: usize = 512 * 1024;

/// The blake3 hash of `bytes` (the same as `blake3::hash`), on two threads when the input
/// is large and the helper thread is idle.
///
/// blake3 is a tree hash: the root of an input merges the chaining values of a left
/// subtree (the largest power-of-two number of bytes below the whole) and a right one,
/// and the left subtree is itself two halves. So the input can be cut into complete
/// subtrees, hashed apart and merged with blake3's `hazmat` functions. The helper hashes
/// one share while the caller hashes the other; the cut is whichever of `left | right`
/// and `left.0 | left.1 + right` is more even.
///
/// Why not the alternatives (found while profiling the cache's disk load; the
/// `compile/warm load vs wasmtime's cache, large` benchmark row measures the load as a
/// whole): spawning a scoped thread per call adds a thread creation to every large hash,
/// which on a virtual machine costs about what the split saves on a 1 MB input; rayon's
/// `update_rayon` splits the same way, but its idle workers spin after each job and
/// compete with the very next step (mapping the module). The helper parks between jobs. When it is busy with another caller's job, or could not be
/// started, the input is hashed on the calling thread.
pub(crate) fn blake3_hash(bytes: &[u8]) -> blake3::Hash {
    if bytes.len() < PARALLEL_FROM {
        return blake3::hash(bytes);
    }
    let Some(helper) = helper() else {
        return blake3::hash(bytes);
    };
    let left = left_subtree_len(bytes.len() as u64) as usize;
    let right = bytes.len() - left;
    // Either the caller takes the left subtree and the helper the right one, or the
    // caller takes the left subtree's first half and the helper the rest.
    let halve_left = left.max(right) > left / 2 + right;
    let mine = if halve_left { left / 2 } else { left };
    let (reply, wait) = channel::bounded(1);
    let job = Job {
        bytes: bytes.as_ptr(),
        len: bytes.len(),
        from: mine,
        left,
        reply,
    };
    // A rendezvous channel: this succeeds only if the helper is waiting for work.
    if helper.try_send(job).is_err() {
        return blake3::hash(bytes);
    }
    // From here the helper reads `bytes`; `guard` keeps this frame (and so the borrow)
    // alive until the helper has replied or dropped its job, even if hashing below panics.
    let guard = AwaitHelper(Some(wait));
    let first = subtree(&bytes[..mine], 0);
    let Some((second, right_cv)) = guard.finish() else {
        // The helper died mid-job (it cannot, short of a bug in blake3): hash it all here.
        return blake3::hash(bytes);
    };
    let left_cv = match second {
        Some(second) => merge_subtrees_non_root(&first, &second, Mode::Hash),
        None => first,
    };
    merge_subtrees_root(&left_cv, &right_cv, Mode::Hash)
}

/// The chaining value of a complete subtree (or the final, rightmost one) starting at
/// `offset` in the input.
fn subtree(bytes: &[u8], offset: usize) -> ChainingValue {
    blake3::Hasher::new()
        .set_input_offset(offset as u64)
        .update(bytes)
        .finalize_non_root()
}

/// The helper's share: `bytes[from..left]` (when the caller took only half the left
/// subtree) and `bytes[left..len]`.
struct Job {
    bytes: *const u8,
    len: usize,
    from: usize,
    left: usize,
    reply: Sender<(Option<ChainingValue>, ChainingValue)>,
}

// SAFETY: a `Job` is a borrowed `&[u8]` in raw form, sent to the helper thread. Reading
// shared bytes from another thread is fine (`[u8]` is `Sync`); what needs arguing is the
// lifetime, and `blake3_hash` guarantees it: it only returns (or unwinds) after
// `AwaitHelper` has seen the reply or the job's drop (a disconnected channel), and the
// helper never touches the bytes after either.
unsafe impl Send for Job {}

impl Job {
    fn run(self) {
        // SAFETY: `bytes..bytes + len` is the caller's live `&[u8]` (see `unsafe impl
        // Send`), which stays borrowed until this job replies or is dropped.
        let bytes = unsafe { std::slice::from_raw_parts(self.bytes, self.len) };
        let second =
            (self.from < self.left).then(|| subtree(&bytes[self.from..self.left], self.from));
        let right = subtree(&bytes[self.left..], self.left);
        let _ = self.reply.send((second, right));
    }
}

/// Blocks until the helper is done with a job, in `finish` or, on unwind, in `drop`.
struct AwaitHelper(Option<Receiver<(Option<ChainingValue>, ChainingValue)>>);

impl AwaitHelper {
    fn finish(mut self) -> Option<(Option<ChainingValue>, ChainingValue)> {
        self.0.take().and_then(|wait| wait.recv().ok())
    }
}

impl Drop for AwaitHelper {
    fn drop(&mut self) {
        if let Some(wait) = self.0.take() {
            let _ = wait.recv();
        }
    }
}

/// The helper thread's job queue, started on first use; `None` if it could not start.
fn helper() -> Option<&'static Sender<Job>> {
    static HELPER: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let (jobs, queue) = channel::bounded::<Job>(0);
            std::thread::Builder::new()
                .name("wasm-sandbox-cache-hash".into())
                .spawn(move || {
                    for job in queue {
                        job.run();
                    }
                })
                .ok()
                .map(|_| jobs)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::blake3_hash;

    /// The split must give exactly `blake3::hash` at every size around the thresholds and
    /// subtree boundaries, also when several threads hash at once (some then fall back
    /// to hashing alone).
    #[test]
    fn split_hash_is_blake3() {
        let data: Vec<u8> = (0..3 * 1024 * 1024 + 4099)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let sizes = [
            0,
            1,
            1024,
            512 * 1024 - 1,
            512 * 1024,
            512 * 1024 + 1,
            1024 * 1024,
            1024 * 1024 + 1,
            1536 * 1024 + 7,
            2 * 1024 * 1024 - 1,
            2 * 1024 * 1024,
            2 * 1024 * 1024 + 1023,
            3 * 1024 * 1024 + 4099,
        ];
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for n in sizes {
                        assert_eq!(
                            blake3_hash(&data[..n]),
                            blake3::hash(&data[..n]),
                            "{n} bytes"
                        );
                    }
                });
            }
        });
    }
}
