;; A WASI command that creates `out.txt` in its first preopened directory
;; (fd 3) and exits with the errno `path_open` returned (0 on success): for
;; read-only preopens.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "out.txt")
  (func (export "_start")
    ;; dirflags 0, oflags O_CREAT, rights fd_write (1 << 6), fdflags 0, fd at 200.
    (call $exit
      (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7)
        (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const 200)))))
