;; The Extism-ABI guest of the `extism/*` benchmark rows: the same work as
;; `extism_bench_ours.wat`, which speaks wasm-sandbox's ABI (docs/abi.md).
;;
;; Extism's ABI: every export is `() -> i32` (0 = success); the input lives
;; in the memory of Extism's kernel module, imported as `extism:host/env`,
;; and the guest reads it 8 bytes per call (`input_load_u64`, then
;; `input_load_u8` for the tail), as Extism's PDKs do; the output is a block
;; the guest allocates in the kernel's memory (`alloc`), fills 8 bytes per
;; call (`store_u64`, then `store_u8`) and hands over with `output_set`.
;;
;; * `echo`: the input, unchanged (copied in, then out).
;; * `upper`: the input with ASCII `a`..`z` upper-cased (a byte transform of
;;   a small JSON document in the rows).
;; * `compute`: the input is a little-endian u64 `n`; runs `n` rounds of
;;   xorshift64 and outputs the final state as 8 bytes (pure computation).
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; Copies the input to address 0 of this memory (growing it as needed) and
  ;; returns its length.
  (func $load_input (result i32)
    (local $len i32) (local $i i32) (local $words i32) (local $need i32)
    (local.set $len (i32.wrap_i64 (call $input_length)))
    (local.set $need
      (i32.sub
        (i32.shr_u (i32.add (local.get $len) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then (drop (memory.grow (local.get $need)))))
    (local.set $words (i32.and (local.get $len) (i32.const -8)))
    (block $done
      (loop $word
        (br_if $done (i32.ge_u (local.get $i) (local.get $words)))
        (i64.store (local.get $i)
          (call $input_load_u64 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $word)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (local.get $i)
          (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (local.get $len))

  ;; Sets the output to `len` bytes at `ptr` of this memory.
  (func $output (param $ptr i32) (param $len i32)
    (local $h i64) (local $i i32) (local $words i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $len))))
    (local.set $words (i32.and (local.get $len) (i32.const -8)))
    (block $done
      (loop $word
        (br_if $done (i32.ge_u (local.get $i) (local.get $words)))
        (call $store_u64
          (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
          (i64.load (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $word)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (call $output_set (local.get $h) (i64.extend_i32_u (local.get $len))))

  ;; Upper-cases ASCII letters in `[ptr, ptr + len)` in place.
  (func $upper (param $ptr i32) (param $len i32)
    (local $end i32) (local $c i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $ptr)))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26))
          (then (i32.store8 (local.get $ptr) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next))))

  ;; `n` rounds of xorshift64 from a fixed seed.
  (func $xorshift (param $n i64) (result i64)
    (local $x i64)
    (local.set $x (i64.const 0x9E3779B97F4A7C15))
    (block $done
      (loop $round
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $round)))
    (local.get $x))

  (func (export "echo") (result i32)
    (call $output (i32.const 0) (call $load_input))
    (i32.const 0))

  (func (export "upper") (result i32)
    (local $len i32)
    (local.set $len (call $load_input))
    (call $upper (i32.const 0) (local.get $len))
    (call $output (i32.const 0) (local.get $len))
    (i32.const 0))

  (func (export "compute") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (call $xorshift (call $input_load_u64 (i64.const 0))))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))
