//! The plugin-host API: every feature on every plugin (not only the first
//! loaded), host functions with per-tenant state, errors that pass through.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use wasm_sandbox::tiering::{Threshold, TieringPolicy};
use wasm_sandbox::{Error, HostFunctions, LoadOptions, Tier, WasmSandbox};
use wasm_sandbox_guests as guests;

/// Every tenant's keys, by tenant id.
type Store = Arc<Mutex<HashMap<(u32, Vec<u8>), Vec<u8>>>>;

/// One tenant's view of a shared key-value store.
struct Tenant {
    id: u32,
    store: Store,
}

/// The four imports of `guests/c/plugin`; `lookup` is async and answers
/// from the key alone (so batched calls, which carry no state, can use it).
fn kv_functions() -> HostFunctions<Tenant> {
    HostFunctions::<Tenant>::new()
        .func(
            "env",
            "kv_get",
            |cx, (key, key_len, out, cap): (u32, u32, u32, u32)| {
                let (mut memory, t) = cx.memory_and_state()?;
                let key = memory.read(key, key_len)?.to_vec();
                let value = t.store.lock().get(&(t.id, key)).cloned();
                match value {
                    Some(v) => Ok(memory.write_into(out, cap, &v)? as i32),
                    None => Ok(-1),
                }
            },
        )
        .func(
            "env",
            "kv_put",
            |cx, (key, key_len, value, value_len): (u32, u32, u32, u32)| {
                let (memory, t) = cx.memory_and_state()?;
                let key = memory.read(key, key_len)?.to_vec();
                let value = memory.read(value, value_len)?.to_vec();
                if value == b"999" {
                    // An unlucky number: the embedder's own typed refusal.
                    return Err(Error::QueueFull { capacity: 999 });
                }
                t.store.lock().insert((t.id, key), value);
                Ok(())
            },
        )
        .func_async(
            "env",
            "lookup",
            |mut cx, (key, key_len, out, cap): (u32, u32, u32, u32)| {
                Box::new(async move {
                    let key: String = cx.memory()?.read_value(key, key_len)?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let answer = format!("{key}:{}", "x".repeat(100));
                    Ok(cx.memory()?.write_value(out, cap, &answer)? as i32)
                })
            },
        )
        .func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
            Ok(cx
                .memory()?
                .read(ptr, len)?
                .iter()
                .map(|&b| u32::from(b))
                .sum::<u32>())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_never_see_each_others_state() {
    let sandbox = WasmSandbox::builder()
        .host_functions(kv_functions())
        .build()
        .await
        .unwrap();
    // Not the first plugin loaded.
    sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let kv = sandbox.load(guests::PLUGIN_WASM).await.unwrap();
    let store = Store::default();
    // Two tenants at once on the same plugin (and so on the same pooled
    // instances), each making its calls in order (a visit is a read then a
    // write: concurrent visits of one tenant would race in its own store).
    let tenants: Vec<_> = [0u32, 1]
        .into_iter()
        .map(|id| {
            let (kv, store) = (kv.clone(), Arc::clone(&store));
            tokio::spawn(async move {
                let mut counts = Vec::new();
                for _ in 0..20 {
                    let tenant = Tenant {
                        id,
                        store: Arc::clone(&store),
                    };
                    counts.push(
                        kv.with_state(tenant)
                            .call::<_, u64>("visit", "page")
                            .await?,
                    );
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(counts)
            })
        })
        .collect();
    for (id, t) in tenants.into_iter().enumerate() {
        let counts = t.await.unwrap().unwrap();
        assert_eq!(counts, (1..=20).collect::<Vec<u64>>(), "tenant {id}");
    }
    // The idle instances the calls ran on kept no tenant: a call without
    // state is refused by the host function, not served with a stale one.
    assert!(kv.module().idle_instances() >= 1);
    let err = kv.call::<_, u64>("visit", "page").await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let stats = kv.stats();
    assert_eq!((stats.calls, stats.failures), (41, 1), "{stats:?}");
}

#[tokio::test]
async fn a_host_functions_typed_error_reaches_the_plugins_caller_unchanged() {
    let sandbox = WasmSandbox::builder()
        .host_functions(kv_functions())
        .build()
        .await
        .unwrap();
    let kv = sandbox.load(guests::PLUGIN_WASM).await.unwrap();
    let store = Store::default();
    store.lock().insert((5, b"\"k\"".to_vec()), b"998".to_vec());
    let err = kv
        .with_state(Tenant { id: 5, store })
        .call::<_, u64>("visit", "k")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::QueueFull { capacity: 999 }), "{err}");
    // State of the wrong type: refused before the guest runs.
    let err = kv
        .with_state("tenant 5")
        .call::<_, u64>("visit", "k")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert_eq!(kv.stats().failures, 2);
}

/// Memoization, batching (with an async host function on the batch
/// workers), byte and dynamic calls, all on a plugin loaded after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_kind_works_on_a_plugin_that_is_not_the_first() {
    let sandbox = WasmSandbox::builder()
        .host_functions(kv_functions())
        .pure_export("process_batch")
        .build()
        .await
        .unwrap();
    let first = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let abi = sandbox.load(guests::ABI_WASM).await.unwrap();
    let kv = sandbox.load(guests::PLUGIN_WASM).await.unwrap();
    assert_eq!(
        sandbox.default_plugin().unwrap().content_hash(),
        first.content_hash()
    );

    let input = vec![1, 2, 3];
    for _ in 0..3 {
        let r: Vec<i32> = abi.call("process_batch", &input).await.unwrap();
        assert_eq!(r, [2, 4, 6]);
    }
    let r: Vec<i32> = abi.call_batched("process_batch", &input).await.unwrap();
    assert_eq!(r, [2, 4, 6]);
    assert_eq!(abi.stats().memo_hits, 3, "{:?}", abi.stats());
    assert_eq!(abi.call_bytes("echo", b"raw").await.unwrap(), b"raw");
    let batched: Vec<_> = (0..8)
        .map(|i| {
            let abi = abi.clone();
            tokio::spawn(async move {
                abi.call_batched::<_, String>("echo", &format!("m{i}"))
                    .await
            })
        })
        .collect();
    for (i, b) in batched.into_iter().enumerate() {
        assert_eq!(b.await.unwrap().unwrap(), format!("m{i}"));
    }
    let stats = abi.stats();
    assert_eq!(
        (stats.calls, stats.batched_calls, stats.failures),
        (13, 9, 0),
        "{stats:?}"
    );
    assert_eq!(stats.batch.unwrap().calls, 8, "the memo hit never queued");

    // An async host function on the batch workers' synchronous path.
    let answer: String = kv.call_batched("lookup", "key").await.unwrap();
    assert_eq!(answer, format!("key:{}", "x".repeat(100)));
    // The first plugin counted none of this.
    assert_eq!(first.stats().calls, 0);
    let v = first
        .call_values(
            "add",
            &[wasm_sandbox::Value::I32(2), wasm_sandbox::Value::I32(5)],
        )
        .await
        .unwrap();
    assert_eq!(v, [wasm_sandbox::Value::I32(7)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiering_is_a_property_of_each_loaded_plugin() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let fixed = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let policy = TieringPolicy::straight_to_top_after(Threshold::new(20, Duration::ZERO));
    let tiered = sandbox
        .load_with(
            guests::SCALAR_WAT.as_bytes(),
            LoadOptions::new().name("hot").tiering(policy),
        )
        .await
        .unwrap();
    assert!(fixed.tiering().is_none());
    assert_eq!(tiered.name(), "hot");
    assert_eq!(tiered.tier(), Tier::Baseline);
    // Every call kind counts towards tier-up: typed, dynamic and batched.
    for i in 0..10 {
        let r: i32 = tiered.call_typed("add", (i, 1)).await.unwrap();
        assert_eq!(r, i + 1);
    }
    for _ in 0..5 {
        tiered
            .call_values(
                "add",
                &[wasm_sandbox::Value::I32(1), wasm_sandbox::Value::I32(1)],
            )
            .await
            .unwrap();
    }
    assert!(
        !tiered.tiering().unwrap().tier_up_pending(),
        "15 calls are below 20"
    );
    for _ in 0..5 {
        let r: i32 = tiered.call_typed("add", (2, 2)).await.unwrap();
        assert_eq!(r, 4);
    }
    let t = tiered.tiering().unwrap().clone();
    assert!(
        tokio::task::spawn_blocking(move || t.wait_for_tier_up(Duration::from_secs(60)))
            .await
            .unwrap()
    );
    assert_eq!(tiered.tier(), Tier::HighlyOptimized);
    let r: i32 = tiered.call_typed("add", (40, 2)).await.unwrap();
    assert_eq!(r, 42);
    let stats = tiered.tiering().unwrap().stats();
    assert_eq!(stats.calls_on(Tier::Baseline), 20, "{stats:?}");
    assert_eq!(stats.calls_on(Tier::HighlyOptimized), 1, "{stats:?}");

    // A sandbox that tiers by default, and a plugin that opts out.
    let sandbox = WasmSandbox::builder()
        .tiering(TieringPolicy::straight_to_top())
        .build()
        .await
        .unwrap();
    let a = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let b = sandbox
        .load_with(
            guests::SCALAR_WAT.as_bytes(),
            LoadOptions::new().no_tiering(),
        )
        .await
        .unwrap();
    assert!(a.tiering().is_some());
    assert!(b.tiering().is_none());
    assert_eq!(b.tier(), sandbox.tier());
}

#[tokio::test]
async fn plugins_are_named_for_their_stats_and_metrics() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let path = format!("{}/c/abi/abi.wasm", guests::DIR);
    let from_file = sandbox.load(path.as_str()).await.unwrap();
    let from_bytes = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    assert_eq!(from_file.name(), "abi");
    assert!(
        from_bytes.name().starts_with("module-") && from_bytes.name().len() == 19,
        "{}",
        from_bytes.name()
    );
    let named = sandbox
        .load_with(
            guests::SCALAR_WAT.as_bytes(),
            LoadOptions::new().name("tenant-7"),
        )
        .await
        .unwrap();
    assert_eq!(named.stats().name, "tenant-7");
}

/// A memo key knows nothing of the call's state: calls with state are never
/// memoized, even of an export declared pure, so no tenant is served
/// another's answer.
#[tokio::test]
async fn calls_with_state_are_never_memoized() {
    let sandbox = WasmSandbox::builder()
        .host_functions(kv_functions())
        .pure_export("visit")
        .build()
        .await
        .unwrap();
    let kv = sandbox.load(guests::PLUGIN_WASM).await.unwrap();
    let store = Store::default();
    for (id, want) in [(1, 1), (2, 1), (1, 2)] {
        let tenant = Tenant {
            id,
            store: Arc::clone(&store),
        };
        let n: u64 = kv.with_state(tenant).call("visit", "page").await.unwrap();
        assert_eq!(n, want, "tenant {id}");
    }
    assert_eq!(kv.stats().memo_hits, 0);
    // And state of the wrong type is refused, pure export or not.
    let err = kv
        .with_state(7u8)
        .call::<_, u64>("visit", "page")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}
