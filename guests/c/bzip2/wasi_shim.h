/* What bzip2.c calls and wasi-libc lacks, included before every file of the
 * build (`-include wasi_shim.h`); wasi_shim.c defines it.
 *
 * It includes no system header, so that it changes nothing else the C
 * library declares; `unsigned` is wasi-libc's mode_t, uid_t and gid_t. */

/* bzip2 gives the output file the input's mode and owner. WASI has neither
 * permission bits nor owners, so there is nothing to copy: both succeed and
 * do nothing. */
int fchmod(int fd, unsigned mode);
int fchown(int fd, unsigned owner, unsigned group);
