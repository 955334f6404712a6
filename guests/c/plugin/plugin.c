// A plugin for the plugin-host API (docs/host-functions.md): it keeps no
// state of its own between calls; everything it remembers lives in the
// host's per-tenant key-value store, reached through host functions.
//
// Imports (module "env"):
//   kv_get(key, key_len, out, out_cap) -> i32   value length, or -1 if absent;
//                                               the value is written only if it fits
//   kv_put(key, key_len, val, val_len)
//   lookup(key, key_len, out, out_cap) -> i32   an async host function (same convention)
//   checksum(ptr, len) -> i32                   the host reads len bytes of guest memory
//
// Exports: the guest ABI of docs/abi.md (memory, sandbox_alloc, sandbox_free)
// and calls f(ptr, len) -> i64:
//   visit(key)      increments the tenant's counter `key`, returns the new count (JSON number)
//   lookup(key)     returns what the host's async lookup answers for `key`
//   checksum(bytes) returns the host's checksum of the argument (JSON number)
//   put_then_fail(key)  stores "1" under key, then reports an error: the host's
//                   store keeps the write, the caller gets Error::Guest
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(name)))
#define ERROR_FLAG 0x80000000u

IMPORT("kv_get") int32_t kv_get(const char *key, int32_t key_len, char *out, int32_t cap);
IMPORT("kv_put") void kv_put(const char *key, int32_t key_len, const char *val, int32_t val_len);
IMPORT("lookup") int32_t host_lookup(const char *key, int32_t key_len, char *out, int32_t cap);
IMPORT("checksum") int32_t host_checksum(const char *ptr, int32_t len);

EXPORT("sandbox_alloc") void *sandbox_alloc(int32_t len) { return malloc(len > 0 ? (size_t)len : 1); }
EXPORT("sandbox_free") void sandbox_free(void *ptr, int32_t len) { (void)len; free(ptr); }

static int64_t pack(const void *ptr, uint32_t len, int is_error) {
  return (int64_t)(((uint64_t)(uintptr_t)ptr << 32) | (uint64_t)(len | (is_error ? ERROR_FLAG : 0)));
}

static int64_t bytes(const char *src, size_t n, int is_error) {
  char *out = malloc(n ? n : 1);
  if (!out) return pack(0, 0, 1);
  memcpy(out, src, n);
  return pack(out, (uint32_t)n, is_error);
}

// Decimal digits of v (no stdio: the plugin imports nothing but its host functions).
static int format_u64(unsigned long long v, char *buf) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

static unsigned long long parse_u64(const char *s, int32_t n) {
  unsigned long long v = 0;
  for (int32_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (unsigned)(s[i] - '0');
  return v;
}

static int64_t number(unsigned long long v) {
  char buf[24];
  int n = format_u64(v, buf);
  return bytes(buf, (size_t)n, 0);
}

EXPORT("visit") int64_t visit(const char *key, int32_t len) {
  char buf[24];
  int32_t n = kv_get(key, len, buf, (int32_t)sizeof buf);
  unsigned long long count = 0;
  if (n >= 0 && n <= (int32_t)sizeof buf) count = parse_u64(buf, n);
  count += 1;
  int m = format_u64(count, buf);
  kv_put(key, len, buf, m);
  return number(count);
}

EXPORT("lookup") int64_t lookup(const char *key, int32_t len) {
  int32_t cap = 64;
  for (int tries = 0; tries < 8; tries++) {
    char *out = malloc((size_t)cap);
    if (!out) return bytes("out of memory", 13, 1);
    int32_t n = host_lookup(key, len, out, cap);
    if (n < 0) { free(out); return bytes("not found", 9, 1); }
    if (n <= cap) return pack(out, (uint32_t)n, 0);
    free(out);
    cap = n;  // the host said how much it needs: call again with that
  }
  return bytes("the host's answer kept growing", 30, 1);
}

EXPORT("checksum") int64_t checksum(const char *ptr, int32_t len) {
  return number((uint32_t)host_checksum(ptr, len));
}

EXPORT("put_then_fail") int64_t put_then_fail(const char *key, int32_t len) {
  kv_put(key, len, "1", 1);
  return bytes("failed after the write", 22, 1);
}
