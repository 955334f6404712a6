//! The `mempool` fuzz target: random sequences of allocate / write / read / grow / free /
//! reset-stats / trim across every size class, checked step by step against a model.
//!
//! The same [`Harness`] backs the libFuzzer target (`fuzz_targets/mempool.rs`), the smoke test
//! below, and the proptest model test in `crates/mempool/tests/mempool/`, which compiles this
//! file in with `#[path]` so that `cargo test -p wasm-sandbox-mempool` runs it too.
//!
//! After every operation the harness checks that
//! - every live buffer holds exactly the bytes the model says (contents preserved, fresh bytes
//!   zeroed: no buffer ever shows another buffer's bytes),
//! - live buffers do not overlap in memory,
//! - every class counter and gauge equals the model's, and no class owns more blocks than its
//!   capacity,
//! - errors are exactly the ones the model predicts.
//!
//! Any discrepancy panics.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use wasm_sandbox_mempool::{
    ExhaustedPolicy, MemoryPool, PoolConfig, PoolError, PooledBuf, SizeClass,
};

/// Most live buffers at once; an allocation beyond this is skipped.
pub const MAX_LIVE: usize = 32;
/// Most operations decoded from one input.
pub const MAX_OPS: usize = 512;

/// The pool configuration, decoded first from the input. Capacities are tiny so exhaustion,
/// refusals and reuse are reached in a few operations.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Setup {
    /// Capacity of every class, modulo 5 (0 to 4 blocks).
    pub capacity: u8,
    /// `true`: [`ExhaustedPolicy::Error`]; `false`: [`ExhaustedPolicy::Heap`].
    pub error_on_exhausted: bool,
    /// [`PoolConfig::zero_on_release`].
    pub zero_on_release: bool,
    /// [`PoolConfig::front_cache`], modulo 4.
    pub front_cache: u8,
}

/// A requested size, spread over every class, the class edges, zero and oversize, weighted
/// towards small classes so that inputs stay fast to run.
#[derive(Clone, Copy, Arbitrary)]
pub struct Size {
    /// Modulo 16: 0..=10 that class; 11 oversize; 12 zero; 13..=15 one of the three smallest
    /// classes (picked by the high bits).
    pub class: u8,
    /// Offset below the class size (or above 64 KiB for oversize).
    pub offset: u16,
}

impl Size {
    /// The length in bytes.
    pub fn len(self) -> usize {
        let in_class = |c: u8| {
            let size = SizeClass::MIN_SIZE << c;
            // The class's top edge when `offset` is 0, anywhere in the class otherwise.
            size - usize::from(self.offset) % size
        };
        match self.class % 16 {
            c @ 0..=10 => in_class(c),
            11 => SizeClass::MAX_SIZE + 1 + usize::from(self.offset) % 8192,
            12 => 0,
            _ => in_class((self.class / 16) % 3),
        }
    }
}

impl fmt::Debug for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.len())
    }
}

/// One step. `slot` picks a live buffer modulo their number (skipped if there are none).
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    /// `pool.alloc(size)`.
    Alloc(Size),
    /// `pool.with_capacity(size)`.
    WithCapacity(Size),
    /// `pool.alloc_copy` of `len` pattern bytes.
    AllocCopy {
        /// Length of the copied data.
        len: u16,
        /// Pattern seed.
        seed: u8,
    },
    /// Fill part of a buffer with a pattern through `DerefMut`.
    Write {
        /// Which buffer.
        slot: u8,
        /// Start, modulo the buffer's length.
        offset: u16,
        /// Length, clamped to the buffer.
        len: u16,
        /// Pattern seed.
        seed: u8,
    },
    /// Compare one buffer with the model (every buffer is compared after each step anyway).
    Read {
        /// Which buffer.
        slot: u8,
    },
    /// `extend_from_slice` with `len` pattern bytes.
    Extend {
        /// Which buffer.
        slot: u8,
        /// Bytes to append, modulo 8192.
        len: u16,
        /// Pattern seed.
        seed: u8,
    },
    /// `resize(new_len, value)`.
    Resize {
        /// Which buffer.
        slot: u8,
        /// The new length.
        new_len: Size,
        /// Fill byte.
        value: u8,
    },
    /// `truncate(len)`.
    Truncate {
        /// Which buffer.
        slot: u8,
        /// The new length, if shorter.
        len: u16,
    },
    /// `clear()`.
    Clear {
        /// Which buffer.
        slot: u8,
    },
    /// Drop a buffer.
    Free {
        /// Which buffer.
        slot: u8,
    },
    /// `pool.reset_stats()`.
    ResetStats,
    /// `pool.trim()`.
    Trim,
}

/// Decodes a [`Setup`] and up to [`MAX_OPS`] [`Op`]s from `data` and runs them through a
/// [`Harness`], panicking on the first discrepancy. This is the fuzz target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let mut harness = Harness::new(setup);
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        harness.apply(&op);
    }
    harness.finish();
}

/// The trivially correct model of one size class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ClassModel {
    capacity: u64,
    owned: u64,
    idle: u64,
    hits: u64,
    fresh: u64,
    releases: u64,
    refusals: u64,
}

/// The model of one live buffer.
#[derive(Debug)]
struct BufModel {
    data: Vec<u8>,
    capacity: usize,
    /// The class the block returns to, if pooled.
    class: Option<usize>,
}

/// What the model predicts an acquisition returns.
enum Acquired {
    Pooled,
    Heap,
    Exhausted,
}

/// The pool under test, its live buffers, and the model they are compared with.
pub struct Harness {
    pool: MemoryPool,
    live: Vec<(PooledBuf, BufModel)>,
    classes: [ClassModel; SizeClass::COUNT],
    oversize: u64,
    trimmed: u64,
    error_on_exhausted: bool,
}

impl Harness {
    /// A fresh pool configured from `setup`, with no buffers.
    pub fn new(setup: Setup) -> Self {
        let capacity = u32::from(setup.capacity % 5);
        let policy = if setup.error_on_exhausted {
            ExhaustedPolicy::Error
        } else {
            ExhaustedPolicy::Heap
        };
        let pool = MemoryPool::new(
            PoolConfig::new()
                .capacity(capacity)
                .on_exhausted(policy)
                .zero_on_release(setup.zero_on_release)
                .front_cache(usize::from(setup.front_cache % 4)),
        );
        Harness {
            pool,
            live: Vec::new(),
            classes: [ClassModel {
                capacity: u64::from(capacity),
                ..ClassModel::default()
            }; SizeClass::COUNT],
            oversize: 0,
            trimmed: 0,
            error_on_exhausted: setup.error_on_exhausted,
        }
    }

    /// Applies `op` to the pool and the model, then checks everything.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Alloc(size) => self.alloc(size.len(), true),
            Op::WithCapacity(size) => self.alloc(size.len(), false),
            Op::AllocCopy { len, seed } => {
                if self.live.len() < MAX_LIVE {
                    let data = pattern(seed, usize::from(len));
                    let model = self.model_alloc(data.len(), data.clone());
                    let result = self.pool.alloc_copy(&data);
                    self.accept(result, model);
                }
            }
            Op::Write {
                slot,
                offset,
                len,
                seed,
            } => {
                if let Some((buf, model)) = self.slot(slot)
                    && !model.data.is_empty()
                {
                    let start = usize::from(offset) % model.data.len();
                    let end = (start + usize::from(len)).min(model.data.len());
                    let bytes = pattern(seed, end - start);
                    buf[start..end].copy_from_slice(&bytes);
                    model.data[start..end].copy_from_slice(&bytes);
                }
            }
            Op::Read { slot } => {
                if let Some((buf, model)) = self.slot(slot) {
                    assert!(buf[..] == model.data[..], "contents differ from the model");
                }
            }
            Op::Extend { slot, len, seed } => {
                let bytes = pattern(seed, usize::from(len) % 8192);
                self.grow(
                    slot,
                    bytes.len(),
                    |buf| buf.extend_from_slice(&bytes),
                    |data| data.extend_from_slice(&bytes),
                );
            }
            Op::Resize {
                slot,
                new_len,
                value,
            } => {
                let new_len = new_len.len();
                let Some(i) = self.index(slot) else { return };
                let len = self.live[i].1.data.len();
                if new_len <= len {
                    let (buf, model) = &mut self.live[i];
                    buf.resize(new_len, value).expect("shrinking never fails");
                    model.data.truncate(new_len);
                } else {
                    self.grow(
                        slot,
                        new_len - len,
                        |buf| buf.resize(new_len, value),
                        |data| data.resize(new_len, value),
                    );
                }
            }
            Op::Truncate { slot, len } => {
                if let Some((buf, model)) = self.slot(slot) {
                    buf.truncate(usize::from(len));
                    model.data.truncate(usize::from(len));
                }
            }
            Op::Clear { slot } => {
                if let Some((buf, model)) = self.slot(slot) {
                    buf.clear();
                    model.data.clear();
                }
            }
            Op::Free { slot } => {
                if let Some(i) = self.index(slot) {
                    let (buf, model) = self.live.swap_remove(i);
                    drop(buf);
                    if let Some(class) = model.class {
                        self.model_release(class);
                    }
                }
            }
            Op::ResetStats => {
                self.pool.reset_stats();
                for class in &mut self.classes {
                    *class = ClassModel {
                        capacity: class.capacity,
                        owned: class.owned,
                        idle: class.idle,
                        ..ClassModel::default()
                    };
                }
                self.oversize = 0;
                self.trimmed = 0;
            }
            Op::Trim => {
                let freed = self.pool.trim();
                let idle: u64 = self.classes.iter().map(|c| c.idle).sum();
                assert_eq!(
                    freed as u64, idle,
                    "trim freed a different number of blocks"
                );
                for class in &mut self.classes {
                    class.owned -= class.idle;
                    class.idle = 0;
                }
                self.trimmed += idle;
            }
        }
        self.check();
    }

    /// Frees every buffer, then checks that every owned block is idle.
    pub fn finish(mut self) {
        while !self.live.is_empty() {
            self.apply(&Op::Free { slot: 0 });
        }
        let stats = self.pool.stats();
        for class in &stats.classes {
            assert_eq!(
                class.owned, class.idle,
                "a block leaked from {}",
                class.class
            );
        }
    }

    fn index(&self, slot: u8) -> Option<usize> {
        (!self.live.is_empty()).then(|| usize::from(slot) % self.live.len())
    }

    fn slot(&mut self, slot: u8) -> Option<&mut (PooledBuf, BufModel)> {
        let i = self.index(slot)?;
        Some(&mut self.live[i])
    }

    fn alloc(&mut self, len: usize, zeroed: bool) {
        if self.live.len() >= MAX_LIVE {
            return;
        }
        let data = if zeroed { vec![0; len] } else { Vec::new() };
        let model = self.model_alloc(len, data);
        let result = if zeroed {
            self.pool.alloc(len)
        } else {
            self.pool.with_capacity(len)
        };
        self.accept(result, model);
    }

    /// The model's prediction for a new buffer able to hold `len` bytes and holding `data`.
    fn model_alloc(&mut self, len: usize, data: Vec<u8>) -> Result<BufModel, PoolError> {
        match model_class(len) {
            Some(class) => match self.model_acquire(class) {
                Acquired::Pooled => Ok(BufModel {
                    data,
                    capacity: class_size(class),
                    class: Some(class),
                }),
                Acquired::Heap => Ok(BufModel {
                    data,
                    capacity: class_size(class),
                    class: None,
                }),
                Acquired::Exhausted => Err(self.exhausted(class)),
            },
            None => {
                self.oversize += 1;
                Ok(BufModel {
                    data,
                    capacity: len,
                    class: None,
                })
            }
        }
    }

    fn accept(&mut self, result: Result<PooledBuf, PoolError>, model: Result<BufModel, PoolError>) {
        match (result, model) {
            (Ok(buf), Ok(model)) => self.live.push((buf, model)),
            (Err(got), Err(want)) => assert_eq!(got, want, "wrong error"),
            (got, want) => panic!(
                "pool returned {:?}, model expected {:?}",
                got.map(|b| b.len()),
                want.map(|m| m.data.len())
            ),
        }
    }

    /// Grows buffer `slot` by `additional` bytes with `real` on the buffer and `model` on its
    /// model data.
    fn grow(
        &mut self,
        slot: u8,
        additional: usize,
        real: impl FnOnce(&mut PooledBuf) -> Result<(), PoolError>,
        model: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some(i) = self.index(slot) else { return };
        let needed = self.live[i].1.data.len() + additional;
        let capacity = self.live[i].1.capacity;
        let mut expected = Ok(());
        if needed > capacity {
            let old_class = self.live[i].1.class;
            let new = match model_class(needed) {
                Some(class) => match self.model_acquire(class) {
                    Acquired::Pooled => Some((class_size(class), Some(class))),
                    Acquired::Heap => Some((class_size(class), None)),
                    Acquired::Exhausted => {
                        expected = Err(self.exhausted(class));
                        None
                    }
                },
                None => {
                    self.oversize += 1;
                    Some((needed.max(capacity * 2), None))
                }
            };
            if let Some((capacity, class)) = new {
                if let Some(old) = old_class {
                    self.model_release(old);
                }
                let m = &mut self.live[i].1;
                m.capacity = capacity;
                m.class = class;
            }
        }
        let (buf, m) = &mut self.live[i];
        let got = real(buf);
        assert_eq!(got, expected, "growth by {additional} to {needed}");
        if got.is_ok() {
            model(&mut m.data);
        }
    }

    fn model_acquire(&mut self, class: usize) -> Acquired {
        let c = &mut self.classes[class];
        if c.idle > 0 {
            c.idle -= 1;
            c.hits += 1;
            Acquired::Pooled
        } else if c.owned < c.capacity {
            c.owned += 1;
            c.fresh += 1;
            Acquired::Pooled
        } else {
            c.refusals += 1;
            if self.error_on_exhausted {
                Acquired::Exhausted
            } else {
                Acquired::Heap
            }
        }
    }

    fn model_release(&mut self, class: usize) {
        let c = &mut self.classes[class];
        c.idle += 1;
        c.releases += 1;
    }

    fn exhausted(&self, class: usize) -> PoolError {
        PoolError::Exhausted {
            class: SizeClass::from_index(class).expect("a class index"),
            capacity: u32::try_from(self.classes[class].capacity).expect("tiny capacities"),
        }
    }

    /// Compares the pool with the model.
    pub fn check(&self) {
        // Contents and shapes.
        for (n, (buf, model)) in self.live.iter().enumerate() {
            assert_eq!(buf.len(), model.data.len(), "buffer {n}: length");
            assert!(buf[..] == model.data[..], "buffer {n}: contents corrupted");
            assert_eq!(buf.capacity(), model.capacity, "buffer {n}: capacity");
            assert_eq!(
                buf.class().map(SizeClass::index),
                model.class,
                "buffer {n}: pooled class"
            );
        }
        // No two live buffers share memory.
        let mut ranges: Vec<(usize, usize)> = self
            .live
            .iter()
            .filter(|(buf, _)| buf.capacity() > 0)
            .map(|(buf, _)| {
                let start = buf.as_ptr() as usize;
                (start, start + buf.capacity())
            })
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "live buffers overlap: {pair:?}");
        }
        // Counters and gauges.
        let mut in_use = [0u64; SizeClass::COUNT];
        for class in self.live.iter().filter_map(|(_, m)| m.class) {
            in_use[class] += 1;
        }
        let stats = self.pool.stats();
        for (i, (got, want)) in stats.classes.iter().zip(&self.classes).enumerate() {
            let got_model = ClassModel {
                capacity: u64::from(got.capacity),
                owned: got.owned,
                idle: got.idle,
                hits: got.hits,
                fresh: got.fresh,
                releases: got.releases,
                refusals: got.refusals,
            };
            assert_eq!(&got_model, want, "class {} stats", got.class);
            assert_eq!(got.class.index(), i);
            assert_eq!(got.allocations, got.hits + got.fresh + got.refusals);
            assert!(got.owned <= u64::from(got.capacity), "class over capacity");
            assert_eq!(got.in_use(), in_use[i], "class {} blocks in use", got.class);
        }
        assert_eq!(stats.oversize, self.oversize, "oversize count");
        assert_eq!(stats.trimmed, self.trimmed, "trimmed count");
    }
}

/// The model's size class: the smallest power of two ≥ max(len, 64), if ≤ 64 KiB.
fn model_class(len: usize) -> Option<usize> {
    (0..SizeClass::COUNT).find(|&c| len <= class_size(c))
}

fn class_size(class: usize) -> usize {
    64 << class
}

/// `len` bytes derived from `seed`, different at every position.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(31)) ^ (i >> 8) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::replay::{SplitMix, replay};

    #[test]
    fn smoke() {
        for data in SplitMix(0x5EED).inputs(300, 2048) {
            super::run(&data);
        }
    }

    /// Every seed in the committed corpus still passes.
    #[test]
    fn corpus() {
        let seeds = replay("mempool", "corpus", super::run);
        assert!(seeds > 0, "the seed corpus is committed");
    }

    /// Every crash the fuzzer ever found (kept in `fuzz/regressions/mempool`) stays fixed.
    #[test]
    fn regressions() {
        replay("mempool", "regressions", super::run);
    }
}
