/* The POSIX calls SQLite's shell needs and wasi-libc lacks (see
 * wasi_shim.h). The shell itself is SQLite's own shell.c, unchanged. */
#include <errno.h>
#include <sys/types.h>

#include "wasi_shim.h"

int chmod(const char *path, mode_t mode) {
  (void)path;
  (void)mode;
  errno = ENOTSUP;
  return -1;
}
