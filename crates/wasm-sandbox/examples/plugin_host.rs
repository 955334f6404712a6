//! A plugin host: four plugins in one sandbox, host functions with
//! per-tenant state, and every feature on a plugin other than the first.
//!
//! * `kv` (`guests/c/plugin`): counters kept in the host's per-tenant
//!   key-value store (synchronous host functions reading and writing guest
//!   memory), and a lookup through an async host function.
//! * `math` (`guests/c/abi`): its pure export `process_batch` is memoized.
//! * `echo` (the same guest, loaded again as its own plugin): batched calls.
//! * `adder` (`guests/wat/scalar.wat`): tiered, starting on Winch and moving
//!   to Cranelift once hot.
//!
//! It checks each of those claims and exits with status 1 if one does not
//! hold. Run it with `cargo run -p wasm-sandbox --example plugin_host`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use wasm_sandbox::tiering::{Threshold, TieringPolicy};
use wasm_sandbox::{Error, HostFunctions, LoadOptions, Plugin, Tier, WasmSandbox};
use wasm_sandbox_guests as guests;

/// Every tenant's keys, by tenant.
type Store = Arc<Mutex<HashMap<(&'static str, Vec<u8>), Vec<u8>>>>;

/// What the host functions of one call see: the tenant it serves and the
/// store all tenants share (each tenant sees only its own keys).
struct Tenant {
    id: &'static str,
    store: Store,
}

/// Most keys a tenant may keep: a host-side quota, reported as the
/// embedder's own error type.
const QUOTA: usize = 16;

#[derive(Debug)]
struct QuotaExceeded {
    tenant: &'static str,
}

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tenant {} is over its quota of {QUOTA} keys",
            self.tenant
        )
    }
}

impl std::error::Error for QuotaExceeded {}

fn host_functions() -> HostFunctions<Tenant> {
    HostFunctions::<Tenant>::new()
        // kv_get(key, key_len, out, out_cap) -> value length, or -1 if absent.
        .func(
            "env",
            "kv_get",
            |cx, (key, key_len, out, cap): (u32, u32, u32, u32)| {
                let (mut memory, tenant) = cx.memory_and_state()?;
                let key = memory.read(key, key_len)?.to_vec();
                let value = tenant.store.lock().get(&(tenant.id, key)).cloned();
                match value {
                    Some(v) => Ok(memory.write_into(out, cap, &v)? as i32),
                    None => Ok(-1),
                }
            },
        )
        // kv_put(key, key_len, value, value_len).
        .func(
            "env",
            "kv_put",
            |cx, (key, key_len, value, value_len): (u32, u32, u32, u32)| {
                let (memory, tenant) = cx.memory_and_state()?;
                let key = memory.read(key, key_len)?.to_vec();
                let value = memory.read(value, value_len)?.to_vec();
                let mut store = tenant.store.lock();
                let keys = store.keys().filter(|(t, _)| *t == tenant.id).count();
                if keys >= QUOTA && !store.contains_key(&(tenant.id, key.clone())) {
                    return Err(Error::host(QuotaExceeded { tenant: tenant.id }));
                }
                store.insert((tenant.id, key), value);
                Ok(())
            },
        )
        // lookup(key, key_len, out, out_cap) -> answer length: an async host
        // function (here a timer stands in for a database or a network call).
        .func_async(
            "env",
            "lookup",
            |mut cx, (key, key_len, out, cap): (u32, u32, u32, u32)| {
                Box::new(async move {
                    // The guest passes on its argument: a JSON string, read as one.
                    let key: String = cx.memory()?.read_value(key, key_len)?;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let tenant = cx.state()?.id;
                    // Longer than the guest's first 64-byte buffer: it asks again.
                    let answer = serde_json::json!({
                        "tenant": tenant,
                        "key": key,
                        "answer": 42,
                        "note": "looked up asynchronously by the host",
                    });
                    Ok(cx.memory()?.write_value(out, cap, &answer)? as i32)
                })
            },
        )
        // checksum(ptr, len): the host reads a block of guest memory.
        .func("env", "checksum", |cx, (ptr, len): (u32, u32)| {
            let memory = cx.memory()?;
            Ok(memory
                .read(ptr, len)?
                .iter()
                .map(|&b| u32::from(b))
                .sum::<u32>())
        })
}

/// Collects failed checks; the example exits non-zero if there are any.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        println!("[{}] {what}", if ok { "ok" } else { "FAILED" });
        if !ok {
            self.failed.push(what);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = Store::default();
    let tenant = |id: &'static str| Tenant {
        id,
        store: Arc::clone(&store),
    };
    let sandbox = WasmSandbox::builder()
        .host_functions(host_functions())
        .pure_export("process_batch")
        .timeout(Duration::from_secs(5))
        .enable_metrics(true)
        .build()
        .await?;

    let kv = sandbox
        .load_with(guests::PLUGIN_WASM, LoadOptions::new().name("kv"))
        .await?;
    let math = sandbox
        .load_with(guests::ABI_WASM, LoadOptions::new().name("math"))
        .await?;
    let echo = sandbox
        .load_with(guests::ABI_WASM, LoadOptions::new().name("echo"))
        .await?;
    let policy = TieringPolicy::straight_to_top_after(Threshold::new(100, Duration::ZERO));
    let adder = sandbox
        .load_with(
            guests::SCALAR_WAT.as_bytes(),
            LoadOptions::new().name("adder").tiering(policy),
        )
        .await?;
    let mut checks = Checks::default();

    // Stateful host functions: each tenant's counter is its own.
    let mut counts = Vec::new();
    for id in ["acme", "acme", "globex", "acme", "globex"] {
        let n: u64 = kv.with_state(tenant(id)).call("visit", "home").await?;
        counts.push(n);
    }
    checks.check(
        counts == [1, 2, 1, 3, 2],
        format!("per-tenant counters through kv_get/kv_put: {counts:?}"),
    );

    // An async host function, called from the guest.
    let answer: serde_json::Value = kv
        .with_state(tenant("acme"))
        .call("lookup", "color")
        .await?;
    checks.check(
        answer["tenant"] == "acme" && answer["answer"] == 42,
        format!("async host function `lookup`: {answer}"),
    );

    // The embedder's own error type reaches the caller.
    let mut quota_error = None;
    for i in 0..=QUOTA {
        let key = format!("key-{i}");
        if let Err(e) = kv
            .with_state(tenant("initech"))
            .call::<_, u64>("visit", &key)
            .await
        {
            quota_error = Some(e);
            break;
        }
    }
    let reached = quota_error
        .as_ref()
        .and_then(|e| e.host_error::<QuotaExceeded>())
        .is_some_and(|q| q.tenant == "initech");
    checks.check(
        reached,
        format!(
            "a host function's typed error reaches the caller: {}",
            quota_error.map_or_else(|| "no error".to_owned(), |e| e.to_string())
        ),
    );

    // A call without state cannot reach another tenant's keys: it fails.
    let stateless = kv.call::<_, u64>("visit", "home").await;
    checks.check(
        matches!(stateless, Err(Error::Config { .. })),
        "a call without a tenant is refused by the host functions",
    );

    // Memoization on the second plugin loaded.
    let input: Vec<i32> = (1..=8).collect();
    let a: Vec<i32> = math.call("process_batch", &input).await?;
    let b: Vec<i32> = math.call("process_batch", &input).await?;
    checks.check(
        a == b
            && a == input.iter().map(|x| x * 2).collect::<Vec<_>>()
            && math.stats().memo_hits == 1,
        format!(
            "pure export memoized on `math`: {} hit(s)",
            math.stats().memo_hits
        ),
    );

    // Batched calls on the third: 64 concurrent calls, fewer batches.
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let echo = echo.clone();
            tokio::spawn(async move {
                echo.call_batched::<_, String>("echo", &format!("msg-{i}"))
                    .await
            })
        })
        .collect();
    let mut all_echoed = true;
    for (i, call) in calls.into_iter().enumerate() {
        let got = call.await.expect("the call task ran")?;
        all_echoed &= got == format!("msg-{i}");
    }
    let batch = echo.stats().batch.expect("batched calls were made");
    checks.check(
        all_echoed && batch.calls == 64 && batch.batches() < 64,
        format!(
            "64 batched calls on `echo` ran in {} batches",
            batch.batches()
        ),
    );

    // Tiering on the fourth: it starts on Winch and tiers up once hot.
    let start_tier = adder.tier();
    for i in 0..100 {
        let sum: i32 = adder.call_typed("add", (i, 1)).await?;
        assert_eq!(sum, i + 1);
    }
    let tiering = adder.tiering().expect("the adder tiers");
    let idle = tokio::task::block_in_place(|| tiering.wait_for_tier_up(Duration::from_secs(60)));
    checks.check(
        start_tier == Tier::Baseline && idle && adder.tier() == Tier::HighlyOptimized,
        format!("`adder` tiered from {start_tier} to {}", adder.tier()),
    );

    println!("\nper-plugin stats:");
    println!(
        "{:<8} {:>7} {:>6} {:>9} {:>8} {:>16} {:>10}",
        "plugin", "calls", "failed", "memo hits", "batched", "tier", "time"
    );
    for p in [&kv, &math, &echo, &adder] {
        print_stats(p);
    }
    let m = sandbox.metrics();
    println!(
        "\nsandbox: {} calls, {} instantiations",
        m.calls, m.instantiations
    );

    if checks.failed.is_empty() {
        println!("\nall checks passed");
        Ok(())
    } else {
        eprintln!(
            "\n{} check(s) failed: {:?}",
            checks.failed.len(),
            checks.failed
        );
        std::process::exit(1);
    }
}

fn print_stats(p: &Plugin) {
    let s = p.stats();
    println!(
        "{:<8} {:>7} {:>6} {:>9} {:>8} {:>16} {:>10.2?}",
        s.name,
        s.calls,
        s.failures,
        s.memo_hits,
        s.batched_calls,
        s.tier.to_string(),
        s.total_time
    );
}
