/* Fan-out: a process per target. fork() gives the child a pipe for its stdout and
   stderr and a signal pipe of its own; wait() hands the parent the children's output as
   it comes (Lua prefixes it a line at a time) and reaps them as they end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "joe.h"

/* fanout.fork() -> 0 in the child (its stdout and stderr now go to the parent), or pid,
   fd in the parent; nil, message when it fails. */
static int fanout_fork(lua_State *L) {
  int fds[2];
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  fflush(NULL);
  if (pipe2(fds, O_CLOEXEC) != 0)
    return luaL_fileresult(L, 0, "pipe");
  sigprocmask(SIG_BLOCK, &block, &old); /* no signal before the child has its pipe */
  pid_t pid = fork();
  if (pid == 0) {
    joe_new_signal_pipe();
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return luaL_fileresult(L, 0, "fork");
  }
  lua_pushinteger(L, pid);
  if (pid == 0)
    return 1;
  lua_pushinteger(L, fds[0]);
  return 2;
}

/* The integer field `key` of children[i] (children is argument 1). */
static int child_field(lua_State *L, int i, const char *key) {
  lua_rawgeti(L, 1, i);
  lua_getfield(L, -1, key);
  int value = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  return value;
}

/* Pass a signal we got on to every child, once per fan-out (children.forwarded), so a
   Ctrl-C handled earlier (in the REPL) does not stop a later fan-out from passing on. */
static void forward_signal(lua_State *L, int n) {
  int sig = joe_pending_signal();
  if (!sig || lua_getfield(L, 1, "forwarded") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushinteger(L, sig);
  lua_setfield(L, 1, "forwarded");
  for (int i = 1; i <= n; i++)
    kill(child_field(L, i, "pid"), sig);
}

/* The output a child has, or its end: pushes i, output or i, nil, status (its pipe
   closed; it is reaped, status 128+N when signal N killed it); 0 when it has neither. */
static int take(lua_State *L, int i, int fd) {
  char buf[1 << 16];
  ssize_t got = read(fd, buf, sizeof buf);
  if (got < 0)
    return 0;
  lua_pushinteger(L, i);
  if (got > 0) {
    lua_pushlstring(L, buf, (size_t)got);
    return 2;
  }
  int status = 0;
  close(fd);
  waitpid(child_field(L, i, "pid"), &status, 0);
  lua_pushnil(L);
  lua_pushinteger(L, WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
  return 3;
}

/* fanout.wait(children) -> i, output | i, nil, status, where children[i] = {fd=, pid=}:
   the next output of a child, or its end. A signal to us is passed on to the children.
   The children are served in turn (children.last is the one served before), so one that
   always has output never starves the others (a busy run, the live display's ticker).
   Waiting on no child at all is a mistake of the caller (it would never end). */
static int fanout_wait(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 1);
  luaL_argcheck(L, n > 0, 1, "no children to wait for");
  struct pollfd *p = lua_newuserdatauv(L, sizeof *p * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++)
    p[i] = (struct pollfd){child_field(L, i + 1, "fd"), POLLIN, 0};
  int last = lua_getfield(L, 1, "last") == LUA_TNUMBER ? (int)(lua_tointeger(L, -1) % n) : n - 1;
  lua_pop(L, 1);
  joe_in_command = 1; /* a signal is handled here (forwarded), not by the Lua hook */
  for (int pushed = 0;;) {
    forward_signal(L, n);
    if (joe_wait(p, n, -1) < 0)
      return luaL_fileresult(L, 0, "poll");
    for (int k = 1; k <= n && !pushed; k++) {
      int i = (last + k) % n;
      pushed = p[i].revents ? take(L, i + 1, p[i].fd) : 0;
      if (pushed) {
        lua_pushinteger(L, i);
        lua_setfield(L, 1, "last");
      }
    }
    if (pushed) {
      joe_in_command = 0;
      return pushed;
    }
  }
}

/* fanout.exit(status): end a child at once, without closing what the parent shares
   with it (its SSH sessions, through __gc). */
static int fanout_exit(lua_State *L) {
  fflush(NULL);
  _exit((int)luaL_checkinteger(L, 1));
}

int luaopen_cijoe_fanout(lua_State *L) {
  static const luaL_Reg funcs[] = {{"fork", fanout_fork}, {"wait", fanout_wait},
                                   {"exit", fanout_exit}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
