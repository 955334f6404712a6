/* What SQLite's shell.c calls and wasi-libc lacks, included before every
 * file of the build (`-include wasi_shim.h`); wasi_shim.c defines it.
 *
 * It includes no system header, which would come before sqlite3.c's own
 * feature macros and change what the C library declares to it; `unsigned`
 * is wasi-libc's mode_t. */

/* WASI has no permission bits: fails with ENOTSUP, so that `writefile()`
 * with an explicit MODE reports that it could not set it. */
int chmod(const char *path, unsigned mode);
