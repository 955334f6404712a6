//! Cache keys: what identifies one compiled artifact.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use parking_lot::Mutex;

use crate::format::FORMAT_VERSION;

/// The settings a caller compiled with, beyond what the engine's configuration records.
///
/// The engine's own configuration (Cranelift flags, target, enabled features, tunables,
/// wasmtime's version) always goes into the key through
/// [`wasmtime::Engine::precompile_compatibility_hash`]. `CompileSettings` adds what the
/// engine cannot know: which tier the caller means (`"baseline"`, `"optimized"`, ...),
/// and anything else the caller wants to keep apart. Two requests share a cache entry only
/// if every field is equal.
///
/// ```
/// use wasm_sandbox_cache::CompileSettings;
/// let settings = CompileSettings::new("optimized")
///     .with_opt_level(wasmtime::OptLevel::Speed)
///     .with_target("x86_64-unknown-linux-gnu")
///     .with("profile", "release");
/// assert_eq!(settings.tier(), "optimized");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileSettings {
    tier: String,
    opt_level: Option<wasmtime::OptLevel>,
    target: Option<String>,
    extra: BTreeMap<String, String>,
}

impl CompileSettings {
    /// Settings for the tier called `tier` (a label of the caller's choosing).
    ///
    /// The default settings have the empty tier and nothing else.
    pub fn new(tier: impl Into<String>) -> Self {
        CompileSettings {
            tier: tier.into(),
            ..Self::default()
        }
    }

    /// Records the Cranelift optimization level. Default: none recorded.
    pub fn with_opt_level(mut self, level: wasmtime::OptLevel) -> Self {
        self.opt_level = Some(level);
        self
    }

    /// Records the target triple. Default: none recorded.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Records one more setting as a key/value pair; a later value for the same name
    /// replaces an earlier one.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The tier label.
    pub fn tier(&self) -> &str {
        &self.tier
    }

    /// The recorded optimization level, if any.
    pub fn opt_level(&self) -> Option<wasmtime::OptLevel> {
        self.opt_level
    }

    /// The recorded target triple, if any.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The extra settings, sorted by name.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn hash_into(&self, h: &mut blake3::Hasher) {
        fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        field(h, self.tier.as_bytes());
        match self.opt_level {
            // `OptLevel` has no `Hash`; its `Debug` names the variant.
            Some(level) => field(h, format!("opt:{level:?}").as_bytes()),
            None => field(h, b"opt:-"),
        }
        match &self.target {
            Some(t) => field(h, format!("target:{t}").as_bytes()),
            None => field(h, b"target:-"),
        }
        h.update(&(self.extra.len() as u64).to_le_bytes());
        for (k, v) in &self.extra {
            field(h, k.as_bytes());
            field(h, v.as_bytes());
        }
    }
}

/// The blake3 hash of a module's wasm bytes: the content half of a [`CacheKey`].
///
/// It is plain `blake3::hash(wasm)`, so a caller that already identifies modules by their
/// blake3 hash (as the sandbox does) computes it once and passes it to
/// [`CompilationCache::get_or_compile_digest`](crate::CompilationCache::get_or_compile_digest)
/// instead of hashing the bytes twice. Inputs of 512 KiB or more are hashed on two threads
/// (blake3's tree mode gives the same hash either way).
///
/// ```
/// use wasm_sandbox_cache::WasmDigest;
/// let d = WasmDigest::of(b"\0asm\x01\0\0\0");
/// assert_eq!(d.as_bytes(), blake3::hash(b"\0asm\x01\0\0\0").as_bytes());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WasmDigest([u8; 32]);

impl WasmDigest {
    /// Hashes `wasm`.
    pub fn of(wasm: &[u8]) -> Self {
        WasmDigest(*crate::hash::blake3_hash(wasm).as_bytes())
    }

    /// Wraps a hash computed elsewhere; it must be `blake3::hash` of the wasm bytes it is
    /// used with, or the module is cached under another module's key.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        WasmDigest(bytes)
    }

    /// The hash bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for WasmDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WasmDigest({})",
            blake3::Hash::from_bytes(self.0).to_hex()
        )
    }
}

/// The content address of one compiled artifact: a blake3 hash over the wasm bytes'
/// [`WasmDigest`], the engine's compatibility hash, the [`CompileSettings`] and the cache
/// format version.
///
/// Displayed as 64 lowercase hex digits, which is also the artifact's file name stem.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Computes the key of compiling `wasm` with `engine` and `settings`.
    pub fn new(engine: &wasmtime::Engine, wasm: &[u8], settings: &CompileSettings) -> Self {
        Self::from_digest(engine, &WasmDigest::of(wasm), settings)
    }

    /// Computes the key of compiling the wasm bytes whose digest is `digest`.
    pub fn from_digest(
        engine: &wasmtime::Engine,
        digest: &WasmDigest,
        settings: &CompileSettings,
    ) -> Self {
        let mut h = blake3::Hasher::new_derive_key("wasm-sandbox-cache compilation key v2");
        h.update(&FORMAT_VERSION.to_le_bytes());
        h.update(&digest.0);
        h.update(&engine_fingerprint(engine));
        settings.hash_into(&mut h);
        CacheKey(*h.finalize().as_bytes())
    }

    /// Wraps raw key bytes (for tests and tools that read keys from file names).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        CacheKey(bytes)
    }

    /// The raw key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case), as in an artifact's file name.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(CacheKey(out))
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// The blake3 hash of `engine`'s
/// [`precompile_compatibility_hash`](wasmtime::Engine::precompile_compatibility_hash),
/// computed once per engine: walking the engine's settings is more work than the rest of a
/// small module's key.
pub(crate) fn engine_fingerprint(engine: &wasmtime::Engine) -> [u8; 32] {
    /// Engines seen so far, held weakly; dead ones are pruned when a new one arrives.
    static SEEN: Mutex<Vec<(wasmtime::EngineWeak, [u8; 32])>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock();
    for (weak, fp) in seen.iter() {
        if weak
            .upgrade()
            .is_some_and(|e| wasmtime::Engine::same(&e, engine))
        {
            return *fp;
        }
    }
    let mut h = blake3::Hasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut Blake3Hasher(&mut h));
    let fp = *h.finalize().as_bytes();
    seen.retain(|(weak, _)| weak.upgrade().is_some());
    seen.push((engine.weak(), fp));
    fp
}

/// Feeds a `std::hash::Hash` value into a blake3 hasher.
///
/// Integers arrive in native byte order, which is fine: the engine hash only ever has to
/// match on the machine (and target) that produced the artifact.
struct Blake3Hasher<'a>(&'a mut blake3::Hasher);

impl Hasher for Blake3Hasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the blake3 state is used; `finish` is never called by `Hash` impls.
        let digest = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }
}
