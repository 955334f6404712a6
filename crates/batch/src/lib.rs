//! A batch processor for guest calls.
//!
//! [`BatchProcessor::call_batched`] queues a call (function name + encoded argument bytes)
//! and resolves to its encoded result. Calls are collected into batches; a batch is flushed
//! when it reaches [`batch_size`](BatchConfig::batch_size) calls or when its oldest call has
//! waited [`batch_timeout`](BatchConfig::batch_timeout), whichever comes first. A flushed batch
//! is grouped by function and run in parallel on dedicated worker OS threads, each owning its
//! own executor state (for the facade: a wasmtime store and instance), so CPU-bound guest code
//! never blocks tokio's threads.
//!
//! The crate is generic over how a call is executed ([`BatchExecutor`]) and depends neither on
//! wasmtime nor on other wasm-sandbox crates. An executor may also run a whole batch in one
//! guest call ([`BatchExecutor::execute_batch`]), for guests that export a batch entry point.
//!
//! # Guarantees
//!
//! - Every caller receives exactly its own result, through its own channel.
//! - An error in one call fails that call only. If `execute_batch` returns the wrong number of
//!   results, every call of that batch fails with [`BatchError::Protocol`].
//! - Dropping a caller's future never disturbs other calls; a call whose caller is gone is
//!   skipped if it has not run yet.
//! - At most [`queue_capacity`](BatchConfig::queue_capacity) calls are in flight; beyond that
//!   calls fail fast with [`BatchError::QueueFull`] or wait, per [`OverflowPolicy`].
//! - [`BatchProcessor::shutdown`] (or drop) stops intake and completes every accepted call;
//!   no caller ever hangs.
//! - A worker sends its answers together when its part of a group is done, or earlier once
//!   the oldest has been held for [`answer_hold`](BatchConfig::answer_hold), as one message
//!   to the flush task, which sends each to its caller: one wake-up of the callers' runtime
//!   per delivery instead of one per call. The check runs between calls: a long call delays
//!   the answers held before it until it ends.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use wasm_sandbox_batch::{BatchConfig, BatchExecutor, BatchProcessor};
//!
//! /// Stands in for a wasm instance: "upper" upper-cases its argument bytes.
//! struct Upper;
//!
//! impl BatchExecutor for Upper {
//!     type Worker = ();
//!     type Error = Infallible;
//!     fn new_worker(&self) -> Result<(), Infallible> {
//!         Ok(())
//!     }
//!     fn execute(&self, _: &mut (), _function: &str, args: &[u8]) -> Result<Vec<u8>, Infallible> {
//!         Ok(args.to_ascii_uppercase())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = BatchConfig::new()
//!     .batch_size(16)
//!     .batch_timeout(Duration::from_millis(1))
//!     .workers(2);
//! let processor = BatchProcessor::new(Upper, config)?;
//!
//! let (a, b) = tokio::join!(
//!     processor.call_batched("upper", b"hello".to_vec()),
//!     processor.call_batched("upper", b"world".to_vec()),
//! );
//! assert_eq!(a?, b"HELLO");
//! assert_eq!(b?, b"WORLD");
//!
//! processor.shutdown().await;
//! assert_eq!(processor.stats().calls, 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Metrics
//!
//! Counters are also emitted through the [`metrics`] facade under the prefix
//! `wasm_sandbox_batch_`: `calls_total`, `batches_total{reason="size"|"timeout"|"shutdown"}`,
//! `batch_size` (histogram), `queue_full_total`, `errors_total`, `skipped_total`.

mod config;
mod error;
mod executor;
mod processor;
mod stats;
mod worker;

pub use config::{BatchConfig, OverflowPolicy};
pub use error::BatchError;
pub use executor::BatchExecutor;
pub use processor::BatchProcessor;
pub use stats::BatchStats;
