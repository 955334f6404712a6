//! A store that answers slowly, or only with errors: every call still returns within the
//! configured timeout with a locally compiled module, and the failures are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::{Host, answer, engine, memory_store, remote, settings, wat};

#[test]
fn a_slow_store_degrades_to_a_local_compile_within_the_timeout() {
    let slow: Arc<dyn ObjectStore> = Arc::new(ThrottledStore::new(
        object_store::memory::InMemory::new(),
        ThrottleConfig {
            wait_get_per_call: Duration::from_secs(30),
            wait_put_per_call: Duration::from_secs(30),
            wait_delete_per_call: Duration::from_secs(30),
            ..ThrottleConfig::default()
        },
    ));
    let timeout = Duration::from_millis(300);
    let host = Host::new(remote(&slow, "slow").timeout(timeout));
    let engine = engine();
    let start = Instant::now();
    let module = host
        .cache
        .get_or_compile(&engine, &wat(50, 0), &settings())
        .unwrap();
    let took = start.elapsed();
    assert_eq!(answer(&engine, &module), 50);
    // One fetch timed out (the lease was not tried after that), then a local compile;
    // publication runs in the background and is not waited for.
    assert!(took < timeout + Duration::from_secs(2), "{took:?}");
    let s = host.stats();
    assert_eq!(
        (s.compiles, s.remote_hits, s.remote_misses, s.remote_errors),
        (1, 0, 1, 1),
        "{s:#?}"
    );
    assert!(s.remote_fetch_time >= timeout);
    // The publication is bounded too: flushing gives up, it does not hang.
    let start = Instant::now();
    assert!(!host.cache.flush_remote(Duration::from_millis(200)));
    assert!(start.elapsed() < Duration::from_secs(2));
    // The warm path never touches the store again.
    let start = Instant::now();
    host.cache
        .get_or_compile(&engine, &wat(50, 0), &settings())
        .unwrap();
    assert!(start.elapsed() < timeout);
    assert_eq!(host.stats().memory_hits, 1);
}

/// A store whose every operation fails, counting calls.
#[derive(Debug, Default)]
struct Failing {
    calls: AtomicU64,
}

impl std::fmt::Display for Failing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Failing")
    }
}

impl Failing {
    fn fail<T>(&self) -> object_store::Result<T> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Err(object_store::Error::Generic {
            store: "Failing",
            source: "the store is down".into(),
        })
    }
}

#[async_trait]
impl ObjectStore for Failing {
    async fn put_opts(
        &self,
        _: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.fail()
    }
    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.fail()
    }
    async fn get_opts(&self, _: &Path, _: GetOptions) -> object_store::Result<GetResult> {
        self.fail()
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        use futures::StreamExt;
        self.calls.fetch_add(1, Ordering::Relaxed);
        locations
            .map(|_| {
                Err(object_store::Error::Generic {
                    store: "Failing",
                    source: "the store is down".into(),
                })
            })
            .boxed()
    }
    fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        use futures::StreamExt;
        let error: object_store::Result<ObjectMeta> = self.fail();
        futures::stream::once(async move { error }).boxed()
    }
    async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
        self.fail()
    }
    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        self.fail()
    }
}

#[test]
fn a_failing_store_degrades_to_local_compiles_and_counts_each_failure() {
    let failing = Arc::new(Failing::default());
    let store: Arc<dyn ObjectStore> = failing.clone();
    let host = Host::new(remote(&store, "down").timeout(Duration::from_secs(2)));
    let engine = engine();
    let start = Instant::now();
    for n in 0..3 {
        let module = host
            .cache
            .get_or_compile(&engine, &wat(60 + n, 0), &settings())
            .unwrap();
        assert_eq!(answer(&engine, &module), 60 + n);
    }
    assert!(host.cache.flush_remote(Duration::from_secs(10)));
    // Each fetch was retried (GETs are idempotent) with short pauses, well inside the
    // timeout; the publications were tried once each (puts are not retried blindly).
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let s = host.stats();
    assert_eq!((s.compiles, s.remote_misses), (3, 3), "{s:#?}");
    assert_eq!(s.remote_errors, 6, "3 fetches and 3 publications: {s:#?}");
    assert_eq!(failing.calls.load(Ordering::Relaxed), 3 * 3 + 3);
    let err = host
        .cache
        .remote_listing(None, Duration::from_secs(2))
        .unwrap_err();
    assert!(err.to_string().contains("the store is down"), "{err}");
}

#[test]
fn a_store_that_stops_answering_mid_wait_does_not_hold_the_call() {
    // A live lease of another host, then the store slows to a crawl while we wait for it:
    // the wait ends at the operation timeout, not at the lease's expiry.
    let inner = Arc::new(ThrottledStore::new(
        object_store::memory::InMemory::new(),
        ThrottleConfig::default(),
    ));
    let store: Arc<dyn ObjectStore> = inner.clone();
    let wasm = wat(70, 0);
    let scratch = memory_store();
    let _probe = crate::publish(remote(&scratch, "mid"), &wasm);
    let (artifact, _) = crate::the_artifact(&scratch);
    let lease = artifact.replace(".wsc", ".lease");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 60_000;
    crate::overwrite(
        &store,
        &lease,
        format!(
            "wasm-sandbox-lease v1\nholder {:032x}\nexpires {expires}\n",
            7u128
        )
        .into_bytes(),
    );
    let timeout = Duration::from_millis(500);
    let host = Host::new(remote(&store, "mid").timeout(timeout));
    let engine = engine();
    std::thread::scope(|s| {
        let call = s.spawn(|| {
            let start = Instant::now();
            host.cache
                .get_or_compile(&engine, &wasm, &settings())
                .unwrap();
            start.elapsed()
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while host.stats().remote_lease_waits == 0 {
            assert!(Instant::now() < deadline, "never waited");
            std::thread::yield_now();
        }
        inner.config_mut(|c| c.wait_get_per_call = Duration::from_secs(30));
        let took = call.join().unwrap();
        assert!(took < Duration::from_secs(5), "{took:?}");
    });
    let s = host.stats();
    assert_eq!(
        (s.compiles, s.remote_lease_waits, s.remote_errors),
        (1, 1, 1),
        "{s:#?}"
    );
}
