//! Compilation and the compilation cache (`wasm-sandbox-cache`).
//!
//! Three modules: small (`SCALAR_WAT`, under 1 KB), medium (the `hello` WASI command, 36 KB)
//! and large (SQLite, 1.1 MB). In smoke mode the large module is replaced by `ABI_WASM`,
//! because an unoptimized test build compiles SQLite for seconds.

use std::path::Path;

use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_cache::{CacheConfig, CompilationCache, CompileSettings};
use wasm_sandbox_core::{SandboxConfig, Tier};

use super::{Ctx, RowResult, RowSet, Scale, guests};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "compile/small",
            run: |ctx| sized(ctx, Size::Small),
        },
        RowSet {
            id: "compile/medium",
            run: |ctx| sized(ctx, Size::Medium),
        },
        RowSet {
            id: "compile/large",
            run: |ctx| sized(ctx, Size::Large),
        },
        RowSet {
            id: "compile/memory-hit",
            run: memory_hit,
        },
        RowSet {
            id: "compile/compile-many",
            run: compile_many,
        },
    ]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    Small,
    Medium,
    Large,
}

impl Size {
    fn label(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    fn wasm(self, ctx: &Ctx) -> (Vec<u8>, &'static str) {
        match self {
            Size::Small => (guests::scalar(), "SCALAR_WAT"),
            Size::Medium => (wasm_sandbox_guests::HELLO_WASM.to_vec(), "hello.wasm"),
            Size::Large if ctx.smoke() => (
                wasm_sandbox_guests::ABI_WASM.to_vec(),
                "ABI_WASM (smoke stand-in)",
            ),
            Size::Large => (wasm_sandbox_guests::SQLITE_WASM.to_vec(), "sqlite.wasm"),
        }
    }

    fn scale(self) -> Scale {
        match self {
            Size::Large => Scale::VerySlow,
            _ => Scale::Slow,
        }
    }
}

/// The engine of the sandbox's default tier (Cranelift, `OptLevel::Speed`, epoch
/// interruption, parallel compilation), exactly as `wasm-sandbox-core` builds it.
///
/// # Errors
///
/// When the engine cannot be built.
pub fn sandbox_engine() -> Result<wasmtime::Engine, BoxError> {
    Ok(wasm_sandbox_core::build_engine(
        Tier::HighlyOptimized,
        &SandboxConfig::default(),
    )?)
}

/// The same engine configuration with wasmtime's own compilation cache in `dir`.
///
/// # Errors
///
/// When the cache or the engine cannot be set up.
pub fn wasmtime_cached_engine(dir: &Path) -> Result<wasmtime::Engine, BoxError> {
    let mut config =
        wasm_sandbox_core::wasmtime_config(Tier::HighlyOptimized, &SandboxConfig::default())?;
    let mut cache_config = wasmtime::CacheConfig::new();
    cache_config.with_directory(dir);
    config.cache(Some(wasmtime::Cache::new(cache_config)?));
    Ok(wasmtime::Engine::new(&config)?)
}

/// The cache settings the facade uses for the default tier.
pub fn settings() -> CompileSettings {
    CompileSettings::new(Tier::HighlyOptimized.name())
}

fn sized(ctx: &Ctx, size: Size) -> RowResult {
    let (wasm, what) = size.wasm(ctx);
    let engine = sandbox_engine()?;
    let dir = tempfile::tempdir()?;
    let cache = CompilationCache::open(CacheConfig::new(dir.path().join("ours")))?;
    let settings = settings();
    cache.get_or_compile(&engine, &wasm, &settings)?;
    cache.clear_memory();
    let before = cache.stats().disk_hits;
    cache.get_or_compile(&engine, &wasm, &settings)?;
    if cache.stats().disk_hits != before + 1 {
        return Err("the warm load did not come from disk".into());
    }
    let disk_load = || {
        cache.clear_memory();
        cache
            .get_or_compile(&engine, &wasm, &settings)
            .expect("disk load")
    };
    let label = size.label();
    let kb = wasm.len() as f64 / 1024.0;

    let mut cold_goal = None;
    if size == Size::Large && !ctx.smoke() {
        cold_goal = Some(Goal::at_least(1000.0));
    }
    let mut cold = compare(
        format!("cold compile vs warm disk load, {label}"),
        || wasmtime::Module::new(&engine, &wasm).expect("compile"),
        disk_load,
        &ctx.config(size.scale()),
    )
    .with_group("compile")
    .with_phase(Phase::Compilation)
    .with_names(
        "Cranelift compile (Module::new)",
        "CompilationCache disk load",
    )
    .with_measures(format!(
        "{what} ({kb:.0} KB): a cold Cranelift compile on the sandbox's engine (OptLevel::Speed, \
         parallel compilation on both cores) against loading the cached artifact from disk: \
         the wasm's blake3 digest for the key, then header and blake3 checksum verified on the \
         open file (read when small, mapped and hashed on two threads when large), then \
         Module::deserialize_open_file (the memory layer is cleared before every load)."
    ));
    if let Some(goal) = cold_goal {
        cold = cold.with_goal(goal);
    }

    let wdir = dir.path().join("wasmtime");
    let wengine = wasmtime_cached_engine(&wdir)?;
    wasmtime::Module::new(&wengine, &wasm)?;
    let disk_load = || {
        cache.clear_memory();
        cache
            .get_or_compile(&engine, &wasm, &settings)
            .expect("disk load")
    };
    let vs_wasmtime = compare(
        format!("warm load vs wasmtime's cache, {label}"),
        || wasmtime::Module::new(&wengine, &wasm).expect("wasmtime cache load"),
        disk_load,
        &ctx.config(Scale::Slow),
    )
    .with_group("compile")
    .with_phase(Phase::Compilation)
    .with_names(
        "wasmtime Config::cache warm Module::new",
        "CompilationCache disk load",
    )
    .with_measures(format!(
        "{what} ({kb:.0} KB), both warm: wasmtime's own cache (Config::cache with a CacheConfig \
         in a temp dir: hashes the wasm, reads and zstd-decompresses the artifact, deserializes \
         it) against our verified mmap load. Same engine configuration on both sides."
    ))
    .with_goal(Goal::at_least(10.0));

    let artifact = dir.path().join("bare.cwasm");
    std::fs::write(
        &artifact,
        wasmtime::Module::new(&engine, &wasm)?.serialize()?,
    )?;
    let ceiling = compare(
        format!("ceiling: wasmtime's cache vs bare deserialize_file, {label}"),
        || wasmtime::Module::new(&wengine, &wasm).expect("wasmtime cache load"),
        || bare_deserialize(&engine, &artifact),
        &ctx.config(Scale::Slow),
    )
    .with_group("compile")
    .with_phase(Phase::Compilation)
    .with_names(
        "wasmtime Config::cache warm Module::new",
        "Module::deserialize_file, unchecked",
    )
    .with_measures(format!(
        "{what} ({kb:.0} KB): the most any cache could gain over wasmtime's: wasmtime's own \
         `deserialize_file` of the artifact with no key, no lookup and no integrity check. \
         Our verified load adds the wasm's blake3 digest, the header read and the artifact's \
         blake3 checksum on top of this floor."
    ));
    Ok(vec![cold, vs_wasmtime, ceiling])
}

/// Loads an artifact with no checks at all: the floor of any disk cache.
#[allow(unsafe_code)]
fn bare_deserialize(engine: &wasmtime::Engine, path: &std::path::Path) -> wasmtime::Module {
    // SAFETY: `path` was written a moment ago, in a private temporary directory, from
    // `Module::serialize` of a module compiled by this very engine, and nothing writes it
    // again; that is exactly the input `deserialize_file` trusts.
    unsafe { wasmtime::Module::deserialize_file(engine, path) }.expect("bare deserialize")
}

fn memory_hit(ctx: &Ctx) -> RowResult {
    let wasm = wasm_sandbox_guests::HELLO_WASM;
    let engine = sandbox_engine()?;
    let dir = tempfile::tempdir()?;
    let disk = CompilationCache::open(CacheConfig::new(dir.path().join("disk")))?;
    let mem = CompilationCache::open(CacheConfig::new(dir.path().join("mem")))?;
    let settings = settings();
    disk.get_or_compile(&engine, wasm, &settings)?;
    mem.get_or_compile(&engine, wasm, &settings)?;
    let row = compare(
        "memory-layer hit vs disk load, medium",
        || {
            disk.clear_memory();
            disk.get_or_compile(&engine, wasm, &settings)
                .expect("disk load")
        },
        || {
            mem.get_or_compile(&engine, wasm, &settings)
                .expect("memory hit")
        },
        &ctx.config(Scale::Medium),
    )
    .with_group("compile")
    .with_phase(Phase::Compilation)
    .with_names("disk load (verified mmap)", "memory-layer hit")
    .with_measures(
        "hello.wasm (36 KB): a hit in the cache's in-memory layer (blake3 key of the wasm, a map \
         lookup, an Arc clone) against a verified disk load of the same artifact.",
    );
    Ok(vec![row])
}

fn compile_many(ctx: &Ctx) -> RowResult {
    let engine = sandbox_engine()?;
    let owned: Vec<Vec<u8>> = vec![
        guests::scalar(),
        guests::memory_image(),
        wasm_sandbox_guests::wat(wasm_sandbox_guests::LOOP_WAT),
        wasm_sandbox_guests::wat(wasm_sandbox_guests::RECURSION_WAT),
        wasm_sandbox_guests::ABI_WASM.to_vec(),
        wasm_sandbox_guests::HELLO_WASM.to_vec(),
        wasm_sandbox_guests::MEMBOMB_C_WASM.to_vec(),
    ];
    let items: Vec<(&[u8], CompileSettings)> =
        owned.iter().map(|w| (w.as_slice(), settings())).collect();
    let run = |threads: usize| {
        let cache = CompilationCache::open(CacheConfig::in_memory()).expect("in-memory cache");
        let out = cache.compile_many(&engine, &items, threads);
        assert!(out.iter().all(Result::is_ok), "compile_many failed");
        out.len()
    };
    let row = compare(
        "compile_many, 2 threads vs 1",
        || run(1),
        || run(2),
        &ctx.config(Scale::Slow),
    )
    .with_group("compile")
    .with_phase(Phase::Compilation)
    .with_names("compile_many on 1 thread", "compile_many on 2 threads")
    .with_measures(format!(
        "Cold compiles of the {} small and medium guests (a fresh in-memory cache each time) \
         spread over 2 threads against one by one. The engine already compiles the functions of \
         each module in parallel (parallel_compilation, the default), so module-level threads \
         only add what function-level parallelism leaves idle on 2 cores.",
        items.len()
    ));
    Ok(vec![row])
}
