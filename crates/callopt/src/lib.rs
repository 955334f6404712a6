//! Opt-in memoization of pure WebAssembly export calls.
//!
//! A [`CallOptimizer`] sits in front of whatever executes a guest call. For an export the
//! embedder **declared pure**, it keys the call by *(module content hash, export name, encoded
//! arguments)* and serves repeated calls from a bounded cache of encoded results. Arguments
//! of up to [`EXACT_ARGS_BYTES`] bytes are kept verbatim in the key, longer ones by their full
//! blake3 digest; no truncated hash ever decides that two calls are the same. Every other
//! call passes straight through.
//!
//! # Purity is declared, never guessed
//!
//! A WebAssembly instance has state that survives calls: linear memory, mutable globals,
//! tables, and whatever host functions it imports. An export such as `next_id()` or
//! `append(x)` returns different results for the same arguments, and nothing in a module's
//! type signature tells it apart from `fib(n)`. This crate therefore memoizes **only** the
//! exports listed with [`CallOptimizerBuilder::pure`] or a [`Purity`] registry. Declaring an
//! export pure is the embedder's promise that its result depends on its arguments (and the
//! module's bytes) alone; a broken promise yields stale results, never memory unsafety.
//!
//! # What is memoized, and what never is
//!
//! - Memoized: the `Ok` result bytes of a call of a pure export.
//! - Never memoized: any `Err` (traps, fuel or time limits, host errors), calls of exports
//!   not declared pure (counted as bypasses), results larger than a shard's byte budget.
//! - Results expire after a TTL (default 5 minutes) measured on an injectable [`Clock`]; the
//!   cache is bounded by entries *and* bytes, evicting least recently used entries first.
//! - Single flight: an asynchronous call that misses while an identical call is executing
//!   waits for that call's result rather than executing too. If that call fails, the
//!   waiters execute the call themselves, side by side: an error is never handed on.
//!
//! # Example
//!
//! ```
//! use std::cell::Cell;
//! use wasm_sandbox_callopt::{CallOptimizer, Route};
//!
//! let optimizer = CallOptimizer::builder().pure("fib").build();
//! let module = *blake3::hash(b"the module's bytes").as_bytes();
//! let runs = Cell::new(0);
//! let fib = |n: u64| -> Result<Vec<u8>, String> {
//!     runs.set(runs.get() + 1);
//!     let (mut a, mut b) = (0u64, 1u64);
//!     for _ in 0..n {
//!         (a, b) = (b, a.wrapping_add(b));
//!     }
//!     Ok(a.to_le_bytes().to_vec())
//! };
//!
//! let args = 40u64.to_le_bytes();
//! let first = optimizer.call(&module, "fib", &args, || fib(40))?;
//! let second = optimizer.call(&module, "fib", &args, || fib(40))?;
//! assert_eq!(first, second);
//! assert_eq!(runs.get(), 1, "the second call was served from the cache");
//!
//! // An export that was not declared pure runs every time.
//! assert_eq!(optimizer.route("counter"), Route::Direct);
//! optimizer.call(&module, "counter", &[], || fib(1))?;
//! optimizer.call(&module, "counter", &[], || fib(1))?;
//! assert_eq!(runs.get(), 3);
//!
//! let stats = optimizer.stats();
//! assert_eq!((stats.hits, stats.misses, stats.bypasses), (1, 1, 2));
//! # Ok::<(), String>(())
//! ```
//!
//! A typed layer ([`CallOptimizer::call_typed`]) encodes arguments and results with a serde
//! [`Codec`] of the caller's choice. [`CallOptimizer::route`] tells a facade whether a call
//! should go through the optimizer at all or straight to its direct fast path.
//!
//! # Metrics
//!
//! Counters and gauges are also emitted through the [`metrics`] facade under the prefix
//! `wasm_sandbox_callopt_` (`hits_total`, `misses_total`, `coalesced_total`, `bypasses_total`,
//! `insertions_total`, `evictions_total{cause="ttl"|"capacity"}`, `errors_total`, `entries`,
//! `bytes`, ...). The series are registered when a cache is built, through the recorder
//! installed at that moment: install your `metrics` recorder before building a
//! [`CallOptimizer`] or [`MemoCache`].
//!
//! # Why a hand-rolled cache
//!
//! `moka` and `quick_cache` were considered. `moka` bounds either entries or a weight, not
//! both; its admission policy (TinyLFU) may refuse fresh entries, which makes the eviction
//! order unpredictable; and its mock clock is internal to its own tests, so TTL cannot be
//! tested without sleeping. `quick_cache` has no TTL. A sharded LRU of a few hundred lines
//! gives both bounds, exact per-shard LRU order, TTL on an injected clock, and eviction causes
//! for the stats, and it is checked against a model by property tests.

mod cache;
mod clock;
mod codec;
mod error;
mod flight;
mod optimizer;
mod purity;
mod stats;

pub use cache::{
    CacheConfig, EXACT_ARGS_BYTES, InsertOutcome, KEY_OVERHEAD_BYTES, MemoCache, MemoKey,
    ModuleHash,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::Codec;
pub use error::{CallOptError, CodecError};
pub use optimizer::{CallOptimizer, CallOptimizerBuilder, Lookup, Route};
pub use purity::Purity;
pub use stats::CallOptStats;
