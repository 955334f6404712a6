//! The remote tier (feature `remote`): verified artifacts on object storage, shared by a
//! fleet. See `docs/remote-cache.md` for the design and `docs/security.md` for the trust
//! model.
//!
//! Under the disk layer: a key missing from memory and disk is fetched from the store,
//! verified ([`object::verify`]), written into the disk layer by its usual temporary file
//! and rename, and loaded from there (verified once more on the handle wasmtime maps). A
//! key missing from the store too is compiled by one host of the fleet: the first to
//! create its lease object (put-if-absent); the others poll for the artifact until the
//! lease expires (bounded by [`RemoteConfig::lease_ttl`]), then compile themselves.
//! Artifacts are published put-if-absent, in the background, and never overwritten or
//! deleted.
//!
//! Every remote operation runs on the tier's own runtime ([`io::Io`]) under a deadline;
//! a failure or a timeout is a counted, logged miss, and the caller compiles.

mod io;
mod lease;
mod object;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion};
use parking_lot::Mutex;

use crate::stats::{bump, time};
use crate::{CacheError, CacheKey, CacheStats};

use self::io::{Io, NoAnswer};
use self::lease::{Lease, MAX_LEASE_BYTES};
use self::object::MacKey;

/// A fetched object's bytes (one chunk, as most stores answer small objects, is kept
/// without a copy).
type Bytes = bytes::Bytes;

/// The environment variable holding the fleet's integrity key as 64 hex digits.
pub const KEY_ENV: &str = "WASM_SANDBOX_REMOTE_CACHE_KEY";
/// The environment variable naming a file that holds the fleet's integrity key (64 hex
/// digits, or at least 32 raw bytes).
pub const KEY_FILE_ENV: &str = "WASM_SANDBOX_REMOTE_CACHE_KEY_FILE";

/// Suffix of artifact objects.
const ARTIFACT_SUFFIX: &str = ".wsc";
/// Suffix of lease objects.
const LEASE_SUFFIX: &str = ".lease";

/// GET attempts within one operation's deadline (GETs are idempotent).
const GET_ATTEMPTS: u32 = 3;
/// The first pause between two GET attempts; doubled each time.
const GET_BACKOFF: Duration = Duration::from_millis(50);
/// Pauses between two polls of a key another host is compiling: from the first, doubling,
/// up to the last.
const POLL_FIRST: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(500);
/// A lease with less than this left counts as expired (the wait for it ends on a timer
/// whose clock is not the lease's).
const EXPIRY_SLACK: Duration = Duration::from_millis(20);
/// Rounds of "create the lease, or wait for its holder" before compiling without one.
const LEASE_ROUNDS: usize = 3;
/// The most objects `cache stats --remote-cache` lists.
const MAX_LISTED: usize = 10_000_000;

/// Where the remote tier's objects live.
#[derive(Clone)]
enum Target {
    /// A URL for `object_store::parse_url_opts`, with options from the environment.
    Url(String),
    /// A store the embedder built, and the prefix inside it.
    Store(Arc<dyn ObjectStore>, String),
}

/// How the remote tier of a [`CompilationCache`](crate::CompilationCache) is set up; give
/// it to [`CacheConfig::remote_config`](crate::CacheConfig::remote_config) (or use
/// [`CacheConfig::remote`](crate::CacheConfig::remote) for a URL with the defaults).
/// Requires the `remote` feature.
///
/// ```
/// use std::time::Duration;
/// use wasm_sandbox_cache::{CacheConfig, RemoteConfig};
/// let config = CacheConfig::new("/var/cache/my-app/wasm").remote_config(
///     RemoteConfig::url("s3://my-bucket/wasm-artifacts")
///         .timeout(Duration::from_secs(2))
///         .lease_ttl(Duration::from_secs(30)),
/// );
/// # drop(config);
/// ```
#[derive(Clone)]
pub struct RemoteConfig {
    target: Target,
    timeout: Duration,
    publish_timeout: Duration,
    lease_ttl: Duration,
    max_object_bytes: u64,
    key: Option<Arc<[u8]>>,
    key_from_env: bool,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::Url(url) => redact(url),
            Target::Store(store, prefix) => format!("{store} (prefix `{prefix}`)"),
        };
        f.debug_struct("RemoteConfig")
            .field("target", &target)
            .field("timeout", &self.timeout)
            .field("publish_timeout", &self.publish_timeout)
            .field("lease_ttl", &self.lease_ttl)
            .field("max_object_bytes", &self.max_object_bytes)
            .field("integrity_key", &self.key.as_ref().map(|_| "<set>"))
            .field("key_from_env", &self.key_from_env)
            .finish()
    }
}

impl RemoteConfig {
    /// The default of [`RemoteConfig::timeout`]: 5 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default of [`RemoteConfig::publish_timeout`]: 60 seconds.
    pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default of [`RemoteConfig::lease_ttl`]: 60 seconds.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);
    /// The default of [`RemoteConfig::max_object_bytes`]: 1 GiB.
    pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;

    /// A store chosen by URL: `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix` (and the other forms `object_store` knows),
    /// `file:///absolute/path`, or `memory://` (a store private to this cache, for tests).
    ///
    /// Credentials, region and endpoint come from each backend's usual environment
    /// variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`), read when the cache opens. The URL is
    /// parsed then too: a malformed one fails [`CompilationCache::open`] with
    /// [`CacheError::Remote`](crate::CacheError::Remote). Secrets (the URL's user
    /// information and query, and every variable's value) are never logged.
    ///
    /// [`CompilationCache::open`]: crate::CompilationCache::open
    pub fn url(url: impl Into<String>) -> Self {
        Self::with_target(Target::Url(url.into()))
    }

    /// A store the embedder built (any `object_store` implementation, such as a wrapper
    /// that adds its own metrics), with the objects under `prefix` (may be empty).
    pub fn store(store: Arc<dyn ObjectStore>, prefix: impl Into<String>) -> Self {
        Self::with_target(Target::Store(store, prefix.into()))
    }

    fn with_target(target: Target) -> Self {
        RemoteConfig {
            target,
            timeout: Self::DEFAULT_TIMEOUT,
            publish_timeout: Self::DEFAULT_PUBLISH_TIMEOUT,
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            max_object_bytes: Self::DEFAULT_MAX_OBJECT_BYTES,
            key: None,
            key_from_env: true,
        }
    }

    /// The bound on each remote operation a lookup waits for: one fetch (with its
    /// retries), one lease operation. Past it the lookup is a miss (counted in
    /// [`CacheStats::remote_errors`]) and the module is compiled here. Default:
    /// [`RemoteConfig::DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on publishing one artifact. Publication runs in the background (the
    /// compiled module is returned at once); see
    /// [`CompilationCache::flush_remote`](crate::CompilationCache::flush_remote). Default:
    /// [`RemoteConfig::DEFAULT_PUBLISH_TIMEOUT`].
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// How long a lease lasts: the longest a host that died while compiling delays the
    /// others, and the longest this host waits for another host's compile before
    /// compiling itself (whatever expiry the lease object claims). Set it above the
    /// longest compile of the fleet's modules. Default: [`RemoteConfig::DEFAULT_LEASE_TTL`].
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// The largest remote object fetched; a larger one is refused (a verification
    /// failure) without being read past this bound. Default:
    /// [`RemoteConfig::DEFAULT_MAX_OBJECT_BYTES`].
    pub fn max_object_bytes(mut self, bytes: u64) -> Self {
        self.max_object_bytes = bytes;
        self
    }

    /// The fleet's integrity key: at least 32 bytes of secret key material (a shorter
    /// one fails [`CompilationCache::open`](crate::CompilationCache::open)). With a key,
    /// every published object carries a keyed blake3 MAC of its header, and an object
    /// without a valid one is never loaded (a verification failure). Default: none, or
    /// the key from the environment (see [`RemoteConfig::key_from_env`]).
    ///
    /// Without a key, anyone who can write the bucket can make every host of the fleet
    /// run native code of their choosing: see `docs/security.md`.
    pub fn integrity_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.key = Some(Arc::from(secret.as_ref()));
        self
    }

    /// Whether, without [`RemoteConfig::integrity_key`], the key is read when the cache
    /// opens from `WASM_SANDBOX_REMOTE_CACHE_KEY` (64 hex digits) or from the file named
    /// by `WASM_SANDBOX_REMOTE_CACHE_KEY_FILE` (64 hex digits, or at least 32 raw bytes).
    /// Default: `true`.
    pub fn key_from_env(mut self, read: bool) -> Self {
        self.key_from_env = read;
        self
    }
}

/// What a remote store holds, per engine: from
/// [`CompilationCache::remote_listing`](crate::CompilationCache::remote_listing).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RemoteListing {
    /// The store, with any secret in its URL removed.
    pub store: String,
    /// One entry per engine (compatibility hash) with objects in the store.
    pub engines: Vec<RemoteEngine>,
    /// Objects under the prefix that are not artifacts or leases of ours.
    pub other_objects: u64,
}

/// The objects of one engine in a remote store.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RemoteEngine {
    /// The engine's fingerprint (blake3 of its compatibility hash), in hex: the name of
    /// its directory in the store.
    pub engine: String,
    /// Whether it is the engine the listing was asked about (this binary's).
    pub current: bool,
    /// Artifact objects.
    pub artifacts: u64,
    /// Their bytes.
    pub artifact_bytes: u64,
    /// Lease objects (hosts compiling now, or leases their holder did not remove).
    pub leases: u64,
}

/// What a lookup in the remote tier ended with.
pub(crate) enum Obtained<M> {
    /// A verified artifact, installed on disk and loaded.
    Module(M),
    /// Compile here; with a lease when this host won it (publish, then release it).
    Compile(Option<LeaseGuard>),
}

/// What installing a fetched artifact on disk did (see `CompilationCache::install_remote`).
pub(crate) enum Installed<M> {
    /// Written, verified on disk and loaded.
    Loaded(M),
    /// Written, and refused by the disk layer's verification or by wasmtime.
    Rejected,
    /// Not written (disk full, larger than the disk bound, ...).
    NotStored,
}

/// Whether the store takes `PutMode::Update` (conditional replace), learnt on first use.
const UPDATE_UNKNOWN: u8 = 0;
const UPDATE_YES: u8 = 1;
const UPDATE_NO: u8 = 2;

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    verify_failures: AtomicU64,
    errors: AtomicU64,
    bytes_fetched: AtomicU64,
    fetch_nanos: AtomicU64,
    lease_waits: AtomicU64,
    lease_wait_nanos: AtomicU64,
    published: AtomicU64,
}

/// What the tier's tasks share.
struct Shared {
    store: Arc<dyn ObjectStore>,
    /// For messages: the URL without secrets, or the store's `Display`.
    name: String,
    holder: u128,
    supports_update: AtomicU8,
    counters: Counters,
}

/// The remote tier of one cache.
pub(crate) struct RemoteTier {
    shared: Arc<Shared>,
    io: Io,
    prefix: Path,
    timeout: Duration,
    publish_timeout: Duration,
    lease_ttl: Duration,
    max_object_bytes: u64,
    mac: Option<MacKey>,
    /// Publications not known to be finished.
    pending: Mutex<Vec<crossbeam::channel::Receiver<Option<()>>>>,
}

/// A lease this host holds: released (deleted if still ours) when dropped, in the
/// background.
pub(crate) struct LeaseGuard {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
    path: Path,
    timeout: Duration,
    released: bool,
}

impl LeaseGuard {
    /// Releases the lease now, inside a task that is already on the tier's runtime.
    async fn release(mut self) {
        self.released = true;
        release(self.shared.clone(), self.path.clone()).await;
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if !self.released {
            let shared = self.shared.clone();
            let path = self.path.clone();
            let timeout = self.timeout;
            self.handle.spawn(async move {
                let _ = tokio::time::timeout(timeout, release(shared, path)).await;
            });
        }
    }
}

/// Deletes the lease at `path` if it is still this host's (a lease another host took over
/// after ours expired is left alone). Stores have no conditional delete: between the read
/// and the delete another host could take over an expired lease and lose it here; the cost
/// is one extra compile.
async fn release(shared: Arc<Shared>, path: Path) {
    let ours = match get_bounded(&*shared.store, &path, MAX_LEASE_BYTES as u64).await {
        Ok(Some((bytes, _))) => Lease::decode(&bytes).is_some_and(|l| l.holder == shared.holder),
        _ => false,
    };
    if ours && let Err(error) = delete(&*shared.store, &path).await {
        let error = scrub(&error);
        tracing::debug!(store = %shared.name, %path, %error, "cannot remove our lease; it expires by itself");
    }
}

/// Deletes one object.
async fn delete(store: &dyn ObjectStore, path: &Path) -> object_store::Result<()> {
    let location = path.clone();
    let mut results =
        store.delete_stream(futures::stream::once(async move { Ok(location) }).boxed());
    while let Some(result) = results.next().await {
        match result {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads an object, refusing one larger than `max` bytes (by its metadata, and by what
/// arrives), with its version. `Ok(None)`: not found.
async fn get_bounded(
    store: &dyn ObjectStore,
    path: &Path,
    max: u64,
) -> Result<Option<(Bytes, UpdateVersion)>, GetError> {
    let result = match store.get_opts(path, GetOptions::default()).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(GetError::Store(e)),
    };
    if result.meta.size > max {
        return Err(GetError::TooLarge(result.meta.size));
    }
    let version = UpdateVersion {
        e_tag: result.meta.e_tag.clone(),
        version: result.meta.version.clone(),
    };
    let mut chunks = Vec::new();
    let mut total = 0u64;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(GetError::Store)?;
        total += chunk.len() as u64;
        if total > max {
            return Err(GetError::TooLarge(total));
        }
        chunks.push(chunk);
    }
    let bytes = match chunks.len() {
        1 => chunks.pop().expect("one chunk"),
        _ => {
            let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            for chunk in chunks {
                out.extend_from_slice(&chunk);
            }
            Bytes::from(out)
        }
    };
    Ok(Some((bytes, version)))
}

#[derive(Debug)]
enum GetError {
    Store(object_store::Error),
    TooLarge(u64),
}

/// The result of fetching an object (after retries).
enum Fetch {
    Found(Bytes),
    Missing,
    /// Refused before it was read in full (too large).
    Refused(String),
    /// The store failed or did not answer in time.
    Failed(String),
}

/// The result of trying to create a lease.
enum LeaseAttempt {
    Created,
    /// Another host's lease (or something unreadable under its name), with its version.
    Held(Option<Lease>, UpdateVersion),
    /// Gone between the failed create and the read: try again.
    Vanished,
    Failed(String),
}

/// What waiting for another host's compile ended with.
enum Waited {
    Artifact(Bytes),
    /// The lease is gone (its holder released it) or expired, and no artifact appeared.
    LeaseEnded,
    /// The wait bound passed.
    GaveUp,
    Failed(String),
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `url` for messages: scheme, host and path only (no user information, no query, which
/// can hold credentials such as SAS tokens).
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", u.scheme(), u.path())
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// `error`'s text with anything that looks like a secret in a URL removed: the user
/// information (`user:password@`) and the query (`?...`, where SAS tokens and presigned
/// signatures live) of every URL in it. Store errors can quote the request's URL.
fn scrub(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | '`'))
            .unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        let url = match url.find('@') {
            Some(userinfo) if url[..userinfo].find('/').is_none() => &url[userinfo + 1..],
            _ => url,
        };
        match url.split_once('?') {
            Some((base, _)) => {
                out.push_str(base);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The environment variables a backend reads, as object_store option pairs (lowercased
/// names; the builders ignore the ones they do not know).
fn env_options(scheme: &str) -> Vec<(String, String)> {
    let prefixes: &[&str] = match scheme {
        "s3" | "s3a" | "http" | "https" => &["AWS_"],
        "gs" => &["GOOGLE_"],
        "az" | "adl" | "azure" | "abfs" | "abfss" => &["AZURE_"],
        _ => &[],
    };
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// Parses key material: 64 hex digits (surrounding white space ignored), or at least 32
/// raw bytes.
fn parse_key_material(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let trimmed = std::str::from_utf8(bytes).map(str::trim).ok();
    if let Some(text) = trimmed
        && text.len() == 64
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let key = CacheKey::from_hex(text).expect("64 hex digits");
        return Ok(key.as_bytes().to_vec());
    }
    if bytes.len() >= 32 {
        return Ok(bytes.to_vec());
    }
    Err("an integrity key must be 64 hex digits or at least 32 bytes".to_owned())
}

/// The integrity key from the environment, if one is set there.
fn key_from_env() -> Result<Option<Vec<u8>>, String> {
    let inline = std::env::var_os(KEY_ENV);
    let file = std::env::var_os(KEY_FILE_ENV);
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!(
            "both {KEY_ENV} and {KEY_FILE_ENV} are set; set one"
        )),
        (Some(value), None) => {
            let value = value
                .into_string()
                .map_err(|_| format!("{KEY_ENV} is not UTF-8"))?;
            let value = value.trim();
            if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("{KEY_ENV} must be 64 hex digits"));
            }
            parse_key_material(value.as_bytes()).map(Some)
        }
        (None, Some(path)) => {
            let path = std::path::PathBuf::from(path);
            // Bounded: a key file is small; never read a device or a huge file whole.
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(
                    std::fs::File::open(&path).map_err(|e| {
                        format!(
                            "cannot open the integrity key file `{}`: {e}",
                            path.display()
                        )
                    })?,
                    4096,
                ),
                &mut bytes,
            )
            .map_err(|e| {
                format!(
                    "cannot read the integrity key file `{}`: {e}",
                    path.display()
                )
            })?;
            parse_key_material(&bytes)
                .map(Some)
                .map_err(|e| format!("`{}`: {e}", path.display()))
        }
        (None, None) => Ok(None),
    }
}

fn remote_error(message: impl Into<String>) -> CacheError {
    CacheError::Remote {
        message: message.into(),
    }
}

impl crate::CacheConfig {
    /// A remote tier on the store at `url` (see [`RemoteConfig::url`]), with
    /// [`RemoteConfig`]'s defaults. Default: no remote tier. Requires the `remote`
    /// feature, and a disk layer (a cache without one ignores the remote tier, with a
    /// warning): remote artifacts are installed on disk and loaded from there.
    pub fn remote(self, url: impl Into<String>) -> Self {
        self.remote_config(RemoteConfig::url(url))
    }

    /// A remote tier set up by `remote`. Default: none. Requires the `remote` feature.
    pub fn remote_config(mut self, remote: RemoteConfig) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The remote tier's configuration, if any. Requires the `remote` feature.
    pub fn remote_settings(&self) -> Option<&RemoteConfig> {
        self.remote.as_ref()
    }
}

impl crate::CompilationCache {
    /// Whether a remote tier is in use. Requires the `remote` feature.
    pub fn is_remote_enabled(&self) -> bool {
        self.remote.is_some()
    }

    /// Waits for the artifacts this cache compiled to be published to the remote store
    /// (publication runs in the background, so that a compile returns at once), for at
    /// most `timeout`. `true` when every publication started so far has finished
    /// (published, found already there, or failed: see [`CacheStats::remote_published`]
    /// and [`CacheStats::remote_errors`]); also `true` without a remote tier. Call it
    /// before the process exits if later hosts should find this one's artifacts;
    /// publications still running when the cache is dropped are abandoned. Requires the
    /// `remote` feature.
    pub fn flush_remote(&self, timeout: Duration) -> bool {
        self.remote.as_ref().is_none_or(|r| r.flush(timeout))
    }

    /// Lists what the remote store holds, per engine (compatibility hash), marking
    /// `engine`'s as [`RemoteEngine::current`]; `None` without a remote tier. Bounded by
    /// `timeout` (listing a large bucket takes one request per thousand objects).
    /// Requires the `remote` feature.
    ///
    /// # Errors
    ///
    /// [`CacheError::Remote`] if the store cannot be listed in time.
    pub fn remote_listing(
        &self,
        engine: Option<&wasmtime::Engine>,
        timeout: Duration,
    ) -> Result<Option<RemoteListing>, CacheError> {
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        let fingerprint = engine.map(crate::key::engine_fingerprint);
        remote.list(fingerprint.as_ref(), timeout).map(Some)
    }
}

impl RemoteTier {
    /// The tier for a cache opened with `config`, if it has one and a disk layer.
    pub(crate) fn open_for(
        config: &crate::CacheConfig,
        disk_enabled: bool,
    ) -> Result<Option<RemoteTier>, CacheError> {
        let Some(remote) = &config.remote else {
            return Ok(None);
        };
        let tier = RemoteTier::open(remote)?;
        if !disk_enabled {
            tracing::warn!(
                store = %tier.name(),
                "the remote compilation cache needs a disk layer (remote artifacts are \
                 installed on disk and loaded from there); running without it"
            );
            return Ok(None);
        }
        Ok(Some(tier))
    }
}

impl RemoteTier {
    /// Builds the tier: parses the URL (with the environment's options), reads the key,
    /// starts the runtime thread. Nothing is sent to the store yet.
    pub(crate) fn open(config: &RemoteConfig) -> Result<RemoteTier, CacheError> {
        let (store, prefix, name): (Arc<dyn ObjectStore>, Path, String) = match &config.target {
            Target::Url(text) => {
                let name = redact(text);
                let url = url::Url::parse(text)
                    .map_err(|e| remote_error(format!("`{name}` is not a URL: {e}")))?;
                let (store, prefix) = object_store::parse_url_opts(&url, env_options(url.scheme()))
                    .map_err(|e| {
                        remote_error(format!("cannot use the store `{name}`: {}", scrub(&e)))
                    })?;
                (Arc::from(store), prefix, name)
            }
            Target::Store(store, prefix) => {
                let prefix = Path::parse(prefix)
                    .map_err(|e| remote_error(format!("`{prefix}` is not a store path: {e}")))?;
                (store.clone(), prefix, store.to_string())
            }
        };
        let secret = match &config.key {
            Some(key) => Some(key.to_vec()),
            None if config.key_from_env => key_from_env().map_err(remote_error)?,
            None => None,
        };
        let mac = match secret {
            Some(secret) if secret.len() < 32 => {
                return Err(remote_error(
                    "an integrity key must be at least 32 bytes of secret key material",
                ));
            }
            Some(secret) => Some(MacKey::derive(&secret)),
            None => None,
        };
        let io = Io::start().map_err(|e| {
            remote_error(format!("cannot start the remote cache's I/O thread: {e}"))
        })?;
        if mac.is_none() {
            tracing::info!(
                store = %name,
                "remote compilation cache without an integrity key: anyone who can write the \
                 store can make this host run code of their choosing (docs/security.md)"
            );
        }
        Ok(RemoteTier {
            shared: Arc::new(Shared {
                store,
                name,
                holder: new_holder_id(),
                supports_update: AtomicU8::new(UPDATE_UNKNOWN),
                counters: Counters::default(),
            }),
            io,
            prefix,
            timeout: config.timeout,
            publish_timeout: config.publish_timeout,
            lease_ttl: config.lease_ttl,
            max_object_bytes: config.max_object_bytes,
            mac,
            pending: Mutex::new(Vec::new()),
        })
    }

    /// The store's name for messages (no secrets).
    pub(crate) fn name(&self) -> &str {
        &self.shared.name
    }

    fn paths(&self, engine: &[u8; 32], key: &CacheKey) -> (Path, Path) {
        let dir = self.prefix.clone().join(hex(engine));
        (
            dir.clone().join(format!("{key}{ARTIFACT_SUFFIX}")),
            dir.join(format!("{key}{LEASE_SUFFIX}")),
        )
    }

    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    fn error(&self, key: &CacheKey, what: &str, error: &str) {
        bump(
            &self.counters().errors,
            "wasm_sandbox_cache_remote_errors_total",
            1,
        );
        tracing::warn!(store = %self.shared.name, %key, error, "remote compilation cache: {what}; compiling here");
    }

    fn rejected(&self, key: &CacheKey, path: &Path, reason: &dyn std::fmt::Display) {
        bump(
            &self.counters().verify_failures,
            "wasm_sandbox_cache_remote_verify_failures_total",
            1,
        );
        tracing::warn!(
            store = %self.shared.name,
            object = %path,
            %key,
            %reason,
            "remote artifact failed verification; not loaded (left in the store), compiling here"
        );
    }

    /// Looks `key` up in the store; `install` writes a fetched, verified artifact (given
    /// with its checked blake3) into the disk layer and loads it from there. See the module
    /// docs for the protocol.
    pub(crate) fn obtain<M>(
        &self,
        engine: &[u8; 32],
        key: &CacheKey,
        install: impl Fn(&[u8], [u8; 32]) -> Installed<M>,
    ) -> Obtained<M> {
        let (artifact, lease_path) = self.paths(engine, key);
        match self.fetch(&artifact) {
            Fetch::Found(object) => {
                return match self.accept(key, &artifact, &object, &install) {
                    Some(module) => Obtained::Module(module),
                    // Someone published a bad object under this name; no lease can help
                    // (our own publication will find the name taken).
                    None => self.miss(None),
                };
            }
            Fetch::Missing => {}
            Fetch::Refused(reason) => {
                self.rejected(key, &artifact, &reason);
                return self.miss(None);
            }
            Fetch::Failed(error) => {
                self.error(key, "cannot fetch the artifact", &error);
                return self.miss(None);
            }
        }

        // Nobody has published it: compile it here if we win the lease, else wait for
        // the winner.
        let waited_since = Instant::now();
        let wait_bound = far(waited_since, self.lease_ttl);
        let mut counted_wait = false;
        for _ in 0..LEASE_ROUNDS {
            let (held, version) = match self.try_lease(&lease_path) {
                LeaseAttempt::Created => {
                    return self.won_lease(key, &artifact, lease_path, &install);
                }
                LeaseAttempt::Vanished => continue,
                LeaseAttempt::Failed(error) => {
                    self.error(key, "cannot create the lease", &error);
                    return self.miss(None);
                }
                LeaseAttempt::Held(held, version) => (held, version),
            };
            let live = held
                .filter(|l| l.holder != self.shared.holder)
                .map(|l| l.remaining());
            match live {
                Some(remaining) if remaining > EXPIRY_SLACK => {
                    if !counted_wait {
                        counted_wait = true;
                        bump(
                            &self.counters().lease_waits,
                            "wasm_sandbox_cache_remote_lease_waits_total",
                            1,
                        );
                    }
                    // `remaining` comes from the store: bounded by our own lease time.
                    let until = far(Instant::now(), remaining).min(wait_bound);
                    let wait_start = Instant::now();
                    let waited = self.wait(&artifact, &lease_path, until);
                    time(
                        &self.counters().lease_wait_nanos,
                        "wasm_sandbox_cache_remote_lease_wait_seconds",
                        wait_start.elapsed(),
                    );
                    match waited {
                        Waited::Artifact(object) => {
                            bump(
                                &self.counters().bytes_fetched,
                                "wasm_sandbox_cache_remote_fetched_bytes_total",
                                object.len() as u64,
                            );
                            return match self.accept(key, &artifact, &object, &install) {
                                Some(module) => Obtained::Module(module),
                                None => self.miss(None),
                            };
                        }
                        Waited::LeaseEnded => continue,
                        // The lease expired before our own bound: take it over.
                        Waited::GaveUp if Instant::now() < wait_bound => continue,
                        Waited::GaveUp => {
                            tracing::info!(store = %self.shared.name, %key, waited = ?waited_since.elapsed(), "another host's compile did not publish in time; compiling here");
                            return self.miss(None);
                        }
                        Waited::Failed(error) => {
                            self.error(key, "cannot poll for the artifact", &error);
                            return self.miss(None);
                        }
                    }
                }
                // Expired, ours from an earlier life of this process, or not a lease at
                // all: take it over.
                _ => match self.take_over(&lease_path, version) {
                    Ok(true) => return self.won_lease(key, &artifact, lease_path, &install),
                    Ok(false) => continue,
                    Err(error) => {
                        self.error(key, "cannot take over an expired lease", &error);
                        return self.miss(None);
                    }
                },
            }
        }
        self.miss(None)
    }

    /// This host holds the lease: look once more for the artifact (its previous holder
    /// may have published and released it between our first look and our lease), else
    /// compile under the lease.
    fn won_lease<M>(
        &self,
        key: &CacheKey,
        artifact: &Path,
        lease_path: Path,
        install: &impl Fn(&[u8], [u8; 32]) -> Installed<M>,
    ) -> Obtained<M> {
        let guard = self.guard(lease_path);
        match self.fetch(artifact) {
            Fetch::Found(object) => match self.accept(key, artifact, &object, install) {
                Some(module) => Obtained::Module(module),
                None => self.miss(None),
            },
            Fetch::Missing => self.miss(Some(guard)),
            Fetch::Refused(reason) => {
                self.rejected(key, artifact, &reason);
                self.miss(None)
            }
            Fetch::Failed(error) => {
                self.error(key, "cannot fetch the artifact", &error);
                self.miss(None)
            }
        }
    }

    fn miss<M>(&self, lease: Option<LeaseGuard>) -> Obtained<M> {
        bump(
            &self.counters().misses,
            "wasm_sandbox_cache_remote_misses_total",
            1,
        );
        Obtained::Compile(lease)
    }

    fn guard(&self, path: Path) -> LeaseGuard {
        LeaseGuard {
            shared: self.shared.clone(),
            handle: self.io.handle(),
            path,
            timeout: self.timeout,
            released: false,
        }
    }

    /// Verifies a fetched object and installs it; counts the outcome.
    fn accept<M>(
        &self,
        key: &CacheKey,
        path: &Path,
        object: &[u8],
        install: &impl Fn(&[u8], [u8; 32]) -> Installed<M>,
    ) -> Option<M> {
        let verified = match object::verify(key, object, self.mac.as_ref()) {
            Ok(verified) => verified,
            Err(reason) => {
                self.rejected(key, path, &reason);
                return None;
            }
        };
        match install(&object[verified.artifact], verified.checksum) {
            Installed::Loaded(module) => {
                bump(
                    &self.counters().hits,
                    "wasm_sandbox_cache_remote_hits_total",
                    1,
                );
                Some(module)
            }
            Installed::Rejected => {
                self.rejected(key, path, &"refused once on disk (by the disk layer's checks or by wasmtime: another engine's artifact?)");
                None
            }
            Installed::NotStored => None,
        }
    }

    /// GETs an object with retries, within one deadline.
    fn fetch(&self, path: &Path) -> Fetch {
        let shared = self.shared.clone();
        let path = path.clone();
        let max = self.max_object_bytes;
        let start = Instant::now();
        let answer = self.io.run(self.timeout, async move {
            let mut pause = GET_BACKOFF;
            let mut attempt = 1;
            loop {
                match get_bounded(&*shared.store, &path, max).await {
                    Ok(Some((bytes, _))) => return Fetch::Found(bytes),
                    Ok(None) => return Fetch::Missing,
                    Err(GetError::TooLarge(size)) => {
                        return Fetch::Refused(format!(
                            "object of {size} bytes or more, larger than the {max}-byte bound"
                        ));
                    }
                    Err(GetError::Store(e)) if attempt >= GET_ATTEMPTS => {
                        return Fetch::Failed(scrub(&e));
                    }
                    Err(GetError::Store(_)) => {
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                        attempt += 1;
                    }
                }
            }
        });
        let fetch = answer.unwrap_or_else(|e| Fetch::Failed(no_answer(e, self.timeout)));
        time(
            &self.counters().fetch_nanos,
            "wasm_sandbox_cache_remote_fetch_seconds",
            start.elapsed(),
        );
        if let Fetch::Found(bytes) = &fetch {
            bump(
                &self.counters().bytes_fetched,
                "wasm_sandbox_cache_remote_fetched_bytes_total",
                bytes.len() as u64,
            );
        }
        fetch
    }

    /// Creates our lease put-if-absent; if one exists, reads it.
    fn try_lease(&self, path: &Path) -> LeaseAttempt {
        let shared = self.shared.clone();
        let path = path.clone();
        let lease = Lease::new(shared.holder, self.lease_ttl).encode();
        self.io
            .run(self.timeout, async move {
                let payload = PutPayload::from(lease.into_bytes());
                match shared
                    .store
                    .put_opts(&path, payload, PutOptions::from(PutMode::Create))
                    .await
                {
                    Ok(_) => return LeaseAttempt::Created,
                    Err(object_store::Error::AlreadyExists { .. }) => {}
                    Err(e) => return LeaseAttempt::Failed(scrub(&e)),
                }
                match get_bounded(&*shared.store, &path, MAX_LEASE_BYTES as u64).await {
                    Ok(Some((bytes, version))) => {
                        LeaseAttempt::Held(Lease::decode(&bytes), version)
                    }
                    Ok(None) => LeaseAttempt::Vanished,
                    // Not a lease of ours (too large): can be taken over.
                    Err(GetError::TooLarge(_)) => LeaseAttempt::Held(
                        None,
                        UpdateVersion {
                            e_tag: None,
                            version: None,
                        },
                    ),
                    Err(GetError::Store(e)) => LeaseAttempt::Failed(scrub(&e)),
                }
            })
            .unwrap_or_else(|e| LeaseAttempt::Failed(no_answer(e, self.timeout)))
    }

    /// Replaces an expired lease by ours. `Ok(false)`: another host was faster.
    ///
    /// Where the store has conditional replace (`PutMode::Update`: S3, GCS, Azure,
    /// memory), only a replace of the very version read succeeds, so exactly one host
    /// takes an expired lease over. Elsewhere (the local file system) the expired lease
    /// is deleted and created again put-if-absent: two hosts that read the same expired
    /// lease can both succeed (one deletes the other's new lease), which costs one extra
    /// compile, never a wrong artifact.
    fn take_over(&self, path: &Path, version: UpdateVersion) -> Result<bool, String> {
        let shared = self.shared.clone();
        let path = path.clone();
        let lease = Lease::new(shared.holder, self.lease_ttl).encode();
        self.io
            .run(self.timeout, async move {
                let payload = PutPayload::from(lease.into_bytes());
                let conditional = version.e_tag.is_some() || version.version.is_some();
                if conditional && shared.supports_update.load(Ordering::Relaxed) != UPDATE_NO {
                    let opts = PutOptions::from(PutMode::Update(version));
                    match shared.store.put_opts(&path, payload.clone(), opts).await {
                        Ok(_) => {
                            shared.supports_update.store(UPDATE_YES, Ordering::Relaxed);
                            return Ok(true);
                        }
                        Err(
                            object_store::Error::Precondition { .. }
                            | object_store::Error::AlreadyExists { .. }
                            | object_store::Error::NotFound { .. },
                        ) => return Ok(false),
                        Err(object_store::Error::NotImplemented { .. }) => {
                            shared.supports_update.store(UPDATE_NO, Ordering::Relaxed);
                        }
                        Err(e) => return Err(scrub(&e)),
                    }
                }
                delete(&*shared.store, &path).await.map_err(|e| scrub(&e))?;
                match shared
                    .store
                    .put_opts(&path, payload, PutOptions::from(PutMode::Create))
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    Err(e) => Err(scrub(&e)),
                }
            })
            .unwrap_or_else(|e| Err(no_answer(e, self.timeout)))
    }

    /// Polls for the artifact (and the lease) with backoff until `until`.
    fn wait(&self, artifact: &Path, lease: &Path, until: Instant) -> Waited {
        let shared = self.shared.clone();
        let (artifact, lease) = (artifact.clone(), lease.clone());
        let max = self.max_object_bytes;
        let timeout = self.timeout;
        let bound = until.saturating_duration_since(Instant::now());
        // Each poll is bounded by the operation timeout; the whole wait by `bound` plus
        // one poll.
        let deadline = bound.saturating_add(timeout);
        self.io
            .run(deadline, async move {
                let until = tokio::time::Instant::from_std(until);
                let mut pause = POLL_FIRST;
                loop {
                    let poll = async {
                        match get_bounded(&*shared.store, &artifact, max).await {
                            Ok(Some((bytes, _))) => return Some(Waited::Artifact(bytes)),
                            Ok(None) => {}
                            Err(GetError::TooLarge(size)) => {
                                return Some(Waited::Failed(format!("object of {size} bytes or more, larger than the {max}-byte bound")));
                            }
                            Err(GetError::Store(e)) => return Some(Waited::Failed(scrub(&e))),
                        }
                        match get_bounded(&*shared.store, &lease, MAX_LEASE_BYTES as u64).await {
                            Ok(Some((bytes, _))) => match Lease::decode(&bytes) {
                                Some(l) if !l.remaining().is_zero() => None,
                                _ => Some(Waited::LeaseEnded),
                            },
                            Ok(None) => {
                                // Released: the artifact may have landed just before.
                                match get_bounded(&*shared.store, &artifact, max).await {
                                    Ok(Some((bytes, _))) => Some(Waited::Artifact(bytes)),
                                    _ => Some(Waited::LeaseEnded),
                                }
                            }
                            Err(GetError::TooLarge(_)) => Some(Waited::LeaseEnded),
                            Err(GetError::Store(e)) => Some(Waited::Failed(scrub(&e))),
                        }
                    };
                    match tokio::time::timeout(timeout, poll).await {
                        Ok(Some(done)) => return done,
                        Ok(None) => {}
                        Err(_) => return Waited::Failed(format!("no answer within {timeout:?}")),
                    }
                    let now = tokio::time::Instant::now();
                    if now >= until {
                        return Waited::GaveUp;
                    }
                    tokio::time::sleep_until((now + pause).min(until)).await;
                    pause = (pause * 2).min(POLL_MAX);
                }
            })
            .unwrap_or_else(|e| Waited::Failed(no_answer(e, deadline)))
    }

    /// Publishes `artifact` put-if-absent in the background, then releases `lease`.
    pub(crate) fn publish(
        &self,
        engine: &[u8; 32],
        key: &CacheKey,
        artifact: &[u8],
        lease: Option<LeaseGuard>,
    ) {
        let (path, _) = self.paths(engine, key);
        let object = object::encode(key, artifact, self.mac.as_ref());
        let shared = self.shared.clone();
        let key = *key;
        let done = self.io.spawn(self.publish_timeout, async move {
            let opts = PutOptions::from(PutMode::Create);
            match shared
                .store
                .put_opts(&path, PutPayload::from(Bytes::from(object)), opts)
                .await
            {
                Ok(_) => {
                    bump(&shared.counters.published, "wasm_sandbox_cache_remote_published_total", 1);
                    tracing::debug!(store = %shared.name, object = %path, "published a compiled artifact");
                }
                // Someone else published it first: compilation is deterministic, theirs is
                // as good as ours (and is verified like any other when loaded).
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(error) => {
                    bump(&shared.counters.errors, "wasm_sandbox_cache_remote_errors_total", 1);
                    let error = scrub(&error);
                    tracing::warn!(store = %shared.name, %key, %error, "cannot publish a compiled artifact");
                }
            }
            if let Some(lease) = lease {
                lease.release().await;
            }
        });
        let mut pending = self.pending.lock();
        pending.retain(|rx| rx.is_empty() && !is_disconnected(rx));
        pending.push(done);
    }

    /// Waits until every publication started so far has finished, for at most `timeout`.
    /// `true` if they all did.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let pending = std::mem::take(&mut *self.pending.lock());
        let mut all = true;
        for rx in pending {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Some(())) => {}
                Ok(None) | Err(crossbeam::channel::RecvTimeoutError::Disconnected) => {}
                Err(crossbeam::channel::RecvTimeoutError::Timeout) => all = false,
            }
        }
        all
    }

    /// Lists the store's objects per engine, marking `current`.
    pub(crate) fn list(
        &self,
        current: Option<&[u8; 32]>,
        timeout: Duration,
    ) -> Result<RemoteListing, CacheError> {
        let shared = self.shared.clone();
        let prefix = self.prefix.clone();
        let current = current.map(|c| hex(c));
        let name = self.shared.name.clone();
        self.io
            .run(timeout, async move {
                let mut engines: std::collections::BTreeMap<String, RemoteEngine> =
                    Default::default();
                let mut other = 0u64;
                let mut seen = 0usize;
                let mut stream = shared.store.list(Some(&prefix));
                while let Some(meta) = stream.next().await {
                    let meta = meta.map_err(|e| {
                        remote_error(format!("cannot list `{name}`: {}", scrub(&e)))
                    })?;
                    seen += 1;
                    if seen > MAX_LISTED {
                        return Err(remote_error(format!(
                            "`{name}` holds more than {MAX_LISTED} objects; listing stopped"
                        )));
                    }
                    let parts: Vec<String> = match meta.location.prefix_match(&prefix) {
                        Some(parts) => parts.map(|p| p.as_ref().to_owned()).collect(),
                        None => {
                            other += 1;
                            continue;
                        }
                    };
                    let [engine, file] = parts.as_slice() else {
                        other += 1;
                        continue;
                    };
                    let is_engine = engine.len() == 64
                        && CacheKey::from_hex(engine).is_some_and(|k| k.to_string() == *engine);
                    let stem_ok = |stem: &str| {
                        CacheKey::from_hex(stem).is_some_and(|k| k.to_string() == stem)
                    };
                    let kind = if let Some(stem) = file.strip_suffix(ARTIFACT_SUFFIX)
                        && stem_ok(stem)
                    {
                        Some(true)
                    } else if let Some(stem) = file.strip_suffix(LEASE_SUFFIX)
                        && stem_ok(stem)
                    {
                        Some(false)
                    } else {
                        None
                    };
                    match (is_engine, kind) {
                        (true, Some(artifact)) => {
                            let entry =
                                engines
                                    .entry(engine.clone())
                                    .or_insert_with(|| RemoteEngine {
                                        engine: engine.clone(),
                                        current: current.as_deref() == Some(engine.as_str()),
                                        ..RemoteEngine::default()
                                    });
                            if artifact {
                                entry.artifacts += 1;
                                entry.artifact_bytes += meta.size;
                            } else {
                                entry.leases += 1;
                            }
                        }
                        _ => other += 1,
                    }
                }
                Ok(RemoteListing {
                    store: name,
                    engines: engines.into_values().collect(),
                    other_objects: other,
                })
            })
            .unwrap_or_else(|e| {
                Err(remote_error(format!(
                    "listing the store: {}",
                    no_answer(e, timeout)
                )))
            })
    }

    /// Adds the tier's counters to a stats snapshot.
    pub(crate) fn fill(&self, stats: &mut CacheStats) {
        let c = self.counters();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        stats.remote_enabled = true;
        stats.remote_hits = get(&c.hits);
        stats.remote_misses = get(&c.misses);
        stats.remote_verify_failures = get(&c.verify_failures);
        stats.remote_errors = get(&c.errors);
        stats.remote_bytes_fetched = get(&c.bytes_fetched);
        stats.remote_fetch_time = Duration::from_nanos(get(&c.fetch_nanos));
        stats.remote_lease_waits = get(&c.lease_waits);
        stats.remote_lease_wait_time = Duration::from_nanos(get(&c.lease_wait_nanos));
        stats.remote_published = get(&c.published);
    }
}

/// `from + by`, or a century from `from` where that overflows (a lease time or an expiry
/// that is absurdly far).
fn far(from: Instant, by: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    from.checked_add(by.min(CENTURY)).unwrap_or(from)
}

fn is_disconnected<T>(rx: &crossbeam::channel::Receiver<T>) -> bool {
    matches!(
        rx.try_recv(),
        Err(crossbeam::channel::TryRecvError::Disconnected)
    )
}

fn no_answer(e: NoAnswer, deadline: Duration) -> String {
    match e {
        NoAnswer::TimedOut => format!("no answer within {deadline:?}"),
        NoAnswer::Gone => "the remote I/O task ended without an answer".to_owned(),
    }
}

/// A random id for this host's leases: std's per-process random hash keys, the process id
/// and the time.
fn new_holder_id() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.write_u64(lease::now_unix_ms());
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_store_errors_are_scrubbed() {
        let e = "error sending request for url (https://acct.blob.core.windows.net/c/x.wsc?sv=2022&sig=SECRET): timed out";
        let got = scrub(&e);
        assert!(!got.contains("SECRET") && !got.contains("sv="), "{got}");
        assert!(
            got.contains("https://acct.blob.core.windows.net/c/x.wsc?<redacted>): timed out"),
            "{got}"
        );
        let got = scrub(&"Unrecognised URL: s3://AKIA:hunter2@bucket/p and more");
        assert_eq!(got, "Unrecognised URL: s3://bucket/p and more");
        assert_eq!(scrub(&"no url here"), "no url here");
        assert_eq!(scrub(&"trailing ://"), "trailing ://");
    }

    #[test]
    fn urls_are_redacted_and_keys_parsed() {
        assert_eq!(
            redact("s3://AKIA:secret@bucket/prefix?sig=abc"),
            "s3://bucket/prefix"
        );
        assert_eq!(
            redact("http://127.0.0.1:9000/b/p"),
            "http://127.0.0.1:9000/b/p"
        );
        assert_eq!(redact("not a url"), "<unparseable URL>");
        let hex64 = "00".repeat(31) + "ff";
        assert_eq!(parse_key_material(hex64.as_bytes()).unwrap().len(), 32);
        assert_eq!(
            parse_key_material(format!(" {hex64}\n").as_bytes()).unwrap()[31],
            0xff
        );
        assert!(parse_key_material(b"short").is_err());
        assert_eq!(parse_key_material(&[7; 40]).unwrap(), vec![7; 40]);
        let debug = format!(
            "{:?}",
            RemoteConfig::url("s3://k:s@b/p").integrity_key([1; 32])
        );
        assert!(!debug.contains("k:s") && debug.contains("<set>"), "{debug}");
    }
}
