;; A guest that attacks the CLI's output (crates/cli/tests/cli/hostile.rs):
;; it prints a forged result on its stdout, returns control characters in an
;; error message, JSON that is invalid, deep or full of non-ASCII, a result
;; as big as asked for, and traps in a function whose name is an ESC
;; sequence. ABI exports per docs/abi.md, with a bump allocator.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; Allocations start at the second page; the first holds the data below.
  (global $heap (mut i32) (i32.const 65536))

  (data (i32.const 16) "FORGED 99\n")
  (data (i32.const 32) "{\"ok\":true}")
  ;; Invalid: an ESC where a value should be.
  (data (i32.const 64) "{\"a\":[1,2,\1b[31m]}")
  ;; Valid syntax, but a lone surrogate is not a character.
  (data (i32.const 96) "\"\\ud800\"")
  ;; é, U+009B (CSI), DEL, U+202E (right-to-left override), an emoji, and
  ;; an escaped ESC.
  (data (i32.const 128) "[\"\c3\a9\c2\9b\7f\e2\80\ae\f0\9f\98\80\\u001b\"]")
  ;; ESC [2J (clear screen), CR, BEL, U+009B.
  (data (i32.const 160) "\1b[2J\0dgotcha\07\c2\9b")

  (func $alloc (export "sandbox_alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32) (local $have i32)
    global.get $heap
    local.set $ptr
    local.get $ptr
    local.get $len
    i32.add
    local.set $end
    memory.size
    i32.const 16
    i32.shl
    local.set $have
    local.get $end
    local.get $have
    i32.gt_u
    if
      local.get $end
      local.get $have
      i32.sub
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.grow
      i32.const -1
      i32.eq
      if
        unreachable
      end
    end
    local.get $end
    global.set $heap
    local.get $ptr)

  (func (export "sandbox_free") (param i32 i32))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    local.get $ptr
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get $len
    i64.extend_i32_u
    i64.or)

  ;; Writes "FORGED 99\n" to the guest's stdout.
  (func $forge
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 10))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; A scalar export that prints a forged result before its own.
  (func (export "answer") (result i32)
    call $forge
    i32.const 42)

  ;; The same through the byte ABI: prints, then returns {"ok":true}.
  (func (export "forge_json") (param i32 i32) (result i64)
    call $forge
    (call $pack (i32.const 32) (i32.const 11)))

  ;; The argument is a JSON number N; the result is an array of N zeros,
  ;; `[0,0,...,0]`, 2N+1 bytes (`[]` for 0).
  (func (export "zeros") (param $p i32) (param $len i32) (result i64)
    (local $n i32) (local $i i32) (local $out i32) (local $olen i32)
    (block $parsed
      (loop $digit
        local.get $i
        local.get $len
        i32.ge_u
        br_if $parsed
        local.get $n
        i32.const 10
        i32.mul
        local.get $p
        local.get $i
        i32.add
        i32.load8_u
        i32.const 48
        i32.sub
        i32.add
        local.set $n
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $digit))
    local.get $n
    i32.eqz
    if (result i32)
      i32.const 2
    else
      local.get $n
      i32.const 1
      i32.shl
      i32.const 1
      i32.add
    end
    local.set $olen
    local.get $olen
    call $alloc
    local.set $out
    (i32.store8 (local.get $out) (i32.const 91))
    i32.const 0
    local.set $i
    (block $filled
      (loop $fill
        local.get $i
        local.get $n
        i32.ge_u
        br_if $filled
        ;; "0," little-endian at out + 1 + 2i.
        local.get $out
        local.get $i
        i32.const 1
        i32.shl
        i32.add
        i32.const 0x2c30
        i32.store16 offset=1
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $fill))
    ;; The last byte, the last comma for N > 0, is the closing bracket.
    local.get $out
    local.get $olen
    i32.add
    i32.const 1
    i32.sub
    i32.const 93
    i32.store8
    (call $pack (local.get $out) (local.get $olen)))

  (func (export "bad_json") (param i32 i32) (result i64)
    (call $pack (i32.const 64) (i32.const 17)))

  (func (export "lone_surrogate") (param i32 i32) (result i64)
    (call $pack (i32.const 96) (i32.const 8)))

  (func (export "unicode") (param i32 i32) (result i64)
    (call $pack (i32.const 128) (i32.const 22)))

  ;; 100,000 `[`: nested deeper than any parser should follow.
  (func (export "deep") (param i32 i32) (result i64)
    (local $out i32)
    i32.const 100000
    call $alloc
    local.set $out
    (memory.fill (local.get $out) (i32.const 91) (i32.const 100000))
    (call $pack (local.get $out) (i32.const 100000)))

  ;; The ABI's error flag, with a message of control characters.
  (func (export "fail") (param i32 i32) (result i64)
    (call $pack (i32.const 160) (i32.or (i32.const 14) (i32.const 0x80000000))))

  ;; A trap inside a function named ESC [31m evil CR: the name is in the
  ;; name section, and so in the trap's backtrace.
  (func $"\1b[31mevil\0d"
    unreachable)
  (func (export "trap")
    call $"\1b[31mevil\0d"))
