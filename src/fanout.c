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

/* Pass a signal we got on to every child, once. */
static void forward_signal(lua_State *L, int n) {
  static int forwarded;
  if (!joe_pending_signal() || forwarded)
    return;
  forwarded = joe_pending_signal();
  for (int i = 1; i <= n; i++)
    kill(child_field(L, i, "pid"), forwarded);
}

/* fanout.wait(children) -> i, output | i, nil, status, where children[i] = {fd=, pid=}:
   the next output of a child, or its end (its pipe closed; it is reaped, status 128+N
   when signal N killed it). A signal to us is passed on to the children. */
static int fanout_wait(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 1);
  struct pollfd *p = lua_newuserdatauv(L, sizeof *p * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++)
    p[i] = (struct pollfd){child_field(L, i + 1, "fd"), POLLIN, 0};
  p[n] = (struct pollfd){joe_signal_fd(), POLLIN, 0};
  joe_in_command = 1; /* a signal is handled here (forwarded), not by the Lua hook */
  for (;;) {
    forward_signal(L, n);
    if (poll(p, (nfds_t)n + !joe_pending_signal(), -1) < 0 && errno != EINTR)
      return luaL_fileresult(L, 0, "poll");
    for (int i = 0; i < n; i++) {
      char buf[1 << 16];
      ssize_t got = p[i].revents ? read(p[i].fd, buf, sizeof buf) : -1;
      if (got < 0)
        continue;
      joe_in_command = 0;
      lua_pushinteger(L, i + 1);
      if (got > 0) {
        lua_pushlstring(L, buf, (size_t)got);
        return 2;
      }
      int status = 0;
      close(p[i].fd);
      waitpid(child_field(L, i + 1, "pid"), &status, 0);
      lua_pushnil(L);
      lua_pushinteger(L, WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
      return 3;
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
