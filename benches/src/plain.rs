//! Plain wasmtime baselines: what a user would write without wasm-sandbox.
//!
//! The engine is `wasmtime::Engine::default()`: Cranelift at `OptLevel::Speed` (the same
//! optimization level as the sandbox's default tier), the on-demand instance allocator,
//! copy-on-write memory images, and **no** epoch interruption, fuel, resource limiter or
//! `catch_unwind`. The sandbox pays for those safety features on every call; the rows
//! measure what they cost.

use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

/// The boxed error the suite uses everywhere.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `wasmtime::Engine::default()`: the fair plain-wasmtime baseline.
pub fn engine() -> Engine {
    Engine::default()
}

/// A plain instance of a guest that speaks the ABI of `docs/abi.md`, with the ABI steps
/// written out by hand the way an embedder would without wasm-sandbox.
pub struct PlainAbi {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    instance: Instance,
}

impl PlainAbi {
    /// Instantiates `module` (which must have no imports) in a fresh store.
    ///
    /// # Errors
    ///
    /// When the module lacks the ABI exports or fails to instantiate.
    pub fn new(engine: &Engine, module: &Module) -> Result<Self, BoxError> {
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[])?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("the guest exports no memory")?;
        let alloc = instance.get_typed_func::<i32, i32>(&mut store, "sandbox_alloc")?;
        let free = instance.get_typed_func::<(i32, i32), ()>(&mut store, "sandbox_free")?;
        Ok(PlainAbi {
            store,
            memory,
            alloc,
            free,
            instance,
        })
    }

    /// A typed handle to an ABI export `f(ptr, len) -> i64`.
    ///
    /// # Errors
    ///
    /// When there is no such export of that type.
    pub fn func(&mut self, name: &str) -> Result<TypedFunc<(i32, i32), i64>, BoxError> {
        Ok(self
            .instance
            .get_typed_func::<(i32, i32), i64>(&mut self.store, name)?)
    }

    /// One ABI call: allocate, write, call, free the argument, copy the result out, free it.
    ///
    /// # Errors
    ///
    /// A trap, or a guest error (bit 31 of the result length).
    pub fn call_bytes(
        &mut self,
        f: &TypedFunc<(i32, i32), i64>,
        input: &[u8],
    ) -> Result<Vec<u8>, BoxError> {
        let len = i32::try_from(input.len())?;
        let ptr = self.alloc.call(&mut self.store, len)?;
        let start = usize::try_from(ptr)?;
        self.memory.data_mut(&mut self.store)[start..start + input.len()].copy_from_slice(input);
        let packed = f.call(&mut self.store, (ptr, len))?;
        self.free.call(&mut self.store, (ptr, len))?;
        let rptr = (packed as u64 >> 32) as usize;
        let raw_len = packed as u32;
        let rlen = (raw_len & 0x7fff_ffff) as usize;
        let out = self.memory.data(&self.store)[rptr..rptr + rlen].to_vec();
        if rlen > 0 {
            self.free
                .call(&mut self.store, (rptr as i32, rlen as i32))?;
        }
        if raw_len & 0x8000_0000 != 0 {
            return Err(String::from_utf8_lossy(&out).into_owned().into());
        }
        Ok(out)
    }

    /// A serde call with JSON, by hand: encode, [`PlainAbi::call_bytes`], decode.
    ///
    /// # Errors
    ///
    /// As [`PlainAbi::call_bytes`], plus JSON errors.
    pub fn call_json<A: serde::Serialize, R: serde::de::DeserializeOwned>(
        &mut self,
        f: &TypedFunc<(i32, i32), i64>,
        args: &A,
    ) -> Result<R, BoxError> {
        let input = serde_json::to_vec(args)?;
        let out = self.call_bytes(f, &input)?;
        Ok(serde_json::from_slice(&out)?)
    }
}

/// A plain wasmtime instance of a WASI preview 1 reactor (SQLite), `_initialize` already run.
pub struct PlainWasi {
    /// The store; its data is the WASI context.
    pub store: Store<wasmtime_wasi::p1::WasiP1Ctx>,
    /// The instance.
    pub instance: Instance,
}

/// A linker with WASI preview 1 (sync flavour), as an embedder would set it up.
///
/// # Errors
///
/// When WASI cannot be added.
pub fn wasi_linker(engine: &Engine) -> Result<Linker<wasmtime_wasi::p1::WasiP1Ctx>, BoxError> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;
    Ok(linker)
}

impl PlainWasi {
    /// Instantiates a reactor with an empty WASI context and runs `_initialize`.
    ///
    /// # Errors
    ///
    /// When linking, instantiation or `_initialize` fails.
    pub fn new(
        pre: &wasmtime::InstancePre<wasmtime_wasi::p1::WasiP1Ctx>,
    ) -> Result<Self, BoxError> {
        let ctx = wasmtime_wasi::WasiCtxBuilder::new().build_p1();
        let mut store = Store::new(pre.module().engine(), ctx);
        let instance = pre.instantiate(&mut store)?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        Ok(PlainWasi { store, instance })
    }
}
