;; A command importing what no host provides, as Sightglass benchmarks
;; import `bench.start` and `bench.end`: it calls both and exits with
;; `bench.end()` + 9 (so 9 when the imports return zeros).
(module
  (import "bench" "start" (func $start))
  (import "bench" "end" (func $end (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    call $start
    (call $exit (i32.add (call $end) (i32.const 9)))))
