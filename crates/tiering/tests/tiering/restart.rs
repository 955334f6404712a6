//! A restarted process starts on the best tier in the compilation cache.

use std::sync::Arc;
use std::time::Duration;

use wasm_sandbox_cache::{CacheConfig, CompilationCache};
use wasm_sandbox_core::Tier;
use wasm_sandbox_guests::SCALAR_WAT;
use wasm_sandbox_tiering::{Threshold, TieredModule, TieringPolicy};

use crate::config;

fn open(dir: &std::path::Path) -> Arc<CompilationCache> {
    Arc::new(CompilationCache::open(CacheConfig::new(dir.join("cache"))).unwrap())
}

#[test]
fn a_second_module_starts_on_the_best_cached_tier() {
    let dir = tempfile::tempdir().unwrap();
    let policy = TieringPolicy::stepwise()
        .top(Tier::Optimized)
        .all_thresholds(Threshold::new(5, Duration::ZERO));

    // First process: Baseline, then a tier-up to Optimized; both cached.
    {
        let cache = open(dir.path());
        let m = TieredModule::builder(SCALAR_WAT.as_bytes(), config())
            .policy(policy.clone())
            .with_cache(Arc::clone(&cache))
            .build()
            .unwrap();
        assert_eq!(m.current_tier(), Tier::Baseline);
        let mut inst = m.instantiate().unwrap();
        assert_eq!(
            inst.call_typed::<(i32, i32), i32>("add", (1, 2)).unwrap(),
            3
        );
        m.record_calls("add", Tier::Baseline, 5, Duration::from_micros(5));
        assert!(m.wait_for_tier_up(Duration::from_secs(30)));
        assert_eq!(m.current_tier(), Tier::Optimized);
        let stats = m.stats();
        assert!(stats.compiles.iter().all(|c| !c.from_cache), "{stats:?}");
        assert_eq!(cache.stats().compiles, 2);
    }

    // Second process (a fresh cache handle on the same directory).
    let cache = open(dir.path());
    let m = TieredModule::builder(SCALAR_WAT.as_bytes(), config())
        .policy(policy)
        .with_cache(Arc::clone(&cache))
        .build()
        .unwrap();
    assert_eq!(
        m.current_tier(),
        Tier::Optimized,
        "started on the best cached tier"
    );
    let stats = m.stats();
    assert_eq!(stats.start_tier, Tier::Optimized);
    assert!(stats.compiles[0].from_cache);
    assert_eq!(stats.next_tier, None, "already at the policy's top");
    assert_eq!((cache.stats().compiles, cache.stats().disk_hits), (0, 1));
    let mut inst = m.instantiate().unwrap();
    assert_eq!(
        inst.call_typed::<(i32, i32), i32>("add", (2, 2)).unwrap(),
        4
    );

    // A policy whose top is lower than the cached tier does not use it.
    let low = TieredModule::builder(SCALAR_WAT.as_bytes(), config())
        .policy(TieringPolicy::fixed(Tier::Baseline))
        .with_cache(cache)
        .build()
        .unwrap();
    assert_eq!(low.current_tier(), Tier::Baseline);
}
