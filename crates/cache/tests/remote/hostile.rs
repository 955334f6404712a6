//! Hostile remote objects: corrupted, truncated, extended, of another key or engine, and
//! objects without (or with a wrong) MAC when the fleet has an integrity key. None is
//! ever loaded; each is one counted verification failure, the request compiles, and the
//! object stays in the store.

use std::time::Duration;

use wasmtime::Engine;

use crate::{
    Host, answer, engine, memory_store, objects, overwrite, publish, remote, settings,
    the_artifact, wat,
};

/// The cache's documented header (docs/cache-format.md) for `artifact` under `key`: what
/// an attacker who can write the bucket computes.
fn header(key: &[u8], artifact: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(128);
    h.extend_from_slice(b"WSCMETA\0");
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(key);
    h.extend_from_slice(&(artifact.len() as u64).to_le_bytes());
    h.extend_from_slice(blake3::hash(artifact).as_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    let sum = blake3::hash(&h);
    h.extend_from_slice(sum.as_bytes());
    h
}

/// A new host on `store` loads `wasm` with the object at `name` replaced by `bad`: it
/// must compile, count one verification failure, and leave the object alone.
fn refused(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    remote: wasm_sandbox_cache::RemoteConfig,
    name: &str,
    bad: Vec<u8>,
    wasm: &[u8],
    n: i32,
    what: &str,
) {
    overwrite(store, name, bad.clone());
    let host = Host::new(remote);
    let engine = engine();
    let module = host
        .cache
        .get_or_compile(&engine, wasm, &settings())
        .expect(what);
    assert_eq!(answer(&engine, &module), n, "{what}");
    let s = host.stats();
    assert_eq!(
        (
            s.remote_verify_failures,
            s.remote_hits,
            s.compiles,
            s.misses
        ),
        (1, 0, 1, 1),
        "{what}: {s:#?}"
    );
    assert!(host.cache.flush_remote(Duration::from_secs(10)));
    // Remote objects are never deleted or replaced (our publication finds the name taken).
    let now = objects(store)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b);
    assert_eq!(
        now.as_deref(),
        Some(&bad[..]),
        "{what}: the object was left as it was"
    );
    assert_eq!(s.remote_published, 0);
}

#[test]
fn corrupted_truncated_and_extended_objects_are_never_loaded() {
    let store = memory_store();
    let wasm = wat(7, 20);
    let _first = publish(remote(&store, "h"), &wasm);
    let (name, good) = the_artifact(&store);
    let len = good.len();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("half a header", good[..64].to_vec()),
        ("header only", good[..128].to_vec()),
        ("truncated by one byte", good[..len - 1].to_vec()),
        ("extended by one byte", [&good[..], &[0]].concat()),
        (
            "extended by a fake MAC trailer's worth plus one",
            [&good[..], &[0; 41]].concat(),
        ),
    ];
    for at in [0, 9, 20, 50, 60, 100, 130, len / 2, len - 1] {
        let mut flipped = good.clone();
        flipped[at] ^= 0x10;
        cases.push(("a flipped bit", flipped));
    }
    // A consistent header naming another key.
    let artifact = &good[128..];
    cases.push((
        "another key's header",
        [header(&[0xab; 32], artifact), artifact.to_vec()].concat(),
    ));
    for (what, bad) in cases {
        refused(&store, remote(&store, "h"), &name, bad, &wasm, 7, what);
    }
    // The good object is still good.
    overwrite(&store, &name, good);
    let host = Host::new(remote(&store, "h"));
    host.cache
        .get_or_compile(&engine(), &wasm, &settings())
        .unwrap();
    assert_eq!((host.stats().remote_hits, host.stats().compiles), (1, 0));
}

#[test]
fn another_engines_artifact_under_our_key_is_refused_by_wasmtime_and_never_runs() {
    let store = memory_store();
    let wasm = wat(8, 20);
    let _first = publish(remote(&store, "f"), &wasm);
    let (name, good) = the_artifact(&store);
    let key = &good[16..48];
    // The same module compiled by an engine with another configuration, planted under
    // our key with a header that passes every checksum.
    let mut fuel = wasmtime::Config::new();
    fuel.consume_fuel(true);
    let foreign = Engine::new(&fuel)
        .unwrap()
        .precompile_module(&wasm)
        .unwrap();
    let planted = [header(key, &foreign), foreign].concat();
    refused(
        &store,
        remote(&store, "f"),
        &name,
        planted,
        &wasm,
        8,
        "foreign engine",
    );

    // And with an integrity key, the same plant is refused before it reaches the disk.
    let secret = [5u8; 32];
    let keyed = |prefix: &str| remote(&store, prefix).integrity_key(secret);
    let _first = publish(keyed("fk"), &wasm);
    let (name, good) = the_artifact_under(&store, "fk/");
    let foreign = Engine::new(&fuel)
        .unwrap()
        .precompile_module(&wasm)
        .unwrap();
    let planted = [header(&good[16..48], &foreign), foreign].concat();
    refused(
        &store,
        keyed("fk"),
        &name,
        planted,
        &wasm,
        8,
        "foreign engine, keyed",
    );
}

fn the_artifact_under(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    prefix: &str,
) -> (String, Vec<u8>) {
    let mut found: Vec<_> = objects(store)
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix) && n.ends_with(".wsc"))
        .collect();
    assert_eq!(found.len(), 1);
    found.pop().unwrap()
}

#[test]
fn with_an_integrity_key_unsigned_and_wrongly_signed_objects_are_refused() {
    let store = memory_store();
    let wasm = wat(9, 20);
    let key_a = [1u8; 32];
    let key_b = *b"another fleet's key, 32+ bytes!!";

    // Published without a key: a keyed host refuses it (anyone could have written it).
    let _plain = publish(remote(&store, "unsigned"), &wasm);
    let (name, object) = the_artifact_under(&store, "unsigned/");
    refused(
        &store,
        remote(&store, "unsigned").integrity_key(key_a),
        &name,
        object,
        &wasm,
        9,
        "no MAC",
    );

    // Published with key B: a host with key A refuses it, a host with B loads it, and a
    // host without a key loads it too (it checks the checksum only).
    let _b = publish(remote(&store, "signed").integrity_key(key_b), &wasm);
    let (name, object) = the_artifact_under(&store, "signed/");
    let with_b = Host::new(remote(&store, "signed").integrity_key(key_b));
    with_b
        .cache
        .get_or_compile(&engine(), &wasm, &settings())
        .unwrap();
    assert_eq!(
        (with_b.stats().remote_hits, with_b.stats().compiles),
        (1, 0)
    );
    let without = Host::new(remote(&store, "signed"));
    without
        .cache
        .get_or_compile(&engine(), &wasm, &settings())
        .unwrap();
    assert_eq!(without.stats().remote_hits, 1);
    refused(
        &store,
        remote(&store, "signed").integrity_key(key_a),
        &name,
        object.clone(),
        &wasm,
        9,
        "MAC of another key",
    );

    // A forged trailer, a trailer on a re-headered artifact, a MAC flipped by one bit.
    let body = &object[..object.len() - 40];
    let mut forged = body.to_vec();
    forged.extend_from_slice(b"WSCMAC1\0");
    forged.extend_from_slice(&[0; 32]);
    let mut flipped = object.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    for (what, bad) in [("zero MAC", forged), ("flipped MAC", flipped)] {
        refused(
            &store,
            remote(&store, "signed").integrity_key(key_b),
            &name,
            bad,
            &wasm,
            9,
            what,
        );
    }
}

#[test]
fn an_object_larger_than_the_bound_is_refused_without_being_read() {
    let store = memory_store();
    let wasm = wat(10, 20);
    let _first = publish(remote(&store, "big"), &wasm);
    let (name, good) = the_artifact(&store);
    refused(
        &store,
        remote(&store, "big").max_object_bytes(good.len() as u64 - 1),
        &name,
        good,
        &wasm,
        10,
        "over the size bound",
    );
}
