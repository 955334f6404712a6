//! Tenant isolation in the pooling allocator (the CVE-2022-39393 / CVE-2026-34988 class: a
//! pooled slot handing one tenant's memory or table contents to the next), pool exhaustion,
//! and waiting for a free slot.
//!
//! Every sandbox here has one slot per MiB of `memory_pool_size`, so with one slot each new
//! instance reuses the slot the previous one left.

use super::*;

const MIB: usize = 1024 * 1024;
const PAGE: i32 = 65536;

/// Keep-resident settings: none (all `madvise`), part of the memory, all of it.
const KEEP_RESIDENT: [usize; 3] = [0, 64 * 1024, MIB];

fn pooled(slots: usize, keep_resident: usize, wait: Option<Duration>) -> Sandbox {
    Sandbox::new(SandboxConfig {
        performance: PerformanceConfig {
            memory_pool_size: slots * MIB,
            pool_keep_resident: keep_resident,
            pool_wait: wait,
            ..Default::default()
        },
        limits: ResourceLimits {
            max_memory: MIB,
            max_table_elements: 64,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

/// Asserts that a fresh tenant instance sees its initial sizes, and only zeros and null
/// references after growing to the maximum.
fn assert_clean(tenant: &mut wasm_sandbox_core::Instance, context: &str) {
    assert_eq!(
        tenant.call_typed::<(), i32>("pages", ()).unwrap(),
        1,
        "{context}"
    );
    assert_eq!(
        tenant.call_typed::<(), i32>("elems", ()).unwrap(),
        4,
        "{context}"
    );
    assert_eq!(
        tenant.call_typed::<i32, i32>("stale_bytes", 16).unwrap(),
        0,
        "{context}: non-zero memory words from an earlier tenant"
    );
    assert_eq!(
        tenant.call_typed::<i32, i32>("stale_elems", 64).unwrap(),
        0,
        "{context}: non-null table entries from an earlier tenant"
    );
}

#[test]
fn a_dirty_tenant_leaves_zeros_and_nulls_for_the_next() {
    for keep in KEEP_RESIDENT {
        let s = pooled(1, keep, None);
        assert_eq!(s.pool_capacity(), Some(1));
        let m = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
        // Another module in the same slot must see nothing either.
        let other = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
        // Initial sizes only, and memory and table grown past their initial sizes.
        for (pages, elems) in [(1, 4), (16, 64), (3, 9)] {
            let context = format!("keep_resident {keep}, dirtied {pages} pages, {elems} elems");
            let mut dirty = m.instantiate().unwrap();
            dirty
                .call_typed::<(i32, i32), ()>("dirty", (pages, elems))
                .unwrap();
            // The guest really did fill everything (the check is not vacuous).
            assert_eq!(
                dirty.call_typed::<i32, i32>("stale_bytes", pages).unwrap(),
                pages * PAGE / 8,
                "{context}"
            );
            assert_eq!(
                dirty.call_typed::<i32, i32>("stale_elems", elems).unwrap(),
                elems,
                "{context}"
            );
            drop(dirty);
            assert_clean(&mut m.instantiate().unwrap(), &context);

            let mut dirty = m.instantiate().unwrap();
            dirty
                .call_typed::<(i32, i32), ()>("dirty", (pages, elems))
                .unwrap();
            drop(dirty);
            assert_clean(&mut other.instantiate().unwrap(), &context);
        }
    }
}

#[test]
fn async_tenants_are_isolated_too() {
    let s = pooled(1, 64 * 1024, None);
    let m = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
    rt().block_on(async {
        for _ in 0..3 {
            let mut dirty = m.instantiate_async().await.unwrap();
            dirty
                .call_typed_async::<(i32, i32), ()>("dirty", (16, 64))
                .await
                .unwrap();
            drop(dirty);
            let mut next = m.instantiate_async().await.unwrap();
            assert_eq!(
                next.call_typed_async::<i32, i32>("stale_bytes", 16)
                    .await
                    .unwrap(),
                0
            );
            assert_eq!(
                next.call_typed_async::<i32, i32>("stale_elems", 64)
                    .await
                    .unwrap(),
                0
            );
        }
    });
}

/// The bytes `MEMORY_IMAGE_WAT`'s data segments put in memory.
fn image_byte(addr: usize) -> u8 {
    const TEXT: &[u8] = b"wasm-sandbox memory image: initialised data segment";
    match addr {
        1024..=1074 => TEXT[addr - 1024],
        65536..=65543 => (addr - 65535) as u8,
        _ => 0,
    }
}

#[test]
fn images_and_imageless_tenants_alternate_without_stale_bytes() {
    for keep in KEEP_RESIDENT {
        let s = pooled(1, keep, None);
        let image = s.compile(guests::MEMORY_IMAGE_WAT.as_bytes()).unwrap();
        let plain = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
        for round in 0..3 {
            let context = format!("keep_resident {keep}, round {round}");
            let mut i = image.instantiate().unwrap();
            // Every image byte, and a stride through the rest of the 1 MiB memory.
            let addrs = (1000..1100)
                .chain(65530..65550)
                .chain((0..MIB).step_by(509));
            for addr in addrs {
                assert_eq!(
                    i.call_typed::<i32, i32>("read", addr as i32).unwrap(),
                    i32::from(image_byte(addr)),
                    "{context}: image module, byte {addr:#x}"
                );
            }
            // Dirty the whole memory, including over the image's pages.
            i.call_typed::<i32, ()>("fill", 0xFE).unwrap();
            drop(i);

            let mut t = plain.instantiate().unwrap();
            assert_clean(&mut t, &context);
            t.call_typed::<(i32, i32), ()>("dirty", (16, 64)).unwrap();
        }
    }
}

/// Modules whose instantiation fails after it has written memory or tables.
const FAILING: [(&str, &str); 3] = [
    (
        "a start function that dirties everything, then traps",
        r#"(module
            (memory 1 16)
            (table 4 64 funcref)
            (elem declare func $start)
            (func $start
                (drop (memory.grow (i32.const 15)))
                (memory.fill (i32.const 0) (i32.const 0xFE) (i32.const 1048576))
                (drop (table.grow (ref.null func) (i32.const 60)))
                (table.fill (i32.const 0) (ref.func $start) (i32.const 64))
                unreachable)
            (start $start))"#,
    ),
    (
        "an applied data segment followed by an out-of-bounds one",
        r#"(module
            (memory 1 16)
            (table 4 64 funcref)
            (func $f)
            (elem (i32.const 0) $f $f $f $f)
            (data (i32.const 0) "\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe")
            (data (i32.const 65000) "\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe\fe")
            (data (i32.const 70000) "\fe"))"#,
    ),
    (
        "an applied element segment followed by an out-of-bounds one",
        r#"(module
            (memory 1 16)
            (table 4 64 funcref)
            (func $f)
            (elem (i32.const 0) $f $f $f $f)
            (elem (i32.const 100) $f))"#,
    ),
];

#[test]
fn a_failed_instantiation_leaves_no_trace_for_the_next_tenant() {
    for keep in KEEP_RESIDENT {
        let s = pooled(1, keep, None);
        let tenant = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
        for (what, wat) in FAILING {
            let context = format!("keep_resident {keep}: {what}");
            let failing = s.compile(wat.as_bytes()).unwrap();
            for _ in 0..2 {
                let err = failing.instantiate().unwrap_err();
                assert!(matches!(err, Error::Trap { .. }), "{context}: {err}");
                assert_clean(&mut tenant.instantiate().unwrap(), &context);
            }
            rt().block_on(async {
                assert!(failing.instantiate_async().await.is_err(), "{context}");
            });
            assert_clean(&mut tenant.instantiate().unwrap(), &context);
        }
    }
}

#[test]
fn exhausted_slots_are_a_typed_error_and_the_pool_recovers() {
    let s = pooled(2, 64 * 1024, None);
    assert_eq!(s.pool_capacity(), Some(2));
    let m = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
    for round in 0..3 {
        let a = m.instantiate().unwrap();
        let mut b = m.instantiate().unwrap();
        b.call_typed::<(i32, i32), ()>("dirty", (16, 64)).unwrap();
        let err = m.instantiate().unwrap_err();
        assert!(
            matches!(err, Error::PoolExhausted { capacity: 2 }),
            "round {round}: {err}"
        );
        rt().block_on(async {
            let start = Instant::now();
            let err = m.instantiate_async().await.unwrap_err();
            assert!(matches!(err, Error::PoolExhausted { capacity: 2 }), "{err}");
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "no waiting by default"
            );
        });
        drop(b);
        // The freed slot is usable, and clean.
        let mut c = m.instantiate().unwrap();
        assert_clean(&mut c, &format!("round {round}"));
        drop((a, c));
    }
}

#[test]
fn async_instantiation_waits_for_a_slot_when_configured() {
    let s = pooled(1, 64 * 1024, Some(Duration::from_secs(10)));
    let m = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
    rt().block_on(async {
        let mut held = m.instantiate_async().await.unwrap();
        held.call_typed_async::<(i32, i32), ()>("dirty", (16, 64))
            .await
            .unwrap();
        // Synchronous instantiation never waits.
        assert!(matches!(
            m.instantiate(),
            Err(Error::PoolExhausted { capacity: 1 })
        ));
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(held);
        });
        let start = Instant::now();
        let mut next = m.instantiate_async().await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(80), "it waited");
        release.await.unwrap();
        assert_eq!(
            next.call_typed_async::<i32, i32>("stale_bytes", 16)
                .await
                .unwrap(),
            0
        );
    });
}

#[test]
fn waiting_is_bounded_then_the_pool_is_exhausted() {
    let s = pooled(1, 64 * 1024, Some(Duration::from_millis(150)));
    let m = s.compile(guests::TENANT_WAT.as_bytes()).unwrap();
    rt().block_on(async {
        let held = m.instantiate_async().await.unwrap();
        let start = Instant::now();
        let err = m.instantiate_async().await.unwrap_err();
        let waited = start.elapsed();
        assert!(matches!(err, Error::PoolExhausted { capacity: 1 }), "{err}");
        assert!(waited >= Duration::from_millis(140), "waited {waited:?}");
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        // Calls that need an instance wait the same way, then work once a slot frees.
        drop(held);
        assert_eq!(
            m.call_typed::<i32, i32>("stale_bytes", 16).await.unwrap(),
            0
        );
    });
}

/// Freed slots are reset from the kernel's record of the pages a tenant wrote (PAGEMAP_SCAN,
/// where available) rather than by wiping a fixed range: scattered writes past the
/// keep-resident prefix, in pages the image does and does not cover, must all be gone.
#[test]
fn scattered_writes_are_all_reset() {
    const SCATTER: &str = r#"(module
        (memory (export "memory") 16)
        (data (i32.const 131072) "image page")
        (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 0xFE)))
        (func (export "stale") (result i32)
          (local $i i32) (local $n i32)
          (block $done
            (loop $next
              (br_if $done (i32.ge_u (local.get $i) (i32.const 1048576)))
              (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 0xFE))
                (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next)))
          (local.get $n)))"#;
    let addrs = [5, 2 * PAGE + 17, 7 * PAGE, 13 * PAGE + 4095, 16 * PAGE - 1];
    for keep in KEEP_RESIDENT {
        let s = pooled(1, keep, None);
        let m = s.compile(SCATTER.as_bytes()).unwrap();
        for round in 0..3 {
            let mut dirty = m.instantiate().unwrap();
            for a in addrs {
                dirty.call_typed::<i32, ()>("poke", a).unwrap();
            }
            assert_eq!(dirty.call_typed::<(), i32>("stale", ()).unwrap(), 5);
            drop(dirty);
            let mut next = m.instantiate().unwrap();
            assert_eq!(
                next.call_typed::<(), i32>("stale", ()).unwrap(),
                0,
                "keep_resident {keep}, round {round}: bytes from the previous tenant"
            );
        }
    }
}
