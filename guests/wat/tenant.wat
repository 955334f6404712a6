;; A tenant for pooling isolation tests (CVE-2022-39393 class): `dirty` fills
;; its whole memory with 0xFE and its whole table with non-null references,
;; after growing both; `stale_bytes` and `stale_elems` grow to the same sizes
;; and count what a previous tenant of the same pool slot left behind.
(module
  (memory (export "memory") 1 16)
  (table $t 4 64 funcref)
  (func $marker (result i32) i32.const 0xFE)
  (elem declare func $marker)

  (func (export "dirty") (param $pages i32) (param $elems i32)
    (drop (memory.grow (i32.sub (local.get $pages) (memory.size))))
    (drop (table.grow $t (ref.null func) (i32.sub (local.get $elems) (table.size $t))))
    (memory.fill (i32.const 0) (i32.const 0xFE)
      (i32.mul (memory.size) (i32.const 65536)))
    (table.fill $t (i32.const 0) (ref.func $marker) (table.size $t)))

  ;; Number of non-zero 8-byte words in memory after growing it to `pages`.
  (func (export "stale_bytes") (param $pages i32) (result i32)
    (local $i i32) (local $n i32) (local $end i32)
    (drop (memory.grow (i32.sub (local.get $pages) (memory.size))))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i64.ne (i64.load (local.get $i)) (i64.const 0))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next)))
    (local.get $n))

  ;; Number of non-null table entries after growing the table to `elems`.
  (func (export "stale_elems") (param $elems i32) (result i32)
    (local $i i32) (local $n i32)
    (drop (table.grow $t (ref.null func) (i32.sub (local.get $elems) (table.size $t))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (table.size $t)))
        (if (i32.eqz (ref.is_null (table.get $t (local.get $i))))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "pages") (result i32) (memory.size))
  (func (export "elems") (result i32) (table.size $t)))
