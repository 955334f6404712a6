//! Hostile guests on every tier: deadlines, stack, memory and table bombs,
//! out-of-bounds accesses at every boundary, fuel determinism. Cases already in
//! `crates/core/tests/core/main.rs` (on the default tier) are repeated here only
//! where they now run on every tier or in a new shape.

use std::time::{Duration, Instant};

use wasm_sandbox_core::{
    Error, PerformanceConfig, Resource, ResourceLimits, Sandbox, SandboxConfig, Tier, TrapCode,
};
use wasm_sandbox_guests as guests;

fn sandbox(tier: Tier, limits: ResourceLimits, pool: bool) -> Sandbox {
    let memory_pool_size = if pool { 8 * limits.max_memory } else { 0 };
    Sandbox::with_tier(
        SandboxConfig {
            limits,
            performance: PerformanceConfig {
                memory_pool_size,
                ..PerformanceConfig::default()
            },
            ..SandboxConfig::default()
        },
        tier,
        None,
    )
    .expect("the engine builds")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

const RUNAWAY_WAT: &str = r#"(module
  (memory 256)
  (func $tree (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 1))
      (else (i32.add
        (call $tree (i32.sub (local.get 0) (i32.const 1)))
        (call $tree (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "spin") (loop $l (br $l)))
  (func (export "tree") (result i32) (call $tree (i32.const 62)))
  (func (export "bulk") (loop $l
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216))
      (memory.copy (i32.const 0) (i32.const 8388608) (i32.const 8388608))
      (br $l)))
  (func (export "ok") (result i32) (i32.const 1)))"#;

#[test]
fn runaway_guests_are_interrupted_on_every_tier_and_the_worker_is_reusable() {
    let timeout = Duration::from_millis(250);
    for tier in Tier::ALL {
        let s = sandbox(
            tier,
            ResourceLimits {
                timeout: Some(timeout),
                ..ResourceLimits::default()
            },
            false,
        );
        let m = s.compile(RUNAWAY_WAT.as_bytes()).expect("compiles");
        for export in ["spin", "tree", "bulk"] {
            let mut i = m.instantiate().expect("instantiates");
            let start = Instant::now();
            let err = if export == "tree" {
                i.call_typed::<(), i32>(export, ()).map(drop).unwrap_err()
            } else {
                i.call_typed::<(), ()>(export, ()).unwrap_err()
            };
            let took = start.elapsed();
            assert!(
                matches!(err, Error::Timeout { .. }),
                "{tier} {export}: {err}"
            );
            // Not earlier than one tick before the limit (observed: up to ~0.5 ms early,
            // see the report of the conformance suite).
            assert!(
                took + wasm_sandbox_core::EPOCH_TICK >= timeout,
                "{tier} {export}: stopped early after {took:?}"
            );
            // One tick plus one 16 MiB fill/copy is far below the limit itself.
            assert!(
                took < timeout * 2,
                "{tier} {export}: stopped late after {took:?}"
            );
            assert!(i.is_poisoned());
            // The same sandbox and module keep working.
            assert_eq!(
                m.instantiate()
                    .unwrap()
                    .call_typed::<(), i32>("ok", ())
                    .unwrap(),
                1
            );
        }
        // And through the async path, whose idle instances must not be the poisoned ones.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let err = m.call_typed::<(), ()>("spin", ()).await.unwrap_err();
            assert!(matches!(err, Error::Timeout { .. }), "{tier} async: {err}");
            assert_eq!(m.call_typed::<(), i32>("ok", ()).await.unwrap(), 1);
        });
    }
}

#[test]
fn infinite_recursion_is_a_stack_overflow_on_every_tier() {
    for tier in Tier::ALL {
        for pool in [false, true] {
            let s = sandbox(
                tier,
                ResourceLimits {
                    max_memory: 1 << 20,
                    ..ResourceLimits::default()
                },
                pool,
            );
            let m = s
                .compile(guests::RECURSION_WAT.as_bytes())
                .expect("compiles");
            for _ in 0..3 {
                let mut i = m.instantiate().expect("instantiates");
                let err = i.call_typed::<i32, i32>("recurse", 0).unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::Trap {
                            code: TrapCode::StackOverflow,
                            ..
                        }
                    ),
                    "{tier} pool={pool}: {err}"
                );
            }
            let mut i = m.instantiate().expect("instantiates");
            assert_eq!(
                i.call_typed::<i32, i32>("depth", 1000).unwrap(),
                1000,
                "{tier}"
            );
        }
    }
}

const GROW_WAT: &str = r#"(module
  (memory 1)
  (table 10 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_table") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0))))"#;

const CAPPED_WAT: &str = r#"(module
  (memory 1 2)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;

#[test]
fn growth_past_limits_is_a_clean_error_on_every_tier() {
    let limit = 16 << 20;
    let before = rss_kib();
    for tier in Tier::ALL {
        let limits = ResourceLimits {
            max_memory: limit,
            max_table_elements: 1000,
            ..ResourceLimits::default()
        };
        let s = sandbox(tier, limits, false);
        let m = s.compile(GROW_WAT.as_bytes()).expect("compiles");
        let mut i = m.instantiate().expect("instantiates");
        // Within the limit: the old size in pages.
        assert_eq!(i.call_typed::<i32, i32>("grow", 10).unwrap(), 1, "{tier}");
        // A declared maximum is the spec's business: -1, no error.
        let capped = s.compile(CAPPED_WAT.as_bytes()).expect("compiles");
        let mut c = capped.instantiate().expect("instantiates");
        assert_eq!(c.call_typed::<i32, i32>("grow", 5).unwrap(), -1, "{tier}");
        assert_eq!(c.call_typed::<i32, i32>("grow", 1).unwrap(), 1, "{tier}");
        for pages in [1000, 65_536, i32::MAX] {
            let err = i.call_typed::<i32, i32>("grow", pages).unwrap_err();
            assert!(
                matches!(err, Error::LimitExceeded { resource: Resource::Memory, limit: l, .. } if l == limit as u64),
                "{tier} grow {pages}: {err}"
            );
        }
        let mut i = m.instantiate().expect("instantiates");
        assert_eq!(
            i.call_typed::<i32, i32>("grow_table", 100).unwrap(),
            10,
            "{tier}"
        );
        for n in [1000, 1 << 30, -1] {
            let err = i.call_typed::<i32, i32>("grow_table", n).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::LimitExceeded {
                        resource: Resource::TableElements,
                        ..
                    }
                ),
                "{tier} table.grow {n}: {err}"
            );
        }
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "host RSS grew by {grown} KiB");
}

#[test]
fn oversized_initial_memory_and_huge_tables_fail_cleanly_with_bounded_host_memory() {
    let before = rss_kib();
    for tier in Tier::ALL {
        for pool in [false, true] {
            let limits = ResourceLimits {
                max_memory: 4 << 20,
                max_table_elements: 10_000,
                ..ResourceLimits::default()
            };
            let s = sandbox(tier, limits, pool);
            for (wat, resource) in [
                ("(module (memory 2000))", Resource::Memory),
                ("(module (memory 65536))", Resource::Memory),
                ("(module (table 10000000 funcref))", Resource::TableElements),
                (
                    "(module (table 4294967295 funcref))",
                    Resource::TableElements,
                ),
            ] {
                match s.compile(wat.as_bytes()) {
                    // The pooling allocator refuses such modules when compiling.
                    Err(Error::InvalidModule { reason }) => {
                        assert!(
                            pool,
                            "{tier} {wat}: refused at compile time without pooling: {reason}"
                        );
                    }
                    Err(other) => panic!("{tier} pool={pool} {wat}: {other}"),
                    Ok(m) => {
                        let err = m.instantiate().unwrap_err();
                        assert!(
                            matches!(err, Error::LimitExceeded { resource: r, .. } if r == resource),
                            "{tier} pool={pool} {wat}: {err}"
                        );
                    }
                }
            }
        }
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "host RSS grew by {grown} KiB");
}

/// Loads and stores of every width, as exports `load_<op>(addr)` and
/// `store_<op>(addr, value)`, plus the address shapes of past miscompilations.
fn bounds_wat() -> String {
    let mut funcs = String::new();
    for (name, ty, op) in LOADS {
        funcs.push_str(&format!(
            "(func (export \"load_{name}\") (param i32) (result {ty}) ({op} (local.get 0)))\n"
        ));
    }
    for (name, ty, op) in STORES {
        funcs.push_str(&format!(
            "(func (export \"store_{name}\") (param i32 {ty}) ({op} (local.get 0) (local.get 1)))\n"
        ));
    }
    format!(
        r#"(module
  (memory 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f")
  (data (i32.const 65520) "\f0\f1\f2\f3\f4\f5\f6\f7\f8\f9\fa\fb\fc\fd\fe\ff")
  {funcs}
  (func (export "shl3") (param i32) (result i32) (i32.load (i32.shl (local.get 0) (i32.const 3))))
  (func (export "base_shl2") (param i32 i32) (result i32)
    (i32.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2)))))
  (func (export "off_near_4g") (param i32) (result i32) (i32.load offset=0xffff0000 (local.get 0)))
  (func (export "off_max") (param i32) (result i32) (i32.load8_u offset=0xffffffff (local.get 0)))
  (func (export "shl3_off") (param i32) (result i64) (i64.load offset=8 (i32.shl (local.get 0) (i32.const 3)))))"#
    )
}

const LOADS: &[(&str, &str, &str)] = &[
    ("i32_8", "i32", "i32.load8_u"),
    ("i32_16", "i32", "i32.load16_u"),
    ("i32", "i32", "i32.load"),
    ("i64", "i64", "i64.load"),
    ("f32", "f32", "f32.load"),
    ("f64", "f64", "f64.load"),
];

const STORES: &[(&str, &str, &str)] = &[
    ("i32_8", "i32", "i32.store8"),
    ("i32_16", "i32", "i32.store16"),
    ("i32", "i32", "i32.store"),
    ("i64", "i64", "i64.store"),
];

fn width(name: &str) -> u64 {
    match name {
        "i32_8" => 1,
        "i32_16" => 2,
        "i32" | "f32" => 4,
        _ => 8,
    }
}

/// The memory image: the two data segments.
fn model() -> Vec<u8> {
    let mut m = vec![0u8; 65536];
    for i in 0..16 {
        m[i] = i as u8;
        m[65520 + i] = 0xf0 + i as u8;
    }
    m
}

fn le(model: &[u8], addr: usize, w: usize) -> u64 {
    let mut v = 0u64;
    for k in (0..w).rev() {
        v = (v << 8) | u64::from(model[addr + k]);
    }
    v
}

fn is_oob(err: &Error) -> bool {
    matches!(
        err,
        Error::Trap {
            code: TrapCode::MemoryOutOfBounds,
            ..
        }
    )
}

#[test]
fn out_of_bounds_accesses_trap_at_every_boundary_on_every_tier() {
    let wat = bounds_wat();
    let size: u64 = 65536;
    let model = model();
    for tier in Tier::ALL {
        for pool in [false, true] {
            let s = sandbox(
                tier,
                ResourceLimits {
                    max_memory: 1 << 20,
                    ..ResourceLimits::default()
                },
                pool,
            );
            let m = s.compile(wat.as_bytes()).expect("compiles");
            let mut addrs: Vec<u64> =
                vec![0, 1, size - 8, size - 4, size - 2, size - 1, size, size + 1];
            addrs.extend([
                size + 4096,
                size + (2 << 30),
                u64::from(u32::MAX) - 3,
                u64::from(u32::MAX),
            ]);
            for (name, _, _) in LOADS {
                let w = width(name);
                for &a in &addrs {
                    let mut i = m.instantiate().unwrap();
                    let export = format!("load_{name}");
                    let addr = a as u32 as i32;
                    let r: Result<u64, Error> = match *name {
                        "i64" => i.call_typed::<i32, i64>(&export, addr).map(|v| v as u64),
                        "f32" => i
                            .call_typed::<i32, f32>(&export, addr)
                            .map(|v| u64::from(v.to_bits())),
                        "f64" => i.call_typed::<i32, f64>(&export, addr).map(f64::to_bits),
                        _ => i
                            .call_typed::<i32, i32>(&export, addr)
                            .map(|v| u64::from(v as u32)),
                    };
                    if a + w > size {
                        let err =
                            r.expect_err(&format!("{tier} pool={pool} {export}({a:#x}) must trap"));
                        assert!(is_oob(&err), "{tier} {export}({a:#x}): {err}");
                    } else {
                        let v = r.unwrap_or_else(|e| panic!("{tier} {export}({a:#x}): {e}"));
                        assert_eq!(
                            v,
                            le(&model, a as usize, w as usize),
                            "{tier} {export}({a:#x})"
                        );
                    }
                }
            }
            for (name, _, _) in STORES {
                let w = width(name);
                for &a in &addrs {
                    let mut i = m.instantiate().unwrap();
                    let export = format!("store_{name}");
                    let addr = a as u32 as i32;
                    let r = match *name {
                        "i64" => i.call_typed::<(i32, i64), ()>(&export, (addr, -1)),
                        _ => i.call_typed::<(i32, i32), ()>(&export, (addr, -1)),
                    };
                    if a + w > size {
                        let err =
                            r.expect_err(&format!("{tier} pool={pool} {export}({a:#x}) must trap"));
                        assert!(is_oob(&err), "{tier} {export}({a:#x}): {err}");
                        // No partial write of a store that straddles the end.
                        if a < size {
                            let mut j = m.instantiate().unwrap();
                            let _ = &mut j;
                            let got = i.call_typed::<i32, i32>("load_i32_8", a as i32);
                            assert_eq!(
                                got.ok(),
                                Some(i32::from(model[a as usize])),
                                "{tier} pool={pool}: a trapping {export}({a:#x}) wrote a byte"
                            );
                        }
                    } else {
                        r.unwrap_or_else(|e| panic!("{tier} {export}({a:#x}): {e}"));
                        let back = i
                            .call_typed::<i32, i64>("load_i64", (a.min(size - 8)) as i32)
                            .unwrap();
                        assert_ne!(back, 0, "{tier} {export}({a:#x}) wrote nothing");
                    }
                }
            }
            // Address shapes of past miscompilation advisories.
            let mut i = m.instantiate().unwrap();
            // (x << 3) wraps to 0 in 32 bits: address 0, in bounds.
            assert_eq!(
                i.call_typed::<i32, i32>("shl3", 0x2000_0000).unwrap(),
                0x0302_0100,
                "{tier}"
            );
            // (x << 3) wraps to 65536: out of bounds, not 0x1_0001_0000 read through a guard.
            for x in [0x2000_2000u32, 0x3fff_ffff, 0xffff_ffff] {
                let err = m
                    .instantiate()
                    .unwrap()
                    .call_typed::<i32, i32>("shl3", x as i32)
                    .unwrap_err();
                assert!(is_oob(&err), "{tier} shl3({x:#x}): {err}");
            }
            // base + (idx << 2) wraps to 0.
            assert_eq!(
                i.call_typed::<(i32, i32), i32>("base_shl2", (-4, 1))
                    .unwrap(),
                0x0302_0100,
                "{tier}"
            );
            let err = m
                .instantiate()
                .unwrap()
                .call_typed::<(i32, i32), i32>("base_shl2", (0, 0x4000))
                .unwrap_err();
            assert!(is_oob(&err), "{tier} base_shl2: {err}");
            // i32 address + offset is a 33-bit effective address: it must not wrap.
            for x in [0u32, 0x10, 0x1_0010, 0xffff, 0xffff_ffff] {
                let err = m
                    .instantiate()
                    .unwrap()
                    .call_typed::<i32, i32>("off_near_4g", x as i32)
                    .unwrap_err();
                assert!(is_oob(&err), "{tier} off_near_4g({x:#x}): {err}");
                let err = m
                    .instantiate()
                    .unwrap()
                    .call_typed::<i32, i32>("off_max", x as i32)
                    .unwrap_err();
                assert!(is_oob(&err), "{tier} off_max({x:#x}): {err}");
            }
            // shl then offset: 0x2000_0000 << 3 wraps to 0, +8 -> bytes 8..16.
            assert_eq!(
                i.call_typed::<i32, i64>("shl3_off", 0x2000_0000).unwrap() as u64,
                le(&model, 8, 8),
                "{tier}"
            );
        }
    }
}

#[test]
fn fuel_exhaustion_is_deterministic_on_every_tier() {
    let fuel = 20_000;
    for tier in Tier::ALL {
        let s = sandbox(
            tier,
            ResourceLimits {
                fuel: Some(fuel),
                ..ResourceLimits::default()
            },
            false,
        );
        let m = s.compile(guests::SCALAR_WAT.as_bytes()).expect("compiles");
        let mut i = m.instantiate().unwrap();
        let (mut lo, mut hi) = (1, 1_000_000);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if i.call_typed::<i32, i32>("busy", mid).is_ok() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        assert!(lo > 10, "{tier}: only {lo} iterations fit in {fuel} fuel");
        for _ in 0..2000 {
            assert!(i.call_typed::<i32, i32>("busy", lo).is_ok(), "{tier}");
            let err = i.call_typed::<i32, i32>("busy", hi).unwrap_err();
            assert!(
                matches!(err, Error::OutOfFuel { fuel: f } if f == fuel),
                "{tier}: {err}"
            );
        }
        eprintln!("{tier}: busy({lo}) fits in {fuel} fuel, busy({hi}) does not");
    }
}

#[test]
fn a_second_memory_is_a_typed_limit_error() {
    for tier in Tier::ALL {
        let s = sandbox(tier, ResourceLimits::default(), false);
        let m = s
            .compile(b"(module (memory 1) (memory 1))")
            .expect("multi-memory is enabled");
        let err = m.instantiate().unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    resource: Resource::Instances,
                    ..
                }
            ),
            "{tier}: {err}"
        );
        assert!(err.is_guest_fault(), "{tier}: {err}");
    }
}
