//! Loops for instruction counts under callgrind.
//!
//! `suite --callgrind TARGET --iters N --repeats R` sets up one side of a call row, then runs
//! [`callgrind_measured_loop`] R times, N calls each. `cargo xtask bench` runs it (with
//! `--repeats 1`, once per sample) under
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*callgrind_measured_loop*' ...
//! ```
//!
//! so only the loop is counted (not the engine set-up or the compile): instructions per call,
//! deterministic up to the epoch ticker thread (a few hundred instructions per 5 ms tick
//! while collection is on).

use std::hint::black_box;

use wasm_sandbox_core::Codec;

use crate::plain::BoxError;
use crate::suite::call;

/// The callgrind targets: `(row key, baseline target, candidate target)`.
pub const PAIRS: [(&str, &str, &str); 3] = [
    ("typed call, sync", "sync-plain", "sync-ours"),
    ("typed call, async", "async-plain", "async-ours"),
    ("serde call, 8 x i32 JSON", "serde-plain", "serde-ours"),
];

/// The counted region: `iters` calls of `f`. Never inlined, so callgrind can toggle on its
/// name.
#[inline(never)]
pub fn callgrind_measured_loop<R>(iters: u64, f: &mut impl FnMut() -> R) {
    for _ in 0..iters {
        black_box(f());
    }
}

/// Sets up `target` and runs the counted loop `repeats` times.
///
/// # Errors
///
/// An unknown target, or a failing set-up.
pub fn run(target: &str, iters: u64, repeats: u32) -> Result<(), BoxError> {
    match target {
        "sync-plain" | "sync-ours" | "async-plain" | "async-ours" => {
            let (mut ours, mut plain) = call::scalar_pair()?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            for _ in 0..repeats {
                match target {
                    "sync-plain" => callgrind_measured_loop(iters, &mut || {
                        plain
                            .add
                            .call(&mut plain.store, black_box((2, 3)))
                            .expect("add")
                    }),
                    "sync-ours" => callgrind_measured_loop(iters, &mut || {
                        ours.add
                            .call(&mut ours.instance, black_box((2, 3)))
                            .expect("add")
                    }),
                    "async-plain" => callgrind_measured_loop(iters, &mut || {
                        rt.block_on(plain.add.call_async(&mut plain.store, black_box((2, 3))))
                            .expect("add")
                    }),
                    _ => callgrind_measured_loop(iters, &mut || {
                        rt.block_on(ours.add.call_async(&mut ours.instance, black_box((2, 3))))
                            .expect("add")
                    }),
                }
            }
        }
        "serde-plain" | "serde-ours" => {
            let (mut ours, mut plain) = call::abi_pair()?;
            let f = plain.func("process_batch")?;
            let payload = call::small_payload();
            for _ in 0..repeats {
                if target == "serde-plain" {
                    callgrind_measured_loop(iters, &mut || -> Vec<i32> {
                        plain
                            .call_json(&f, black_box(&payload))
                            .expect("plain call")
                    });
                } else {
                    callgrind_measured_loop(iters, &mut || -> Vec<i32> {
                        ours.call(Codec::Json, "process_batch", black_box(&payload))
                            .expect("sandbox call")
                    });
                }
            }
        }
        other => return Err(format!("unknown callgrind target `{other}`").into()),
    }
    Ok(())
}
