;; Scalar math guest: the typed fast path and the CLI's `call` use it.
(module
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "add_i64") (param i64 i64) (result i64)
    local.get 0 local.get 1 i64.add)
  (func (export "mul_f32") (param f32 f32) (result f32)
    local.get 0 local.get 1 f32.mul)
  (func (export "hypot") (param f64 f64) (result f64)
    local.get 0 local.get 0 f64.mul
    local.get 1 local.get 1 f64.mul
    f64.add f64.sqrt)
  (func (export "noop"))
  ;; Recursive Fibonacci: exponential work, a CPU-bound call of any length.
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32)
      local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib
      i32.add
    end)
  ;; Iterative Fibonacci over i64 (wrapping).
  (func (export "fib_iter") (param i32) (result i64)
    (local i64 i64 i64)
    i64.const 0 local.set 1
    i64.const 1 local.set 2
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 1 local.get 2 i64.add local.set 3
        local.get 2 local.set 1
        local.get 3 local.set 2
        local.get 0 i32.const 1 i32.sub local.set 0
        br 0
      end
    end
    local.get 1)
  ;; A pure function whose cost grows linearly with n: a xorshift hash chain.
  (func (export "busy") (param i32) (result i32)
    (local i32)
    i32.const 2463534242 local.set 1
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 1 local.get 1 i32.const 13 i32.shl i32.xor local.set 1
        local.get 1 local.get 1 i32.const 17 i32.shr_u i32.xor local.set 1
        local.get 1 local.get 1 i32.const 5 i32.shl i32.xor local.set 1
        local.get 0 i32.const 1 i32.sub local.set 0
        br 0
      end
    end
    local.get 1)
  (func (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func (export "trap")
    unreachable)
  ;; Global state, to show that memoizing a stateful export would be wrong.
  (global $counter (mut i32) (i32.const 0))
  (func (export "next") (result i32)
    global.get $counter i32.const 1 i32.add global.set $counter
    global.get $counter)
)
