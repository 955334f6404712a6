//! Host functions: registered without raw linkers, synchronous or async,
//! with the embedder's per-instance (or per-call) state, range-checked access
//! to guest memory, and typed errors that reach the caller unchanged.
//!
//! ```
//! use wasm_sandbox_core::{Error, HostFunctions, Sandbox, SandboxConfig};
//!
//! struct Tenant { id: u32 }
//!
//! # fn main() -> Result<(), Error> {
//! let host = HostFunctions::<Tenant>::new()
//!     // (ptr, len) -> sum of the bytes, read from guest memory.
//!     .func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
//!         let sum = cx.memory()?.read(ptr, len)?.iter().map(|&b| u32::from(b)).sum::<u32>();
//!         Ok(sum)
//!     })
//!     .func("env", "tenant", |cx, (): ()| Ok(cx.state()?.id));
//! let sandbox = Sandbox::with_host(SandboxConfig::default(), host)?;
//! let module = sandbox.compile(br#"(module
//!     (import "env" "tenant" (func $tenant (result i32)))
//!     (func (export "who") (result i32) call $tenant))"#)?;
//! let mut instance = module.instantiate()?;
//! instance.set_state(Tenant { id: 7 })?;
//! assert_eq!(instance.call_typed::<(), u32>("who", ())?, 7);
//! # Ok(()) }
//! ```

use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::{Caller, Linker, Memory, WasmRet, WasmTy, WasmTyList};

use crate::abi::{self, Codec, MEMORY_EXPORT};
use crate::error::{DeadlineExceeded, Error, HostFailure, Result};
use crate::store::StoreData;

/// A function that adds host functions to a linker directly: the escape
/// hatch of [`HostFunctions::linker`]. It runs once per linker the sandbox
/// builds.
pub type HostSetup = Arc<dyn Fn(&mut Linker<StoreData>) -> wasmtime::Result<()> + Send + Sync>;

/// One definition: adds functions to a linker, given the codec of the guest
/// memory helpers.
type Def = Arc<dyn Fn(&mut Linker<StoreData>, Codec) -> wasmtime::Result<()> + Send + Sync>;

/// The state an instance carries for its host functions, type-erased in the
/// store (see [`HostFunctions`] for the type).
pub(crate) type State = Box<dyn Any + Send>;

/// The host functions of a sandbox, typed by the state `S` they share with
/// the embedder (a tenant id, a per-tenant store, a connection: whatever one
/// instance or one call needs). `S = ()` for functions without state.
///
/// * [`func`](Self::func) defines a synchronous function, [`func_async`](Self::func_async)
///   an async one. Both take the guest's arguments as a tuple of wasm scalars
///   and return `Result<R, Error>`, where `R` is a scalar or a tuple of them.
///   An `Err` ends the guest call and reaches the caller unchanged (a host
///   function that returns `Error::QueueFull` makes the call return
///   `Error::QueueFull`).
/// * The state is given per instance ([`Instance::set_state`](crate::Instance::set_state))
///   or per call ([`Module::with_state`](crate::Module::with_state)); a host
///   function reads it with [`HostContext::state`]. A call's state is removed
///   from the instance when the call ends, before the instance is reused for
///   anyone else.
/// * Guest memory is reached through [`HostContext::memory`], whose reads and
///   writes are range-checked.
/// * An async function runs on every call path. On the synchronous ones
///   (an [`Instance`](crate::Instance)'s calls, batch workers) the call runs as
///   an async call on the sandbox's own runtime, as WASI calls do; such a
///   call cannot be made from a thread that is running an async runtime
///   ([`Error::Config`], before the guest runs).
/// * Every call's deadline covers the time spent in host functions. An async
///   function suspended past the deadline is dropped and the call ends with
///   [`Error::Timeout`]; a synchronous one cannot be interrupted, so the call
///   ends with `Timeout` when it returns. Block in async functions, never in
///   synchronous ones.
/// * A panic in a host function becomes [`Error::HostPanic`].
#[must_use = "give the functions to a sandbox (`Sandbox::with_host`, the facade's `host_functions`)"]
pub struct HostFunctions<S = ()> {
    defs: Vec<Def>,
    async_names: HashSet<(String, String)>,
    codec: Codec,
    _state: PhantomData<fn() -> S>,
}

impl<S> Clone for HostFunctions<S> {
    fn clone(&self) -> Self {
        HostFunctions {
            defs: self.defs.clone(),
            async_names: self.async_names.clone(),
            codec: self.codec,
            _state: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for HostFunctions<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFunctions")
            .field("state", &std::any::type_name::<S>())
            .field("definitions", &self.defs.len())
            .field("async", &self.async_names)
            .finish()
    }
}

impl<S: Send + 'static> Default for HostFunctions<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Send + 'static> HostFunctions<S> {
    /// No functions yet; serde values in guest memory use [`Codec::Json`]
    /// unless [`HostFunctions::codec`] says otherwise.
    pub fn new() -> Self {
        HostFunctions {
            defs: Vec::new(),
            async_names: HashSet::new(),
            codec: Codec::Json,
            _state: PhantomData,
        }
    }

    /// The codec of [`GuestMemory::read_value`] and
    /// [`GuestMemory::write_value`]. Default: [`Codec::Json`]. The facade
    /// sets it to its own codec ([`HostSet::with_codec`]), so host functions
    /// and calls agree.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Defines `module.name` as a synchronous host function.
    ///
    /// `f` gets the [`HostContext`] and the guest's arguments as a tuple
    /// (`()` for none, `(i32,)` for one). A synchronous function cannot be
    /// interrupted: if it returns after the call's deadline, the call ends
    /// there with [`Error::Timeout`].
    pub fn func<P, R, F>(mut self, module: &str, name: &str, f: F) -> Self
    where
        P: HostParams,
        R: WasmRet + Send + 'static,
        F: Fn(&mut HostContext<'_, S>, P) -> Result<R> + Send + Sync + 'static,
    {
        let (module, name) = (module.to_owned(), name.to_owned());
        let f = Arc::new(f);
        self.defs.push(Arc::new(move |linker, codec| {
            P::define::<S, R, F>(linker, &module, &name, Arc::clone(&f), codec)
        }));
        self
    }

    /// Defines `module.name` as an async host function: `f` returns a boxed
    /// future (`Box::new(async move { ... })`) that may await anything (a
    /// database, a timer); the guest call is suspended meanwhile, and cut at
    /// its deadline.
    pub fn func_async<P, R, F>(mut self, module: &str, name: &str, f: F) -> Self
    where
        P: HostParams + WasmTyList,
        R: WasmRet + Send + 'static,
        F: for<'a> Fn(HostContext<'a, S>, P) -> Box<dyn Future<Output = Result<R>> + Send + 'a>
            + Send
            + Sync
            + 'static,
    {
        let (module_name, fn_name) = (module.to_owned(), name.to_owned());
        let f = Arc::new(f);
        self.defs.push(Arc::new(move |linker, codec| {
            let f = Arc::clone(&f);
            linker.func_wrap_async(
                &module_name,
                &fn_name,
                move |caller: Caller<'_, StoreData>, params: P| {
                    let fut = f(HostContext::new(caller, codec), params);
                    Box::new(async move {
                        Box::into_pin(fut)
                            .await
                            .map_err(|e| wasmtime::Error::new(HostFailure(e)))
                    })
                },
            )?;
            Ok(())
        }));
        self.async_names
            .insert((module.to_owned(), name.to_owned()));
        self
    }

    /// Adds definitions straight to the linker (raw wasmtime `func_wrap`,
    /// `func_new`, or anything else a `Linker` takes). Functions defined here
    /// with wasmtime's async API are not known to be async, so a module that
    /// imports one cannot be used synchronously at all (its synchronous
    /// instantiation and calls fail with [`Error::Config`]): prefer
    /// [`HostFunctions::func_async`]. Raw synchronous functions are not
    /// checked against the deadline when they return (the guest's next
    /// epoch check is).
    pub fn linker(
        mut self,
        setup: impl Fn(&mut Linker<StoreData>) -> wasmtime::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.defs.push(Arc::new(move |linker, _| setup(linker)));
        self
    }
}

impl<S: Send + 'static> From<HostFunctions<S>> for HostSet {
    fn from(h: HostFunctions<S>) -> Self {
        HostSet {
            defs: h.defs.into(),
            codec: h.codec,
            async_names: Arc::new(h.async_names),
            state: (TypeId::of::<S>() != TypeId::of::<()>())
                .then(|| (TypeId::of::<S>(), std::any::type_name::<S>())),
        }
    }
}

/// A raw linker setup is a set of host functions with no state.
impl From<HostSetup> for HostSet {
    fn from(setup: HostSetup) -> Self {
        let def: Def = Arc::new(move |linker, _| setup(linker));
        HostSet {
            defs: Arc::from([def]),
            ..HostSet::default()
        }
    }
}

/// [`HostFunctions`] with their state type erased: what a sandbox (and each
/// tier of a tiered module) keeps. Made with `.into()`; cheap to clone.
#[derive(Clone, Default)]
pub struct HostSet {
    defs: Arc<[Def]>,
    codec: Codec,
    /// `(module, name)` of every async function.
    async_names: Arc<HashSet<(String, String)>>,
    /// The state type the functions read, unless it is `()`.
    state: Option<(TypeId, &'static str)>,
}

impl std::fmt::Debug for HostSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSet")
            .field("state", &self.state.map(|(_, n)| n))
            .field("definitions", &self.defs.len())
            .field("async", &self.async_names)
            .finish()
    }
}

impl HostSet {
    /// The same functions with `codec` for the guest memory helpers'
    /// serde values.
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Whether `module.name` was defined with [`HostFunctions::func_async`].
    pub(crate) fn is_async(&self, module: &str, name: &str) -> bool {
        !self.async_names.is_empty()
            && self
                .async_names
                .contains(&(module.to_owned(), name.to_owned()))
    }

    pub(crate) fn define(&self, linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
        self.defs.iter().try_for_each(|d| d(linker, self.codec))
    }

    /// Checks that `state` is of the type the host functions read.
    pub(crate) fn check_state(&self, state: &State) -> Result<()> {
        let given = (**state).type_id();
        match self.state {
            Some((want, _)) if want == given => Ok(()),
            Some((_, name)) => Err(Error::config(format!(
                "the host functions read state of type `{name}`; the call was given another type"
            ))),
            None => Err(Error::config(
                "the sandbox's host functions read no state (`HostFunctions<()>`); the call was \
                 given some",
            )),
        }
    }
}

/// What a host function sees of the call it serves: the instance's state,
/// its memory, and (as an escape hatch) wasmtime's `Caller`.
pub struct HostContext<'a, S> {
    caller: Caller<'a, StoreData>,
    codec: Codec,
    _state: PhantomData<fn() -> S>,
}

impl<'a, S: Send + 'static> HostContext<'a, S> {
    fn new(caller: Caller<'a, StoreData>, codec: Codec) -> Self {
        HostContext {
            caller,
            codec,
            _state: PhantomData,
        }
    }

    /// The state of the instance or of the call.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when none was given (no
    /// [`Instance::set_state`](crate::Instance::set_state), no
    /// [`Module::with_state`](crate::Module::with_state)).
    pub fn state(&mut self) -> Result<&mut S> {
        state_of(self.caller.data_mut())
    }

    /// The guest's linear memory (its `memory` export), with range-checked
    /// access.
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] when the guest exports no memory.
    pub fn memory(&mut self) -> Result<GuestMemory<'_>> {
        let memory = self.memory_export()?;
        Ok(GuestMemory {
            data: memory.data_mut(&mut self.caller),
            codec: self.codec,
        })
    }

    /// The guest's memory and the state at once (both borrow the store).
    ///
    /// # Errors
    ///
    /// As [`HostContext::memory`] and [`HostContext::state`].
    pub fn memory_and_state(&mut self) -> Result<(GuestMemory<'_>, &mut S)> {
        let memory = self.memory_export()?;
        let codec = self.codec;
        let (data, store) = memory.data_and_store_mut(&mut self.caller);
        Ok((GuestMemory { data, codec }, state_of(store)?))
    }

    /// wasmtime's `Caller`, for what this context does not offer (other
    /// exports, fuel). Calling back into the guest from a host function is
    /// possible through it on async calls only.
    pub fn caller(&mut self) -> &mut Caller<'a, StoreData> {
        &mut self.caller
    }

    /// The guest's `memory` export, looked up once per instance.
    fn memory_export(&mut self) -> Result<Memory> {
        if let Some(m) = self.caller.data().host_memory {
            return Ok(m);
        }
        let memory = self
            .caller
            .get_export(MEMORY_EXPORT)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| {
                Error::abi("the guest exports no `memory` for the host function to read")
            })?;
        self.caller.data_mut().host_memory = Some(memory);
        Ok(memory)
    }
}

fn state_of<S: 'static>(data: &mut StoreData) -> Result<&mut S> {
    data.state
        .as_mut()
        .and_then(|s| s.downcast_mut::<S>())
        .ok_or_else(|| {
            Error::config(format!(
                "a host function reads state of type `{}`, but the call has none: give it with \
                 `Instance::set_state` or `with_state(...)`",
                std::any::type_name::<S>()
            ))
        })
}

/// A guest's linear memory as a host function sees it. Every access is
/// range-checked against the memory's current size: a pointer or length the
/// guest made up is an [`Error::Abi`], never a panic or an access outside.
pub struct GuestMemory<'a> {
    data: &'a mut [u8],
    codec: Codec,
}

impl GuestMemory<'_> {
    /// The memory's size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for a memory of zero pages.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The `len` bytes at `ptr`.
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] when `[ptr, ptr + len)` is not inside the memory.
    pub fn read(&self, ptr: u32, len: u32) -> Result<&[u8]> {
        let range = abi::check_range(ptr, len, self.data.len(), "host function argument")?;
        Ok(&self.data[range])
    }

    /// Copies `bytes` to `ptr`.
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] when the block does not fit inside the memory.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error::abi("a host function wrote more than 4 GiB"))?;
        let range = abi::check_range(ptr, len, self.data.len(), "host function result")?;
        self.data[range].copy_from_slice(bytes);
        Ok(())
    }

    /// Copies `bytes` into the guest's buffer `[ptr, ptr + capacity)` if they
    /// fit, and returns their length either way: a guest that gets back more
    /// than its capacity calls again with a larger buffer (the convention of
    /// `docs/host-functions.md`).
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] when the buffer is not inside the memory.
    pub fn write_into(&mut self, ptr: u32, capacity: u32, bytes: &[u8]) -> Result<u32> {
        abi::check_range(ptr, capacity, self.data.len(), "host function buffer")?;
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error::abi("a host function wrote more than 4 GiB"))?;
        if len <= capacity {
            self.write(ptr, bytes)?;
        }
        Ok(len)
    }

    /// Decodes a serde value from the `len` bytes at `ptr` with the sandbox's
    /// codec (bounded in depth and size, as call results are).
    ///
    /// # Errors
    ///
    /// [`Error::Abi`] for a block outside the memory, [`Error::Codec`] for
    /// bytes that do not decode.
    pub fn read_value<V: DeserializeOwned>(&self, ptr: u32, len: u32) -> Result<V> {
        self.codec.decode(self.read(ptr, len)?)
    }

    /// Encodes `value` with the sandbox's codec into the guest's buffer, as
    /// [`GuestMemory::write_into`] does.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] when the value cannot be encoded, [`Error::Abi`] as
    /// for [`GuestMemory::write_into`].
    pub fn write_value<V: Serialize + ?Sized>(
        &mut self,
        ptr: u32,
        capacity: u32,
        value: &V,
    ) -> Result<u32> {
        let bytes = self.codec.encode(value)?;
        self.write_into(ptr, capacity, &bytes)
    }

    /// The whole memory, for access patterns the methods above do not cover.
    pub fn data(&mut self) -> &mut [u8] {
        self.data
    }
}

/// Tuples of wasm scalars a host function can take: `()`, `(A,)`, `(A, B)`,
/// ... up to eight.
pub trait HostParams: Send + Sized + 'static {
    #[doc(hidden)]
    fn define<S, R, F>(
        linker: &mut Linker<StoreData>,
        module: &str,
        name: &str,
        f: Arc<F>,
        codec: Codec,
    ) -> wasmtime::Result<()>
    where
        S: Send + 'static,
        R: WasmRet + Send + 'static,
        F: Fn(&mut HostContext<'_, S>, Self) -> Result<R> + Send + Sync + 'static;
}

macro_rules! host_params {
    ($($arg:ident)*) => {
        impl<$($arg: WasmTy + 'static),*> HostParams for ($($arg,)*) {
            #[allow(non_snake_case, reason = "macro-generated")]
            fn define<S, R, F>(
                linker: &mut Linker<StoreData>,
                module: &str,
                name: &str,
                f: Arc<F>,
                codec: Codec,
            ) -> wasmtime::Result<()>
            where
                S: Send + 'static,
                R: WasmRet + Send + 'static,
                F: Fn(&mut HostContext<'_, S>, Self) -> Result<R> + Send + Sync + 'static,
            {
                linker.func_wrap(
                    module,
                    name,
                    move |caller: Caller<'_, StoreData>, $($arg: $arg),*| -> wasmtime::Result<R> {
                        let mut cx = HostContext::new(caller, codec);
                        let r = f(&mut cx, ($($arg,)*))
                            .map_err(|e| wasmtime::Error::new(HostFailure(e)))?;
                        // Nothing interrupts a synchronous host function: if it
                        // ran past the call's deadline, the call ends here.
                        if cx.caller.data().past_deadline() {
                            return Err(wasmtime::Error::new(DeadlineExceeded));
                        }
                        Ok(r)
                    },
                )?;
                Ok(())
            }
        }
    };
}

host_params!();
host_params!(A1);
host_params!(A1 A2);
host_params!(A1 A2 A3);
host_params!(A1 A2 A3 A4);
host_params!(A1 A2 A3 A4 A5);
host_params!(A1 A2 A3 A4 A5 A6);
host_params!(A1 A2 A3 A4 A5 A6 A7);
host_params!(A1 A2 A3 A4 A5 A6 A7 A8);
