//! The one error type of the sandbox core.

use std::path::PathBuf;
use std::time::Duration;

/// A specialized `Result` for sandbox operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when loading or running a guest.
///
/// Each variant names one class of failure so that an embedder can tell an
/// untrusted module's fault (invalid module, trap, timeout, limit) apart from
/// its own (missing export, signature mismatch, configuration) and from the
/// host's (I/O). Messages say what happened and what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid WebAssembly module (malformed or failing
    /// validation), or the module uses a feature this engine does not enable.
    #[error("invalid module: {reason}")]
    InvalidModule {
        /// The validator's or compiler's explanation.
        reason: Box<str>,
    },

    /// The module imports something the sandbox does not provide. Imports
    /// are denied by default: only host functions the embedder added, and
    /// WASI preview 1 when enabled, can be linked.
    #[error(
        "import `{module}::{name}` is not allowed: the sandbox provides no such import \
         (add a host function for it, or enable WASI if it is a `wasi_snapshot_preview1` import)"
    )]
    ImportNotAllowed {
        /// The import's module name.
        module: Box<str>,
        /// The import's field name.
        name: Box<str>,
    },

    /// The module has no export of that name, or the export is not a function.
    #[error("missing export `{name}`: the module exports no function of that name")]
    MissingExport {
        /// The export that was asked for.
        name: Box<str>,
    },

    /// The export exists but its type differs from what the caller expected.
    #[error(
        "signature mismatch for export `{export}`: expected {expected}, the module has {actual}"
    )]
    SignatureMismatch {
        /// The export that was called.
        export: Box<str>,
        /// The type the caller asked for.
        expected: Box<str>,
        /// The type the module declares.
        actual: Box<str>,
    },

    /// The guest trapped: a WebAssembly trap such as an out-of-bounds access,
    /// `unreachable`, a division by zero or a stack overflow.
    #[error("guest trapped: {code}{}", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    Trap {
        /// Which trap.
        code: TrapCode,
        /// Extra detail, such as the backtrace, when available.
        message: Box<str>,
    },

    /// The call ran longer than its wall-clock limit and was interrupted.
    #[error(
        "guest call timed out after {limit:?} (raise the timeout with `ResourceLimits::timeout` if the work is legitimate)"
    )]
    Timeout {
        /// The configured limit.
        limit: Duration,
    },

    /// The call consumed all its fuel.
    #[error(
        "guest ran out of fuel ({fuel} units per call; raise `ResourceLimits::fuel` if the work is legitimate)"
    )]
    OutOfFuel {
        /// The fuel each call starts with.
        fuel: u64,
    },

    /// The guest asked for more of a resource than its limit allows.
    #[error("{resource} limit exceeded: requested {requested}, limit {limit}")]
    LimitExceeded {
        /// Which resource.
        resource: Resource,
        /// How much the guest asked for (bytes for memory, elements for tables).
        requested: u64,
        /// The configured limit.
        limit: u64,
    },

    /// Every slot of the instance pool is in use.
    #[error(
        "instance pool exhausted: all {capacity} slots are in use \
         (raise `memory_pool_size` or lower concurrency)"
    )]
    PoolExhausted {
        /// The number of slots in the pool.
        capacity: u32,
    },

    /// A bounded call queue is full: the caller should back off and retry.
    #[error(
        "call queue full: {capacity} calls are already waiting (retry later, or raise the queue capacity)"
    )]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },

    /// Encoding arguments or decoding results failed.
    #[error("codec error ({codec}): {reason}")]
    Codec {
        /// The codec in use.
        codec: &'static str,
        /// What failed.
        reason: Box<str>,
    },

    /// The guest broke the calling convention of `docs/abi.md`: a missing
    /// `sandbox_alloc`, a result pointer outside its memory, and so on.
    #[error("guest ABI violation: {reason}")]
    Abi {
        /// What the guest did wrong.
        reason: Box<str>,
    },

    /// The guest reported an error through the ABI's error flag.
    #[error("guest returned an error: {message}")]
    Guest {
        /// The guest's message (lossily decoded as UTF-8).
        message: Box<str>,
    },

    /// A WASI command called `proc_exit` with a non-zero status.
    #[error("guest exited with status {code}")]
    Exit {
        /// The exit status.
        code: i32,
    },

    /// A host function panicked while the guest called it. The store it ran
    /// in is discarded; the sandbox stays usable.
    #[error("host function panicked: {message}")]
    HostPanic {
        /// The panic payload, when it was a string.
        message: Box<str>,
    },

    /// A host function failed with the embedder's own error, made with
    /// [`Error::host`]; [`Error::host_error`] gets it back by type. (A host
    /// function that returns one of this enum's variants gets that variant
    /// back instead, unchanged.)
    #[error("host function failed: {source}")]
    Host {
        /// The embedder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The module cannot be pre-initialized as asked
    /// ([`Sandbox::preinitialize`](crate::Sandbox::preinitialize)): it
    /// imports a memory, table or global, mutates a table, has a mutable
    /// reference-typed global, lacks the init export, or its init step
    /// called a host function (whose state a snapshot cannot carry). A trap,
    /// timeout or limit during the init step is its own variant.
    #[error("cannot pre-initialize the module: {reason}")]
    Preinit {
        /// What stands in the way.
        reason: Box<str>,
    },

    /// The configuration is inconsistent.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What to change.
        reason: Box<str>,
    },

    /// Reading a module or another file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Any other failure reported by the engine.
    #[error("engine error: {reason}")]
    Engine {
        /// The engine's message.
        reason: Box<str>,
    },
}

/// The resources that [`Error::LimitExceeded`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// Linear memory, in bytes.
    Memory,
    /// Table elements.
    TableElements,
    /// Instances, tables or memories per store.
    Instances,
    /// Bytes of a call's result block (`ResourceLimits::max_result_bytes`).
    ResultBytes,
    /// Bytes of a module (`CompileLimits::max_module_bytes`).
    ModuleBytes,
    /// Functions defined by a module (`CompileLimits::max_functions`).
    Functions,
    /// Bytes of one function body (`CompileLimits::max_function_body_bytes`).
    FunctionBodyBytes,
    /// Bytes of all function bodies (`CompileLimits::max_code_bytes`).
    CodeBytes,
    /// Locals declared by all function bodies (`CompileLimits::max_locals`).
    Locals,
    /// Imports of a module (`CompileLimits::max_imports`).
    Imports,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Memory => "memory",
            Resource::TableElements => "table",
            Resource::Instances => "instance, memory or table count",
            Resource::ResultBytes => "result size",
            Resource::ModuleBytes => "module size",
            Resource::Functions => "function count",
            Resource::FunctionBodyBytes => "function body size",
            Resource::CodeBytes => "code size",
            Resource::Locals => "local count",
            Resource::Imports => "import count",
        })
    }
}

/// Why a guest trapped; mirrors `wasmtime::Trap` so that callers need not
/// depend on wasmtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// The wasm stack overflowed (`max_wasm_stack`).
    StackOverflow,
    /// An out-of-bounds linear memory access.
    MemoryOutOfBounds,
    /// A misaligned atomic access.
    HeapMisaligned,
    /// An out-of-bounds table access.
    TableOutOfBounds,
    /// An indirect call to a null table entry.
    IndirectCallToNull,
    /// An indirect call with the wrong signature.
    BadSignature,
    /// Integer overflow (e.g. `i32.div_s` of `MIN / -1`).
    IntegerOverflow,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// A float-to-int conversion out of range.
    BadConversionToInteger,
    /// The guest executed `unreachable` (C `abort()` ends here too).
    UnreachableCodeReached,
    /// A wasm exception (`throw`) left the guest uncaught.
    UncaughtException,
    /// A GC allocation (`struct.new`, `array.new`, ...) found no room: the GC heap grows
    /// only within the store's memory limit.
    GcHeapOutOfMemory,
    /// Any other trap.
    Other,
}

impl std::fmt::Display for TrapCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::HeapMisaligned => "unaligned atomic access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "indirect call to a null table entry",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::UnreachableCodeReached => "unreachable instruction executed",
            TrapCode::UncaughtException => "uncaught wasm exception",
            TrapCode::GcHeapOutOfMemory => {
                "GC heap out of memory (the GC heap grows only within the memory limit)"
            }
            TrapCode::Other => "trap",
        })
    }
}

impl From<wasmtime::Trap> for TrapCode {
    fn from(trap: wasmtime::Trap) -> Self {
        use wasmtime::Trap as T;
        match trap {
            T::StackOverflow => TrapCode::StackOverflow,
            T::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
            T::HeapMisaligned => TrapCode::HeapMisaligned,
            T::TableOutOfBounds => TrapCode::TableOutOfBounds,
            T::IndirectCallToNull => TrapCode::IndirectCallToNull,
            T::BadSignature => TrapCode::BadSignature,
            T::IntegerOverflow => TrapCode::IntegerOverflow,
            T::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
            T::BadConversionToInteger => TrapCode::BadConversionToInteger,
            T::UnreachableCodeReached => TrapCode::UnreachableCodeReached,
            _ => TrapCode::Other,
        }
    }
}

impl Error {
    /// Builds an [`Error::InvalidModule`].
    pub fn invalid_module(reason: impl std::fmt::Display) -> Self {
        Error::InvalidModule {
            reason: reason.to_string().into(),
        }
    }

    /// Builds an [`Error::Abi`].
    pub fn abi(reason: impl std::fmt::Display) -> Self {
        Error::Abi {
            reason: reason.to_string().into(),
        }
    }

    /// Builds an [`Error::Config`].
    pub fn config(reason: impl std::fmt::Display) -> Self {
        Error::Config {
            reason: reason.to_string().into(),
        }
    }

    /// Builds an [`Error::MissingExport`].
    pub fn missing_export(name: &str) -> Self {
        Error::MissingExport { name: name.into() }
    }

    /// Builds an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A short stable name for the error's class, used by metrics labels and
    /// the CLI's exit codes.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidModule { .. }
            | Error::ImportNotAllowed { .. }
            | Error::Preinit { .. } => ErrorClass::InvalidModule,
            Error::MissingExport { .. }
            | Error::SignatureMismatch { .. }
            | Error::Config { .. } => ErrorClass::Usage,
            Error::Trap { .. }
            | Error::HostPanic { .. }
            | Error::Guest { .. }
            | Error::Abi { .. } => ErrorClass::Trap,
            Error::Timeout { .. } => ErrorClass::Timeout,
            Error::OutOfFuel { .. }
            | Error::LimitExceeded { .. }
            | Error::PoolExhausted { .. }
            | Error::QueueFull { .. } => ErrorClass::Limit,
            Error::Codec { .. } => ErrorClass::Usage,
            Error::Exit { .. } => ErrorClass::Exit,
            Error::Io { .. } | Error::Engine { .. } | Error::Host { .. } => ErrorClass::Host,
        }
    }

    /// Wraps an embedder's error for a host function to return: the call
    /// fails with [`Error::Host`], from which [`Error::host_error`] gets
    /// `error` back.
    pub fn host(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Host {
            source: error.into(),
        }
    }

    /// The embedder's error of type `E` that a host function failed with
    /// ([`Error::host`]), if this is one.
    pub fn host_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Host { source } => source.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// True when the guest, not the embedder, caused the error: a retry with
    /// the same input will fail the same way.
    pub fn is_guest_fault(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::InvalidModule | ErrorClass::Trap | ErrorClass::Timeout | ErrorClass::Limit
        )
    }
}

/// Coarse classes of [`Error`], one per CLI exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The module is invalid or imports what is not allowed.
    InvalidModule,
    /// The embedder asked for something the module does not have, or the
    /// configuration is wrong.
    Usage,
    /// The guest trapped, panicked a host function or broke the ABI.
    Trap,
    /// The guest hit its wall-clock limit.
    Timeout,
    /// The guest hit a memory, table, fuel or pool limit.
    Limit,
    /// The guest exited with a status of its own.
    Exit,
    /// The host failed (I/O, engine).
    Host,
}

/// Marker error raised from the epoch callback when a call's deadline passes.
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wall-clock deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Marker error raised by the resource limiter when a guest asks for more
/// than its limit.
#[derive(Debug)]
pub(crate) struct LimitHit {
    pub(crate) resource: Resource,
    pub(crate) requested: u64,
    pub(crate) limit: u64,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} limit exceeded: requested {}, limit {}",
            self.resource, self.requested, self.limit
        )
    }
}

impl std::error::Error for LimitHit {}

/// What the runtime knows about the call when it converts an engine error.
pub(crate) struct CallContext {
    pub(crate) timeout: Option<Duration>,
    pub(crate) fuel: Option<u64>,
}

/// Converts an error that came out of wasmtime during a call into an [`Error`].
pub(crate) fn from_call_error(err: wasmtime::Error, ctx: &CallContext) -> Error {
    if err.is::<DeadlineExceeded>() {
        return Error::Timeout {
            limit: ctx.timeout.unwrap_or_default(),
        };
    }
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        return Error::LimitExceeded {
            resource: hit.resource,
            requested: hit.requested,
            limit: hit.limit,
        };
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Error::Exit { code: exit.0 };
    }
    if let Some(code) = guest_failure(&err) {
        return Error::Trap {
            code,
            message: backtrace_of(&err).into(),
        };
    }
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::OutOfFuel => {
                return Error::OutOfFuel {
                    fuel: ctx.fuel.unwrap_or_default(),
                };
            }
            wasmtime::Trap::Interrupt => {
                return Error::Timeout {
                    limit: ctx.timeout.unwrap_or_default(),
                };
            }
            _ => {}
        }
        return Error::Trap {
            code: TrapCode::from(*trap),
            message: backtrace_of(&err).into(),
        };
    }
    if let Some(called) = err.downcast_ref::<UnknownImportCalled>() {
        return Error::Trap {
            code: TrapCode::Other,
            message: called.to_string().into(),
        };
    }
    // A host function's own error reaches the caller unchanged.
    let err = match err.downcast::<HostFailure>() {
        Ok(HostFailure(e)) => return e,
        Err(err) => err,
    };
    let err = match err.downcast::<Error>() {
        Ok(e) => return e,
        Err(err) => err,
    };
    let text = format!("{err:#}");
    if let Some(e) = sync_misuse(&text) {
        return e;
    }
    // wasmtime-wasi refuses `proc_exit` statuses of 126 and above (reserved
    // by WASI) with a plain error: the guest's doing, so a guest fault.
    if text.contains(INVALID_EXIT_STATUS) {
        return Error::Trap {
            code: TrapCode::Other,
            message: "the guest called proc_exit with a status outside [0, 126), which WASI \
                      reserves"
                .into(),
        };
    }
    Error::Engine {
        reason: text.into(),
    }
}

/// wasmtime's refusal of a synchronous call or instantiation in a store that
/// needs the async API (the module imports an async host function): the
/// embedder's usage error, not the guest's.
fn sync_misuse(text: &str) -> Option<Error> {
    text.contains("requires that `*_async` functions are used")
        .then(|| {
            Error::config(
                "the module imports an async host function, which only the async API can call: \
             use `instantiate_async` and the `*_async` calls",
            )
        })
}

/// wasmtime-wasi's message for a `proc_exit` status of 126 or more.
const INVALID_EXIT_STATUS: &str = "exit with invalid exit status outside of [0..126)";

/// Guest failures that wasmtime reports as errors of their own rather than as a
/// [`wasmtime::Trap`], with the trap code they are reported as.
fn guest_failure(err: &wasmtime::Error) -> Option<TrapCode> {
    if err.is::<wasmtime::ThrownException>() {
        Some(TrapCode::UncaughtException)
    } else if err.is::<wasmtime::GcHeapOutOfMemory<()>>() {
        Some(TrapCode::GcHeapOutOfMemory)
    } else {
        None
    }
}

fn backtrace_of(err: &wasmtime::Error) -> String {
    err.downcast_ref::<wasmtime::WasmBacktrace>()
        .map(describe_backtrace)
        .unwrap_or_default()
}

/// The innermost frames of a trap, as `in f (function 3) at 0x174 <- ...`.
fn describe_backtrace(bt: &wasmtime::WasmBacktrace) -> String {
    let frames: Vec<String> = bt
        .frames()
        .iter()
        .take(3)
        .map(|f| {
            let name = f.func_name().map(|n| format!("`{n}` ")).unwrap_or_default();
            match f.module_offset() {
                Some(off) => format!("{name}(function {}) at {off:#x}", f.func_index()),
                None => format!("{name}(function {})", f.func_index()),
            }
        })
        .collect();
    if frames.is_empty() {
        String::new()
    } else {
        format!("in {}", frames.join(" <- "))
    }
}

/// A guest called an import that nobody defines, which
/// [`UnknownImports::Trap`](crate::UnknownImports::Trap) made a trap.
#[derive(Debug, Clone)]
pub(crate) struct UnknownImportCalled {
    pub(crate) module: Box<str>,
    pub(crate) name: Box<str>,
}

impl std::fmt::Display for UnknownImportCalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest called `{}.{}`, an import this host does not provide (defined as a trap \
             because unknown imports trap)",
            self.module, self.name
        )
    }
}

impl std::error::Error for UnknownImportCalled {}

/// An error a host function of [`HostFunctions`](crate::HostFunctions)
/// returned, on its way through wasmtime to the caller.
#[derive(Debug)]
pub(crate) struct HostFailure(pub(crate) Error);

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HostFailure {}

/// True when `err` is an error a host function returned (through
/// [`HostFunctions`](crate::HostFunctions) or as an [`Error`] from a raw
/// linker function): the guest was unwound in the middle of its work.
pub(crate) fn raised_by_host(err: &wasmtime::Error) -> bool {
    err.is::<HostFailure>() || err.is::<Error>()
}

/// Converts an error from compiling or linking a module.
pub(crate) fn from_compile_error(wasm: &[u8], err: wasmtime::Error) -> Error {
    // wasmtime reads anything without the binary magic as WAT text, and says
    // only "input bytes aren't valid utf-8" of a random or truncated file.
    let reason = if !wasm.starts_with(b"\0asm") && std::str::from_utf8(wasm).is_err() {
        "neither a WebAssembly binary (no `\\0asm` header) nor WAT text (not UTF-8)".into()
    } else {
        format!("{err:#}").into()
    };
    Error::InvalidModule { reason }
}

/// Converts an error from instantiating a module.
pub(crate) fn from_instantiate_error(
    err: wasmtime::Error,
    pool_capacity: Option<u32>,
    ctx: &CallContext,
) -> Error {
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        return Error::LimitExceeded {
            resource: hit.resource,
            requested: hit.requested,
            limit: hit.limit,
        };
    }
    if err.is::<wasmtime::PoolConcurrencyLimitError>() {
        return Error::PoolExhausted {
            capacity: pool_capacity.unwrap_or_default(),
        };
    }
    // Instantiation runs guest code (the start function, a reactor's
    // `_initialize`) under the same limits as a call, and fails the same ways.
    if err.is::<DeadlineExceeded>()
        || err.downcast_ref::<wasmtime::Trap>().is_some()
        || guest_failure(&err).is_some()
        || err.downcast_ref::<wasmtime_wasi::I32Exit>().is_some()
    {
        return from_call_error(err, ctx);
    }
    let text = format!("{err:#}");
    // The store's limiter allows one memory and a few tables; wasmtime
    // reports a module that declares more as a resource-limit error without
    // a type of its own: "resource limit exceeded: memory count too high at 2".
    if text.contains("resource limit exceeded") {
        let requested = text
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        return Error::LimitExceeded {
            resource: Resource::Instances,
            requested,
            limit: if text.contains("memory") { 1 } else { 4 },
        };
    }
    if let Some(e) = sync_misuse(&text) {
        return e;
    }
    // Everything else that fails here is the module's doing (the sandbox's
    // configuration is fixed and linking succeeded at load time: a memory or
    // table the pool cannot hold, an unsupported shape), unless the host
    // itself failed, which shows as an OS error in the chain.
    if err.chain().any(|c| c.is::<std::io::Error>()) {
        return Error::Engine {
            reason: text.into(),
        };
    }
    Error::InvalidModule {
        reason: format!("cannot instantiate the module: {text}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_actionable() {
        let e = Error::Timeout {
            limit: Duration::from_millis(500),
        };
        assert!(e.to_string().contains("500ms"));
        assert!(e.to_string().contains("ResourceLimits::timeout"));
        let e = Error::ImportNotAllowed {
            module: "env".into(),
            name: "system".into(),
        };
        assert!(e.to_string().contains("env::system"));
        assert_eq!(e.class(), ErrorClass::InvalidModule);
    }

    #[test]
    fn trap_code_display_matches_wasmtime_meaning() {
        assert_eq!(
            TrapCode::from(wasmtime::Trap::StackOverflow),
            TrapCode::StackOverflow
        );
        assert_eq!(TrapCode::StackOverflow.to_string(), "call stack exhausted");
    }
}
