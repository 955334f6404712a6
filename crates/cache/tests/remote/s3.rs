//! The remote tier on the wire: S3 as served by `moto_server` (`pip install
//! "moto[server]"`) on 127.0.0.1, started by the test on a free port and killed after it.
//! When the server cannot be started, the test says so loudly on stderr (`SKIPPED: ...`)
//! and does not fail; `.ci/run` installs moto so that CI runs it for real.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::{Host, answer, block_on, engine, remote, settings, wat};

/// A `moto_server` process, killed (by its pid) when dropped.
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

fn skip(why: &str) {
    eprintln!("\nSKIPPED: s3 wire test: {why}\n");
}

/// Starts `moto_server` on a free loopback port and waits (bounded) until it answers.
fn start_moto() -> Result<Moto, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run moto_server (pip install \"moto[server]\"): {e}"))?;
    let mut moto = Moto {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect_timeout(&moto.addr, Duration::from_millis(200)).is_ok() {
            return Ok(moto);
        }
        if let Ok(Some(status)) = moto.child.try_wait() {
            return Err(format!("moto_server exited with {status}"));
        }
        if Instant::now() > deadline {
            return Err("moto_server did not listen within 30 s".into());
        }
        // Waiting for another process to bind its port: nothing to wait on but time.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Creates `bucket` (moto accepts an unsigned `PUT /bucket`).
fn create_bucket(addr: SocketAddr, bucket: &str) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    if response.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "creating the bucket: {}",
            response.lines().next().unwrap_or("")
        ))
    }
}

fn s3_store(addr: SocketAddr, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(format!("http://{addr}"))
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .expect("s3 store"),
    )
}

#[test]
fn s3_on_loopback_publishes_once_and_serves_verified_artifacts() {
    let moto = match start_moto() {
        Ok(m) => m,
        Err(why) => return skip(&why),
    };
    if let Err(why) = create_bucket(moto.addr, "fleet") {
        return skip(&why);
    }
    let store = s3_store(moto.addr, "fleet");

    // The server must refuse a second put-if-absent, or the single-writer guarantee
    // means nothing on it.
    let probe = Path::from("probe/create-twice");
    let create = |body: &'static str| {
        block_on(store.put_opts(
            &probe,
            PutPayload::from(body),
            PutOptions::from(PutMode::Create),
        ))
    };
    create("first").expect("first conditional put");
    match create("second") {
        Err(object_store::Error::AlreadyExists { .. }) => {}
        Err(other) => panic!("a second PutMode::Create gave {other:?}, not AlreadyExists (412)"),
        Ok(_) => {
            return skip(
                "this moto_server accepts a second PutMode::Create (no If-None-Match); \
                         the single-writer test needs a server that refuses it",
            );
        }
    }

    // Racing hosts on one cold key: one compile, the others load its artifact.
    const HOSTS: usize = 4;
    let hosts: Vec<Host> = (0..HOSTS)
        .map(|_| Host::new(remote(&store, "wire")))
        .collect();
    let engine = engine();
    let wasm = wat(77, 300);
    let barrier = std::sync::Barrier::new(HOSTS);
    std::thread::scope(|s| {
        for h in &hosts {
            let (engine, wasm, barrier) = (&engine, &wasm, &barrier);
            s.spawn(move || {
                barrier.wait();
                let m = h.cache.get_or_compile(engine, wasm, &settings()).unwrap();
                assert_eq!(answer(engine, &m), 77);
            });
        }
    });
    for h in &hosts {
        assert!(h.cache.flush_remote(Duration::from_secs(20)));
    }
    let stats: Vec<_> = hosts.iter().map(Host::stats).collect();
    assert_eq!(
        stats.iter().map(|s| s.compiles).sum::<u64>(),
        1,
        "{stats:#?}"
    );
    assert_eq!(
        stats.iter().map(|s| s.remote_hits).sum::<u64>(),
        HOSTS as u64 - 1
    );
    assert_eq!(
        stats
            .iter()
            .map(|s| s.remote_errors + s.remote_verify_failures)
            .sum::<u64>(),
        0
    );

    // The listing sees one artifact of this engine, and no lease left behind.
    let listing = hosts[0]
        .cache
        .remote_listing(Some(&engine), Duration::from_secs(20))
        .unwrap()
        .unwrap();
    let current: Vec<_> = listing.engines.iter().filter(|e| e.current).collect();
    assert_eq!(
        (current.len(), current[0].artifacts, current[0].leases),
        (1, 1, 0),
        "{listing:#?}"
    );

    // An expired lease is taken over through the server's conditional replace (or its
    // delete and put-if-absent), without waiting.
    let cold = wat(78, 0);
    let scratch = crate::memory_store();
    let _probe = crate::publish(remote(&scratch, "wire-lease"), &cold);
    let (artifact, _) = crate::the_artifact(&scratch);
    let lease = artifact.replace(".wsc", ".lease");
    crate::overwrite(
        &store,
        &lease,
        b"wasm-sandbox-lease v1\nholder 00000000000000000000000000000001\nexpires 1\n".to_vec(),
    );
    let host = Host::new(remote(&store, "wire-lease"));
    let start = Instant::now();
    host.cache
        .get_or_compile(&engine, &cold, &settings())
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(host.cache.flush_remote(Duration::from_secs(20)));
    let s = host.stats();
    assert_eq!(
        (
            s.compiles,
            s.remote_lease_waits,
            s.remote_errors,
            s.remote_published
        ),
        (1, 0, 0, 1),
        "{s:#?}"
    );
    let left: Vec<String> = crate::objects(&store)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("wire-lease/"))
        .collect();
    assert_eq!(left, vec![artifact], "the taken-over lease was released");
    drop(moto);
}
