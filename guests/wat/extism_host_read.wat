;; The Extism-ABI guest of the row `extism/host function reads 1 KiB`; its
;; wasm-sandbox-ABI twin is `extism_host_read_ours.wat`.
;;
;; `run` reads a little-endian u64 `k` from its input, puts the 1 KiB block at
;; address 0 of its memory (a data segment) where an Extism host function can
;; read it, in the kernel's memory (`alloc`, then `store_u64` 128 times, once
;; per call), then calls the host function `extism:host/user.checksum(offset,
;; 1024) -> i64` `k` times and outputs the sum of the answers as 8 bytes.
(module
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "checksum" (func $checksum (param i64 i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")

  (func (export "run") (result i32)
    (local $k i64) (local $h i64) (local $i i32) (local $acc i64) (local $out i64)
    (local.set $k (call $input_load_u64 (i64.const 0)))
    (local.set $h (call $alloc (i64.const 1024)))
    (block $done
      (loop $word
        (br_if $done (i32.ge_u (local.get $i) (i32.const 1024)))
        (call $store_u64
          (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
          (i64.load (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $word)))
    (block $done
      (loop $call
        (br_if $done (i64.eqz (local.get $k)))
        (local.set $acc
          (i64.add (local.get $acc) (call $checksum (local.get $h) (i64.const 1024))))
        (local.set $k (i64.sub (local.get $k) (i64.const 1)))
        (br $call)))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (local.get $acc))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0)))
