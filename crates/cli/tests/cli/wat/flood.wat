;; A guest that writes 64 KiB blocks to its stdout forever: against a stream
;; nobody reads, it ends only at its deadline (crates/cli/tests/cli/hostile.rs).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func $flood
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $again
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      br $again))
  (func (export "_start")
    call $flood)
  (func (export "flood")
    call $flood))
