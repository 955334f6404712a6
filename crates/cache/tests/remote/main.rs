//! Integration tests of the remote tier (feature `remote`): races of hosts on one key, a
//! lease holder that died, hostile remote objects, integrity keys, a slow or failing
//! store, several processes on one `file://` store, and S3 on the wire (moto).
//!
//! Each "host" is a `CompilationCache` with its own empty disk directory; hosts share a
//! store. Some tests re-run this binary as child processes (see [`child_entry`]).

mod hostile;
mod lease;
mod processes;
mod s3;
mod slow;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use wasm_sandbox_cache::{
    CacheConfig, CacheStats, CompilationCache, CompileSettings, RemoteConfig,
};
use wasmtime::{Engine, Instance, Module, Store};

/// A module whose `answer` export returns `n`, with `extra` more functions so its compile
/// takes a while (each `n` is a distinct module).
pub(crate) fn wat(n: i32, extra: usize) -> Vec<u8> {
    let mut text =
        format!("(module (memory 1) (func (export \"answer\") (result i32) i32.const {n})");
    for i in 0..extra {
        text.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) \
               local.get 0 i32.const {i} i32.add i32.const 3 i32.mul \
               local.get 0 i32.xor i32.const 7 i32.rem_u)"
        ));
    }
    text.push(')');
    text.into_bytes()
}

pub(crate) fn engine() -> Engine {
    Engine::default()
}

pub(crate) fn settings() -> CompileSettings {
    CompileSettings::new("optimized")
}

/// Calls `answer`.
pub(crate) fn answer(engine: &Engine, module: &Module) -> i32 {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).expect("instantiate");
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "answer")
        .expect("answer export");
    f.call(&mut store, ()).expect("call")
}

/// One host: a cache with its own fresh disk directory on `remote`.
pub(crate) struct Host {
    pub(crate) cache: CompilationCache,
    _dir: tempfile::TempDir,
}

impl Host {
    pub(crate) fn new(remote: RemoteConfig) -> Host {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompilationCache::open(
            CacheConfig::new(dir.path().join("cache")).remote_config(remote.key_from_env(false)),
        )
        .expect("open cache");
        Host { cache, _dir: dir }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

/// A remote config on `store` under `prefix`, with short bounds for tests.
pub(crate) fn remote(store: &Arc<dyn ObjectStore>, prefix: &str) -> RemoteConfig {
    RemoteConfig::store(store.clone(), prefix)
        .timeout(Duration::from_secs(5))
        .lease_ttl(Duration::from_secs(20))
}

pub(crate) fn memory_store() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

/// A small runtime for driving a store directly from a test.
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Every object in the store, with its bytes, sorted by name.
pub(crate) fn objects(store: &Arc<dyn ObjectStore>) -> Vec<(String, Vec<u8>)> {
    block_on(async {
        let metas: Vec<_> = store.list(None).collect().await;
        let mut out = Vec::new();
        for meta in metas {
            let meta = meta.expect("list");
            let bytes = store
                .get_opts(&meta.location, Default::default())
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes");
            out.push((meta.location.to_string(), bytes.to_vec()));
        }
        out.sort();
        out
    })
}

/// The one artifact object in the store: its name and bytes.
pub(crate) fn the_artifact(store: &Arc<dyn ObjectStore>) -> (String, Vec<u8>) {
    let mut artifacts: Vec<_> = objects(store)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".wsc"))
        .collect();
    assert_eq!(artifacts.len(), 1, "one artifact in the store");
    artifacts.pop().expect("one")
}

/// Writes `bytes` at `name`, replacing what is there (an attacker with write access).
pub(crate) fn overwrite(store: &Arc<dyn ObjectStore>, name: &str, bytes: Vec<u8>) {
    block_on(store.put_opts(
        &StorePath::parse(name).expect("path"),
        PutPayload::from(bytes),
        PutOptions::from(PutMode::Overwrite),
    ))
    .expect("overwrite");
}

/// Compiles `wasm` on a first host and waits for its artifact to be published; the host
/// is returned so that its directory lives on.
pub(crate) fn publish(remote: RemoteConfig, wasm: &[u8]) -> Host {
    let host = Host::new(remote);
    host.cache
        .get_or_compile(&engine(), wasm, &settings())
        .expect("compile");
    assert!(
        host.cache.flush_remote(Duration::from_secs(10)),
        "published in time"
    );
    assert_eq!(host.stats().remote_published, 1);
    host
}

#[test]
fn racing_hosts_compile_a_cold_key_exactly_once() {
    const HOSTS: usize = 6;
    for round in 0..3 {
        let store = memory_store();
        let hosts: Vec<Host> = (0..HOSTS)
            .map(|_| Host::new(remote(&store, "fleet")))
            .collect();
        let engine = engine();
        let wasm = wat(100 + round, 300);
        let barrier = std::sync::Barrier::new(HOSTS);
        let modules: Vec<Module> = std::thread::scope(|s| {
            let handles: Vec<_> = hosts
                .iter()
                .map(|h| {
                    s.spawn(|| {
                        barrier.wait();
                        h.cache
                            .get_or_compile(&engine, &wasm, &settings())
                            .expect("module")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        // All equal: the one compiled artifact, loaded by every other host.
        let artifact = modules[0].serialize().unwrap();
        for module in &modules {
            assert_eq!(answer(&engine, module), 100 + round);
            assert!(
                module.serialize().unwrap() == artifact,
                "round {round}: modules differ"
            );
        }
        let stats: Vec<CacheStats> = hosts.iter().map(Host::stats).collect();
        let total = |f: fn(&CacheStats) -> u64| stats.iter().map(f).sum::<u64>();
        assert_eq!(total(|s| s.compiles), 1, "round {round}: {stats:#?}");
        assert_eq!(total(|s| s.remote_hits), HOSTS as u64 - 1);
        assert_eq!(total(|s| s.remote_verify_failures), 0);
        assert_eq!(total(|s| s.remote_errors), 0);
        // Every remote hit was loaded from this host's own disk layer.
        for s in &stats {
            assert_eq!(s.remote_hits, s.disk_hits);
            assert_eq!(s.remote_hits + s.compiles, 1);
        }
        for h in &hosts {
            assert!(h.cache.flush_remote(Duration::from_secs(10)));
        }
        // One artifact and, once its holder released it, no lease.
        let names: Vec<String> = objects(&store).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(
            names[0].starts_with("fleet/") && names[0].ends_with(".wsc"),
            "{names:?}"
        );

        // A new host finds it, and so does its memory layer the second time.
        let late = Host::new(remote(&store, "fleet"));
        let module = late
            .cache
            .get_or_compile(&engine, &wasm, &settings())
            .unwrap();
        assert_eq!(answer(&engine, &module), 100 + round);
        late.cache
            .get_or_compile(&engine, &wasm, &settings())
            .unwrap();
        let s = late.stats();
        assert_eq!(
            (s.remote_hits, s.disk_hits, s.memory_hits, s.compiles),
            (1, 1, 1, 0)
        );
        assert!(s.remote_bytes_fetched > 0);
    }
}

#[test]
fn the_listing_counts_artifacts_per_engine() {
    let store = memory_store();
    let _a = publish(remote(&store, "p"), &wat(1, 0));
    let _b = publish(remote(&store, "p"), &wat(2, 0));
    let mut fuel = wasmtime::Config::new();
    fuel.consume_fuel(true);
    let fuel_engine = Engine::new(&fuel).unwrap();
    let c = Host::new(remote(&store, "p"));
    c.cache
        .get_or_compile(&fuel_engine, &wat(1, 0), &settings())
        .unwrap();
    assert!(c.cache.flush_remote(Duration::from_secs(10)));
    // Junk under the prefix is counted, not misread.
    overwrite(&store, "p/not-an-engine/x.wsc", b"junk".to_vec());
    overwrite(&store, "p/readme", b"junk".to_vec());

    let listing = c
        .cache
        .remote_listing(Some(&engine()), Duration::from_secs(10))
        .unwrap()
        .expect("a remote tier");
    assert_eq!(listing.engines.len(), 2, "{listing:#?}");
    assert_eq!(listing.other_objects, 2);
    let current: Vec<_> = listing.engines.iter().filter(|e| e.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].artifacts, 2);
    assert!(current[0].artifact_bytes > 0);
    let other: Vec<_> = listing.engines.iter().filter(|e| !e.current).collect();
    assert_eq!(other[0].artifacts, 1);
    assert_eq!(listing.engines.iter().map(|e| e.leases).sum::<u64>(), 0);

    let local_only = CompilationCache::open(CacheConfig::in_memory()).unwrap();
    assert!(
        local_only
            .remote_listing(None, Duration::from_secs(1))
            .unwrap()
            .is_none()
    );
    assert!(!local_only.is_remote_enabled());
}

#[test]
fn memory_and_file_urls_open_and_bad_configurations_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let url = format!("file://{}/fleet", store_dir.display());
    let open = |remote: RemoteConfig, name: &str| {
        CompilationCache::open(
            CacheConfig::new(dir.path().join(name)).remote_config(remote.key_from_env(false)),
        )
    };
    let a = open(RemoteConfig::url(&url), "a").unwrap();
    let b = open(RemoteConfig::url(&url), "b").unwrap();
    let engine = engine();
    a.get_or_compile(&engine, &wat(5, 0), &settings()).unwrap();
    assert!(a.flush_remote(Duration::from_secs(10)));
    let m = b.get_or_compile(&engine, &wat(5, 0), &settings()).unwrap();
    assert_eq!(answer(&engine, &m), 5);
    assert_eq!((b.stats().remote_hits, b.stats().compiles), (1, 0));
    let on_disk: Vec<_> = walk(&store_dir);
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    assert!(on_disk[0].ends_with(".wsc"));

    let m = open(RemoteConfig::url("memory://"), "m").unwrap();
    assert!(m.is_remote_enabled());
    m.get_or_compile(&engine, &wat(6, 0), &settings()).unwrap();

    for (bad, why) in [
        (RemoteConfig::url("no scheme"), "is not a URL"),
        (RemoteConfig::url("ftp://host/x"), "cannot use the store"),
        (
            RemoteConfig::url("memory://").integrity_key(b"short"),
            "at least 32 bytes",
        ),
    ] {
        let err = open(bad, "bad").unwrap_err();
        assert!(
            matches!(err, wasm_sandbox_cache::CacheError::Remote { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
    // A remote tier without a disk layer is ignored (remote artifacts go through disk).
    let memory_only = CompilationCache::open(CacheConfig::in_memory().remote("memory://")).unwrap();
    assert!(!memory_only.is_remote_enabled());
}

/// Every file under `dir`, recursively.
pub(crate) fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// Selects a child mode when this binary is run by [`processes`] tests.
pub(crate) const CHILD_MODE: &str = "WASM_SANDBOX_REMOTE_TEST_CHILD";

/// The child half of the multi-process tests; does nothing in a normal run.
#[test]
fn child_entry() {
    let Some(mode) = std::env::var_os(CHILD_MODE) else {
        return;
    };
    match mode.to_str() {
        Some("compile") => processes::child_compile(),
        other => panic!("unknown child mode {other:?}"),
    }
}
