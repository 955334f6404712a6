;; Unbounded recursion: must end in a stack-overflow trap, never a host crash.
(module
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $recurse
    i32.const 1 i32.add)
  ;; Deep but bounded recursion: depth n.
  (func $depth (export "depth") (param i32) (result i32)
    local.get 0 i32.eqz
    if (result i32)
      i32.const 0
    else
      local.get 0 i32.const 1 i32.sub call $depth i32.const 1 i32.add
    end))
