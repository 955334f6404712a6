/* The POSIX calls bzip2.c needs and wasi-libc lacks (see wasi_shim.h). The
 * program itself is bzip2 1.0.8's own bzip2.c, unchanged. */
#include <sys/types.h>

#include "wasi_shim.h"

int fchmod(int fd, mode_t mode) {
  (void)fd;
  (void)mode;
  return 0;
}

int fchown(int fd, uid_t owner, gid_t group) {
  (void)fd;
  (void)owner;
  (void)group;
  return 0;
}
