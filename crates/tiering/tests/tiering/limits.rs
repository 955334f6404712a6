//! Every limit holds on every tier that claims to support it.

use std::time::{Duration, Instant};

use wasm_sandbox_core::{Error, Resource, SandboxConfig, Tier, TrapCode};
use wasm_sandbox_guests::{LOOP_WAT, MEMBOMB_WAT, RECURSION_WAT, SCALAR_WAT};
use wasm_sandbox_tiering::{TieredModule, TieringPolicy, supports};

use crate::{config, fixed};

/// The tiers that claim to honour `config`.
fn tiers_for(config: &SandboxConfig) -> Vec<Tier> {
    let tiers: Vec<Tier> = Tier::ALL
        .into_iter()
        .filter(|t| supports(*t, config).is_ok())
        .collect();
    assert!(
        tiers.contains(&Tier::HighlyOptimized),
        "Cranelift honours every limit"
    );
    tiers
}

#[test]
fn timeout_stops_an_infinite_loop_on_every_tier() {
    let mut cfg = config();
    cfg.limits.timeout = Some(Duration::from_millis(100));
    for tier in tiers_for(&cfg) {
        let mut inst = fixed(LOOP_WAT, tier, cfg.clone()).instantiate().unwrap();
        let start = Instant::now();
        let err = inst.call_typed::<(), ()>("run", ()).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{tier}: {err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{tier}: took {:?}",
            start.elapsed()
        );
        let err = inst.call_typed::<i32, i32>("spin", 0).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{tier}: {err}");
    }
}

#[tokio::test]
async fn timeout_holds_on_async_calls_on_every_tier() {
    let mut cfg = config();
    cfg.limits.timeout = Some(Duration::from_millis(50));
    for tier in tiers_for(&cfg) {
        let m = fixed(LOOP_WAT, tier, cfg.clone());
        let err = m
            .module()
            .call_typed::<(), ()>("run", ())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{tier}: {err}");
    }
}

#[test]
fn fuel_runs_out_on_every_tier() {
    let mut cfg = config();
    cfg.limits.fuel = Some(100_000);
    for tier in tiers_for(&cfg) {
        let mut inst = fixed(SCALAR_WAT, tier, cfg.clone()).instantiate().unwrap();
        // Cheap calls fit in the budget; fuel is refilled for each call.
        for _ in 0..3 {
            assert_eq!(inst.call_typed::<i32, i32>("busy", 100).unwrap(), {
                let mut fresh = fixed(SCALAR_WAT, Tier::HighlyOptimized, config())
                    .instantiate()
                    .unwrap();
                fresh.call_typed::<i32, i32>("busy", 100).unwrap()
            });
        }
        let err = inst.call_typed::<i32, i32>("busy", 10_000_000).unwrap_err();
        assert!(
            matches!(err, Error::OutOfFuel { fuel: 100_000 }),
            "{tier}: {err}"
        );
        let err = fixed(LOOP_WAT, tier, cfg.clone())
            .instantiate()
            .unwrap()
            .call_typed::<(), ()>("run", ())
            .unwrap_err();
        assert!(matches!(err, Error::OutOfFuel { .. }), "{tier}: {err}");
    }
}

#[test]
fn memory_limit_stops_a_memory_bomb_on_every_tier() {
    let mut cfg = config();
    cfg.limits.max_memory = 1 << 20;
    for tier in tiers_for(&cfg) {
        let m = fixed(MEMBOMB_WAT, tier, cfg.clone());
        let mut inst = m.instantiate().unwrap();
        let err = inst.call_typed::<(), i32>("bomb", ()).unwrap_err();
        assert!(
            matches!(err, Error::LimitExceeded { resource: Resource::Memory, limit, .. } if limit == 1 << 20),
            "{tier}: {err}"
        );
        assert!(inst.memory_size() <= 1 << 20, "{tier}");
        let err = m
            .instantiate()
            .unwrap()
            .call_typed::<(), i32>("grow_huge", ())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    resource: Resource::Memory,
                    ..
                }
            ),
            "{tier}: {err}"
        );
    }
}

#[test]
fn stack_limit_traps_on_every_tier() {
    let mut cfg = config();
    cfg.limits.max_wasm_stack = 64 * 1024;
    for tier in tiers_for(&cfg) {
        let mut inst = fixed(RECURSION_WAT, tier, cfg.clone())
            .instantiate()
            .unwrap();
        let err = inst.call_typed::<i32, i32>("recurse", 0).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Trap {
                    code: TrapCode::StackOverflow,
                    ..
                }
            ),
            "{tier}: {err}"
        );
        // The limit is a limit, not a crash: a shallow call still works.
        let mut inst = fixed(RECURSION_WAT, tier, cfg.clone())
            .instantiate()
            .unwrap();
        assert_eq!(
            inst.call_typed::<i32, i32>("depth", 10).unwrap(),
            10,
            "{tier}"
        );
    }
}

#[test]
fn supports_names_what_a_tier_lacks() {
    let cfg = config();
    for tier in Tier::ALL {
        match supports(tier, &cfg) {
            Ok(()) => {}
            Err(u) => {
                assert_eq!(u.tier, tier);
                assert!(u.to_string().contains(tier.name()), "{u}");
            }
        }
    }
    // Winch is complete on x86-64 only.
    assert_eq!(
        supports(Tier::Baseline, &cfg).is_ok(),
        cfg!(target_arch = "x86_64")
    );
}

#[test]
fn an_unsupported_start_tier_is_skipped_and_never_picked() {
    let cfg = config();
    let policy = TieringPolicy::stepwise().start(Tier::Baseline);
    let m = TieredModule::new(SCALAR_WAT.as_bytes(), cfg.clone(), policy).unwrap();
    let tier = m.current_tier();
    assert!(supports(tier, &cfg).is_ok());
    if supports(Tier::Baseline, &cfg).is_err() {
        assert_eq!(tier, Tier::Optimized, "skipped to the next tier that can");
    }
}

#[test]
fn a_config_no_tier_can_honour_is_a_config_error() {
    // An inconsistent configuration fails on every tier the same way.
    let mut cfg = config();
    cfg.performance.memory_pool_size = 1024;
    let err = TieredModule::new(SCALAR_WAT.as_bytes(), cfg, TieringPolicy::default()).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}
