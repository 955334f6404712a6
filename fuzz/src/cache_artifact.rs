//! The `cache_artifact` fuzz target: whatever sits in the cache directory
//! (corrupted artifacts and headers, foreign artifacts under forged but valid
//! headers, garbage files), `get_or_compile` returns a module that works, and
//! only ever loads the artifact it wrote itself.
//!
//! Out of scope, as `docs/security.md` says: an artifact whose *checksum* is
//! forged after its code was changed (the checksum is not a signature; the
//! directory permissions keep other users out). The fuzzer forges headers only
//! for foreign artifacts, which wasmtime's own compatibility check must refuse.
//!
//! Compiled into `wasm-sandbox-conformance`'s tests with `#[path]`.

use std::path::Path;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use wasm_sandbox_cache::{CacheConfig, CacheKey, CompilationCache, CompileSettings};
use wasm_sandbox_core::{ResourceLimits, SandboxConfig, Tier, build_engine, wasmtime};

/// The module cached in every run.
pub const WAT: &str = r#"(module (func (export "answer") (result i32) i32.const 42))"#;

/// The artifact and header a healthy cache holds for [`WAT`], plus a foreign
/// artifact of the same module from an engine with fuel enabled.
pub struct Fixture {
    /// The engine every run compiles with.
    pub engine: wasmtime::Engine,
    /// The key of [`WAT`] on that engine.
    pub key: CacheKey,
    /// `<key>.cwasm` as the cache wrote it.
    pub artifact: Vec<u8>,
    /// `<key>.meta` as the cache wrote it.
    pub meta: Vec<u8>,
    /// The same module compiled by another engine configuration.
    pub foreign: Vec<u8>,
}

fn settings() -> CompileSettings {
    CompileSettings::new(Tier::Baseline.name())
}

/// The fixture, built once.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let engine = build_engine(Tier::Baseline, &SandboxConfig::default()).expect("engine");
        let fuel = SandboxConfig {
            limits: ResourceLimits {
                fuel: Some(1000),
                ..ResourceLimits::default()
            },
            ..SandboxConfig::default()
        };
        let foreign_engine = build_engine(Tier::Baseline, &fuel).expect("fuel engine");
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = CompilationCache::open(CacheConfig::new(dir.path().join("c"))).expect("cache");
        cache
            .get_or_compile(&engine, WAT.as_bytes(), &settings())
            .expect("compiles");
        let key = CacheKey::new(&engine, WAT.as_bytes(), &settings());
        let read = |ext: &str| {
            std::fs::read(dir.path().join("c").join(format!("{key}.{ext}"))).expect("entry file")
        };
        let foreign = wasmtime::Module::new(&foreign_engine, WAT)
            .and_then(|m| m.serialize())
            .expect("foreign artifact");
        Fixture {
            artifact: read("cwasm"),
            meta: read("meta"),
            engine,
            key,
            foreign,
        }
    })
}

/// A valid header for `artifact` under `key` (the layout of docs/cache-format.md).
pub fn forge_meta(key: &CacheKey, artifact: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    out[0..8].copy_from_slice(b"WSCMETA\0");
    out[8..12].copy_from_slice(&1u32.to_le_bytes());
    out[16..48].copy_from_slice(key.as_bytes());
    out[48..56].copy_from_slice(&(artifact.len() as u64).to_le_bytes());
    out[56..88].copy_from_slice(blake3::hash(artifact).as_bytes());
    let sum = blake3::hash(&out[..96]);
    out[96..128].copy_from_slice(sum.as_bytes());
    out
}

/// One mutation of a file.
#[derive(Debug, Arbitrary)]
pub enum Mutation {
    /// Leave it alone.
    Keep,
    /// Cut it to `len % (original length + 1)` bytes.
    Truncate(u32),
    /// XOR bytes at positions (modulo the length).
    Flip(Vec<(u32, u8)>),
    /// Replace it with these bytes.
    Replace(Vec<u8>),
    /// Delete it.
    Remove,
}

/// What the fuzzer puts in the cache directory.
#[derive(Debug, Arbitrary)]
pub enum Scenario {
    /// The healthy entry, mutated.
    Corrupt {
        /// What happens to `<key>.cwasm`.
        artifact: Mutation,
        /// What happens to `<key>.meta`.
        meta: Mutation,
    },
    /// A foreign engine's artifact under a forged, valid header, optionally mutated
    /// afterwards (the header is not updated).
    Foreign(Mutation),
    /// Extra files: temp files, entries of other keys, junk.
    Junk(Vec<(u8, Vec<u8>)>),
}

fn apply(path: &Path, original: &[u8], m: &Mutation) {
    let bytes = match m {
        Mutation::Keep => original.to_vec(),
        Mutation::Truncate(n) => original[..(*n as usize) % (original.len() + 1)].to_vec(),
        Mutation::Flip(flips) => {
            let mut b = original.to_vec();
            if !b.is_empty() {
                for (at, x) in flips {
                    let i = *at as usize % b.len();
                    b[i] ^= x;
                }
            }
            b
        }
        Mutation::Replace(b) => b.clone(),
        Mutation::Remove => return,
    };
    std::fs::write(path, bytes).expect("write into the temp cache dir");
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(scenario) = Scenario::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let fx = fixture();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("c");
    std::fs::create_dir(&dir).expect("cache dir");
    let artifact_path = dir.join(format!("{}.cwasm", fx.key));
    let meta_path = dir.join(format!("{}.meta", fx.key));
    match &scenario {
        Scenario::Corrupt { artifact, meta } => {
            apply(&artifact_path, &fx.artifact, artifact);
            apply(&meta_path, &fx.meta, meta);
        }
        Scenario::Foreign(m) => {
            std::fs::write(&meta_path, forge_meta(&fx.key, &fx.foreign)).expect("write");
            apply(&artifact_path, &fx.foreign, m);
        }
        Scenario::Junk(files) => {
            apply(&artifact_path, &fx.artifact, &Mutation::Keep);
            apply(&meta_path, &fx.meta, &Mutation::Keep);
            for (i, (kind, bytes)) in files.iter().enumerate().take(8) {
                let name = match kind % 4 {
                    0 => format!(".wsc-tmp-{i}"),
                    1 => format!("{}.cwasm", hex_key(i)),
                    2 => format!("{}.meta", hex_key(i)),
                    _ => format!("junk-{i}"),
                };
                std::fs::write(dir.join(name), bytes).expect("write");
            }
        }
    }
    // What the cache may load: only its own, unmodified artifact.
    let on_disk_is_original = std::fs::read(&artifact_path).ok().as_deref()
        == Some(&fx.artifact[..])
        && std::fs::read(&meta_path).ok().as_deref() == Some(&fx.meta[..]);

    let cache = CompilationCache::open(CacheConfig::new(&dir))
        .expect("a cache over a hostile directory opens");
    let module = cache
        .get_or_compile(&fx.engine, WAT.as_bytes(), &settings())
        .expect("get_or_compile always returns a module");
    let stats = cache.stats();
    if stats.disk_hits > 0 {
        assert!(
            on_disk_is_original,
            "loaded an artifact that is not the one the cache wrote: {scenario:?}"
        );
    }
    let mut store = wasmtime::Store::new(&fx.engine, ());
    store.set_epoch_deadline(1 << 40);
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates");
    let answer = instance
        .get_typed_func::<(), i32>(&mut store, "answer")
        .expect("export");
    assert_eq!(answer.call(&mut store, ()).expect("runs"), 42);
}

fn hex_key(i: usize) -> String {
    format!("{:064x}", i + 1)
}

#[cfg(test)]
mod tests {
    use super::super::replay::{SplitMix, replay};

    #[test]
    fn smoke() {
        for data in SplitMix(0xCAC4E).inputs(200, 96) {
            super::run(&data);
        }
    }

    #[test]
    fn a_forged_header_over_a_foreign_artifact_is_refused() {
        // Scenario::Foreign(Keep): the first byte picks the variant.
        for first in 0..=255u8 {
            super::run(&[first, 0, 0, 0]);
        }
    }

    #[test]
    fn corpus() {
        let seeds = replay("cache_artifact", "corpus", super::run);
        assert!(seeds > 0, "the seed corpus is committed");
    }
}
