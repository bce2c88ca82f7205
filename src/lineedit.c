/* Line editing for `joe repl` through libedit (BSD licence, readline's API): the prompt,
   history kept in a file, and tab completion whose candidates come from Lua. */
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>

#include "joe.h"

/* The state inside lineedit.read, with the completer at index 2: libedit's callbacks
   take no context argument. NULL until the first read. */
static lua_State *reading;

/* rl_completion_matches' generator: the state-th candidate of the table on top. */
static char *candidate(const char *text, int state) {
  (void)text;
  lua_rawgeti(reading, -1, state + 1);
  char *word = lua_isstring(reading, -1) ? strdup(lua_tostring(reading, -1)) : NULL;
  lua_pop(reading, 1);
  return word;
}

/* TAB: ask the Lua completer for the words that complete `text`; never file names. */
static char **complete(const char *text, int start, int end) {
  (void)start, (void)end;
  rl_attempted_completion_over = 1;
  lua_pushvalue(reading, 2);
  lua_pushstring(reading, text);
  char **matches = NULL;
  if (lua_pcall(reading, 1, 1, 0) == LUA_OK && lua_istable(reading, -1))
    matches = rl_completion_matches(text, candidate);
  lua_pop(reading, 1);
  return matches;
}

/* libedit's input: the next character typed, decoded as the locale says (libedit takes
   the int as a wide character), or EOF (-1) at the end of input or once a signal came,
   and readline returns. The wait is joe's, on the terminal and the signal pipe together:
   libedit's own read takes a signal only while blocked in it, so a Ctrl-C that came while
   a line was redrawn waited for the next key. joe's wait also sends the keepalives of open
   SSH sessions. A byte that is no character of the locale goes as it is. */
static int read_typed(FILE *in) {
  int fd = in ? fileno(in) : STDIN_FILENO;
  mbstate_t state = {0};
  for (;;) {
    struct pollfd p[2] = {{fd, POLLIN, 0}};
    if (joe_pending_signal())
      return EOF;
    int ready = joe_wait(p, 1, -1);
    if (ready < 0)
      return EOF;
    if (ready == 0)
      continue;
    char byte;
    ssize_t n = read(fd, &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return EOF; /* the end of input, or a terminal hung up (EIO) */
    wchar_t wc;
    size_t used = mbrtowc(&wc, &byte, 1, &state);
    if (used == (size_t)-2)
      continue;
    return used == (size_t)-1 ? (unsigned char)byte : (int)wc;
  }
}

/* lineedit.read(prompt, completer, history_file) -> line; nil at the end of input; nil,
   "interrupted" when a signal came: it stays pending (proc.signal()) for the caller, but
   the Lua hook that would raise it here is removed. A line that is not blank goes into
   the history file at once (best effort), so a session that is killed keeps it. As in
   lua.c, the line leaks only if pushing it fails for want of memory. */
static int lineedit_read(lua_State *L) {
  const char *prompt = luaL_checkstring(L, 1), *history = luaL_checkstring(L, 3);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  if (!reading) {
    stifle_history(1000);
    read_history(history);
  }
  reading = L;
  char *line = readline(prompt);
  int interrupted = joe_pending_signal() != 0;
  if (interrupted)
    lua_sethook(L, NULL, 0, 0);
  else if (line && line[strspn(line, " \t")] && add_history(line) == 0)
    write_history(history);
  lua_pushstring(L, interrupted ? NULL : line);
  free(line);
  lua_pushstring(L, interrupted ? "interrupted" : NULL);
  return 2;
}

/* lineedit.isatty(): whether stdin is a terminal (else the REPL reads plain lines). */
static int lineedit_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(STDIN_FILENO));
  return 1;
}

/* libedit set up once: the locale decodes what is typed; no signal handlers of its own
   (they send the signal on to the whole process group, parent shell included); input
   through read_typed; words complete from Lua, with nothing appended. */
int luaopen_cijoe_lineedit(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"read", lineedit_read}, {"isatty", lineedit_isatty}, {NULL, NULL}};
  setlocale(LC_CTYPE, "");
  rl_readline_name = "joe";
  rl_catch_signals = 0;
  rl_getc_function = read_typed;
  rl_attempted_completion_function = complete;
  rl_completion_append_character = '\0';
  luaL_newlib(L, funcs);
  return 1;
}
