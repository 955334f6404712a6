//! Running real closures: shapes of the results only, never timing assertions.

use std::cell::Cell;
use std::time::Duration;
use wasm_sandbox_bench::{
    BenchmarkCase, CompareConfig, InputSize, PerformanceBenchmark, Phase, compare, run_case,
    run_case_with_memory,
};

#[test]
fn compare_records_one_sample_per_round_and_side() {
    let (a, b) = (Cell::new(0u64), Cell::new(0u64));
    let cfg = CompareConfig::new()
        .rounds(7)
        .warmup_rounds(2)
        .batch_size(3);
    let row = compare("count", || a.set(a.get() + 1), || b.set(b.get() + 1), &cfg);
    assert_eq!(row.baseline.samples.len(), 7);
    assert_eq!(row.candidate.samples.len(), 7);
    assert_eq!(row.speedup.count, 7);
    assert_eq!((row.baseline.batch_size, row.candidate.batch_size), (3, 3));
    // (2 warm-up + 7 rounds) * 3 calls each, no calibration with a fixed batch.
    assert_eq!((a.get(), b.get()), (27, 27));
    assert!(row.baseline.samples.iter().all(|&s| s > 0.0));
    assert_eq!(row.unit, "ns");
    assert_eq!(row.baseline_name, "baseline");
}

#[test]
fn compare_calibrates_fast_functions_into_batches() {
    let cfg = CompareConfig::new()
        .rounds(3)
        .warmup_rounds(0)
        .min_sample_time(Duration::from_micros(50));
    let row = compare("noop", || (), || std::hint::black_box(1u8), &cfg);
    assert!(row.baseline.batch_size > 1 && row.candidate.batch_size > 1);
}

#[test]
fn run_case_records_memory_and_throughput() {
    let case = BenchmarkCase::new("grow")
        .group("memory")
        .phase(Phase::Execution)
        .input_size(InputSize::Items(10))
        .iterations(5)
        .warmup_iterations(1)
        .batch_size(2);
    let pages = Cell::new(0u64);
    let r = run_case_with_memory(&case, || pages.set(pages.get() + 1), || pages.get() * 65536);
    assert_eq!(r.samples_ns.len(), 5);
    assert_eq!(r.batch_size, 2);
    // (1 warm-up + 5) * 2 calls; the last probe saw 12 pages.
    assert_eq!(r.memory.guest_linear_bytes, Some(12 * 65536));
    assert!(r.throughput_per_sec.unwrap() > 0.0);
    assert_eq!(
        (r.group.as_str(), r.phase),
        ("memory", Some(Phase::Execution))
    );
    if cfg!(target_os = "linux") {
        assert!(r.memory.host_peak_rss_bytes.unwrap() > 0);
    }
    let plain = run_case(&case.clone().reset_peak_rss(false), || ());
    assert_eq!(plain.memory.guest_linear_bytes, None);
    assert!(!plain.memory.host_peak_rss_is_per_case);
}

#[test]
fn performance_benchmark_runs_cases_in_order() {
    let data = vec![3u8; 256];
    let mut bench = PerformanceBenchmark::new();
    assert!(bench.is_empty());
    bench
        .add(BenchmarkCase::new("first").iterations(3), || data.len())
        .add_with_memory(
            BenchmarkCase::new("second").iterations(4),
            || data.iter().map(|&x| u32::from(x)).sum::<u32>(),
            || 4096,
        );
    assert_eq!(bench.len(), 2);
    assert!(format!("{bench:?}").contains("second"));
    let results = bench.run();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].name, "first");
    assert_eq!(results[0].samples_ns.len(), 3);
    assert_eq!(results[1].memory.guest_linear_bytes, Some(4096));
    assert_eq!(results[1].throughput_per_sec, None);
}

#[test]
#[should_panic(expected = "at least one round")]
fn zero_rounds_panic_at_the_setter() {
    let _ = CompareConfig::new().rounds(0);
}
