// The serde/bytes guest ABI of docs/abi.md, implemented in C.
//
// Exports: memory, sandbox_alloc, sandbox_free, and calls of the shape
// f(ptr: i32, len: i32) -> i64 (result block packed as ptr << 32 | len, bit 31
// of len set for an error message).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define ERROR_FLAG 0x80000000u

EXPORT("sandbox_alloc") void *sandbox_alloc(int32_t len) { return malloc(len > 0 ? (size_t)len : 1); }
EXPORT("sandbox_free") void sandbox_free(void *ptr, int32_t len) { (void)len; free(ptr); }

static int64_t pack(const void *ptr, uint32_t len, int is_error) {
  return (int64_t)(((uint64_t)(uintptr_t)ptr << 32) | (uint64_t)(len | (is_error ? ERROR_FLAG : 0)));
}

static int64_t error(const char *msg) {
  size_t n = strlen(msg);
  char *out = malloc(n);
  if (!out) return pack(0, 0, 1);
  memcpy(out, msg, n);
  return pack(out, (uint32_t)n, 1);
}

// ---- a growable output buffer ----
typedef struct { char *buf; size_t len, cap; int oom; } out_t;

static void put(out_t *o, const void *src, size_t n) {
  if (o->oom) return;
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 64;
    while (cap < o->len + n) cap *= 2;
    char *p = realloc(o->buf, cap);
    if (!p) { o->oom = 1; return; }
    o->buf = p; o->cap = cap;
  }
  memcpy(o->buf + o->len, src, n);
  o->len += n;
}

static int64_t finish(out_t *o) {
  if (o->oom) { free(o->buf); return error("out of memory"); }
  return pack(o->buf, (uint32_t)o->len, 0);
}

// ---- JSON: a strict reader for arrays of 32-bit integers ----
static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) p++;
  return p;
}

// Parses "[i, j, ...]"; returns the count or -1 on a syntax error.
static int32_t parse_json_ints(const char *p, const char *end, int32_t **out) {
  size_t cap = 16, n = 0;
  int32_t *v = malloc(cap * sizeof *v);
  if (!v) return -1;
  p = skip_ws(p, end);
  if (p >= end || *p != '[') goto bad;
  p = skip_ws(p + 1, end);
  if (p < end && *p == ']') { p++; goto done; }
  for (;;) {
    p = skip_ws(p, end);
    int neg = 0;
    if (p < end && *p == '-') { neg = 1; p++; }
    if (p >= end || *p < '0' || *p > '9') goto bad;
    int64_t x = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      x = x * 10 + (*p++ - '0');
      if (x > 2147483648LL) goto bad;
    }
    if (neg) x = -x;
    if (x > 2147483647LL) goto bad;
    if (n == cap) {
      cap *= 2;
      int32_t *nv = realloc(v, cap * sizeof *v);
      if (!nv) goto bad;
      v = nv;
    }
    v[n++] = (int32_t)x;
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p++; continue; }
    if (p < end && *p == ']') { p++; break; }
    goto bad;
  }
done:
  if (skip_ws(p, end) != end) goto bad;
  *out = v;
  return (int32_t)n;
bad:
  free(v);
  return -1;
}

static void put_int(out_t *o, int32_t x) {
  char tmp[12];
  int i = 12;
  int64_t y = x;
  int neg = y < 0;
  if (neg) y = -y;
  do { tmp[--i] = (char)('0' + y % 10); y /= 10; } while (y);
  if (neg) tmp[--i] = '-';
  put(o, tmp + i, (size_t)(12 - i));
}

// process_batch: JSON [x, ...] -> JSON [2x, ...] (wrapping).
EXPORT("process_batch") int64_t process_batch(const char *ptr, int32_t len) {
  int32_t *v;
  int32_t n = parse_json_ints(ptr, ptr + len, &v);
  if (n < 0) return error("process_batch expects a JSON array of 32-bit integers");
  out_t o = {0};
  put(&o, "[", 1);
  for (int32_t i = 0; i < n; i++) {
    if (i) put(&o, ",", 1);
    put_int(&o, (int32_t)((uint32_t)v[i] * 2u));
  }
  put(&o, "]", 1);
  free(v);
  return finish(&o);
}

// ---- postcard: varint length, then zigzag varints ----
static int read_varint(const uint8_t **p, const uint8_t *end, uint32_t *out) {
  uint32_t x = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*p >= end) return -1;
    uint8_t b = *(*p)++;
    x |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) { *out = x; return 0; }
  }
  return -1;
}

static void put_varint(out_t *o, uint32_t x) {
  uint8_t tmp[5];
  int n = 0;
  do {
    uint8_t b = x & 0x7f;
    x >>= 7;
    tmp[n++] = b | (x ? 0x80 : 0);
  } while (x);
  put(o, tmp, (size_t)n);
}

// process_batch_postcard: postcard Vec<i32> -> postcard Vec<i32> of 2x.
EXPORT("process_batch_postcard") int64_t process_batch_postcard(const uint8_t *ptr, int32_t len) {
  const uint8_t *p = ptr, *end = ptr + len;
  uint32_t n;
  if (read_varint(&p, end, &n) || n > (uint32_t)len) return error("bad postcard length");
  out_t o = {0};
  put_varint(&o, n);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t z;
    if (read_varint(&p, end, &z)) { free(o.buf); return error("truncated postcard element"); }
    int32_t x = (int32_t)((z >> 1) ^ (~(z & 1) + 1));
    int32_t y = (int32_t)((uint32_t)x * 2u);
    put_varint(&o, ((uint32_t)y << 1) ^ (uint32_t)(y >> 31));
  }
  if (p != end) { free(o.buf); return error("trailing bytes after postcard Vec<i32>"); }
  return finish(&o);
}

// echo: returns its input unchanged (raw bytes).
EXPORT("echo") int64_t echo(const char *ptr, int32_t len) {
  char *out = malloc(len > 0 ? (size_t)len : 1);
  if (!out) return error("out of memory");
  memcpy(out, ptr, (size_t)len);
  return pack(out, (uint32_t)len, 0);
}

// fail: always reports an error through the ABI.
EXPORT("fail") int64_t fail(const char *ptr, int32_t len) {
  (void)ptr; (void)len;
  return error("this export always fails");
}

// bad_pointer: returns a result block outside linear memory.
EXPORT("bad_pointer") int64_t bad_pointer(const char *ptr, int32_t len) {
  (void)ptr; (void)len;
  return pack((void *)(uintptr_t)0xfffffff0u, 4096, 0);
}

// abort_now: traps (C abort ends in `unreachable`).
EXPORT("abort_now") int64_t abort_now(const char *ptr, int32_t len) {
  (void)ptr; (void)len;
  abort();
}

// process_batch__batch: the batch entry point of docs/abi.md. Input: a frame of
// u32 LE count, then count x (u32 LE len, bytes). Output: count x (u8 status,
// u32 LE len, bytes), status 0 = ok, 1 = error message.
EXPORT("process_batch__batch") int64_t process_batch__batch(const uint8_t *ptr, int32_t len) {
  const uint8_t *p = ptr, *end = ptr + len;
  uint32_t count;
  if (end - p < 4) return error("batch frame too short");
  memcpy(&count, p, 4); p += 4;
  out_t o = {0};
  for (uint32_t i = 0; i < count; i++) {
    uint32_t n;
    if (end - p < 4) { free(o.buf); return error("truncated batch frame"); }
    memcpy(&n, p, 4); p += 4;
    if ((uint32_t)(end - p) < n) { free(o.buf); return error("truncated batch item"); }
    int64_t r = process_batch((const char *)p, (int32_t)n);
    p += n;
    uint32_t rlen = (uint32_t)r;
    char *rptr = (char *)(uintptr_t)((uint64_t)r >> 32);
    uint8_t status = (rlen & ERROR_FLAG) ? 1 : 0;
    rlen &= ~ERROR_FLAG;
    put(&o, &status, 1);
    put(&o, &rlen, 4);
    put(&o, rptr, rlen);
    free(rptr);
  }
  return finish(&o);
}
