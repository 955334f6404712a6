//! Pre-initialized plugins and fresh isolation through the facade (`LoadOptions::preinit`,
//! `LoadOptions::fresh`), on the Lua interpreter guest with its prelude.

use super::*;
use wasm_sandbox::{Isolation, LoadOptions, PreInit};

fn init() -> PreInit {
    PreInit::call_bytes("init", guests::LUA_PRELUDE.as_bytes().to_vec())
}

async fn lua_sandbox(dir: &std::path::Path) -> WasmSandbox {
    WasmSandbox::builder()
        .wasi(WasiConfig::capture())
        .performance_config(PerformanceConfig {
            enable_caching: true,
            ..Default::default()
        })
        .cache_dir(dir)
        .enable_metrics(true)
        .build()
        .await
        .unwrap()
}

async fn eval(plugin: &wasm_sandbox::Plugin, script: &str) -> String {
    let out = plugin.call_bytes("eval", script.as_bytes()).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// The prelude is in every instance of the snapshot; a fresh plugin keeps nothing between
/// calls and a reused one does; batched calls of a fresh plugin are fresh too.
#[tokio::test]
async fn a_preinitialized_fresh_plugin_starts_every_call_from_the_prelude() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = lua_sandbox(dir.path()).await;
    let fresh = sandbox
        .load_with(
            guests::LUA_EVAL_WASM,
            LoadOptions::new().name("fresh").preinit(init()).fresh(),
        )
        .await
        .unwrap();
    assert_eq!(fresh.module().isolation(), Isolation::Fresh);
    assert_eq!(
        eval(&fresh, "return json.encode({a = 1})").await,
        r#"{"a":1}"#
    );
    assert_eq!(eval(&fresh, "X = 41 return X + 1").await, "42");
    assert_eq!(eval(&fresh, "return tostring(X)").await, "nil");
    // The init export ran at load time: the snapshot does not export it.
    assert!(!fresh.function_exports().contains(&"init".to_owned()));

    let reused = sandbox
        .load_with(
            guests::LUA_EVAL_WASM,
            LoadOptions::new()
                .name("reused")
                .preinit(init())
                .isolation(Isolation::Reuse),
        )
        .await
        .unwrap();
    assert_eq!(eval(&reused, "X = 41 return X + 1").await, "42");
    assert_eq!(eval(&reused, "return tostring(X)").await, "41");
    // One init step for both plugins: the second came from the cache.
    assert_eq!(sandbox.metrics().preinits, 1);
    assert_eq!(fresh.content_hash(), reused.content_hash());
}

/// An ABI guest that counts its calls in a global and returns the count (one JSON digit).
const COUNTER: &str = r#"(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))
  (global $calls (mut i32) (i32.const 0))
  (func (export "sandbox_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $top))
    (global.set $top (i32.add (global.get $top) (local.get $n)))
    (local.get $p))
  (func (export "sandbox_free") (param i32 i32))
  (func (export "count") (param i32 i32) (result i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (i32.const 16) (i32.add (i32.const 48) (i32.rem_u (global.get $calls) (i32.const 10))))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 1))))"#;

/// Every kind of call of a fresh plugin, batched ones included, runs on an instance of its
/// own: the guest's call counter is 1 in each. The reused plugin counts (the control).
#[tokio::test]
async fn every_call_kind_of_a_fresh_plugin_is_fresh_batched_ones_included() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let fresh = sandbox
        .load_with(COUNTER.as_bytes(), LoadOptions::new().fresh())
        .await
        .unwrap();
    let reused = sandbox.load(COUNTER.as_bytes()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(fresh.call::<_, u32>("count", &()).await.unwrap(), 1);
        assert_eq!(fresh.call_bytes("count", b"").await.unwrap(), b"1");
    }
    let batched =
        futures::future::join_all((0..12).map(|_| fresh.call_batched::<_, u32>("count", &())))
            .await;
    for r in batched {
        assert_eq!(r.unwrap(), 1, "a batched call saw another's count");
    }
    let mut counts = Vec::new();
    for _ in 0..3 {
        counts.push(reused.call::<_, u32>("count", &()).await.unwrap());
    }
    assert_eq!(counts, [1, 2, 3], "the control: a reused instance counts");
}

/// A second sandbox on the same cache directory (a restarted process) runs no init step.
#[tokio::test]
async fn a_restarted_host_loads_the_snapshot_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let sandbox = lua_sandbox(dir.path()).await;
        sandbox
            .load_with(guests::LUA_EVAL_WASM, LoadOptions::new().preinit(init()))
            .await
            .unwrap();
        assert_eq!(sandbox.metrics().preinits, 1);
    }
    let sandbox = lua_sandbox(dir.path()).await;
    let lua = sandbox
        .load_with(guests::LUA_EVAL_WASM, LoadOptions::new().preinit(init()))
        .await
        .unwrap();
    assert_eq!(sandbox.metrics().preinits, 0);
    assert_eq!(eval(&lua, "return str.trim('  ok  ')").await, "ok");
}

/// Tiering a pre-initialized plugin is refused, with a message that says what to drop.
#[tokio::test]
async fn preinit_with_explicit_tiering_is_a_config_error() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let err = sandbox
        .load_with(
            guests::SCALAR_WAT.as_bytes(),
            LoadOptions::new()
                .preinit(PreInit::initialize())
                .tiering(wasm_sandbox::tiering::TieringPolicy::default()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { reason } if reason.contains("preinit")),
        "{err}"
    );
}
