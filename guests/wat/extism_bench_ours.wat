;; The wasm-sandbox-ABI twin of `extism_bench.wat` (docs/abi.md): the same
;; exports doing the same work, for the `extism/*` benchmark rows. The input
;; is the argument block the host wrote into this memory; the output is a
;; result block from `sandbox_alloc`, which the host frees.
;;
;; * `echo`: the input, unchanged (copied into the result block).
;; * `upper`: the input with ASCII `a`..`z` upper-cased.
;; * `compute`: the input is a little-endian u64 `n`; runs `n` rounds of
;;   xorshift64 and returns the final state as 8 bytes.
;;
;; The allocator bumps a pointer from 64 KiB up (growing memory as needed)
;; and starts over when every block is freed, which the host does after
;; each call (argument and result).
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $live (mut i32) (i32.const 0))

  (func $alloc (export "sandbox_alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $need i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $len)) (i32.const 7))
               (i32.const -8)))
    (local.set $need
      (i32.sub
        (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $need)) (i32.const -1))
          (then unreachable))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $ptr))

  (func (export "sandbox_free") (param $ptr i32) (param $len i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.le_s (global.get $live) (i32.const 0))
      (then
        (global.set $live (i32.const 0))
        (global.set $heap (i32.const 65536)))))

  ;; `(ptr << 32) | len`: a result block.
  (func $packed (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  ;; A result block holding a copy of `[ptr, ptr + len)`.
  (func $copy (param $ptr i32) (param $len i32) (result i32)
    (local $out i32)
    (local.set $out (call $alloc (local.get $len)))
    (memory.copy (local.get $out) (local.get $ptr) (local.get $len))
    (local.get $out))

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

  (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.eqz (local.get $len)) (then (return (i64.const 0))))
    (call $packed (call $copy (local.get $ptr) (local.get $len)) (local.get $len)))

  (func (export "upper") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (if (i32.eqz (local.get $len)) (then (return (i64.const 0))))
    (local.set $out (call $copy (local.get $ptr) (local.get $len)))
    (call $upper (local.get $out) (local.get $len))
    (call $packed (local.get $out) (local.get $len)))

  (func (export "compute") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local.set $out (call $alloc (i32.const 8)))
    (i64.store (local.get $out) (call $xorshift (i64.load (local.get $ptr))))
    (call $packed (local.get $out) (i32.const 8))))
