/* A syntax checker for Lua 5.4 chunks that never throws.
 *
 * Why it exists: Lua's own lexer and parser report a syntax error by
 * throwing (luaD_throw) to the protected call inside lua_load, and this
 * guest has no setjmp, so a throw cannot come back (see setjmp.h beside
 * this file: it reports and traps). To give the host a syntax error as an
 * ABI error block instead of a trap, main.c runs every chunk through
 * lua_eval_syntax_check() first, and hands it to lua_load only when this
 * checker finds nothing.
 *
 * It is llex.c and lparser.c of Lua 5.4.9 transcribed without code
 * generation: the same lexer (same token buffer, same line counting, same
 * numeral reader, luaO_str2num deciding what is a number), the same grammar
 * in the same order, and the same messages, so an error reads exactly as
 * lua_load would have reported it ("eval:1: unexpected symbol near '+'").
 * Every routine returns early once `c->failed` is set.
 *
 * Besides the grammar it checks what the parser itself checks cheaply:
 * '...' outside a vararg function, unknown local attributes, two
 * to-be-closed variables in one list, assignments to <const> and <close>
 * locals (it keeps Lua's scopes of local variables for that), and 'break'
 * outside a loop (in a function without any 'goto', whose pending list
 * would interleave). What it leaves to lua_load, which then throws and
 * traps: unresolved or scope-jumping gotos and repeated labels, the
 * parser's limits (200 locals, 255 upvalues, more than
 * about 150 nested levels: the checker stops descending and says "fine"),
 * and lexical elements larger than lua_load's buffer can hold.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lctype.h"
#include "llex.h"
#include "lobject.h"

#define EOZ (-1)
#define MAX_DEPTH 150 /* beyond it, lua_load decides (its limit is 200) */

static const char *const tokens[] = {
    "and", "break", "do", "else", "elseif",
    "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat",
    "return", "then", "true", "until", "while",
    "//", "..", "...", "==", ">=", "<=", "~=",
    "<<", ">>", "::", "<eof>",
    "<number>", "<integer>", "<name>", "<string>"};

typedef struct Func {
  struct Func *prev;
  int vararg;      /* declared with '...' (the main chunk always is) */
  int loops;       /* loops open around the current statement */
  int has_goto;    /* any goto: leave break checks to lua_load */
  int break_line;  /* line of the first 'break' outside a loop, or 0 */
} Func;

typedef struct {
  const char *src;
  size_t n, pos;
  int current;
  int line;
  int tok;   /* current token */
  int ahead; /* look-ahead token, TK_EOS when none */
  char *buf; /* the token buffer, as llex.c's Mbuffer */
  size_t blen, bcap;
  const char *chunkname;
  char *msg;  /* the error message, once found */
  int failed; /* 1: syntax error in msg; 2: gave up (out of memory, too deep) */
  int depth;
  Func *fs;
  /* the active local variables, innermost last (all functions: an outer
   * function's locals are this one's upvalues) */
  struct Var { char *name; int readonly; } *vars;
  size_t nvars, capvars;
  char *assigned; /* the bare name an assignment targets, for its message */
} Check;

#define F (c->failed)

static void next(Check *c) {
  c->current = c->pos < c->n ? (unsigned char)c->src[c->pos++] : EOZ;
}

#define curr_is_newline(c) ((c)->current == '\n' || (c)->current == '\r')

static void save(Check *c, int ch) {
  if (c->blen + 1 > c->bcap) {
    size_t cap = c->bcap ? c->bcap * 2 : 64;
    char *b = realloc(c->buf, cap);
    if (!b) { F = 2; return; }
    c->buf = b;
    c->bcap = cap;
  }
  c->buf[c->blen++] = (char)ch;
}

static void save_and_next(Check *c) {
  save(c, c->current);
  next(c);
}

static void token2str(int token, char *out, size_t size) {
  if (token < FIRST_RESERVED) {
    if (lisprint(token)) snprintf(out, size, "'%c'", token);
    else snprintf(out, size, "'<\\%d>'", token);
  } else {
    const char *s = tokens[token - FIRST_RESERVED];
    if (token < TK_EOS) snprintf(out, size, "'%s'", s);
    else snprintf(out, size, "%s", s);
  }
}

/* lexerror of llex.c: "chunk:line: msg near token" (no "near" for token 0). */
static void lexerror(Check *c, const char *msg, int token) {
  char id[LUA_IDSIZE], small[32];
  const char *near = NULL;
  size_t need;
  if (F) return;
  luaO_chunkid(id, c->chunkname, strlen(c->chunkname));
  if (token) {
    switch (token) {
      case TK_NAME: case TK_STRING: case TK_FLT: case TK_INT:
        save(c, '\0');
        if (F) return;
        near = c->buf; /* printed as '%s' below */
        break;
      default:
        token2str(token, small, sizeof small);
        near = small;
    }
  }
  need = strlen(id) + strlen(msg) + (near ? strlen(near) : 0) + 40;
  c->msg = malloc(need);
  if (!c->msg) { F = 2; return; }
  if (!near) snprintf(c->msg, need, "%s:%d: %s", id, c->line, msg);
  else if (near == c->buf) snprintf(c->msg, need, "%s:%d: %s near '%s'", id, c->line, msg, near);
  else snprintf(c->msg, need, "%s:%d: %s near %s", id, c->line, msg, near);
  F = 1;
}

static void syntaxerror(Check *c, const char *msg) { lexerror(c, msg, c->tok); }

static void semerror(Check *c, const char *msg) { lexerror(c, msg, 0); }

static void inclinenumber(Check *c) {
  int old = c->current;
  next(c);
  if (curr_is_newline(c) && c->current != old) next(c);
  ++c->line;
}

/* ---------------------------------------------------------------- lexer */

static int check_next1(Check *c, int ch) {
  if (c->current == ch) { next(c); return 1; }
  return 0;
}

static int check_next2(Check *c, const char *set) {
  if (c->current == set[0] || c->current == set[1]) { save_and_next(c); return 1; }
  return 0;
}

static int read_numeral(Check *c) {
  TValue obj;
  const char *expo = "Ee";
  int first = c->current;
  save_and_next(c);
  if (first == '0' && check_next2(c, "xX")) expo = "Pp";
  for (;;) {
    if (check_next2(c, expo)) check_next2(c, "-+");
    else if (lisxdigit(c->current) || c->current == '.') save_and_next(c);
    else break;
  }
  if (lislalpha(c->current)) save_and_next(c);
  save(c, '\0');
  if (F) return TK_EOS;
  if (luaO_str2num(c->buf, &obj) == 0) {
    c->blen--; /* txtToken saves its own '\0' */
    lexerror(c, "malformed number", TK_FLT);
    return TK_EOS;
  }
  c->blen--;
  return ttisinteger(&obj) ? TK_INT : TK_FLT;
}

static size_t skip_sep(Check *c) {
  size_t count = 0;
  int s = c->current;
  save_and_next(c);
  while (c->current == '=') { save_and_next(c); count++; }
  return (c->current == s) ? count + 2 : (count == 0) ? 1 : 0;
}

static void read_long_string(Check *c, int is_string, size_t sep) {
  int line = c->line;
  save_and_next(c);
  if (curr_is_newline(c)) inclinenumber(c);
  for (;;) {
    if (F) return;
    switch (c->current) {
      case EOZ: {
        char msg[80];
        snprintf(msg, sizeof msg, "unfinished long %s (starting at line %d)",
                 is_string ? "string" : "comment", line);
        lexerror(c, msg, TK_EOS);
        return;
      }
      case ']':
        if (skip_sep(c) == sep) { save_and_next(c); return; }
        break;
      case '\n': case '\r':
        save(c, '\n');
        inclinenumber(c);
        if (!is_string) c->blen = 0;
        break;
      default:
        if (is_string) save_and_next(c);
        else next(c);
    }
  }
}

static int esccheck(Check *c, int ok, const char *msg) {
  if (!ok) {
    if (c->current != EOZ) save_and_next(c);
    lexerror(c, msg, TK_STRING);
    return 0;
  }
  return 1;
}

static int gethexa(Check *c) {
  save_and_next(c);
  if (!esccheck(c, lisxdigit(c->current), "hexadecimal digit expected")) return 0;
  return luaO_hexavalue(c->current);
}

static int readhexaesc(Check *c) {
  int r = gethexa(c);
  if (F) return 0;
  r = (r << 4) + gethexa(c);
  if (F) return 0;
  c->blen -= 2;
  return r;
}

static unsigned long readutf8esc(Check *c) {
  unsigned long r;
  int i = 4;
  save_and_next(c);
  if (!esccheck(c, c->current == '{', "missing '{'")) return 0;
  r = (unsigned long)gethexa(c);
  if (F) return 0;
  while (save_and_next(c), lisxdigit(c->current)) {
    i++;
    if (!esccheck(c, r <= (0x7FFFFFFFu >> 4), "UTF-8 value too large")) return 0;
    r = (r << 4) + (unsigned long)luaO_hexavalue(c->current);
  }
  if (!esccheck(c, c->current == '}', "missing '}'")) return 0;
  next(c);
  c->blen -= (size_t)i;
  return r;
}

static void utf8esc(Check *c) {
  char buff[UTF8BUFFSZ];
  unsigned long x = readutf8esc(c);
  int n;
  if (F) return;
  n = luaO_utf8esc(buff, x);
  for (; n > 0; n--) save(c, buff[UTF8BUFFSZ - n]);
}

static int readdecesc(Check *c) {
  int i, r = 0;
  for (i = 0; i < 3 && lisdigit(c->current); i++) {
    r = 10 * r + c->current - '0';
    save_and_next(c);
  }
  if (!esccheck(c, r <= UCHAR_MAX, "decimal escape too large")) return 0;
  c->blen -= (size_t)i;
  return r;
}

static void read_string(Check *c, int del) {
  save_and_next(c);
  while (c->current != del) {
    if (F) return;
    switch (c->current) {
      case EOZ:
        lexerror(c, "unfinished string", TK_EOS);
        return;
      case '\n': case '\r':
        lexerror(c, "unfinished string", TK_STRING);
        return;
      case '\\': {
        int ch;
        save_and_next(c);
        switch (c->current) {
          case 'a': ch = '\a'; goto read_save;
          case 'b': ch = '\b'; goto read_save;
          case 'f': ch = '\f'; goto read_save;
          case 'n': ch = '\n'; goto read_save;
          case 'r': ch = '\r'; goto read_save;
          case 't': ch = '\t'; goto read_save;
          case 'v': ch = '\v'; goto read_save;
          case 'x': ch = readhexaesc(c); goto read_save;
          case 'u': utf8esc(c); goto no_save;
          case '\n': case '\r':
            inclinenumber(c); ch = '\n'; goto only_save;
          case '\\': case '\"': case '\'':
            ch = c->current; goto read_save;
          case EOZ: goto no_save;
          case 'z': {
            c->blen -= 1;
            next(c);
            while (lisspace(c->current)) {
              if (curr_is_newline(c)) inclinenumber(c);
              else next(c);
            }
            goto no_save;
          }
          default: {
            if (!esccheck(c, lisdigit(c->current), "invalid escape sequence")) return;
            ch = readdecesc(c);
            goto only_save;
          }
        }
      read_save:
        if (F) return;
        next(c);
      only_save:
        if (F) return;
        c->blen -= 1;
        save(c, ch);
      no_save:
        break;
      }
      default:
        save_and_next(c);
    }
  }
  save_and_next(c);
}

static int llex(Check *c) {
  c->blen = 0;
  for (;;) {
    if (F) return TK_EOS;
    switch (c->current) {
      case '\n': case '\r':
        inclinenumber(c);
        break;
      case ' ': case '\f': case '\t': case '\v':
        next(c);
        break;
      case '-': {
        next(c);
        if (c->current != '-') return '-';
        next(c);
        if (c->current == '[') {
          size_t sep = skip_sep(c);
          c->blen = 0;
          if (sep >= 2) {
            read_long_string(c, 0, sep);
            c->blen = 0;
            break;
          }
        }
        while (!curr_is_newline(c) && c->current != EOZ) next(c);
        break;
      }
      case '[': {
        size_t sep = skip_sep(c);
        if (sep >= 2) {
          read_long_string(c, 1, sep);
          return TK_STRING;
        } else if (sep == 0) {
          lexerror(c, "invalid long string delimiter", TK_STRING);
          return TK_EOS;
        }
        return '[';
      }
      case '=':
        next(c);
        return check_next1(c, '=') ? TK_EQ : '=';
      case '<':
        next(c);
        if (check_next1(c, '=')) return TK_LE;
        if (check_next1(c, '<')) return TK_SHL;
        return '<';
      case '>':
        next(c);
        if (check_next1(c, '=')) return TK_GE;
        if (check_next1(c, '>')) return TK_SHR;
        return '>';
      case '/':
        next(c);
        return check_next1(c, '/') ? TK_IDIV : '/';
      case '~':
        next(c);
        return check_next1(c, '=') ? TK_NE : '~';
      case ':':
        next(c);
        return check_next1(c, ':') ? TK_DBCOLON : ':';
      case '"': case '\'':
        read_string(c, c->current);
        return TK_STRING;
      case '.':
        save_and_next(c);
        if (check_next1(c, '.')) {
          if (check_next1(c, '.')) return TK_DOTS;
          return TK_CONCAT;
        }
        if (!lisdigit(c->current)) return '.';
        return read_numeral(c);
      case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9':
        return read_numeral(c);
      case EOZ:
        return TK_EOS;
      default:
        if (lislalpha(c->current)) {
          int i;
          do { save_and_next(c); } while (lislalnum(c->current));
          for (i = 0; i <= TK_WHILE - FIRST_RESERVED; i++)
            if (strlen(tokens[i]) == c->blen && memcmp(tokens[i], c->buf, c->blen) == 0)
              return FIRST_RESERVED + i;
          return TK_NAME;
        } else {
          int ch = c->current;
          next(c);
          return ch;
        }
    }
  }
}

static void lx_next(Check *c) {
  if (c->ahead != TK_EOS) {
    c->tok = c->ahead;
    c->ahead = TK_EOS;
  } else {
    c->tok = llex(c);
  }
}

static int lookahead(Check *c) {
  c->ahead = llex(c);
  return c->ahead;
}

/* --------------------------------------------------------------- parser */

static void statement(Check *c);
static void expr(Check *c);

static void error_expected(Check *c, int token) {
  char t[32], msg[64];
  token2str(token, t, sizeof t);
  snprintf(msg, sizeof msg, "%s expected", t);
  syntaxerror(c, msg);
}

static int testnext(Check *c, int t) {
  if (c->tok == t) { lx_next(c); return 1; }
  return 0;
}

static void check(Check *c, int t) {
  if (c->tok != t) error_expected(c, t);
}

static void checknext(Check *c, int t) {
  check(c, t);
  if (!F) lx_next(c);
}

static void check_match(Check *c, int what, int who, int where) {
  if (F) return;
  if (!testnext(c, what)) {
    if (where == c->line) {
      error_expected(c, what);
    } else {
      char a[32], b[32], msg[128];
      token2str(what, a, sizeof a);
      token2str(who, b, sizeof b);
      snprintf(msg, sizeof msg, "%s expected (to close %s at line %d)", a, b, where);
      syntaxerror(c, msg);
    }
  }
}

static void checkname(Check *c) { checknext(c, TK_NAME); }

/* The current NAME token's text, copied (the token buffer holds it: no
 * look-ahead is pending where this is called), and skips it. */
static char *take_name(Check *c) {
  char *name;
  check(c, TK_NAME);
  if (F) return NULL;
  name = malloc(c->blen + 1);
  if (!name) { F = 2; return NULL; }
  memcpy(name, c->buf, c->blen);
  name[c->blen] = '\0';
  lx_next(c);
  if (F) { free(name); return NULL; }
  return name;
}

/* Makes `name` (owned) an active local. */
static void add_var(Check *c, char *name, int readonly) {
  if (!name) return;
  if (c->nvars == c->capvars) {
    size_t cap = c->capvars ? c->capvars * 2 : 32;
    struct Var *v = realloc(c->vars, cap * sizeof *v);
    if (!v) { free(name); F = 2; return; }
    c->vars = v;
    c->capvars = cap;
  }
  c->vars[c->nvars].name = name;
  c->vars[c->nvars].readonly = readonly;
  c->nvars++;
}

static void remove_vars(Check *c, size_t to) {
  while (c->nvars > to) free(c->vars[--c->nvars].name);
}

/* Whether a bare `name` is a <const> or <close> local in scope. */
static int is_readonly(Check *c, const char *name, size_t len) {
  size_t i = c->nvars;
  while (i-- > 0)
    if (strlen(c->vars[i].name) == len && memcmp(c->vars[i].name, name, len) == 0)
      return c->vars[i].readonly;
  return 0; /* a global: _ENV.name */
}

static void readonly_error(Check *c) {
  const char *fmt = "attempt to assign to const variable '%s'";
  size_t n = strlen(fmt) + strlen(c->assigned) + 1;
  char *msg = malloc(n);
  if (!msg) { F = 2; return; }
  snprintf(msg, n, fmt, c->assigned);
  semerror(c, msg);
  free(msg);
}

static int enterlevel(Check *c) {
  if (++c->depth > MAX_DEPTH) { F = 2; return 0; }
  return 1;
}

static int block_follow(Check *c, int withuntil) {
  switch (c->tok) {
    case TK_ELSE: case TK_ELSEIF: case TK_END: case TK_EOS: return 1;
    case TK_UNTIL: return withuntil;
    default: return 0;
  }
}

static void statlist(Check *c) {
  while (!F && !block_follow(c, 1)) {
    if (c->tok == TK_RETURN) {
      statement(c);
      return;
    }
    statement(c);
  }
}

/* The function's end, as close_func's leaveblock: a pending break. */
static void close_func(Check *c) {
  Func *fs = c->fs;
  if (!F && fs->break_line && !fs->has_goto) {
    char msg[64];
    snprintf(msg, sizeof msg, "break outside loop at line %d", fs->break_line);
    semerror(c, msg);
  }
  c->fs = fs->prev;
}

static void fieldsel(Check *c) {
  lx_next(c);
  checkname(c);
}

static void yindex(Check *c) {
  lx_next(c);
  expr(c);
  if (!F) checknext(c, ']');
}

static void recfield(Check *c) {
  if (c->tok == TK_NAME) checkname(c);
  else yindex(c);
  if (F) return;
  checknext(c, '=');
  if (F) return;
  expr(c);
}

static void field(Check *c) {
  switch (c->tok) {
    case TK_NAME:
      if (lookahead(c) != '=') {
        if (!F) expr(c);
      } else {
        recfield(c);
      }
      break;
    case '[':
      recfield(c);
      break;
    default:
      expr(c);
  }
}

static void constructor(Check *c) {
  int line = c->line;
  checknext(c, '{');
  do {
    if (F) return;
    if (c->tok == '}') break;
    field(c);
    if (F) return;
  } while (testnext(c, ',') || testnext(c, ';'));
  check_match(c, '}', '{', line);
}

static void parlist(Check *c) {
  int isvararg = 0;
  if (c->tok != ')') {
    do {
      switch (c->tok) {
        case TK_NAME: add_var(c, take_name(c), 0); break;
        case TK_DOTS: lx_next(c); isvararg = 1; break;
        default: syntaxerror(c, "<name> or '...' expected"); return;
      }
      if (F) return;
    } while (!isvararg && testnext(c, ','));
  }
  c->fs->vararg = isvararg;
}

static void body(Check *c, int ismethod, int line) {
  Func f = {c->fs, 0, 0, 0, 0};
  size_t mark = c->nvars;
  c->fs = &f;
  checknext(c, '(');
  if (!F && ismethod) {
    char *self = malloc(5);
    if (self) memcpy(self, "self", 5);
    else F = 2;
    add_var(c, self, 0);
  }
  if (!F) parlist(c);
  if (!F) checknext(c, ')');
  if (!F) statlist(c);
  check_match(c, TK_END, TK_FUNCTION, line);
  remove_vars(c, mark);
  close_func(c);
}

static void explist(Check *c) {
  expr(c);
  while (!F && testnext(c, ',')) expr(c);
}

static void funcargs(Check *c) {
  int line = c->line;
  switch (c->tok) {
    case '(':
      lx_next(c);
      if (c->tok != ')') explist(c);
      check_match(c, ')', '(', line);
      break;
    case '{':
      constructor(c);
      break;
    case TK_STRING:
      lx_next(c);
      break;
    default:
      syntaxerror(c, "function arguments expected");
  }
}

/* EXP_READONLY: a bare name of a <const> or <close> local (in c->assigned). */
enum { EXP_VAR, EXP_CALL, EXP_OTHER, EXP_READONLY };

static int primaryexp(Check *c) {
  switch (c->tok) {
    case '(': {
      int line = c->line;
      lx_next(c);
      expr(c);
      check_match(c, ')', '(', line);
      return EXP_OTHER;
    }
    case TK_NAME:
      if (is_readonly(c, c->buf, c->blen)) {
        free(c->assigned);
        c->assigned = take_name(c);
        return c->assigned ? EXP_READONLY : EXP_OTHER;
      }
      lx_next(c);
      return EXP_VAR;
    default:
      syntaxerror(c, "unexpected symbol");
      return EXP_OTHER;
  }
}

static int suffixedexp(Check *c) {
  int kind = primaryexp(c);
  for (;;) {
    if (F) return kind;
    switch (c->tok) {
      case '.':
        fieldsel(c);
        kind = EXP_VAR;
        break;
      case '[':
        yindex(c);
        kind = EXP_VAR;
        break;
      case ':':
        lx_next(c);
        checkname(c);
        if (!F) funcargs(c);
        kind = EXP_CALL;
        break;
      case '(': case TK_STRING: case '{':
        funcargs(c);
        kind = EXP_CALL;
        break;
      default:
        return kind;
    }
  }
}

static void simpleexp(Check *c) {
  switch (c->tok) {
    case TK_FLT: case TK_INT: case TK_STRING:
    case TK_NIL: case TK_TRUE: case TK_FALSE:
      break;
    case TK_DOTS:
      if (!c->fs->vararg) {
        syntaxerror(c, "cannot use '...' outside a vararg function");
        return;
      }
      break;
    case '{':
      constructor(c);
      return;
    case TK_FUNCTION:
      lx_next(c);
      body(c, 0, c->line);
      return;
    default:
      suffixedexp(c);
      return;
  }
  lx_next(c);
}

/* Left and right priorities of the binary operators, as lparser.c's. */
static int binpri(int op, int *right) {
  int l, r = 0;
  switch (op) {
    case '+': case '-': l = r = 10; break;
    case '*': case '%': case '/': case TK_IDIV: l = r = 11; break;
    case '^': l = 14; r = 13; break;
    case '&': l = r = 6; break;
    case '|': l = r = 4; break;
    case '~': l = r = 5; break;
    case TK_SHL: case TK_SHR: l = r = 7; break;
    case TK_CONCAT: l = 9; r = 8; break;
    case TK_EQ: case '<': case TK_LE: case TK_NE: case '>': case TK_GE: l = r = 3; break;
    case TK_AND: l = r = 2; break;
    case TK_OR: l = r = 1; break;
    default: return 0;
  }
  *right = r;
  return l;
}

#define UNARY_PRIORITY 12

/* Returns the first operator it did not take (0 for none). */
static int subexpr(Check *c, int limit) {
  int op, left, right = 0;
  if (!enterlevel(c)) return 0;
  if (c->tok == TK_NOT || c->tok == '-' || c->tok == '~' || c->tok == '#') {
    lx_next(c);
    subexpr(c, UNARY_PRIORITY);
  } else {
    simpleexp(c);
  }
  if (F) return 0;
  op = c->tok;
  while ((left = binpri(op, &right)) != 0 && left > limit) {
    lx_next(c);
    op = subexpr(c, right);
    if (F) return 0;
  }
  c->depth--;
  return op;
}

static void expr(Check *c) {
  if (!F) subexpr(c, 0);
}

static void block(Check *c) {
  size_t mark = c->nvars;
  statlist(c);
  remove_vars(c, mark);
}

static void loop_block(Check *c) {
  c->fs->loops++;
  block(c);
  c->fs->loops--;
}

static void restassign(Check *c, int kind) {
  if (kind != EXP_VAR && kind != EXP_READONLY) { syntaxerror(c, "syntax error"); return; }
  if (kind == EXP_READONLY) { readonly_error(c); return; }
  if (testnext(c, ',')) {
    int k = suffixedexp(c);
    if (F) return;
    if (!enterlevel(c)) return;
    restassign(c, k);
    c->depth--;
  } else {
    checknext(c, '=');
    if (!F) explist(c);
  }
}

static void note_break(Check *c, int line) {
  if (c->fs->loops == 0 && c->fs->break_line == 0) c->fs->break_line = line;
}

static void test_then_block(Check *c) {
  lx_next(c);
  expr(c);
  if (F) return;
  checknext(c, TK_THEN);
  if (F) return;
  if (c->tok == TK_BREAK) {
    note_break(c, c->line);
    lx_next(c);
    while (testnext(c, ';')) {}
    if (block_follow(c, 0)) return;
  }
  block(c);
}

static void ifstat(Check *c, int line) {
  test_then_block(c);
  while (!F && c->tok == TK_ELSEIF) test_then_block(c);
  if (F) return;
  if (testnext(c, TK_ELSE)) block(c);
  check_match(c, TK_END, TK_IF, line);
}

static void forbody(Check *c) {
  checknext(c, TK_DO);
  if (!F) loop_block(c);
}

/* Names read before they come into scope: `local a, b = <exprs>` and
 * `for a, b in <exprs>` see the outer a and b in <exprs>. */
typedef struct {
  char **names;
  int *attrs;
  size_t n, cap;
} Pending;

static void pend(Check *c, Pending *p, char *name, int attr) {
  if (!name) return;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    char **names = realloc(p->names, cap * sizeof *names);
    int *attrs = names ? realloc(p->attrs, cap * sizeof *attrs) : NULL;
    if (names) p->names = names;
    if (!attrs) { free(name); F = 2; return; }
    p->attrs = attrs;
    p->cap = cap;
  }
  p->names[p->n] = name;
  p->attrs[p->n] = attr;
  p->n++;
}

/* Brings the pending names into scope (or frees them after an error). */
static void activate(Check *c, Pending *p) {
  size_t i;
  for (i = 0; i < p->n; i++) {
    if (F) free(p->names[i]);
    else add_var(c, p->names[i], p->attrs[i] != 0);
  }
  free(p->names);
  free(p->attrs);
}

static void forstat(Check *c, int line) {
  size_t mark = c->nvars;
  Pending p = {0};
  lx_next(c);
  pend(c, &p, take_name(c), 0);
  if (!F) {
    switch (c->tok) {
      case '=':
        lx_next(c);
        expr(c);
        if (!F) checknext(c, ',');
        expr(c);
        if (!F && testnext(c, ',')) expr(c);
        break;
      case ',': case TK_IN:
        while (!F && testnext(c, ',')) pend(c, &p, take_name(c), 0);
        if (!F) checknext(c, TK_IN);
        explist(c);
        break;
      default:
        syntaxerror(c, "'=' or 'in' expected");
    }
  }
  activate(c, &p);
  if (!F) forbody(c);
  check_match(c, TK_END, TK_FOR, line);
  remove_vars(c, mark);
}

/* ATTRIB -> ['<' Name '>']: 0 for none, 1 for const, 2 for close. */
static int localattribute(Check *c) {
  if (testnext(c, '<')) {
    char attr[16] = "";
    int bad = 0;
    check(c, TK_NAME);
    if (F) return 0;
    if (c->blen < sizeof attr) memcpy(attr, c->buf, c->blen);
    else bad = 1;
    lx_next(c);
    checknext(c, '>');
    if (F) return 0;
    if (!bad && strcmp(attr, "const") == 0) return 1;
    if (!bad && strcmp(attr, "close") == 0) return 2;
    {
      /* the name may be long: build the message in a heap buffer */
      size_t n = strlen("unknown attribute ''") + (bad ? 0 : strlen(attr)) + 1;
      char *msg;
      if (bad) { F = 2; return 0; } /* a long name: lua_load reports it */
      msg = malloc(n);
      if (!msg) { F = 2; return 0; }
      snprintf(msg, n, "unknown attribute '%s'", attr);
      semerror(c, msg);
      free(msg);
    }
  }
  return 0;
}

/* The new locals come into scope after the expressions. */
static void localstat(Check *c) {
  int toclose = 0;
  Pending p = {0};
  do {
    char *name = take_name(c);
    int attr;
    if (F) break;
    attr = localattribute(c);
    pend(c, &p, name, attr);
    if (F) break;
    if (attr == 2) {
      if (toclose) { semerror(c, "multiple to-be-closed variables in local list"); break; }
      toclose = 1;
    }
  } while (testnext(c, ','));
  if (!F && testnext(c, '=')) explist(c);
  activate(c, &p);
}

static void exprstat(Check *c) {
  int kind = suffixedexp(c);
  if (F) return;
  if (c->tok == '=' || c->tok == ',') restassign(c, kind);
  else if (kind != EXP_CALL) syntaxerror(c, "syntax error");
}

static void retstat(Check *c) {
  if (!block_follow(c, 1) && c->tok != ';') explist(c);
  if (!F) testnext(c, ';');
}

static void statement(Check *c) {
  int line = c->line;
  if (!enterlevel(c)) return;
  switch (c->tok) {
    case ';':
      lx_next(c);
      break;
    case TK_IF:
      ifstat(c, line);
      break;
    case TK_WHILE:
      lx_next(c);
      expr(c);
      if (!F) checknext(c, TK_DO);
      if (!F) loop_block(c);
      check_match(c, TK_END, TK_WHILE, line);
      break;
    case TK_DO:
      lx_next(c);
      block(c);
      check_match(c, TK_END, TK_DO, line);
      break;
    case TK_FOR:
      forstat(c, line);
      break;
    case TK_REPEAT: {
      /* the body's locals are in scope in the condition */
      size_t mark = c->nvars;
      lx_next(c);
      c->fs->loops++;
      statlist(c);
      c->fs->loops--;
      check_match(c, TK_UNTIL, TK_REPEAT, line);
      expr(c);
      remove_vars(c, mark);
      break;
    }
    case TK_FUNCTION: {
      /* funcstat: a bare name must not be read-only (checked after the body) */
      int ismethod = 0, readonly = 0;
      lx_next(c);
      if (c->tok == TK_NAME && is_readonly(c, c->buf, c->blen)) {
        free(c->assigned);
        c->assigned = take_name(c);
        readonly = c->assigned != NULL;
      } else {
        checkname(c);
      }
      while (!F && c->tok == '.') { fieldsel(c); readonly = 0; }
      if (!F && c->tok == ':') { fieldsel(c); readonly = 0; ismethod = 1; }
      if (!F) body(c, ismethod, line);
      if (!F && readonly) readonly_error(c);
      break;
    }
    case TK_LOCAL:
      lx_next(c);
      if (testnext(c, TK_FUNCTION)) {
        add_var(c, take_name(c), 0);
        if (!F) body(c, 0, c->line);
      } else {
        localstat(c);
      }
      break;
    case TK_DBCOLON:
      lx_next(c);
      checkname(c);
      if (!F) checknext(c, TK_DBCOLON);
      while (!F && (c->tok == ';' || c->tok == TK_DBCOLON)) statement(c);
      break;
    case TK_RETURN:
      lx_next(c);
      retstat(c);
      break;
    case TK_BREAK:
      note_break(c, c->line);
      lx_next(c);
      break;
    case TK_GOTO:
      c->fs->has_goto = 1;
      lx_next(c);
      checkname(c);
      break;
    default:
      exprstat(c);
  }
  c->depth--;
}

/* Checks `n` bytes of Lua source named `chunkname` (as lua_load names
 * chunks: "=name" or "@file" or the source itself). Returns NULL when
 * lua_load should be tried (no syntax error found, or the checker gave up),
 * else a malloc'd message (NUL-terminated) that the caller frees. */
char *lua_eval_syntax_check(const char *src, size_t n, const char *chunkname) {
  Check c;
  Func main_fn = {NULL, 1, 0, 0, 0};
  memset(&c, 0, sizeof c);
  c.src = src;
  c.n = n;
  c.line = 1;
  c.ahead = TK_EOS;
  c.chunkname = chunkname;
  c.fs = &main_fn;
  if (n > 0 && src[0] == LUA_SIGNATURE[0]) {
    /* lua_load in mode "t" refuses binary chunks with this message */
    const char *m = "attempt to load a binary chunk (mode is 't')";
    char *out = malloc(strlen(m) + 1);
    if (out) strcpy(out, m);
    return out;
  }
  next(&c);    /* the first character */
  lx_next(&c); /* the first token */
  statlist(&c);
  if (!c.failed) check(&c, TK_EOS);
  if (!c.failed) close_func(&c);
  remove_vars(&c, 0);
  free(c.vars);
  free(c.assigned);
  free(c.buf);
  if (c.failed == 1) return c.msg;
  free(c.msg);
  return NULL;
}
