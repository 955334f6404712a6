/* The standalone Lua 5.4 interpreter, `lua`, for WASI.
 *
 * The lua-src crate ships Lua's library sources but not its interpreter,
 * lua.c, so this file is one: it follows lua.c of Lua 5.4 (MIT licence,
 * Copyright (C) Lua.org, PUC-Rio) option for option and message for message:
 *
 *   lua [options] [script [args]]
 *     -e stat  execute string 'stat'     -l mod    require 'mod' into global 'mod'
 *     -l g=mod require 'mod' into 'g'    -v        show version information
 *     -E       ignore LUA_INIT           -W        turn warnings on
 *     --       stop handling options     -         execute stdin and stop
 *
 * The script gets its arguments as `...` and in the global table `arg`;
 * LUA_INIT_5_4 or LUA_INIT (`@file` or code) runs first; with no script and
 * no -e or -v, stdin is run. An error ends the program as lua.c does: the
 * message (and a traceback for a runtime error) on stderr, status 1 (0 for
 * an error in a script read from stdin without `-`).
 *
 * What WASI cannot give it: there is no interactive mode (-i, or a terminal
 * on stdin: stdin is always run as a script), no Ctrl-C handler, and, with no
 * setjmp, no recovery from an error inside pcall, xpcall, load or require and
 * no coroutine.yield (see setjmp.h beside this file): those report and trap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#define LUA_INIT_VAR "LUA_INIT"
#define LUA_INITVARVERSION LUA_INIT_VAR LUA_VERSUFFIX

static const char *progname = "lua";

/* The mark (exit status + 1) that the next new handler takes when it is the
 * interpreter's own protected call; 0 when it is anyone else's. */
static int pending_mark;

int lua_wasi_enter(int in_finalizer) {
  int mark = in_finalizer ? 0 : pending_mark;
  if (mark) pending_mark = 0;
  return mark;
}

static void l_message(const char *pname, const char *msg) {
  if (pname) lua_writestringerror("%s: ", pname);
  lua_writestringerror("%s\n", msg);
}

/* The error being raised with `status`, as lua.c's report() would show it. */
static const char *error_message(lua_State *L, int status) {
  const char *msg;
  if (status == LUA_ERRMEM) return "not enough memory";
  if (status == LUA_ERRERR) return "error in error handling";
  msg = lua_tostring(L, -1);
  return msg ? msg : "(error object is not a string)";
}

_Noreturn void lua_wasi_throw(lua_State *L, int mark, int status) {
  if (mark) {  /* the interpreter's own call failed: what lua.c does next */
    l_message(progname, error_message(L, status));
    exit(mark - 1);
  }
  if (status == LUA_YIELD)
    l_message(progname, "cannot yield: coroutines need setjmp, which this "
                        "WASI build lacks");
  else {
    lua_writestringerror("%s: cannot recover from an error inside pcall, load, "
                         "require or a coroutine without setjmp, which this "
                         "WASI build lacks: ", progname);
    lua_writestringerror("%s\n", error_message(L, status));
  }
  __builtin_trap();
}

/* The interpreter's protected calls: each marks the handler it sets up with
 * the status the interpreter exits with when the call fails. */
static int load_file(lua_State *L, const char *name, int exit_status) {
  int status;
  pending_mark = exit_status + 1;
  status = luaL_loadfile(L, name);
  pending_mark = 0;
  return status;
}

static int load_string(lua_State *L, const char *s, const char *name) {
  int status;
  pending_mark = EXIT_FAILURE + 1;
  status = luaL_loadbuffer(L, s, strlen(s), name);
  pending_mark = 0;
  return status;
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {  /* is error object not a string? */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;  /* that is the message */
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);  /* append a standard traceback */
  return 1;
}

static int docall(lua_State *L, int narg, int nres, int exit_status) {
  int status;
  int base = lua_gettop(L) - narg;  /* function index */
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);  /* put it under function and args */
  pending_mark = exit_status + 1;
  status = lua_pcall(L, narg, nres, base);
  pending_mark = 0;
  lua_remove(L, base);
  return status;
}

static void print_usage(const char *badoption) {
  lua_writestringerror("%s: ", progname);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    lua_writestringerror("'%s' needs argument\n", badoption);
  else
    lua_writestringerror("unrecognized option '%s'\n", badoption);
  lua_writestringerror(
      "usage: %s [options] [script [args]]\n"
      "Available options are:\n"
      "  -e stat   execute string 'stat'\n"
      "  -l mod    require library 'mod' into global 'mod'\n"
      "  -l g=mod  require library 'mod' into global 'g'\n"
      "  -v        show version information\n"
      "  -E        ignore environment variables\n"
      "  -W        turn warnings on\n"
      "  --        stop handling options\n"
      "  -         stop handling options and execute stdin\n",
      progname);
}

static void print_version(void) {
  lua_writestring(LUA_COPYRIGHT, strlen(LUA_COPYRIGHT));
  lua_writeline();
}

/* `arg`: the script name at 0, its arguments at 1.., the interpreter and its
 * options at negative indices. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i, narg;
  if (script == argc) script = 0;  /* no script name? */
  narg = argc - (script + 1);      /* number of positive indices */
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* Prints the message of a failed call. An error raised inside a call has
 * been reported, and has ended the program, by lua_wasi_throw, so the only
 * failure that comes back here is luaL_loadfile's LUA_ERRFILE, which is
 * returned rather than raised. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    l_message(progname, error_message(L, status));
    lua_pop(L, 1);
  }
  return status;
}

static int dochunk(lua_State *L, int status, int exit_status) {
  if (status == LUA_OK) status = docall(L, 0, 0, exit_status);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name, int exit_status) {
  return dochunk(L, load_file(L, name, exit_status), exit_status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, load_string(L, s, name), EXIT_FAILURE);
}

/* `-l [g=]mod`: require 'mod' into global 'g' (or 'mod', less any suffix
 * after LUA_IGMARK). */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *suffix = NULL;
  char *modname = strchr(globname, '=');
  if (modname == NULL) {
    modname = globname;
    suffix = strchr(modname, *LUA_IGMARK);
  } else {
    *modname = '\0';
    modname++;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1, EXIT_FAILURE);
  if (status == LUA_OK) {
    if (suffix != NULL) *suffix = '\0';
    lua_setglobal(L, globname);
  }
  return report(L, status);
}

static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);  /* remove table from the stack */
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;  /* stdin */
  status = load_file(L, fname, EXIT_FAILURE);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET, EXIT_FAILURE);
  }
  return report(L, status);
}

#define has_error 1 /* bad option */
#define has_v 4     /* -v */
#define has_e 8     /* -e */
#define has_E 16    /* -E */

/* Checks the options; `*first` is the index of the script (0 for none), or
 * of the bad option. */
static int collectargs(char **argv, int *first) {
  int args = 0;
  int i;
  if (argv[0] != NULL) {
    if (argv[0][0]) progname = argv[0];
  } else {
    *first = -1;
    return 0;
  }
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;  /* not an option */
    switch (argv[i][1]) {
      case '-':  /* '--' */
        if (argv[i][2] != '\0') return has_error;
        *first = i + 1;
        return args;
      case '\0':  /* '-' */
        return args;
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e':
        args |= has_e; /* FALLTHROUGH */
      case 'l':  /* both options need an argument */
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default:  /* invalid option, -i among them */
        return has_error;
    }
  }
  *first = 0;  /* no script name */
  return args;
}

/* Runs -e and -l in order, and turns warnings on for -W. */
static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e':
      case 'l': {
        int status;
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        status = (option == 'e') ? dostring(L, extra, "=(command line)")
                                 : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W':
        lua_warning(L, "@on", 0);
        break;
    }
  }
  return 1;
}

static int handle_luainit(lua_State *L) {
  const char *name = "=" LUA_INITVARVERSION;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=" LUA_INIT_VAR;
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1, EXIT_FAILURE);
  return dostring(L, init, name);
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  int optlim = (script > 0) ? script : argc;  /* first argv not an option */
  luaL_checkversion(L);
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & has_v) print_version();
  if (args & has_E) {  /* signal for libraries to ignore env. vars. */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (!(args & has_E) && handle_luainit(L) != LUA_OK) return 0;
  if (!runargs(L, argv, optlim)) return 0;
  if (script > 0 && handle_script(L, argv + script) != LUA_OK) return 0;
  if (script < 1 && !(args & (has_e | has_v)))
    dofile(L, NULL, EXIT_SUCCESS);  /* stdin; lua.c ignores its status */
  lua_pushboolean(L, 1);  /* signal no errors */
  return 1;
}

int main(int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);  /* stop GC while building state */
  lua_pushcfunction(L, &pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  pending_mark = EXIT_FAILURE + 1;
  status = lua_pcall(L, 2, 1, 0);
  pending_mark = 0;
  result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
