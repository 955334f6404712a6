//! The guests that wasm-sandbox's tests, benchmarks and examples run.
//!
//! C guests are built with Debian's clang for `wasm32-wasi` and committed as
//! `.wasm` next to their source; `cargo xtask guests` rebuilds them. WAT
//! guests are assembled here, at run time, from their committed text.

/// Path of the `guests/` directory, for tools that want the files.
pub const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Scalar math: `add`, `add_i64`, `mul_f32`, `hypot`, `noop`, `fib`,
/// `fib_iter`, `busy`, `div`, `trap`, `next` (stateful).
pub const SCALAR_WAT: &str = include_str!("../wat/scalar.wat");
/// `run` loops forever; `spin` loops forever without calls or memory traffic.
pub const LOOP_WAT: &str = include_str!("../wat/loop.wat");
/// `recurse` recurses without bound; `depth(n)` recurses n deep.
pub const RECURSION_WAT: &str = include_str!("../wat/recursion.wat");
/// `bomb` grows memory a page at a time forever; `grow_huge` asks for 1 GiB.
pub const MEMBOMB_WAT: &str = include_str!("../wat/membomb.wat");
/// 1 MiB of memory with data segments; `read(addr)`, `fill(byte)`.
pub const MEMORY_IMAGE_WAT: &str = include_str!("../wat/memory_image.wat");
/// Pooling isolation: `dirty(pages, elems)` fills all memory with 0xFE and the table with
/// non-null refs; `stale_bytes(pages)` / `stale_elems(elems)` count leftovers; 1–16 pages,
/// 4–64 table elements.
pub const TENANT_WAT: &str = include_str!("../wat/tenant.wat");
/// A WASI guest that sleeps in `poll_oneoff` (`sleep_hour`, `sleep_forever`,
/// `sleep_loop`, and the ABI export `sleep_hour_bytes`), prints forever (`print_forever`, `_start`), exits with a
/// reserved status (`exit_200`), and spins 120 ms in each ABI step
/// (`sandbox_alloc`, `sandbox_free`, `slow_echo`).
pub const HOSTILE_WASI_WAT: &str = include_str!("../wat/hostile_wasi.wat");
/// A guest ABI module returning a 48 MiB JSON array (`huge_json`), a 48 MiB
/// error message (`huge_error`), and a batch frame of its whole memory
/// (`echo__batch`, beside `echo`).
pub const HOSTILE_ABI_WAT: &str = include_str!("../wat/hostile_abi.wat");

/// A guest that passes the host a block of its memory to read
/// (`env.checksum(ptr, len) -> i32`), for the host-function rows.
pub const HOST_READ_WAT: &str = include_str!("../wat/host_read.wat");

/// The Extism-ABI guest of the `extism/*` rows (imports `extism:host/env`):
/// `echo`, `upper` (ASCII upper-case), `compute` (`n` rounds of xorshift64).
pub const EXTISM_BENCH_WAT: &str = include_str!("../wat/extism_bench.wat");
/// `EXTISM_BENCH_WAT`'s twin in wasm-sandbox's ABI: the same exports and work.
pub const EXTISM_BENCH_OURS_WAT: &str = include_str!("../wat/extism_bench_ours.wat");
/// The Extism-ABI guest calling a host function that reads 1 KiB
/// (`extism:host/user.checksum`) `k` times per call.
pub const EXTISM_HOST_READ_WAT: &str = include_str!("../wat/extism_host_read.wat");
/// `EXTISM_HOST_READ_WAT`'s twin in wasm-sandbox's ABI (`env.checksum`).
pub const EXTISM_HOST_READ_OURS_WAT: &str = include_str!("../wat/extism_host_read_ours.wat");
/// The plugin of the plugin-host example and tests (`c/plugin/plugin.c`):
/// counters in the host's per-tenant key-value store, an async host lookup,
/// a host checksum of guest memory.
pub const PLUGIN_WASM: &[u8] = include_bytes!("../c/plugin/plugin.wasm");

/// The guest ABI in C: `process_batch` (JSON `Vec<i32>` doubled),
/// `process_batch_postcard`, `echo`, `fail`, `bad_pointer`, `abort_now`,
/// and the batch entry point `process_batch__batch`.
pub const ABI_WASM: &[u8] = include_bytes!("../c/abi/abi.wasm");
/// A WASI command that prints a greeting, its arguments and `$GREETING`,
/// writes to stderr, and exits with `--exit N`; `--ls FILE` prints a file.
pub const HELLO_WASM: &[u8] = include_bytes!("../c/hello/hello.wasm");
/// A C memory bomb: `bomb()` mallocs and touches 1 MiB blocks forever.
pub const MEMBOMB_C_WASM: &[u8] = include_bytes!("../c/membomb/membomb.wasm");
/// SQLite as a reactor: `workload(n)` inserts n rows in memory and returns
/// their sum. About 1.3 MB of wasm: the large real module.
pub const SQLITE_WASM: &[u8] = include_bytes!("../c/sqlite/sqlite.wasm");
/// Lua 5.4 as a reactor speaking the guest ABI: `init(prelude)` opens the
/// standard libraries and runs the prelude, `eval(script)` runs a chunk and
/// returns `tostring` of its results joined by tabs. A Lua runtime error
/// writes its message on stderr and traps (no `setjmp` in wasi-libc).
pub const LUA_EVAL_WASM: &[u8] = include_bytes!("../c/lua-eval/lua-eval.wasm");
/// The prelude for [`LUA_EVAL_WASM`]'s `init`: a JSON codec, string and
/// table helpers, a class system and a PRNG, a few hundred lines of Lua.
pub const LUA_PRELUDE: &str = include_str!("../c/lua-eval/prelude.lua");

/// Assembles a WAT guest into wasm bytes.
///
/// # Panics
///
/// Panics if `text` is not valid WAT; the committed guests always are.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("committed WAT guests are valid")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_wat_guest_assembles() {
        for text in [
            super::SCALAR_WAT,
            super::LOOP_WAT,
            super::RECURSION_WAT,
            super::MEMBOMB_WAT,
            super::MEMORY_IMAGE_WAT,
            super::TENANT_WAT,
            super::HOSTILE_WASI_WAT,
            super::HOSTILE_ABI_WAT,
            super::HOST_READ_WAT,
            super::EXTISM_BENCH_WAT,
            super::EXTISM_BENCH_OURS_WAT,
            super::EXTISM_HOST_READ_WAT,
            super::EXTISM_HOST_READ_OURS_WAT,
        ] {
            assert!(!super::wat(text).is_empty());
        }
    }

    #[test]
    fn c_guests_are_wasm() {
        for bytes in [
            super::ABI_WASM,
            super::HELLO_WASM,
            super::MEMBOMB_C_WASM,
            super::SQLITE_WASM,
            super::PLUGIN_WASM,
        ] {
            assert_eq!(&bytes[..4], b"\0asm");
        }
    }
}
