#![no_main]
//! libFuzzer glue for [`wasm_sandbox_fuzz::abi_decode::run`].
libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_sandbox_fuzz::abi_decode::run(data));
