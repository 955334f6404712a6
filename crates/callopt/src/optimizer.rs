//! The call optimizer: routes calls, memoizes the pure ones, never memoizes errors.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Begin, CacheConfig, InsertOutcome, MemoCache, MemoKey, ModuleHash};
use crate::clock::{Clock, SystemClock};
use crate::codec::Codec;
use crate::error::CallOptError;
use crate::flight::Ticket;
use crate::purity::Purity;
use crate::stats::{CallOptStats, Counters};

/// How the facade should run a call of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// The export is declared pure: go through [`CallOptimizer::call`] (or a sibling) so the
    /// result can be served from, and stored in, the memo cache.
    Memoized,
    /// The export is not declared pure: call it directly, e.g. on the facade's fast path with
    /// cached typed function handles. The cache has nothing to offer it.
    Direct,
}

/// The result of [`CallOptimizer::lookup`], the low-level half of a memoized call.
#[derive(Debug, Clone)]
#[must_use]
pub enum Lookup {
    /// The export is not pure: execute it and do not store the result (counted as a bypass).
    Bypass,
    /// The result is cached (counted as a hit).
    Hit(Arc<[u8]>),
    /// The export is pure but the result is not cached (counted as a miss): execute it, and on
    /// success hand the result to [`CallOptimizer::store`] with this key.
    Miss(MemoKey),
}

/// Memoizes calls of exports the embedder declared pure; every other call passes through.
///
/// - Only exports in the [`Purity`] registry are memoized. Purity is never inferred: a guest
///   can mutate its memory and globals between calls, so an undeclared export runs every time.
/// - Only successful results are stored. Traps, timeouts and every other `Err` are returned
///   to the caller and forgotten, so the next identical call executes again.
/// - No lock is held while a call executes. Single flight: an asynchronous call
///   ([`call_async`](Self::call_async), [`call_typed_async`](Self::call_typed_async)) that
///   misses while an identical call is executing waits for that call's result instead of
///   executing too; if that call fails, panics or is dropped, each waiter executes itself,
///   side by side with the others. Blocking calls ([`call`](Self::call)) never wait (it
///   could block the thread the other call needs): they execute, and the later result
///   replaces the earlier. The low-level [`lookup`](Self::lookup)/[`store`](Self::store)
///   pair leaves concurrency to its caller.
///
/// See the [crate docs](crate) for an example.
pub struct CallOptimizer {
    purity: Purity,
    cache: MemoCache,
}

impl fmt::Debug for CallOptimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptimizer")
            .field("purity", &self.purity)
            .field("cache", &self.cache)
            .finish()
    }
}

/// Builds a [`CallOptimizer`]. Start with [`CallOptimizer::builder`].
#[derive(Debug)]
#[must_use]
pub struct CallOptimizerBuilder {
    purity: Purity,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
}

impl CallOptimizerBuilder {
    /// Declares `export` pure (same arguments ⇒ same result, no side effects), making its
    /// successful results memoizable. Default: no export is pure.
    pub fn pure(mut self, export: impl AsRef<str>) -> Self {
        self.purity.insert(export);
        self
    }

    /// Adds every export of `purity` to the pure set.
    pub fn purity(mut self, purity: &Purity) -> Self {
        self.purity.extend(purity.iter());
        self
    }

    /// Replaces the whole cache configuration. Default: [`CacheConfig::default`].
    pub fn cache_config(mut self, config: CacheConfig) -> Self {
        self.config = config;
        self
    }

    /// See [`CacheConfig::max_entries`]. Default: 10 000.
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.config = self.config.max_entries(max_entries);
        self
    }

    /// See [`CacheConfig::max_bytes`]. Default: 64 MiB.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.config = self.config.max_bytes(max_bytes);
        self
    }

    /// See [`CacheConfig::ttl`]. Default: `Some(5 minutes)`.
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.config = self.config.ttl(ttl);
        self
    }

    /// See [`CacheConfig::shards`]. Default: 16.
    pub fn shards(mut self, shards: usize) -> Self {
        self.config = self.config.shards(shards);
        self
    }

    /// The time source for TTL expiry. Default: [`SystemClock`]. Tests pass a
    /// [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the optimizer.
    #[must_use]
    pub fn build(self) -> CallOptimizer {
        CallOptimizer {
            purity: self.purity,
            cache: MemoCache::with_clock(self.config, self.clock),
        }
    }
}

impl Default for CallOptimizer {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl CallOptimizer {
    /// A builder with no pure export and the default cache configuration.
    pub fn builder() -> CallOptimizerBuilder {
        CallOptimizerBuilder {
            purity: Purity::new(),
            config: CacheConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The pure exports.
    #[must_use]
    pub fn purity(&self) -> &Purity {
        &self.purity
    }

    /// The underlying cache (for invalidation, inspection and stats).
    #[must_use]
    pub fn cache(&self) -> &MemoCache {
        &self.cache
    }

    /// Whether calls of `export` are memoized ([`Route::Memoized`]) or should go straight to
    /// the facade's direct path ([`Route::Direct`]). Does not touch any counter.
    #[must_use]
    pub fn route(&self, export: &str) -> Route {
        if self.purity.is_pure(export) {
            Route::Memoized
        } else {
            Route::Direct
        }
    }

    fn counters(&self) -> &Counters {
        self.cache.counters()
    }

    fn bypass(&self) {
        self.counters().bypasses.bump(1);
    }

    fn error(&self) {
        self.counters().errors.bump(1);
    }

    /// The low-level half of a memoized call: classifies the call and consults the cache.
    /// Counts a bypass, hit or miss.
    pub fn lookup(&self, module: &ModuleHash, export: &str, encoded_args: &[u8]) -> Lookup {
        let Some(key) = self.key(module, export, encoded_args) else {
            return Lookup::Bypass;
        };
        match self.cache.get(&key) {
            Some(hit) => Lookup::Hit(hit),
            None => Lookup::Miss(key),
        }
    }

    /// The key of a call of `export`, or `None` (counted as a bypass) if it is not pure.
    fn key(&self, module: &ModuleHash, export: &str, encoded_args: &[u8]) -> Option<MemoKey> {
        let Some(interned) = self.purity.interned(export) else {
            self.bypass();
            return None;
        };
        Some(MemoKey::new(*module, Arc::clone(interned), encoded_args))
    }

    /// The other half: stores the successful result of a call that missed.
    /// Only call this with a key from [`Lookup::Miss`] and an `Ok` result.
    pub fn store(&self, key: MemoKey, result: impl Into<Arc<[u8]>>) -> InsertOutcome {
        self.cache.insert(key, result.into())
    }

    /// Calls `export` of the module hashed `module` with `encoded_args`: returns the memoized
    /// result if the export is pure and the result is cached, else runs `execute` and, if the
    /// export is pure and `execute` succeeded, memoizes its result.
    ///
    /// `execute` runs at most once, with no lock held. This blocking variant never waits for
    /// an identical call in flight (waiting could block the thread that call needs): it
    /// executes, while [`call_async`](Self::call_async) callers may wait for it.
    ///
    /// # Errors
    ///
    /// Exactly the error of `execute`, which is never memoized.
    pub fn call<E>(
        &self,
        module: &ModuleHash,
        export: &str,
        encoded_args: &[u8],
        execute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<[u8]>, E> {
        let Some(key) = self.key(module, export, encoded_args) else {
            return execute().map(Arc::from);
        };
        let now = self.cache.now();
        match self.cache.begin(&key, now, false) {
            Begin::Hit(hit) => Ok(hit),
            Begin::Lead(ticket) => self.finish(self.lead(ticket, now), execute()),
            Begin::Solo | Begin::Wait(_) => self.finish(Dest::Key(key, now), execute()),
        }
    }

    /// Like [`call`](Self::call), with an asynchronous execution. The `execute` future is only
    /// polled on a miss or bypass; on a hit it is dropped unpolled.
    ///
    /// Single flight: a call that misses while an identical call (same key) is executing
    /// waits for that call's result instead of executing too (counted as `coalesced`). If
    /// that call fails, panics or is dropped, each waiter executes itself, at once and side
    /// by side with the others: an error is never handed on, and a failing call costs its
    /// waiters at most its own duration again, never one failure after another.
    ///
    /// # Errors
    ///
    /// Exactly the error of `execute`, which is never memoized.
    pub async fn call_async<E, F>(
        &self,
        module: &ModuleHash,
        export: &str,
        encoded_args: &[u8],
        execute: F,
    ) -> Result<Arc<[u8]>, E>
    where
        F: Future<Output = Result<Vec<u8>, E>>,
    {
        let Some(key) = self.key(module, export, encoded_args) else {
            return execute.await.map(Arc::from);
        };
        let now = self.cache.now();
        match self.cache.begin(&key, now, true) {
            Begin::Hit(hit) => Ok(hit),
            Begin::Lead(ticket) => {
                let lead = self.lead(ticket, now);
                self.finish(lead, execute.await)
            }
            Begin::Solo => self.finish(Dest::Key(key, now), execute.await),
            Begin::Wait(landing) => match landing.wait().await {
                Some(landed) => Ok(landed),
                // The flight failed: execute now, side by side with its other waiters.
                None => self.finish(Dest::Key(key, now), execute.await),
            },
        }
    }

    fn lead(&self, ticket: Ticket, now: Option<Instant>) -> Dest<'_> {
        Dest::Flight(Leading {
            cache: &self.cache,
            ticket: Some(ticket),
            now,
        })
    }

    /// Sends an `Ok` result of a call that missed to `dest`; counts an `Err` (which, for a
    /// flight, aborts it as `dest` drops).
    fn finish<E>(&self, dest: Dest<'_>, result: Result<Vec<u8>, E>) -> Result<Arc<[u8]>, E> {
        match result {
            Ok(bytes) => {
                let value: Arc<[u8]> = bytes.into();
                dest.put(&self.cache, Arc::clone(&value));
                Ok(value)
            }
            Err(e) => {
                self.error();
                Err(e)
            }
        }
    }

    /// Typed convenience over [`call`](Self::call): encodes `args` with `codec` to build the
    /// key, decodes a cached result, or runs `execute` and encodes its result for the cache.
    ///
    /// Calls of exports that are not pure run `execute` directly, without encoding anything.
    /// A cached result that does not decode as `R` (the same export used with another result
    /// type) is dropped and the call executes. A result that fails to encode is returned
    /// without being cached.
    ///
    /// # Errors
    ///
    /// The error of `execute` (never memoized), or [`CallOptError::EncodeArgs`] converted into
    /// `E` if the arguments of a pure export cannot be encoded (then `execute` does not run).
    pub fn call_typed<C, A, R, E>(
        &self,
        codec: &C,
        module: &ModuleHash,
        export: &str,
        args: &A,
        execute: impl FnOnce() -> Result<R, E>,
    ) -> Result<R, E>
    where
        C: Codec,
        A: Serialize + ?Sized,
        R: Serialize + DeserializeOwned,
        E: From<CallOptError>,
    {
        let Some(key) = self.typed_key(codec, module, export, args)? else {
            return execute();
        };
        let now = self.cache.now();
        match self.cache.begin(&key, now, false) {
            Begin::Hit(bytes) => match codec.decode::<R>(&bytes) {
                Ok(r) => Ok(r),
                Err(_) => self.typed_redo(codec, key, execute(), now),
            },
            Begin::Lead(ticket) => self.typed_finish(codec, self.lead(ticket, now), execute()),
            Begin::Solo | Begin::Wait(_) => {
                self.typed_finish(codec, Dest::Key(key, now), execute())
            }
        }
    }

    /// Async variant of [`call_typed`](Self::call_typed), with the single flight of
    /// [`call_async`](Self::call_async).
    ///
    /// # Errors
    ///
    /// As for [`call_typed`](Self::call_typed).
    pub async fn call_typed_async<C, A, R, E, F>(
        &self,
        codec: &C,
        module: &ModuleHash,
        export: &str,
        args: &A,
        execute: F,
    ) -> Result<R, E>
    where
        C: Codec,
        A: Serialize + ?Sized,
        R: Serialize + DeserializeOwned,
        E: From<CallOptError>,
        F: Future<Output = Result<R, E>>,
    {
        let Some(key) = self.typed_key(codec, module, export, args)? else {
            return execute.await;
        };
        let now = self.cache.now();
        let bytes = match self.cache.begin(&key, now, true) {
            Begin::Hit(bytes) => bytes,
            Begin::Lead(ticket) => {
                let lead = self.lead(ticket, now);
                return self.typed_finish(codec, lead, execute.await);
            }
            Begin::Solo => return self.typed_finish(codec, Dest::Key(key, now), execute.await),
            Begin::Wait(landing) => match landing.wait().await {
                Some(landed) => landed,
                // The flight failed: execute now, side by side with its other waiters.
                None => return self.typed_finish(codec, Dest::Key(key, now), execute.await),
            },
        };
        match codec.decode::<R>(&bytes) {
            Ok(r) => Ok(r),
            Err(_) => {
                let result = execute.await;
                self.typed_redo(codec, key, result, now)
            }
        }
    }

    /// The key of a typed call, or `None` (counted as a bypass) if the export is not pure.
    fn typed_key<C, A>(
        &self,
        codec: &C,
        module: &ModuleHash,
        export: &str,
        args: &A,
    ) -> Result<Option<MemoKey>, CallOptError>
    where
        C: Codec,
        A: Serialize + ?Sized,
    {
        let Some(interned) = self.purity.interned(export) else {
            self.bypass();
            return Ok(None);
        };
        let encoded = codec
            .encode(args)
            .map_err(|source| CallOptError::EncodeArgs {
                export: export.into(),
                source,
            })?;
        Ok(Some(MemoKey::new(*module, Arc::clone(interned), &encoded)))
    }

    /// A cached result did not decode as `R`: drop it and store the fresh `result`.
    fn typed_redo<C, R, E>(
        &self,
        codec: &C,
        key: MemoKey,
        result: Result<R, E>,
        now: Option<Instant>,
    ) -> Result<R, E>
    where
        C: Codec,
        R: Serialize,
    {
        self.cache.remove(&key);
        self.typed_finish(codec, Dest::Key(key, now), result)
    }

    /// [`finish`](Self::finish) for a typed result; one that does not encode is not stored
    /// (and aborts a flight).
    fn typed_finish<C, R, E>(&self, codec: &C, dest: Dest<'_>, result: Result<R, E>) -> Result<R, E>
    where
        C: Codec,
        R: Serialize,
    {
        match result {
            Ok(r) => {
                if let Ok(bytes) = codec.encode(&r) {
                    dest.put(&self.cache, bytes.into());
                }
                Ok(r)
            }
            Err(e) => {
                self.error();
                Err(e)
            }
        }
    }

    /// Removes every memoized result of the module hashed `module`. Returns how many.
    pub fn invalidate_module(&self, module: &ModuleHash) -> usize {
        self.cache.invalidate_module(module)
    }

    /// Removes every memoized result of `export`, in any module. Returns how many.
    pub fn invalidate_export(&self, export: &str) -> usize {
        self.cache.invalidate_export(export)
    }

    /// Removes every memoized result. Returns how many.
    pub fn clear(&self) -> usize {
        self.cache.clear()
    }

    /// A snapshot of the counters (see [`CallOptStats`]).
    #[must_use]
    pub fn stats(&self) -> CallOptStats {
        self.cache.stats()
    }
}

/// Where the result of a call that missed goes.
enum Dest<'a> {
    /// Stored under the key, with its TTL counted from the call's lookup.
    Key(MemoKey, Option<Instant>),
    /// Landed on the flight this call leads.
    Flight(Leading<'a>),
}

impl Dest<'_> {
    fn put(self, cache: &MemoCache, value: Arc<[u8]>) {
        match self {
            Dest::Key(key, now) => {
                cache.insert_at(key, value, now);
            }
            Dest::Flight(mut lead) => {
                if let Some(ticket) = lead.ticket.take() {
                    cache.land(ticket, &value, lead.now);
                }
            }
        }
    }
}

/// A flight this call leads: landed with the result, or aborted when dropped first (an
/// error, a result that does not encode, a panic in `execute`, or the caller's future
/// dropped mid-call), so waiters never hang on it.
struct Leading<'a> {
    cache: &'a MemoCache,
    ticket: Option<Ticket>,
    now: Option<Instant>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.cache.abort(ticket);
        }
    }
}
