#![no_main]
//! libFuzzer glue for [`wasm_sandbox_fuzz::differential::run`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_sandbox_fuzz::differential::run(data));
