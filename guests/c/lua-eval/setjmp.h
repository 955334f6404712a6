/* The <setjmp.h> of the lua-eval guest, in place of the one wasi-libc lacks.
 *
 * Lua includes <setjmp.h> only in ldo.c, to raise errors with longjmp back to
 * the nearest protected call. The 2022 wasi-libc this guest is built with has
 * no setjmp (and clang 14 can only lower setjmp to the legacy exception
 * proposal, which wasmtime does not run), so this header defines ldo.c's
 * exception macros instead (ldo.c keeps its own definitions only when
 * LUAI_THROW is undefined), and main.c implements them:
 *
 * - LUAI_TRY runs the protected body in place and marks the handler when it
 *   is one of the guest's own protected calls: the call that `init` or
 *   `eval` makes to run its chunk, the lua_load inside it, opening the
 *   libraries, `state_probe`'s. A finalizer's handler (the GC runs one with
 *   GCSTPGC set) is never marked.
 * - LUAI_THROW cannot unwind. To a marked handler (a runtime error of the
 *   script: error(), arithmetic on nil, out of memory, ...) it writes the
 *   error message, with a traceback, to stderr (fd 2) and traps
 *   (__builtin_trap, wasm `unreachable`): the export fails with a trap and
 *   the host throws the instance away. A throw to any other handler (pcall,
 *   xpcall, load, require, a coroutine, a yield, a finalizer) reports that it
 *   cannot recover and traps as well.
 *
 * Syntax errors do not get here: main.c runs every chunk through syntax.c's
 * checker first and returns its message as an ABI error block. Only the few
 * parse errors the checker leaves to lua_load (an undefined goto label, a
 * repeated label, the parser's limits) are thrown, to a marked handler, and
 * trap like runtime errors.
 */
#ifndef LUA_EVAL_SETJMP_H
#define LUA_EVAL_SETJMP_H

struct lua_State;

/* The mark of a new handler: nonzero for the guest's own protected calls. */
int lua_wasi_enter(int in_finalizer);
/* Never returns: reports on stderr and traps, as described above. */
_Noreturn void lua_wasi_throw(struct lua_State *L, int mark, int status);

#define luai_jmpbuf int
#define LUAI_TRY(L, c, a) \
  { (c)->b = lua_wasi_enter((G(L)->gcstp & GCSTPGC) != 0); a }
#define LUAI_THROW(L, c) lua_wasi_throw(L, (c)->b, (c)->status)

#endif
