;; `cat` as a WASI command: copies stdin to stdout in 4 KiB reads until
;; end of input, then prints how many bytes it copied to stderr as `copied N`
;; (N in decimal); waits for input as long as stdin stays open.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..8: the iovec; 16: bytes read or written; 32..48: the decimal text;
  ;; 1024..5120: the buffer.
  (func (export "_start")
    (local $n i32) (local $total i32) (local $p i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
        (br $more)))
    ;; "copied " then the digits of $total, written backwards from 47, then "\n".
    (i32.store8 (i32.const 48) (i32.const 10))
    (local.set $p (i32.const 48))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $total) (i32.const 10))))
      (local.set $total (i32.div_u (local.get $total) (i32.const 10)))
      (br_if $digit (local.get $total)))
    (local.set $p (i32.sub (local.get $p) (i32.const 7)))
    (i32.store (local.get $p) (i32.const 0x69706f63))          ;; "copi"
    (i32.store16 (i32.add (local.get $p) (i32.const 4)) (i32.const 0x6465)) ;; "ed"
    (i32.store8 (i32.add (local.get $p) (i32.const 6)) (i32.const 0x20))    ;; " "
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 49) (local.get $p)))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))))
