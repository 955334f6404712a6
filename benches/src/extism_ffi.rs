//! A safe wrapper over the C API of Extism's runtime (`runtime/extism.h` of Extism 1.41),
//! loaded at run time from `libextism_sys.so` with `libloading`, so the workspace never links
//! it (nor builds the second wasmtime inside it).
//!
//! Only what the `extism/*` rows need: plugins from a manifest or from a compiled plugin,
//! calls with their output, and host functions that read the plugin's memory. The library is
//! loaded once per process and never unloaded ([`Api::get`]): Extism runs a timer thread of
//! its own, which must not outlive its code.
//!
//! Threads: the C API passes `ExtismPlugin*` as `&mut Plugin` internally, so a [`Plugin`] is
//! `Send` (Extism's Rust `Plugin` is, and its `Pool` hands plugins to threads) but not `Sync`:
//! every call takes `&mut self`.
#![allow(
    unsafe_code,
    reason = "a C library loaded at run time: every call into it is unsafe; each block says \
              why it is sound"
)]

use std::ffi::{CStr, c_char, c_void};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

/// `ExtismPlugin`, opaque.
#[repr(C)]
pub struct RawPlugin {
    _opaque: [u8; 0],
}

/// `ExtismCompiledPlugin`, opaque.
#[repr(C)]
pub struct RawCompiled {
    _opaque: [u8; 0],
}

/// `ExtismFunction`, opaque.
#[repr(C)]
pub struct RawFunction {
    _opaque: [u8; 0],
}

/// `ExtismCurrentPlugin`, opaque: what a host function is called with.
#[repr(C)]
pub struct CurrentPlugin {
    _opaque: [u8; 0],
}

/// `ExtismValType_I64` (the header's enum, a C `int`).
pub const I64: u32 = 1;

/// `ExtismValUnion`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ValUnion {
    /// `int32_t i32`.
    pub i32: i32,
    /// `int64_t i64`.
    pub i64: i64,
    /// `float f32`.
    pub f32: f32,
    /// `double f64`.
    pub f64: f64,
}

/// `ExtismVal`: a host function's argument or result.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Val {
    /// `ExtismValType t`.
    pub t: u32,
    /// `ExtismValUnion v`.
    pub v: ValUnion,
}

/// `ExtismFunctionType`: a host function.
pub type HostCallback = unsafe extern "C" fn(
    plugin: *mut CurrentPlugin,
    inputs: *const Val,
    n_inputs: u64,
    outputs: *mut Val,
    n_outputs: u64,
    data: *mut c_void,
);

type NewFn = unsafe extern "C" fn(
    *const u8,
    u64,
    *mut *const RawFunction,
    u64,
    bool,
    *mut *mut c_char,
) -> *mut RawPlugin;
type CompiledNewFn = unsafe extern "C" fn(
    *const u8,
    u64,
    *mut *const RawFunction,
    u64,
    bool,
    *mut *mut c_char,
) -> *mut RawCompiled;
type FunctionNewFn = unsafe extern "C" fn(
    *const c_char,
    *const u32,
    u64,
    *const u32,
    u64,
    HostCallback,
    *mut c_void,
    Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut RawFunction;

/// The functions of the C API the rows use, resolved once.
pub struct Api {
    _lib: libloading::Library,
    version: unsafe extern "C" fn() -> *const c_char,
    plugin_new: NewFn,
    compiled_plugin_new: CompiledNewFn,
    compiled_plugin_free: unsafe extern "C" fn(*mut RawCompiled),
    plugin_new_from_compiled:
        unsafe extern "C" fn(*const RawCompiled, *mut *mut c_char) -> *mut RawPlugin,
    plugin_new_error_free: unsafe extern "C" fn(*mut c_char),
    plugin_free: unsafe extern "C" fn(*mut RawPlugin),
    plugin_call: unsafe extern "C" fn(*mut RawPlugin, *const c_char, *const u8, u64) -> i32,
    plugin_error: unsafe extern "C" fn(*mut RawPlugin) -> *const c_char,
    plugin_output_length: unsafe extern "C" fn(*mut RawPlugin) -> u64,
    plugin_output_data: unsafe extern "C" fn(*mut RawPlugin) -> *const u8,
    plugin_reset: unsafe extern "C" fn(*mut RawPlugin) -> bool,
    function_new: FunctionNewFn,
    function_free: unsafe extern "C" fn(*mut RawFunction),
    function_set_namespace: unsafe extern "C" fn(*mut RawFunction, *const c_char),
    current_plugin_memory: unsafe extern "C" fn(*mut CurrentPlugin) -> *mut u8,
    current_plugin_memory_length: unsafe extern "C" fn(*mut CurrentPlugin, u64) -> u64,
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

impl Api {
    /// The API of the library at `path`, loaded on the first call; later calls return the
    /// same one (whatever path they name).
    ///
    /// # Errors
    ///
    /// When the library cannot be loaded or lacks a function.
    pub fn get(path: &Path) -> Result<&'static Api, String> {
        API.get_or_init(|| Api::load(path))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The API when [`Api::get`] has loaded it (for host callbacks).
    fn loaded() -> Option<&'static Api> {
        API.get().and_then(|r| r.as_ref().ok())
    }

    fn load(path: &Path) -> Result<Api, String> {
        let err = |e: libloading::Error| format!("{}: {e}", path.display());
        // SAFETY: loading a library runs its initializers. libextism_sys.so is a Rust cdylib
        // (Extism's runtime crate built by Extism's release CI) whose initializers only set up
        // the Rust runtime's statics; it does not replace symbols of this process. It is
        // kept in a `static` (`API`) and never unloaded, so the function pointers copied out
        // below stay valid for the life of the process.
        let lib = unsafe { libloading::Library::new(path) }.map_err(err)?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol's type is the C prototype of `extism.h` of Extism 1.41
                // for this name, transcribed in the field's type (pointers for pointers,
                // `u64` for `ExtismSize`, `u32` for the `ExtismValType` enum, `bool` for
                // `bool`). The pointer is copied out of the `Symbol` and used only while the
                // library is loaded, which is forever (see above).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(err)?
            };
        }
        Ok(Api {
            version: sym!("extism_version"),
            plugin_new: sym!("extism_plugin_new"),
            compiled_plugin_new: sym!("extism_compiled_plugin_new"),
            compiled_plugin_free: sym!("extism_compiled_plugin_free"),
            plugin_new_from_compiled: sym!("extism_plugin_new_from_compiled"),
            plugin_new_error_free: sym!("extism_plugin_new_error_free"),
            plugin_free: sym!("extism_plugin_free"),
            plugin_call: sym!("extism_plugin_call"),
            plugin_error: sym!("extism_plugin_error"),
            plugin_output_length: sym!("extism_plugin_output_length"),
            plugin_output_data: sym!("extism_plugin_output_data"),
            plugin_reset: sym!("extism_plugin_reset"),
            function_new: sym!("extism_function_new"),
            function_free: sym!("extism_function_free"),
            function_set_namespace: sym!("extism_function_set_namespace"),
            current_plugin_memory: sym!("extism_current_plugin_memory"),
            current_plugin_memory_length: sym!("extism_current_plugin_memory_length"),
            _lib: lib,
        })
    }

    /// `extism_version()`, e.g. `1.41.0`.
    pub fn version(&self) -> String {
        // SAFETY: extism_version takes nothing and returns a pointer to a static
        // NUL-terminated string (`concat!(env!("CARGO_PKG_VERSION"), "\0")` in the runtime),
        // valid for the life of the library, which is never unloaded.
        let v = unsafe { (self.version)() };
        if v.is_null() {
            return String::from("unknown");
        }
        // SAFETY: non-null, NUL-terminated and static, as above.
        unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned()
    }

    /// Takes the message `errmsg` points to (from `extism_plugin_new` and friends) and frees it.
    fn take_error(&self, errmsg: *mut c_char, what: &str) -> String {
        if errmsg.is_null() {
            return format!("{what} failed without a message");
        }
        // SAFETY: a non-null `errmsg` was set by the call just made to a `CString::into_raw`
        // of the runtime: NUL-terminated and owned by us until freed, which happens right
        // after the copy and only once.
        let text = unsafe { CStr::from_ptr(errmsg) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above; `extism_plugin_new_error_free` is the matching deallocator.
        unsafe { (self.plugin_new_error_free)(errmsg) };
        format!("{what}: {text}")
    }

    /// A plugin from a manifest naming `wasm` with `limits` (`extism_plugin_new`), with the
    /// host functions `functions`, WASI off.
    ///
    /// # Errors
    ///
    /// Extism's message when it cannot compile or link the plugin.
    pub fn plugin_new(
        &'static self,
        wasm: &[u8],
        limits: &Limits,
        functions: &[HostFunction],
    ) -> Result<Plugin, String> {
        let manifest = limits.manifest(wasm);
        let mut fns = OwnedFunctions::new(self, functions)?;
        let mut errmsg: *mut c_char = ptr::null_mut();
        // SAFETY: `manifest` is a JSON manifest whose wasm is `{"ptr", "len"}` of `wasm`,
        // which is borrowed for this whole call; Extism copies those bytes (`to_vec`) while it
        // parses the manifest, inside the call, and keeps no pointer to them or to
        // `manifest`. `fns` holds `n` valid `ExtismFunction*` made by `extism_function_new`
        // and not yet registered; Extism takes the function out of each (they are freed by
        // `OwnedFunctions`'s drop). `errmsg` is a valid out-pointer.
        let raw = unsafe {
            (self.plugin_new)(
                manifest.as_ptr(),
                manifest.len() as u64,
                fns.as_mut_ptr(),
                fns.len(),
                false,
                &mut errmsg,
            )
        };
        drop(fns);
        NonNull::new(raw)
            .map(|raw| Plugin { raw, api: self })
            .ok_or_else(|| self.take_error(errmsg, "extism_plugin_new"))
    }

    /// A compiled plugin (`extism_compiled_plugin_new`): the manifest of
    /// [`Api::plugin_new`] compiled once, for [`Compiled::instantiate`].
    ///
    /// # Errors
    ///
    /// Extism's message when it cannot compile the plugin.
    pub fn compile(
        &'static self,
        wasm: &[u8],
        limits: &Limits,
        functions: &[HostFunction],
    ) -> Result<Compiled, String> {
        let manifest = limits.manifest(wasm);
        let mut fns = OwnedFunctions::new(self, functions)?;
        let mut errmsg: *mut c_char = ptr::null_mut();
        // SAFETY: as in `plugin_new`: the manifest's `{"ptr", "len"}` describes `wasm`,
        // borrowed for the call and copied by Extism inside it; `fns` holds unregistered
        // functions (the compiled plugin keeps the functions taken out of them, the boxes
        // are freed by `OwnedFunctions`); `errmsg` is a valid out-pointer.
        let raw = unsafe {
            (self.compiled_plugin_new)(
                manifest.as_ptr(),
                manifest.len() as u64,
                fns.as_mut_ptr(),
                fns.len(),
                false,
                &mut errmsg,
            )
        };
        drop(fns);
        NonNull::new(raw)
            .map(|raw| Compiled { raw, api: self })
            .ok_or_else(|| self.take_error(errmsg, "extism_compiled_plugin_new"))
    }
}

/// The limits a careful host sets in the manifest: `memory.max_pages` and `timeout_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `memory.max_pages`: 64 KiB pages the plugin's memories may have.
    pub max_pages: u32,
    /// `timeout_ms`: the wall-clock limit of one call.
    pub timeout_ms: u64,
}

impl Limits {
    /// The manifest JSON: one wasm given as `{"ptr", "len"}` (Extism's no-copy form of
    /// `data`, read while the manifest is parsed), the memory limit and the timeout.
    fn manifest(&self, wasm: &[u8]) -> Vec<u8> {
        format!(
            r#"{{"wasm":[{{"data":{{"ptr":{},"len":{}}}}}],"memory":{{"max_pages":{}}},"timeout_ms":{}}}"#,
            wasm.as_ptr() as usize,
            wasm.len(),
            self.max_pages,
            self.timeout_ms
        )
        .into_bytes()
    }

    /// The manifest's limits in words, for the rows.
    pub fn describe(&self) -> String {
        format!(
            "manifest `memory.max_pages = {}` ({} MiB) and `timeout_ms = {}`",
            self.max_pages,
            u64::from(self.max_pages) * 64 / 1024,
            self.timeout_ms
        )
    }
}

/// A host function to register with each new plugin: `namespace.name(i64 ...) -> i64 ...`
/// calling `callback` with null user data.
#[derive(Clone, Copy, Debug)]
pub struct HostFunction {
    /// The import module (`extism:host/user` is Extism's default).
    pub namespace: &'static CStr,
    /// The import name.
    pub name: &'static CStr,
    /// Number of `i64` parameters.
    pub params: usize,
    /// Number of `i64` results.
    pub results: usize,
    /// The function.
    pub callback: HostCallback,
}

/// Fresh `ExtismFunction`s for one plugin (Extism takes the function out of each when a plugin
/// is made, so every plugin needs its own), freed on drop.
struct OwnedFunctions {
    api: &'static Api,
    raw: Vec<*const RawFunction>,
}

impl OwnedFunctions {
    fn new(api: &'static Api, functions: &[HostFunction]) -> Result<Self, String> {
        let mut owned = OwnedFunctions {
            api,
            raw: Vec::with_capacity(functions.len()),
        };
        for f in functions {
            let params = vec![I64; f.params];
            let results = vec![I64; f.results];
            // SAFETY: `name` is NUL-terminated; `params`/`results` hold `len` valid
            // `ExtismValType`s and are only read during the call (Extism copies them);
            // `callback` has the `ExtismFunctionType` signature; the user data is null and
            // there is no destructor for it, so Extism never dereferences or frees it.
            let raw = unsafe {
                (api.function_new)(
                    f.name.as_ptr(),
                    params.as_ptr(),
                    params.len() as u64,
                    results.as_ptr(),
                    results.len() as u64,
                    f.callback,
                    ptr::null_mut(),
                    None,
                )
            };
            if raw.is_null() {
                return Err(format!("extism_function_new({:?}) failed", f.name));
            }
            // SAFETY: `raw` is a live function just made and not yet registered (so its name
            // space may still be set); `namespace` is NUL-terminated and copied by Extism.
            unsafe { (api.function_set_namespace)(raw, f.namespace.as_ptr()) };
            owned.raw.push(raw);
        }
        Ok(owned)
    }

    fn as_mut_ptr(&mut self) -> *mut *const RawFunction {
        if self.raw.is_empty() {
            ptr::null_mut()
        } else {
            self.raw.as_mut_ptr()
        }
    }

    fn len(&self) -> u64 {
        self.raw.len() as u64
    }
}

impl Drop for OwnedFunctions {
    fn drop(&mut self) {
        for &f in &self.raw {
            // SAFETY: each pointer came from `extism_function_new` and is freed once, here.
            // Registering a plugin takes the function out of the box (the plugin owns it from
            // then on) and leaves the box itself to us: `extism_function_free` then frees an
            // empty box, and a box that was never registered with its function.
            unsafe { (self.api.function_free)(f.cast_mut()) };
        }
    }
}

/// An `ExtismCompiledPlugin`: compiled once, instantiated many times.
pub struct Compiled {
    raw: NonNull<RawCompiled>,
    api: &'static Api,
}

impl Compiled {
    /// A new plugin of it (`extism_plugin_new_from_compiled`). Extism instantiates the guest
    /// lazily, in the plugin's first call.
    ///
    /// # Errors
    ///
    /// Extism's message when it cannot link the plugin.
    pub fn instantiate(&self) -> Result<Plugin, String> {
        let mut errmsg: *mut c_char = ptr::null_mut();
        // SAFETY: `self.raw` is a live compiled plugin (freed only in our drop); the call
        // reads it (clones what the plugin needs) and keeps no borrow of it; `errmsg` is a
        // valid out-pointer. `&self` is enough: the runtime takes `*const` and only reads.
        let raw = unsafe { (self.api.plugin_new_from_compiled)(self.raw.as_ptr(), &mut errmsg) };
        NonNull::new(raw)
            .map(|raw| Plugin { raw, api: self.api })
            .ok_or_else(|| {
                self.api
                    .take_error(errmsg, "extism_plugin_new_from_compiled")
            })
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `extism_compiled_plugin_new` and is freed once; the plugins
        // made from it hold clones of what they need (engine, modules, manifest), not it.
        unsafe { (self.api.compiled_plugin_free)(self.raw.as_ptr()) };
    }
}

/// An `ExtismPlugin`: one instance (made lazily) with its store, called with bytes.
pub struct Plugin {
    raw: NonNull<RawPlugin>,
    api: &'static Api,
}

// SAFETY: the plugin is used from one thread at a time (every method takes `&mut self`, and
// `Plugin` is not `Sync`), and may move between threads: Extism's Rust `Plugin` (what the
// pointer owns) is `Send`, its `Pool` hands plugins to other threads, and the C API keeps no
// thread-local state per plugin (its timer thread is global and addressed by plugin id).
unsafe impl Send for Plugin {}

impl Plugin {
    /// Calls `export` with `input` (`extism_plugin_call`) and returns its output, which lives
    /// in the plugin's memory until the next call on this plugin (the borrow says so).
    ///
    /// # Errors
    ///
    /// The plugin's error (`extism_plugin_error`) when the call fails.
    pub fn call(&mut self, export: &CStr, input: &[u8]) -> Result<&[u8], String> {
        // SAFETY: `self.raw` is live (freed only on drop) and used by this thread alone
        // (`&mut self`); `export` is NUL-terminated; `input` is valid for `len` bytes for the
        // whole call, which copies it into the kernel's memory and keeps no pointer to it.
        let rc = unsafe {
            (self.api.plugin_call)(
                self.raw.as_ptr(),
                export.as_ptr(),
                input.as_ptr(),
                input.len() as u64,
            )
        };
        if rc != 0 {
            return Err(self.error(rc));
        }
        // SAFETY: a live plugin, as above; the length of the output of the call just made.
        let len = unsafe { (self.api.plugin_output_length)(self.raw.as_ptr()) };
        if len == 0 {
            return Ok(&[]);
        }
        // SAFETY: as above.
        let data = unsafe { (self.api.plugin_output_data)(self.raw.as_ptr()) };
        if data.is_null() {
            return Err(format!("{export:?}: a null output of {len} bytes"));
        }
        let len = usize::try_from(len).map_err(|e| e.to_string())?;
        // SAFETY: `data` points at the output block in the kernel's linear memory, `len`
        // bytes long (the kernel's `output_set`, bounds-checked by the kernel). The memory
        // moves or changes only when wasm runs on this plugin's store, i.e. in a later call
        // through `&mut self`, and the returned slice borrows `self` mutably until then.
        Ok(unsafe { std::slice::from_raw_parts(data, len) })
    }

    /// Frees the kernel's allocations (`extism_plugin_reset`); Extism also does this at the
    /// start of each call.
    pub fn reset(&mut self) -> bool {
        // SAFETY: a live plugin used by this thread alone (`&mut self`).
        unsafe { (self.api.plugin_reset)(self.raw.as_ptr()) }
    }

    fn error(&mut self, rc: i32) -> String {
        // SAFETY: a live plugin used by this thread alone; the result is null or a
        // NUL-terminated message owned by the plugin, valid until its next call, and copied
        // before this function returns.
        let e = unsafe { (self.api.plugin_error)(self.raw.as_ptr()) };
        if e.is_null() {
            return format!("extism_plugin_call returned {rc} without an error");
        }
        // SAFETY: non-null and NUL-terminated, as above.
        let text = unsafe { CStr::from_ptr(e) }.to_string_lossy();
        format!("extism_plugin_call returned {rc}: {text}")
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `extism_plugin_new*` and is freed once, here; no output
        // slice outlives it (they borrow the plugin).
        unsafe { (self.api.plugin_free)(self.raw.as_ptr()) };
    }
}

/// The block of the current plugin's memory at `offset`, as long as the kernel says it is
/// (`extism_current_plugin_memory_length`), at most `len` bytes; `None` for an offset that is
/// not a live block. For host callbacks only.
///
/// # Safety
///
/// `plugin` must be the `ExtismCurrentPlugin*` the running host callback was called with, and
/// the slice must not be used after the callback returns.
pub unsafe fn block<'a>(plugin: *mut CurrentPlugin, offset: u64, len: u64) -> Option<&'a [u8]> {
    let api = Api::loaded()?;
    // SAFETY: the caller passes the current plugin of a running host call, which is what
    // these two functions require ("should only be called from host functions").
    let (base, avail) = unsafe {
        (
            (api.current_plugin_memory)(plugin),
            (api.current_plugin_memory_length)(plugin, offset),
        )
    };
    if base.is_null() || avail < len {
        return None;
    }
    let (offset, len) = (usize::try_from(offset).ok()?, usize::try_from(len).ok()?);
    // SAFETY: `base` is the start of the kernel's linear memory and `[offset, offset + avail)`
    // a live block inside it (the kernel's allocator tracks it); `len <= avail`. No wasm runs
    // while the host callback runs (this is the only thread of the plugin's store, and the
    // callback calls no guest code), so the memory neither moves nor changes, and the caller
    // drops the slice before returning to the guest.
    Some(unsafe { std::slice::from_raw_parts(base.add(offset), len) })
}
