/* The <setjmp.h> of the Lua guest, in place of the one wasi-libc lacks.
 *
 * Lua includes <setjmp.h> only in ldo.c, to raise errors with longjmp back to
 * the nearest protected call. WASI has no setjmp, so this header defines
 * ldo.c's exception macros instead (ldo.c keeps its own definitions only when
 * LUAI_THROW is undefined), and main.c implements them:
 *
 * - LUAI_TRY runs the protected body in place and marks the handler that
 *   main.c's own protected calls set up (the script, `-e`, LUA_INIT, `-l`);
 *   a finalizer's handler (the GC runs one with GCSTPGC set) is never marked.
 * - LUAI_THROW to a marked handler does what lua.c does when that call fails:
 *   reports the error on stderr and ends with lua.c's exit status. A throw to
 *   any other handler (pcall, xpcall, load, require, a coroutine, a yield)
 *   cannot unwind without setjmp: it reports that and traps.
 */
#ifndef LUA_WASI_SETJMP_H
#define LUA_WASI_SETJMP_H

struct lua_State;

/* The mark of a new handler: what lua_wasi_throw needs to know about it. */
int lua_wasi_enter(int in_finalizer);
/* Never returns: ends the program as described above. */
_Noreturn void lua_wasi_throw(struct lua_State *L, int mark, int status);

#define luai_jmpbuf int
#define LUAI_TRY(L, c, a) \
  { (c)->b = lua_wasi_enter((G(L)->gcstp & GCSTPGC) != 0); a }
#define LUAI_THROW(L, c) lua_wasi_throw(L, (c)->b, (c)->status)

#endif
