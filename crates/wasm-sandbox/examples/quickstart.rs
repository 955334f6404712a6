//! The seed's "Quick Performance Setup", running for real on a bundled guest.
//!
//! ```text
//! cargo run --release -p wasm-sandbox --example quickstart [MODULE.wasm]
//! ```

use wasm_sandbox::{OptimizationLevel, PerformanceConfig, WasmSandbox};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../guests/c/abi/abi.wasm").to_owned()
    });

    let sandbox = WasmSandbox::builder()
        .performance_config(PerformanceConfig {
            optimization_level: OptimizationLevel::Aggressive,
            enable_jit: true,
            enable_caching: true,
            parallel_compilation: true,
            memory_pool_size: 64 * 1024 * 1024, // 64MB: four 16 MiB instance slots
            ..Default::default()
        })
        .max_memory(16 * 1024 * 1024)
        .enable_metrics(true)
        .build()
        .await?;

    // Pre-compile and cache modules
    let module = sandbox.compile_with_cache(path.as_str()).await?;

    // Warm up: pre-instantiate and fault in memory
    sandbox.warmup(&module).await?;

    // High-performance execution
    let input_data: Vec<i32> = (0..10_000).collect();
    let start = std::time::Instant::now();
    let result: Vec<i32> = sandbox.call("process_batch", &input_data).await?;
    let duration = start.elapsed();
    println!("Processed {} items in {:?}", result.len(), duration);
    assert_eq!(result[4_999], 9_998);

    let metrics = sandbox.metrics();
    println!(
        "compiles: {}, instantiations: {}, calls: {}, call p50: {} ns",
        metrics.compiles, metrics.instantiations, metrics.calls, metrics.call.p50_ns
    );
    Ok(())
}
