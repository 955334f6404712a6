//! Tests of the facade: the builder, the default module and the re-exports.

use std::time::Duration;

use wasm_sandbox::{Codec, Error, PerformanceConfig, Tier, WasiConfig, WasmSandbox};
use wasm_sandbox_guests as guests;

#[tokio::test]
async fn calls_target_the_first_module_loaded() {
    let sandbox = WasmSandbox::builder().build().await.unwrap();
    let err = sandbox.call_typed::<(i32, i32), i32>("add", (1, 2)).await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let abi = sandbox.load(guests::ABI_WASM).await.unwrap();
    let scalar = sandbox.load(guests::SCALAR_WAT.as_bytes()).await.unwrap();
    let r: Vec<i32> = sandbox.call("process_batch", &vec![1, 2, 3]).await.unwrap();
    assert_eq!(r, [2, 4, 6]);
    sandbox.set_default_module(&scalar);
    assert_eq!(sandbox.call_typed::<(i32, i32), i32>("add", (1, 2)).await.unwrap(), 3);
    let bytes = abi.call_bytes("echo", b"hi").await.unwrap();
    assert_eq!(bytes, b"hi");
}

#[tokio::test]
async fn modules_load_from_paths_and_missing_files_are_io_errors() {
    let sandbox = WasmSandbox::builder().codec(Codec::Postcard).build().await.unwrap();
    let path = format!("{}/c/abi/abi.wasm", guests::DIR);
    let m = sandbox.compile_with_cache(path.as_str()).await.unwrap();
    sandbox.warmup(&m).await.unwrap();
    assert!(m.idle_instances() >= 1);
    let r: Vec<i32> = sandbox.call("process_batch_postcard", &vec![5]).await.unwrap();
    assert_eq!(r, [10]);
    let err = sandbox.load("/no/such/module.wasm").await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/module.wasm"));
}

#[tokio::test]
async fn builder_settings_reach_the_core() {
    let sandbox = WasmSandbox::builder()
        .performance_config(PerformanceConfig {
            enable_jit: false,
            ..Default::default()
        })
        .timeout(Duration::from_millis(100))
        .enable_metrics(true)
        .build()
        .await
        .unwrap();
    assert_eq!(sandbox.tier(), Tier::Interpreter);
    sandbox.load(guests::LOOP_WAT.as_bytes()).await.unwrap();
    let err = sandbox.call_typed::<(), ()>("run", ()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(sandbox.metrics().timeouts, 1);
}

#[tokio::test]
async fn wasi_commands_run_through_the_facade() {
    let sandbox = WasmSandbox::builder().wasi(WasiConfig::default()).build().await.unwrap();
    sandbox.load(guests::HELLO_WASM).await.unwrap();
    let out = sandbox.run(&WasiConfig::capture().args(["hello", "x"])).await.unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("arg 1: x"));
}

#[test]
fn re_exports_name_the_core_types() {
    // The facade's types are the core's types, not copies.
    let _: fn(wasm_sandbox::core::SandboxConfig) -> wasm_sandbox::Result<wasm_sandbox::core::Sandbox> =
        wasm_sandbox::core::Sandbox::new;
    let e: wasm_sandbox::core::Error = wasm_sandbox::Error::config("x");
    assert!(matches!(e, wasm_sandbox::Error::Config { .. }));
}
