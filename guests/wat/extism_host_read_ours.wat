;; The wasm-sandbox-ABI twin of `extism_host_read.wat` (docs/abi.md), for the
;; row `extism/host function reads 1 KiB`.
;;
;; `run(ptr, len)` reads a little-endian u64 `k` from its argument block,
;; calls the host function `env.checksum(0, 1024) -> i32` on the 1 KiB block
;; at address 0 of its memory (a data segment) `k` times, and returns the sum
;; of the answers as an 8-byte result block. The allocator hands out 64 KiB
;; and up and starts over when every block is freed.
(module
  (import "env" "checksum" (func $checksum (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (global $heap (mut i32) (i32.const 65536))
  (global $live (mut i32) (i32.const 0))

  (func $alloc (export "sandbox_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $len)) (i32.const 7))
               (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.const 131072)) (then unreachable))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $ptr))

  (func (export "sandbox_free") (param $ptr i32) (param $len i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.le_s (global.get $live) (i32.const 0))
      (then
        (global.set $live (i32.const 0))
        (global.set $heap (i32.const 65536)))))

  (func (export "run") (param $ptr i32) (param $len i32) (result i64)
    (local $k i64) (local $acc i64) (local $out i32)
    (local.set $k (i64.load (local.get $ptr)))
    (block $done
      (loop $call
        (br_if $done (i64.eqz (local.get $k)))
        (local.set $acc
          (i64.add (local.get $acc)
            (i64.extend_i32_u (call $checksum (i32.const 0) (i32.const 1024)))))
        (local.set $k (i64.sub (local.get $k) (i64.const 1)))
        (br $call)))
    (local.set $out (call $alloc (i32.const 8)))
    (i64.store (local.get $out) (local.get $acc))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 8))))
