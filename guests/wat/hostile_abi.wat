;; A guest ABI module (no imports) that returns what a host must not take on
;; trust: a huge result, a huge error message, a whole memory as a batch
;; frame.
;;
;; * `huge_json(ptr, len) -> i64`: a 48 MiB JSON array `[0,0,...,0]` (50,331,647 bytes).
;; * `huge_error(ptr, len) -> i64`: a 48 MiB error message of 0xff bytes.
;; * `echo(ptr, len) -> i64`: its argument back.
;; * `echo__batch(ptr, len) -> i64`: a batch entry point whose result frame
;;   is the guest's whole memory, far more items than the batch had.
;; * `memory`, `sandbox_alloc`, `sandbox_free` (a bump allocator).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  (func (export "sandbox_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func (export "sandbox_free") (param i32 i32))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))

  ;; A fresh region of $bytes at the end of memory.
  (func $region (param $bytes i32) (result i32)
    (local $base i32)
    (local.set $base (i32.mul (memory.size) (i32.const 65536)))
    (drop (memory.grow (i32.add (i32.shr_u (local.get $bytes) (i32.const 16)) (i32.const 1))))
    (local.get $base))

  ;; `[`, then 25,165,823 times `0,` with the last `,` made `]`: 50,331,647 bytes.
  (func (export "huge_json") (param i32 i32) (result i64)
    (local $base i32) (local $n i32) (local $i i32)
    (local.set $n (i32.const 50331647))
    (local.set $base (call $region (i32.add (local.get $n) (i32.const 8))))
    ;; "0,0,0,0," as one i64, little-endian, from the byte after `[`.
    (loop $fill
      (i64.store (i32.add (i32.add (local.get $base) (i32.const 1)) (local.get $i))
        (i64.const 0x2c302c302c302c30))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.sub (local.get $n) (i32.const 1)))))
    (i32.store8 (local.get $base) (i32.const 0x5b))
    (i32.store8 (i32.add (local.get $base) (i32.sub (local.get $n) (i32.const 1))) (i32.const 0x5d))
    (call $pack (local.get $base) (local.get $n)))

  (func (export "huge_error") (param i32 i32) (result i64)
    (local $base i32) (local $n i32)
    (local.set $n (i32.const 50331648))
    (local.set $base (call $region (local.get $n)))
    (memory.fill (local.get $base) (i32.const 0xff) (local.get $n))
    (call $pack (local.get $base) (i32.or (local.get $n) (i32.const 0x80000000))))

  (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
    (call $pack (local.get $ptr) (local.get $len)))

  (func (export "echo__batch") (param i32 i32) (result i64)
    (call $pack (i32.const 0) (i32.mul (memory.size) (i32.const 65536)))))
