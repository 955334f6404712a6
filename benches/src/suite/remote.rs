//! The compilation cache's remote tier (`wasm-sandbox-cache`, feature `remote`;
//! `docs/remote-cache.md`): a new host starting from a warm store against compiling, four
//! cold hosts on one module against four independent compiles, and the warm local path with
//! and without a remote tier configured.
//!
//! The module is `guests/c/sqlite-shell/sqlite-shell.wasm`; in smoke mode `ABI_WASM` stands
//! in for it (an unoptimized test build compiles SQLite for seconds).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasm_sandbox_bench::{Goal, Phase, compare};
use wasm_sandbox_cache::object_store::memory::InMemory;
use wasm_sandbox_cache::object_store::{self, ObjectStore};
use wasm_sandbox_cache::{CacheConfig, CompilationCache, RemoteConfig};

use super::cache::{sandbox_engine, settings};
use super::{Ctx, RowResult, RowSet, Scale, note, skip};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "remote/new-host",
            run: new_host,
        },
        RowSet {
            id: "remote/new-host-s3",
            run: new_host_s3,
        },
        RowSet {
            id: "remote/four-cold-hosts",
            run: four_cold_hosts,
        },
        RowSet {
            id: "remote/warm-local",
            run: warm_local,
        },
    ]
}

/// New hosts opened ahead of the `new-host` rows (more than any mode's calls; a call past
/// them opens its host inside the measurement).
const NEW_HOSTS: usize = 24;

/// The module and its label.
fn module(ctx: &Ctx) -> Result<(Vec<u8>, &'static str), BoxError> {
    if ctx.smoke() {
        return Ok((
            wasm_sandbox_guests::ABI_WASM.to_vec(),
            "ABI_WASM (smoke stand-in)",
        ));
    }
    let path = format!(
        "{}/c/sqlite-shell/sqlite-shell.wasm",
        wasm_sandbox_guests::DIR
    );
    Ok((std::fs::read(&path)?, "sqlite-shell.wasm"))
}

fn remote(store: &Arc<dyn ObjectStore>, prefix: &str) -> RemoteConfig {
    RemoteConfig::store(store.clone(), prefix).key_from_env(false)
}

/// A host with a fresh, empty disk directory on `remote`.
fn new_cache(remote: Option<RemoteConfig>) -> (CompilationCache, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = CacheConfig::new(dir.path().join("cache"));
    if let Some(remote) = remote {
        config = config.remote_config(remote);
    }
    (CompilationCache::open(config).expect("open cache"), dir)
}

/// A new host (empty disk) loading `wasm` from a warm `store`, against compiling it.
fn new_host_row(
    ctx: &Ctx,
    store: Arc<dyn ObjectStore>,
    which: &str,
    goal: Option<Goal>,
) -> RowResult {
    let (wasm, what) = module(ctx)?;
    let engine = sandbox_engine()?;
    let settings = settings();
    let (warm, _warm_dir) = new_cache(Some(remote(&store, "bench")));
    warm.get_or_compile(&engine, &wasm, &settings)?;
    if !warm.flush_remote(Duration::from_secs(60)) || warm.stats().remote_published != 1 {
        return Err(format!("the artifact did not reach the {which} store").into());
    }
    // New hosts, opened ahead (a host opens its cache once, then loads many modules): the
    // candidate measures a new host's first request for the module.
    let mut fresh: Vec<_> = (0..NEW_HOSTS)
        .map(|_| new_cache(Some(remote(&store, "bench"))))
        .collect();
    let mut used = Vec::new();
    let mut fetched = 0;
    let mut row = compare(
        format!("new host from a warm {which} store vs compiling, sqlite"),
        || wasmtime::Module::new(&engine, &wasm).expect("compile"),
        || {
            let (cache, dir) = fresh
                .pop()
                .unwrap_or_else(|| new_cache(Some(remote(&store, "bench"))));
            let module = cache
                .get_or_compile(&engine, &wasm, &settings)
                .expect("remote hit");
            let s = cache.stats();
            assert_eq!((s.remote_hits, s.compiles), (1, 0), "a remote hit");
            fetched = s.remote_bytes_fetched;
            used.push((cache, dir));
            module
        },
        &ctx.config(Scale::VerySlow),
    )
    .with_group("remote")
    .with_phase(Phase::Compilation)
    .with_names(
        "Cranelift compile (Module::new)",
        format!("new host: remote fetch ({which}), verify, install on disk, load"),
    )
    .with_measures(format!(
        "{what} ({:.0} KB): a host with an empty cache directory opens its cache with a remote \
         tier on a warm {which} store and gets the module: one GET ({} KB artifact object), \
         header/key/length/blake3 verified in memory, written to its disk layer by temporary \
         file and rename, verified again and mapped (Module::deserialize_open_file). Against \
         a cold Cranelift compile on the sandbox's engine (OptLevel::Speed, parallel \
         compilation on both cores). Each new host's cache is opened before it is measured \
         (an empty directory: about 1 ms, once per host).",
        wasm.len() as f64 / 1024.0,
        fetched / 1024,
    ));
    if let Some(goal) = goal.filter(|_| !ctx.smoke()) {
        row = row.with_goal(goal);
    }
    drop(used);
    Ok(vec![row])
}

fn new_host(ctx: &Ctx) -> RowResult {
    new_host_row(
        ctx,
        Arc::new(InMemory::new()),
        "in-memory",
        Some(Goal::at_least(200.0)),
    )
}

fn new_host_s3(ctx: &Ctx) -> RowResult {
    let moto = Moto::start().map_err(|why| skip(format!("moto_server: {why}")))?;
    let store: Arc<dyn ObjectStore> = Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(format!("http://{}", moto.addr))
            .with_allow_http(true)
            .with_bucket_name("bench")
            .with_region("us-east-1")
            .with_access_key_id("bench")
            .with_secret_access_key("bench")
            .build()?,
    );
    let rows = new_host_row(ctx, store, "S3 (moto_server on loopback)", None);
    drop(moto);
    rows
}

fn four_cold_hosts(ctx: &Ctx) -> RowResult {
    const HOSTS: usize = 4;
    let (wasm, what) = module(ctx)?;
    let engine = sandbox_engine()?;
    let settings = settings();
    let mut compiles_shared = 0;
    let mut compiles_alone = 0;
    let run = |shared: Option<Arc<dyn ObjectStore>>| -> u64 {
        let hosts: Vec<_> = (0..HOSTS)
            .map(|_| new_cache(shared.as_ref().map(|s| remote(s, "bench"))))
            .collect();
        std::thread::scope(|s| {
            for (cache, _) in &hosts {
                let (engine, wasm, settings) = (&engine, &wasm, &settings);
                s.spawn(move || {
                    cache
                        .get_or_compile(engine, wasm, settings)
                        .expect("module")
                });
            }
        });
        hosts.iter().map(|(c, _)| c.stats().compiles).sum()
    };
    let mut row = compare(
        format!("{HOSTS} cold hosts on one module: shared remote store vs none"),
        || compiles_alone = run(None),
        || compiles_shared = run(Some(Arc::new(InMemory::new()))),
        &ctx.config(Scale::VerySlow),
    )
    .with_group("remote")
    .with_phase(Phase::Compilation)
    .with_names(
        format!("{HOSTS} hosts, each compiles"),
        format!("{HOSTS} hosts on one remote store (lease single flight)"),
    )
    .with_measures(format!(
        "{what}: {HOSTS} hosts with empty caches (threads of one process, each with its own \
         disk directory) ask for the same module at once; with one shared in-memory store, \
         the first to create the key's lease compiles and publishes, the others wait for its \
         artifact and load it. Without, each compiles. Both on the same 2 cores."
    ));
    if !ctx.smoke() {
        row = row.with_goal(Goal::at_least(2.5));
    }
    let row = note(
        row,
        format!(
            "Compiles per round: {compiles_shared} with the shared store, {compiles_alone} \
             without (goal: 1)."
        ),
    );
    if compiles_shared != 1 {
        return Err(format!("{compiles_shared} compiles with the shared store, not 1").into());
    }
    Ok(vec![row])
}

fn warm_local(ctx: &Ctx) -> RowResult {
    let wasm = wasm_sandbox_guests::HELLO_WASM;
    let engine = sandbox_engine()?;
    let settings = settings();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (plain, _d1) = new_cache(None);
    let (with_remote, _d2) = new_cache(Some(remote(&store, "bench")));
    plain.get_or_compile(&engine, wasm, &settings)?;
    with_remote.get_or_compile(&engine, wasm, &settings)?;
    let disk_load = |c: &CompilationCache| {
        c.clear_memory();
        c.get_or_compile(&engine, wasm, &settings)
            .expect("disk load")
    };
    let disk = compare(
        "warm disk load, remote tier configured vs not, medium",
        || disk_load(&plain),
        || disk_load(&with_remote),
        &ctx.config(Scale::Medium),
    )
    .with_group("remote")
    .with_phase(Phase::Compilation)
    .with_names(
        "disk load, no remote tier",
        "disk load, remote tier configured",
    )
    .with_measures(
        "hello.wasm (36 KB), warm on disk in both caches (memory layer cleared before every \
         load): a cache with a remote tier (in-memory store) against one without. A hit on \
         disk never reaches the remote tier.",
    )
    .with_goal(Goal::slowdown_at_most(1.03));
    let memory = compare(
        "memory hit, remote tier configured vs not, medium",
        || plain.get_or_compile(&engine, wasm, &settings).expect("hit"),
        || {
            with_remote
                .get_or_compile(&engine, wasm, &settings)
                .expect("hit")
        },
        &ctx.config(Scale::Fast),
    )
    .with_group("remote")
    .with_phase(Phase::Compilation)
    .with_names(
        "memory hit, no remote tier",
        "memory hit, remote tier configured",
    )
    .with_measures("hello.wasm (36 KB) in the memory layer of both caches.")
    .with_goal(Goal::slowdown_at_most(1.03));
    let remote_calls = with_remote.stats().remote_hits + with_remote.stats().remote_misses;
    if remote_calls != 1 {
        return Err(format!("the warm path reached the remote tier {remote_calls} times").into());
    }
    Ok(vec![disk, memory])
}

/// A `moto_server` on a free loopback port with a bucket `bench`, killed when dropped.
struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start() -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("not installed (pip install \"moto[server]\"): {e}"))?;
        let mut moto = Moto {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&moto.addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if Instant::now() > deadline {
                return Err("did not listen within 30 s".into());
            }
            // Waiting for another process to bind its port.
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut stream = TcpStream::connect_timeout(&moto.addr, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "PUT /bench HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            moto.addr
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        if !response.starts_with("HTTP/1.1 200") {
            return Err(format!(
                "creating the bucket: {}",
                response.lines().next().unwrap_or("")
            ));
        }
        Ok(moto)
    }
}
