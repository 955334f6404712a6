;; Grows its memory one page at a time, forever: the memory limit must stop it.
(module
  (memory (export "memory") 1)
  (func (export "bomb") (result i32)
    loop
      i32.const 1 memory.grow
      i32.const -1 i32.ne
      br_if 0
    end
    i32.const -1)
  ;; Asks for 1 GiB at once.
  (func (export "grow_huge") (result i32)
    i32.const 16384 memory.grow))
