//! Synthetic reports with fixed metadata, so nothing depends on timing.

use wasm_sandbox_bench::{
    CaseResult, Comparison, Direction, Goal, InputSize, Machine, MemoryUsage, Metadata, Phase,
    Report, SCHEMA_VERSION, Statistics,
};

/// Fixed metadata.
pub(crate) fn metadata(title: &str) -> Metadata {
    Metadata {
        schema_version: SCHEMA_VERSION,
        title: title.to_owned(),
        created_unix_secs: 1_700_000_000,
        created: "2023-11-14T22:13:20Z".to_owned(),
        machine: Machine {
            cpu_model: Some("Test CPU @ 3.0GHz".to_owned()),
            cores: 2,
            os: "linux".to_owned(),
            arch: "x86_64".to_owned(),
        },
        rustc_version: Some("rustc 1.95.0".to_owned()),
        git_commit: Some("0123abcd".to_owned()),
    }
}

/// An empty report.
pub(crate) fn empty() -> Report {
    Report {
        metadata: metadata("empty"),
        rows: Vec::new(),
        cases: Vec::new(),
        skipped: Vec::new(),
    }
}

/// `n` samples around `center`, spread by +-10%, deterministic.
pub(crate) fn samples(center: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| center * (0.9 + 0.2 * ((i * 7 % 11) as f64 / 10.0)))
        .collect()
}

/// A time row whose candidate takes `candidate_ns` and baseline `baseline_ns`.
pub(crate) fn time_row(name: &str, baseline_ns: f64, candidate_ns: f64) -> Comparison {
    Comparison::from_paired_samples(
        name,
        "ns",
        Direction::LowerIsBetter,
        samples(baseline_ns, 21),
        samples(candidate_ns, 21),
    )
    .unwrap()
}

/// A case with the given median-ish time.
pub(crate) fn case(name: &str, group: &str, ns: f64) -> CaseResult {
    let samples_ns = samples(ns, 15);
    CaseResult {
        name: name.to_owned(),
        group: group.to_owned(),
        phase: Some(Phase::Execution),
        input_size: Some(InputSize::Bytes(4096)),
        batch_size: 64,
        stats: Statistics::from_samples(&samples_ns).unwrap(),
        throughput_per_sec: InputSize::Bytes(4096).per_second(ns),
        samples_ns,
        memory: MemoryUsage {
            guest_linear_bytes: Some(65536),
            host_peak_rss_bytes: Some(20 * 1024 * 1024),
            host_peak_rss_is_per_case: true,
        },
    }
}

/// Four rows in three groups (goals met and missed, throughput, instruction counts) and
/// two cases.
pub(crate) fn full() -> Report {
    let rows = vec![
        time_row("add i32", 20.0, 60.0)
            .with_group("call")
            .with_phase(Phase::Execution)
            .with_measures("one call of an exported add")
            .with_names("native fn", "sandboxed call")
            .with_goal(Goal::slowdown_at_most(5.0)),
        time_row("memcpy 4 KiB", 800.0, 200.0)
            .with_group("call")
            .with_phase(Phase::Execution)
            .with_measures("copying 4 KiB | through the ABI")
            .with_names("serde ABI", "zero-copy ABI")
            .with_throughput(InputSize::Bytes(4096))
            .with_goal(Goal::at_least(5.0)),
        time_row("cached module", 50_000_000.0, 2_000_000.0)
            .with_group("compile")
            .with_phase(Phase::Compilation)
            .with_names("wasmtime compile", "cache hit <& \"quoted\">"),
        Comparison::from_paired_samples(
            "instantiate",
            "instructions",
            Direction::LowerIsBetter,
            samples(120_000.0, 9),
            samples(40_000.0, 9),
        )
        .unwrap()
        .with_group("instantiation")
        .with_phase(Phase::Instantiation)
        .with_goal(Goal::at_least(2.0)),
    ];
    Report {
        metadata: metadata("full"),
        rows,
        cases: vec![case("sum 4 KiB", "call", 1500.0), case("startup", "", 3e6)],
        skipped: Vec::new(),
    }
}
