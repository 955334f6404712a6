;; A guest with a data-segment image, for instantiation benchmarks and
;; pooling isolation tests.
(module
  (memory (export "memory") 16)
  (data (i32.const 1024) "wasm-sandbox memory image: initialised data segment")
  (data (i32.const 65536) "\01\02\03\04\05\06\07\08")
  (func (export "read") (param i32) (result i32)
    local.get 0 i32.load8_u)
  (func (export "fill") (param i32)
    i32.const 0 local.get 0 i32.const 1048576 memory.fill))
