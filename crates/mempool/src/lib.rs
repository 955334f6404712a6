//! Host-side memory for wasm-sandbox calls: a size-class buffer pool for call arguments and
//! results, and bump arenas for per-call scratch space.
//!
//! This is a leaf crate (no wasmtime, no other wasm-sandbox crate) and has no `unsafe` code.
//!
//! - [`MemoryPool`] hands out [`PooledBuf`]s in power-of-two classes from 64 B to 64 KiB
//!   ([`SizeClass`]). A buffer derefs to `[u8]`, grows like a `Vec<u8>` (moving to a larger
//!   class when it outgrows its own), and returns to its class when dropped. Larger requests
//!   are served by the system allocator with the same handle type.
//! - [`PoolConfig`] sets each class's capacity, what happens when a class is exhausted
//!   ([`ExhaustedPolicy`]: fall back to the heap, or [`PoolError::Exhausted`]), zeroing on
//!   release, and the front cache.
//! - [`PoolStats`] counts, per class, allocations, pool hits, fresh allocations, releases and
//!   capacity refusals, plus oversize buffers.
//! - [`ScratchArena`] and [`ArenaPool`] give each call a `bumpalo` arena that is reset
//!   afterwards.
//!
//! # Example
//!
//! Marshal a call's arguments into a pooled buffer, then use scratch space while handling it:
//!
//! ```
//! use std::io::Write;
//! use wasm_sandbox_mempool::{ArenaPool, ExhaustedPolicy, MemoryPool, PoolConfig, PoolError};
//!
//! let pool = MemoryPool::new(
//!     PoolConfig::new()
//!         .capacity(32)                        // blocks per class
//!         .on_exhausted(ExhaustedPolicy::Error) // hard bound instead of heap fallback
//!         .zero_on_release(true),               // the default: no tenant data lingers
//! );
//! let arenas = ArenaPool::new(4, 1 << 20);
//!
//! // One call.
//! let mut args = pool.with_capacity(64)?;
//! write!(args, "[1,2,3]").expect("64 B is enough");
//! {
//!     let scratch = arenas.lease();
//!     let copy = scratch.alloc_slice_copy(&args);
//!     assert_eq!(copy, b"[1,2,3]");
//! } // the arena is reset and returned
//! drop(args); // the block returns to the 64 B class, zeroed
//!
//! let stats = pool.stats();
//! let class = stats.classes[0];
//! assert_eq!((class.allocations, class.fresh, class.releases), (1, 1, 1));
//! assert_eq!(class.idle, 1);
//!
//! // Exhaustion is a typed, actionable error.
//! let tiny = MemoryPool::new(PoolConfig::new().capacity(1).on_exhausted(ExhaustedPolicy::Error));
//! let _held = tiny.alloc(10)?;
//! assert!(matches!(tiny.alloc(10), Err(PoolError::Exhausted { capacity: 1, .. })));
//! # Ok::<(), PoolError>(())
//! ```
//!
//! # Design
//!
//! Each class has a lock-free bounded queue of idle blocks (`crossbeam::queue::ArrayQueue`,
//! sized to the class capacity) and an atomic count of the blocks it *owns* (in use or idle).
//! Blocks are plain `Box<[u8]>` moved in and out of the queue and the handle, so ownership is
//! checked by the compiler: there is no double free or use after free to guard against, and no
//! `unsafe`.
//!
//! An allocation tries, in order: the thread's front cache, the class queue, a fresh block
//! (if the class owns fewer blocks than its capacity); at capacity it asks every thread's
//! front cache to return its idle blocks, looks at the queue again, and only then refuses. A
//! class never owns more than its capacity.
//!
//! **Front cache.** Each thread keeps up to [`PoolConfig::front_cache`] idle blocks per class
//! for the last pool it allocated from, in a `thread_local!` that no other thread touches, so
//! the hot path has no atomic read-modify-write, no lock and no reference counting: a cached
//! block keeps the [`MemoryPool`] handle of the buffer that released it, and the next buffer
//! takes that handle over. A block whose handle is the last reference to its pool is never
//! cached, so the pool is freed with its last handle or buffer; blocks cached by other live
//! threads are returned when those threads next use the pool (after a `trim` or a would-be
//! refusal asks them to), switch pools, or exit. See `docs/mempool.md` for the trade-offs.
//!
//! **Zeroing.** With [`PoolConfig::zero_on_release`] (the default) a released block's dirty
//! range (the bytes written: by growth, by `IndexMut`, or all of `len` once `DerefMut` exposed
//! them) is zeroed before it becomes idle, so idle memory never holds tenant data. Either
//! way the safe API never shows one user's bytes to the next: [`MemoryPool::alloc`] returns
//! zeroed bytes and growth writes every byte it exposes.
//!
//! **Stats** are counted in the front cache and folded into per-class relaxed atomics every
//! few hundred operations and whenever the thread calls [`MemoryPool::stats`]; they are exact
//! on a pool used by one thread, and once other threads have exited.

mod buf;
mod class;
mod config;
mod error;
mod pool;
mod scratch;
mod stats;

pub use buf::{PooledBuf, WriteBounds};
pub use class::SizeClass;
pub use config::{ExhaustedPolicy, PoolConfig};
pub use error::PoolError;
pub use pool::MemoryPool;
pub use scratch::{ArenaPool, ArenaStats, ScratchArena, ScratchLease};
pub use stats::{ClassStats, PoolStats};
