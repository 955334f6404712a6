;; A WASI guest that does the hostile things a deadline must survive: it
;; sleeps in `poll_oneoff` (an hour, forever, or 250 ms at a time without
;; end), writes to stdout without end, spins through every step of the
;; guest ABI, and exits with a status WASI reserves.
;;
;; Exports (all `() -> ()` unless said):
;; * `sleep_hour`: one `poll_oneoff` clock sleep of 3,600 s.
;; * `sleep_forever`: one sleep of 2^64 - 1 ns.
;; * `sleep_loop`: sleeps of 250 ms, forever.
;; * `print_forever` (and `_start`): writes 4 KiB blocks to stdout, forever.
;; * `print_until_error() -> i64`: writes 4 KiB blocks to stdout until a write
;;   fails, and returns the bytes the successful writes reported.
;; * `exit_200`: `proc_exit(200)`.
;; * the guest ABI (`memory`, `sandbox_alloc`, `sandbox_free`) whose alloc and
;;   free each spin for 120 ms of wall-clock time (read with `clock_time_get`)
;;   before doing their job, and `slow_echo(ptr, len) -> i64`, which spins as
;;   long and returns its argument: one bytes call is four steps of 120 ms.
;; * `sleep_hour_bytes(ptr, len) -> i64`: an ABI export that sleeps for an hour.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  ;; 0..48: one clock subscription; 64..96: its event; 128: nevents;
  ;; 192: a clock reading; 256..264: an iovec; 1024..5120: the block to print;
  ;; 8192..: the bump heap.
  (global $heap (mut i32) (i32.const 8192))

  (func $sleep (param $ns i64)
    (i64.store (i32.const 0) (i64.const 7))          ;; userdata
    (i32.store8 (i32.const 8) (i32.const 0))         ;; tag: clock
    (i32.store (i32.const 16) (i32.const 1))         ;; clock id: monotonic
    (i64.store (i32.const 24) (local.get $ns))       ;; timeout
    (i64.store (i32.const 32) (i64.const 0))         ;; precision
    (i32.store16 (i32.const 40) (i32.const 0))       ;; flags: relative
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))

  (func (export "sleep_hour") (call $sleep (i64.const 3600000000000)))
  (func (export "sleep_hour_bytes") (param i32 i32) (result i64)
    (call $sleep (i64.const 3600000000000))
    (i64.const 0))
  (func (export "sleep_forever") (call $sleep (i64.const -1)))
  (func (export "sleep_loop")
    (loop $again
      (call $sleep (i64.const 250000000))
      (br $again)))

  (func $print_forever
    (memory.fill (i32.const 1024) (i32.const 0x41) (i32.const 4096))
    (i32.store (i32.const 256) (i32.const 1024))
    (i32.store (i32.const 260) (i32.const 4096))
    (loop $again
      (drop (call $fd_write (i32.const 1) (i32.const 256) (i32.const 1) (i32.const 128)))
      (br $again)))
  (func (export "print_forever") (call $print_forever))
  (func (export "print_until_error") (result i64)
    (local $total i64)
    (memory.fill (i32.const 1024) (i32.const 0x41) (i32.const 4096))
    (i32.store (i32.const 256) (i32.const 1024))
    (i32.store (i32.const 260) (i32.const 4096))
    (block $failed
      (loop $again
        (br_if $failed
          (call $fd_write (i32.const 1) (i32.const 256) (i32.const 1) (i32.const 128)))
        (local.set $total (i64.add (local.get $total) (i64.load32_u (i32.const 128))))
        (br $again)))
    (local.get $total))
  (func (export "_start") (call $print_forever))

  (func (export "exit_200") (call $proc_exit (i32.const 200)))

  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 192)))
    (i64.load (i32.const 192)))
  ;; Spins (without sleeping: guest code runs all along) for 120 ms.
  (func $spin
    (local $until i64)
    (local.set $until (i64.add (call $now) (i64.const 120000000)))
    (loop $again
      (br_if $again (i64.lt_u (call $now) (local.get $until)))))

  (func (export "sandbox_alloc") (param $len i32) (result i32)
    (local $p i32)
    (call $spin)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.get $p))
  (func (export "sandbox_free") (param i32 i32) (call $spin))
  (func (export "slow_echo") (param $ptr i32) (param $len i32) (result i64)
    (call $spin)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len)))))
