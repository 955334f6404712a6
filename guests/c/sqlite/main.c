// SQLite (the amalgamation bundled in the libsqlite3-sys crate) as a large,
// real guest: about 1.3 MB of wasm. Built as a WASI reactor.
//
// `workload(n)` opens an in-memory database, inserts n rows with a recursive
// CTE and returns sum(x) (n*(n+1)/2), or a negative SQLite error code.
#include <stdint.h>
#include <stdio.h>
#include "sqlite3.h"

static int64_t g_sum;

static int on_row(void *unused, int argc, char **argv, char **cols) {
  (void)unused; (void)cols;
  if (argc > 0 && argv[0]) sscanf(argv[0], "%lld", (long long *)&g_sum);
  return 0;
}

__attribute__((export_name("workload"))) int64_t workload(int32_t n) {
  sqlite3 *db;
  int rc = sqlite3_open(":memory:", &db);
  if (rc != SQLITE_OK) return -rc;
  char sql[512];
  snprintf(sql, sizeof sql,
           "CREATE TABLE t(x INTEGER);"
           "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<%d) "
           "INSERT INTO t SELECT x FROM c;",
           (int)n);
  rc = sqlite3_exec(db, sql, 0, 0, 0);
  if (rc != SQLITE_OK) { sqlite3_close(db); return -rc; }
  g_sum = -1;
  rc = sqlite3_exec(db, "SELECT sum(x) FROM t;", on_row, 0, 0);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return -rc;
  return g_sum;
}
