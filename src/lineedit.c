/* Line editing for `joe repl` through libedit (BSD licence, readline's API): the prompt,
   history kept in a file, and tab completion whose candidates come from Lua. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
   (they send the signal on to the whole process group, parent shell included); words
   complete from Lua, with nothing appended. */
int luaopen_cijoe_lineedit(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"read", lineedit_read}, {"isatty", lineedit_isatty}, {NULL, NULL}};
  setlocale(LC_CTYPE, "");
  rl_readline_name = "joe";
  rl_catch_signals = 0;
  rl_attempted_completion_function = complete;
  rl_completion_append_character = '\0';
  luaL_newlib(L, funcs);
  return 1;
}
