//! The `abi_decode` fuzz target: whatever a guest returns through the byte ABI
//! (`docs/abi.md`), the host answers with a value or a typed error, never a panic.
//!
//! The guest's `f` is driven by the input itself. The argument block is
//! `[packed: i64 LE][dest: u32 LE][payload...]`: the guest copies `payload` to
//! `dest` in its memory (trapping if that is out of bounds) and returns `packed`
//! as its result word, so the fuzzer picks any `(ptr, len, error flag)` and any
//! memory contents. The host then decodes what it got with both codecs into a
//! few shapes. Any panic is a bug.
//!
//! The same file is compiled into `wasm-sandbox-conformance`'s tests with
//! `#[path]`, so `cargo test -p wasm-sandbox-conformance` runs the smoke test
//! and the committed corpus.

use std::sync::OnceLock;

use wasm_sandbox_core::{Codec, Error, Module, Resource, Sandbox, SandboxConfig, Tier};

/// The guest: bump allocator, no-op free, and the input-driven `f`.
pub const GUEST_WAT: &str = r#"(module
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 1024))
  (func (export "sandbox_alloc") (param $len i32) (result i32)
    (local $p i32)
    ;; reset the bump pointer when it would run past the first page
    (if (i32.gt_u (i32.add (global.get $next) (local.get $len)) (i32.const 65536))
      (then (global.set $next (i32.const 1024))))
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (func (export "sandbox_free") (param i32 i32))
  (func (export "f") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.lt_u (local.get $len) (i32.const 12)) (then (return (i64.const 0))))
    (memory.copy
      (i32.load offset=8 (local.get $ptr))
      (i32.add (local.get $ptr) (i32.const 12))
      (i32.sub (local.get $len) (i32.const 12)))
    (i64.load (local.get $ptr))))"#;

/// A serde shape the host decodes into.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code, reason = "only decoding is exercised")]
pub struct Record {
    /// A number.
    pub id: u64,
    /// An optional string.
    pub name: Option<String>,
    /// Bytes.
    pub data: Vec<u8>,
    /// A nested list.
    pub tags: Vec<(i32, String)>,
}

fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let sandbox = Sandbox::with_tier(SandboxConfig::default(), Tier::Baseline, None)
            .expect("the baseline engine builds");
        sandbox
            .compile(GUEST_WAT.as_bytes())
            .expect("the ABI fuzz guest compiles")
    })
}

/// Runs one input: one guest call, then decoding with both codecs.
pub fn run(data: &[u8]) {
    let mut instance = module().instantiate().expect("a fresh instance");
    match instance.call_bytes("f", data) {
        Ok(bytes) => {
            // A result is only returned if it lies inside the guest's memory.
            assert!(
                bytes.len() <= instance.memory_size(),
                "result larger than memory"
            );
            decode_everything(&bytes);
        }
        Err(
            Error::Abi { .. }
            | Error::Guest { .. }
            | Error::Trap { .. }
            | Error::LimitExceeded {
                resource: Resource::ResultBytes,
                ..
            },
        ) => {}
        Err(other) => panic!("unexpected error class for a hostile ABI result: {other}"),
    }
    // The input bytes themselves, as if a guest had returned them.
    decode_everything(data);
}

fn decode_everything(bytes: &[u8]) {
    for codec in [Codec::Json, Codec::Postcard] {
        let _ = codec.decode::<Vec<i32>>(bytes);
        let _ = codec.decode::<String>(bytes);
        let _ = codec.decode::<Record>(bytes);
        let _ = codec.decode::<(u8, i64, f64, bool, char)>(bytes);
        let _ = codec.decode::<Option<Vec<Vec<u16>>>>(bytes);
        let _ = codec.decode::<std::collections::BTreeMap<String, u32>>(bytes);
    }
    let _ = Codec::Json.decode::<serde_json::Value>(bytes);
}

/// Builds an input: result word, copy destination, payload.
pub fn input(ptr: u32, len: u32, error: bool, dest: u32, payload: &[u8]) -> Vec<u8> {
    let raw_len = if error { len | 0x8000_0000 } else { len };
    let packed = (u64::from(ptr) << 32) | u64::from(raw_len);
    let mut v = packed.to_le_bytes().to_vec();
    v.extend_from_slice(&dest.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::super::replay::{SplitMix, replay};

    #[test]
    fn smoke() {
        let mut rng = SplitMix(0xAB1);
        for i in 0..300 {
            let payload_len = (rng.next() % 200) as usize;
            let payload: Vec<u8> = (0..payload_len).map(|_| rng.next() as u8).collect();
            let data = match i % 3 {
                // Structured: a plausible pointer near the payload's destination.
                0 => {
                    let dest = (rng.next() % 70_000) as u32;
                    let len = (rng.next() % 300) as u32;
                    super::input(dest, len, rng.next().is_multiple_of(5), dest, &payload)
                }
                // Extreme pointers and lengths.
                1 => {
                    let ptr = [0, 65_535, 65_536, 131_071, 131_072, u32::MAX][i % 6];
                    let len = [0, 1, 0x7fff_ffff, 65_536][(i / 6) % 4];
                    super::input(ptr, len, false, 2048, &payload)
                }
                // Raw bytes.
                _ => payload,
            };
            super::run(&data);
        }
        // JSON and postcard encodings of the decoded shapes, returned verbatim.
        for text in [
            &b"[1,2,3]"[..],
            b"\"hi\"",
            b"{\"id\":1,\"name\":null,\"data\":[],\"tags\":[[1,\"x\"]]}",
        ] {
            super::run(&super::input(4096, text.len() as u32, false, 4096, text));
        }
    }

    #[test]
    fn corpus() {
        let seeds = replay("abi_decode", "corpus", super::run);
        assert!(seeds > 0, "the seed corpus is committed");
    }

    #[test]
    fn regressions() {
        replay("abi_decode", "regressions", super::run);
    }
}
