/* Where a command's output goes, the same for every transport: the log file that Lua
   opened before the command started (so nothing that can fail is left for after), and
   with monitor the terminal too. And how a command ended, pushed the same way. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "joe.h"

/* write(2) until done; 0 or the errno of the first failure. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The sink of the options table at opts: its `log` (an open Lua file, or nil) and
   `monitor` fields. */
struct joe_sink joe_sink_of(lua_State *L, int opts) {
  struct joe_sink s = {.log = -1};
  if (lua_getfield(L, opts, "log") != LUA_TNIL)
    s.log = fileno(((luaL_Stream *)luaL_checkudata(L, -1, LUA_FILEHANDLE))->f);
  lua_getfield(L, opts, "monitor");
  s.monitor = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return s;
}

/* Copy output to the log (a full disk is remembered, not ignored) and the terminal (one
   that went away is dropped: the log still has everything). */
void joe_sink_write(struct joe_sink *s, const char *buf, size_t n) {
  if (s->log >= 0 && !s->log_errno)
    s->log_errno = write_all(s->log, buf, n);
  if (s->monitor && write_all(STDOUT_FILENO, buf, n) != 0)
    s->monitor = 0;
}

/* Push how a command ended: its status (a number, or the name of the signal that killed
   it), why it was stopped ("timeout", "interrupted" or nil) and, when the log stopped
   taking writes, why; returns the number of values pushed. */
int joe_push_result(lua_State *L, int status, const char *signal, const char *why,
                    const struct joe_sink *s) {
  if (signal)
    lua_pushstring(L, signal);
  else
    lua_pushinteger(L, status);
  lua_pushstring(L, why);
  if (!s->log_errno)
    return 2;
  lua_pushstring(L, strerror(s->log_errno));
  return 3;
}
