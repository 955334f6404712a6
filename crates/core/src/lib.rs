//! The sandbox core of wasm-sandbox: engine configuration, stores, resource
//! limits, calls and the guest ABI, on wasmtime.
//!
//! The `wasm-sandbox` facade builds on this crate; use it directly when you
//! want the sandbox without the cache, tiering or batching layers.
//!
//! * [`Sandbox`]: an engine for one [`Tier`] plus the linker (deny by default:
//!   no imports unless the embedder adds host functions or enables WASI).
//! * [`Module`]: a compiled, linked module; async calls run on idle instances.
//! * [`Instance`]: an instance the caller holds, for the synchronous fast path
//!   and for stateful sessions; [`TypedFunction`] is a cached typed handle.
//! * [`Codec`]: JSON or postcard for serde calls through the guest ABI
//!   (`docs/abi.md`).
//!
//! Every call is bounded: a wall-clock timeout enforced by epoch
//! interruption from one shared ticker thread, optional fuel, a memory and
//! table limit, and a maximum wasm stack.
//!
//! ```
//! use wasm_sandbox_core::{Sandbox, SandboxConfig, Error};
//!
//! # fn main() -> Result<(), Error> {
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let module = sandbox.compile(br#"(module
//!     (func (export "add") (param i32 i32) (result i32)
//!         local.get 0 local.get 1 i32.add))"#)?;
//! let mut instance = module.instantiate()?;
//! let add = instance.typed::<(i32, i32), i32>("add")?;
//! assert_eq!(add.call(&mut instance, (2, 3))?, 5);
//!
//! // A missing export is a typed error, not a panic.
//! assert!(matches!(
//!     instance.call_typed::<(), ()>("nope", ()),
//!     Err(Error::MissingExport { .. })
//! ));
//! # Ok(()) }
//! ```

pub mod abi;
mod bounded;
#[cfg(feature = "cache")]
mod caching;
mod config;
mod deadline;
mod engine;
mod error;
mod host;
mod metrics;
#[cfg(feature = "preinit")]
mod preinit;
mod prescan;
mod sandbox;
mod store;

pub use abi::Codec;
pub use config::{
    CompileLimits, OptimizationLevel, Output, PerformanceConfig, Preopen, ResourceLimits,
    SandboxConfig, Tier, UnknownImports, WasiConfig,
};
pub use engine::{EPOCH_TICK, build_engine, pool_slots, wasmtime_config};
pub use error::{Error, ErrorClass, Resource, Result, TrapCode};
pub use host::{GuestMemory, HostContext, HostFunctions, HostParams, HostSet, HostSetup};
pub use metrics::{LatencySummary, Metrics, MetricsSnapshot};
#[cfg(feature = "preinit")]
pub use preinit::PreInit;
pub use prescan::{ModuleShape, check_module};
pub use sandbox::{
    CallObserver, Instance, Isolation, Module, RunOutput, Sandbox, Signature, TypedFunction, Value,
    ValueType, WithState, timeout_resolution,
};
pub use store::{CapturedOutput, StoreData};

/// The host buffer pool behind serde-call marshalling
/// ([`Sandbox::buffer_pool`], [`SandboxConfig::host_buffer_pool`]).
pub use wasm_sandbox_mempool as mempool;

/// The wasmtime version this crate is built on, re-exported so that
/// embedders adding host functions use the same types.
pub use wasmtime;
