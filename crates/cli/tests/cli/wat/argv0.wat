;; A WASI command that prints its argv[0] and a newline: for `run --argv0`.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0: argc, 4: size of the argument bytes (then nwritten), 8: one iovec,
  ;; 16..1024: argv pointers, 1024..: the argument bytes.
  (func (export "_start")
    (local $p i32) (local $n i32)
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (if (i32.gt_u (i32.load (i32.const 0)) (i32.const 250)) (then unreachable))
    (if (i32.gt_u (i32.load (i32.const 4)) (i32.const 60000)) (then unreachable))
    (drop (call $args (i32.const 16) (i32.const 1024)))
    (local.set $p (i32.load (i32.const 16)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 10))
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (i32.add (local.get $n) (i32.const 1)))
    (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 4)))))
