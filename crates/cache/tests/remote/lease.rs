//! Leases: a holder that died delays the others by at most the lease's expiry (and never
//! more than this host's own lease time, whatever the lease object claims); an expired
//! lease is taken over; junk under a lease's name is treated as expired.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{Host, answer, engine, memory_store, objects, overwrite, remote, settings, wat};

/// The name of `wasm`'s lease object, found through a first host's published artifact in
/// another prefix (the layout is `<prefix>/<engine>/<key>.wsc|.lease`).
fn lease_name(wasm: &[u8], prefix: &str) -> String {
    let scratch = crate::memory_store();
    let _probe = crate::publish(remote(&scratch, prefix), wasm);
    let (artifact, _) = crate::the_artifact(&scratch);
    artifact.replace(".wsc", ".lease")
}

fn lease_text(holder: u128, expires_unix_ms: u64) -> Vec<u8> {
    format!("wasm-sandbox-lease v1\nholder {holder:032x}\nexpires {expires_unix_ms}\n").into_bytes()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_dead_holder_delays_the_others_by_at_most_its_lease() {
    let store = memory_store();
    let wasm = wat(20, 10);
    let name = lease_name(&wasm, "dead");
    // A host took the lease and died: its lease has 1.5 s to run and is never released.
    let left = Duration::from_millis(1500);
    overwrite(
        &store,
        &name,
        lease_text(0xdead, now_ms() + left.as_millis() as u64),
    );

    let host = Host::new(remote(&store, "dead"));
    let engine = engine();
    let start = Instant::now();
    let module = host
        .cache
        .get_or_compile(&engine, &wasm, &settings())
        .unwrap();
    let waited = start.elapsed();
    assert_eq!(answer(&engine, &module), 20);
    let s = host.stats();
    assert_eq!(
        (s.compiles, s.remote_lease_waits, s.remote_errors),
        (1, 1, 0),
        "{s:#?}"
    );
    assert!(
        waited >= left - Duration::from_millis(100),
        "waited {waited:?}: not for the lease"
    );
    assert!(
        waited < left + Duration::from_secs(3),
        "waited {waited:?}, lease had {left:?}"
    );
    assert!(s.remote_lease_wait_time >= left - Duration::from_millis(100));

    // It took the expired lease over, published, and released its own lease.
    assert!(host.cache.flush_remote(Duration::from_secs(10)));
    assert_eq!(host.stats().remote_published, 1);
    let names: Vec<String> = objects(&store).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".wsc"));
}

#[test]
fn a_lease_claiming_a_far_expiry_delays_no_longer_than_our_own_lease_time() {
    let store = memory_store();
    for (i, expires) in [now_ms() + 3_600_000, u64::MAX].into_iter().enumerate() {
        let wasm = wat(21 + 100 * i as i32, 10);
        let prefix = format!("far{i}");
        let name = lease_name(&wasm, &prefix);
        overwrite(&store, &name, lease_text(0xbad, expires));
        let ttl = Duration::from_millis(800);
        let host = Host::new(remote(&store, &prefix).lease_ttl(ttl));
        let start = Instant::now();
        host.cache
            .get_or_compile(&engine(), &wasm, &settings())
            .unwrap();
        let waited = start.elapsed();
        assert!(waited >= ttl - Duration::from_millis(100), "{waited:?}");
        assert!(waited < ttl + Duration::from_secs(3), "{waited:?}");
        let s = host.stats();
        assert_eq!((s.compiles, s.remote_lease_waits), (1, 1));
        // Its lease is another host's (live, as far as we know): left alone.
        assert!(host.cache.flush_remote(Duration::from_secs(10)));
        assert!(objects(&store).iter().any(|(n, _)| *n == name));
    }
}

#[test]
fn expired_and_junk_leases_are_taken_over_at_once() {
    let store = memory_store();
    for (i, junk) in [
        lease_text(0x1, now_ms().saturating_sub(1000)),
        b"not a lease".to_vec(),
        vec![0xff; 10_000],
        Vec::new(),
    ]
    .into_iter()
    .enumerate()
    {
        let wasm = wat(30 + i as i32, 0);
        let prefix = format!("junk{i}");
        let name = lease_name(&wasm, &prefix);
        overwrite(&store, &name, junk);
        let host = Host::new(remote(&store, &prefix));
        let start = Instant::now();
        host.cache
            .get_or_compile(&engine(), &wasm, &settings())
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "case {i}: {:?}",
            start.elapsed()
        );
        let s = host.stats();
        assert_eq!(
            (s.compiles, s.remote_lease_waits, s.remote_errors),
            (1, 0, 0),
            "case {i}"
        );
        assert!(host.cache.flush_remote(Duration::from_secs(10)));
        // Taken over (replaced by ours, which was then released): only the artifact.
        let ours: Vec<String> = objects(&store)
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n.starts_with(&format!("{prefix}/")))
            .collect();
        assert_eq!(ours.len(), 1, "case {i}: {ours:?}");
        assert!(ours[0].ends_with(".wsc"));
    }
}

#[test]
fn a_waiting_host_loads_the_holders_artifact_as_soon_as_it_lands() {
    // Another host holds a live lease (20 s); this one waits. The artifact then lands (as
    // the holder would publish it): the waiter loads it long before the lease expires.
    let store = memory_store();
    let wasm = wat(40, 10);
    let name = lease_name(&wasm, "w");
    overwrite(&store, &name, lease_text(0xa, now_ms() + 20_000));
    let engine = engine();
    let host = Host::new(remote(&store, "w"));
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let start = Instant::now();
            let module = host
                .cache
                .get_or_compile(&engine, &wasm, &settings())
                .unwrap();
            (start.elapsed(), answer(&engine, &module))
        });
        // Once the waiter is waiting (it counts the wait when it starts)...
        let deadline = Instant::now() + Duration::from_secs(10);
        while host.stats().remote_lease_waits == 0 {
            assert!(Instant::now() < deadline, "the waiter never waited");
            std::thread::yield_now();
        }
        // ...the holder's artifact lands.
        let scratch = memory_store();
        let _p = crate::publish(remote(&scratch, "w"), &wasm);
        let (artifact_name, artifact) = crate::the_artifact(&scratch);
        overwrite(&store, &artifact_name, artifact);
        let (waited, n) = waiter.join().unwrap();
        assert_eq!(n, 40);
        let stats = host.stats();
        assert_eq!(
            (stats.compiles, stats.remote_hits, stats.remote_lease_waits),
            (0, 1, 1),
            "{stats:#?}"
        );
        assert!(waited < Duration::from_secs(10), "{waited:?}");
    });
}
