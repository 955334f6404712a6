;; A guest that never returns: the wall-clock timeout must stop it.
(module
  (func (export "run")
    loop br 0 end)
  ;; A loop with no calls and no memory traffic in its body.
  (func (export "spin") (param i32) (result i32)
    loop (result i32)
      local.get 0 i32.const 1 i32.add local.set 0
      br 0
    end))
