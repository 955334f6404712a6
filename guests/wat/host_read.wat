;; A guest that hands the host a block of its memory to read: `run(len)`
;; calls the host function `env.checksum(0, len)` on the first `len` bytes
;; (a data segment of 4 KiB of 0x01..) and returns what the host answers.
;; The benchmark row "host function reads 1 KiB" runs it against the same
;; host function written by hand on wasmtime's `func_wrap` and `Caller`.
(module
  (import "env" "checksum" (func $checksum (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (func (export "run") (param $len i32) (result i32)
    (call $checksum (i32.const 0) (local.get $len))))
