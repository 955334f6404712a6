/* lua-eval: a Lua 5.4 interpreter as a WASI reactor of the guest ABI
 * (docs/abi.md).
 *
 * Exports, besides `memory`, `_initialize`, `sandbox_alloc` and
 * `sandbox_free`:
 *
 *   init(ptr, len) -> i64   Creates the interpreter's one lua_State if there
 *                           is none yet (opening the standard libraries),
 *                           then runs the argument as a Lua chunk named
 *                           "init": the prelude (prelude.lua beside this
 *                           file), then collects all garbage (so a snapshot
 *                           taken after it owes no collection work). Empty
 *                           result on success.
 *   eval(ptr, len) -> i64   Runs the argument as a Lua chunk named "eval" in
 *                           the same state (creating it first if `init` never
 *                           ran) and returns `tostring` of its results joined
 *                           by '\t' (empty for none). Globals persist from
 *                           one call to the next on a reused instance.
 *   state_probe() -> i32    How many keys `_G` holds that it did not hold
 *                           right after luaL_openlibs: the prelude's globals
 *                           plus whatever scripts left behind (0 before the
 *                           state exists). Only `_G`'s keys are counted, not
 *                           changes inside tables such as `string`.
 *
 * Errors:
 *   - A syntax error in the chunk (or a binary chunk: chunks load as text
 *     only) returns an ABI error block with Lua's own message, e.g.
 *     "eval:1: unexpected symbol near '+'". syntax.c finds it without
 *     throwing, before lua_load sees the chunk. The few parse errors it
 *     leaves to lua_load (an undefined goto label, a repeated label, more
 *     than 200 locals or 255 upvalues, nesting deeper than about 150
 *     levels) are thrown, and trap like the errors below.
 *   - Every other Lua error cannot unwind: this build has no setjmp (see
 *     setjmp.h beside this file). A runtime error in the chunk (error(),
 *     arithmetic on nil, a failed assert, running out of memory, ...)
 *     writes "lua-eval: error in eval: <message and traceback>" to stderr
 *     (fd 2) and traps. So does an error inside pcall, xpcall, load,
 *     require, a coroutine or a finalizer, and coroutine.yield: the script
 *     cannot catch errors, and the host must treat the trapped instance as
 *     lost (the sandbox does).
 *
 * Seeds: luaL_newstate seeds string hashing, and luaL_openlibs seeds
 * math.random, from time(NULL) (a WASI clock call). A snapshot taken after
 * `init` freezes both: every instance made from it hashes strings with the
 * same seed and, unless a script calls math.randomseed, draws the same
 * math.random sequence. The prelude's Random is deterministic by design.
 *
 * The io and os libraries stay: what they can reach is what the sandbox's
 * WASI context grants. os.exit calls proc_exit, which the host reports as an
 * exit of the guest. Lua allocates with realloc and has no limit of its own:
 * the sandbox's memory limit is the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#define EXPORT(name) __attribute__((export_name(name)))
#define ERROR_FLAG 0x80000000u

/* syntax.c */
char *lua_eval_syntax_check(const char *src, size_t n, const char *chunkname);

/* The registry key of the set of `_G`'s keys right after luaL_openlibs. */
#define STDLIB_KEYS "lua-eval.stdlib-keys"

static lua_State *state;

/* What is running, for the report of an error that traps. */
static const char *running = "lua-eval";

/* ---- the ABI ---- */

EXPORT("sandbox_alloc") void *sandbox_alloc(int32_t len) { return malloc(len > 0 ? (size_t)len : 1); }
EXPORT("sandbox_free") void sandbox_free(void *ptr, int32_t len) { (void)len; free(ptr); }

static int64_t pack(const void *ptr, uint32_t len, int is_error) {
  return (int64_t)(((uint64_t)(uintptr_t)ptr << 32) | (uint64_t)(len | (is_error ? ERROR_FLAG : 0)));
}

static int64_t copy_block(const char *src, size_t n, int is_error) {
  char *out;
  if (n == 0 && !is_error) return pack(0, 0, 0);
  if (n >= ERROR_FLAG) n = ERROR_FLAG - 1;
  out = malloc(n ? n : 1);
  if (!out) return pack(0, 0, 1);
  memcpy(out, src, n);
  return pack(out, (uint32_t)n, is_error);
}

static int64_t error_block(const char *msg) { return copy_block(msg, strlen(msg), 1); }

/* ---- Lua's error macros (setjmp.h) ---- */

/* 1 when the next new handler is the guest's own protected call. */
static int pending_mark;

int lua_wasi_enter(int in_finalizer) {
  int mark = in_finalizer ? 0 : pending_mark;
  if (mark) pending_mark = 0;
  return mark;
}

/* The error being raised with `status`; the message is on top of the stack
 * except for memory errors (Lua sets it once the handler has caught it). */
static const char *error_message(lua_State *L, int status) {
  const char *msg;
  if (status == LUA_ERRMEM) return "not enough memory";
  if (status == LUA_ERRERR) return "error in error handling";
  msg = lua_tostring(L, -1);
  return msg ? msg : "(error object is not a string)";
}

_Noreturn void lua_wasi_throw(lua_State *L, int mark, int status) {
  static int reporting;
  if (reporting) __builtin_trap(); /* an error while reporting one */
  reporting = 1;
  if (mark) {
    /* a runtime error of the chunk: msghandler added the traceback */
    lua_writestringerror("lua-eval: error in %s: ", running);
    lua_writestringerror("%s\n", error_message(L, status));
  } else if (status == LUA_YIELD) {
    lua_writestringerror("lua-eval: error in %s: cannot yield: coroutines need "
                         "setjmp, which this WASI build lacks\n", running);
  } else {
    const char *msg = error_message(L, status);
    lua_writestringerror("lua-eval: error in %s: cannot recover from an error inside "
                         "pcall, xpcall, load, require, a coroutine or a finalizer "
                         "without setjmp, which this WASI build lacks: ", running);
    if (status != LUA_ERRMEM) {
      /* the stack is still there: show where the error was raised */
      luaL_traceback(L, L, msg, 0);
      msg = lua_tostring(L, -1);
    }
    lua_writestringerror("%s\n", msg);
  }
  __builtin_trap();
}

/* ---- the state ---- */

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* A protected call of the guest's own: its handler is marked. */
static int own_pcall(lua_State *L, int nargs, int nres) {
  int status, base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  pending_mark = 1;
  status = lua_pcall(L, nargs, nres, base);
  pending_mark = 0;
  lua_remove(L, base);
  return status;
}

static int open_libs(lua_State *L) {
  luaL_openlibs(L);
  lua_newtable(L); /* the keys of _G now */
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -5);
  }
  lua_pop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, STDLIB_KEYS);
  return 0;
}

/* Creates the state and opens the libraries, once. */
static const char *ensure_state(void) {
  lua_State *L;
  if (state) return NULL;
  L = luaL_newstate();
  if (!L) return "cannot create the Lua state: not enough memory";
  running = "luaL_openlibs";
  lua_pushcfunction(L, open_libs);
  own_pcall(L, 0, 0); /* returns only on success: an error traps */
  lua_settop(L, 0);
  state = L;
  return NULL;
}

struct chunk {
  const char *src;
  size_t len;
  const char *name;
  int results; /* return the results as text */
};

/* Loads and runs the chunk; with `results`, leaves its results' text. */
static int run_chunk(lua_State *L) {
  struct chunk *ck = (struct chunk *)lua_touserdata(L, 1);
  int i, first, top;
  luaL_Buffer b;
  lua_settop(L, 0);
  pending_mark = 1; /* lua_load's own handler is ours too */
  if (luaL_loadbufferx(L, ck->src, ck->len, ck->name, "t") != LUA_OK) {
    pending_mark = 0;
    return lua_error(L); /* not reached: a load error throws (and traps) */
  }
  pending_mark = 0;
  lua_call(L, 0, ck->results ? LUA_MULTRET : 0);
  if (!ck->results) return 0;
  top = lua_gettop(L);
  first = 1;
  luaL_buffinit(L, &b);
  for (i = first; i <= top; i++) {
    if (i > first) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

static int64_t run(const char *src, int32_t len, const char *name, int results) {
  struct chunk ck;
  const char *err;
  char *msg;
  size_t n = len > 0 ? (size_t)len : 0;
  int64_t out;
  if ((err = ensure_state()) != NULL) return error_block(err);
  msg = lua_eval_syntax_check(src, n, name);
  if (msg) {
    out = error_block(msg);
    free(msg);
    return out;
  }
  ck.src = src;
  ck.len = n;
  ck.name = name;
  ck.results = results;
  running = name + 1; /* without the '=' */
  lua_settop(state, 0);
  lua_pushcfunction(state, run_chunk);
  lua_pushlightuserdata(state, &ck);
  own_pcall(state, 1, results ? 1 : 0); /* returns only on success */
  out = pack(0, 0, 0);
  if (results) {
    size_t rlen;
    const char *text = lua_tolstring(state, -1, &rlen);
    out = copy_block(text, rlen, 0);
  }
  lua_settop(state, 0);
  running = "lua-eval";
  return out;
}

EXPORT("init") int64_t init(const char *ptr, int32_t len) {
  int64_t out = run(ptr, len, "=init", 0);
  /* A full collection after the prelude: a snapshot taken now starts every
   * instance with no garbage and no collection debt, so no call pays for
   * what the prelude left. */
  if (out == pack(0, 0, 0) && state != NULL) lua_gc(state, LUA_GCCOLLECT);
  return out;
}

EXPORT("eval") int64_t eval(const char *ptr, int32_t len) { return run(ptr, len, "=eval", 1); }

static int count_new_globals(lua_State *L) {
  lua_Integer n = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, STDLIB_KEYS);
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -4) == LUA_TNIL) n++;
    lua_pop(L, 1);
  }
  lua_pushinteger(L, n);
  return 1;
}

EXPORT("state_probe") int32_t state_probe(void) {
  int32_t n;
  if (!state) return 0;
  running = "state_probe";
  lua_settop(state, 0);
  lua_pushcfunction(state, count_new_globals);
  own_pcall(state, 0, 1);
  n = (int32_t)lua_tointeger(state, -1);
  lua_settop(state, 0);
  running = "lua-eval";
  return n;
}
