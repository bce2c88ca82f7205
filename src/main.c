/* joe's host: it builds the Lua state, makes the C modules requirable, turns SIGINT,
   SIGTERM and SIGHUP into something Lua and the poll loops can see, and hands the
   embedded files and the command line to lua/cijoe/boot.lua. Everything else is Lua. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "joe.h"

volatile sig_atomic_t joe_in_command;
static volatile sig_atomic_t pending_signal;
static int signal_pipe[2] = {-1, -1};
static lua_State *global_state;

int joe_pending_signal(void) { return pending_signal; }

/* Empty the signal pipe: the wake-up was seen, and pending_signal keeps what came. */
static void drain_signal_pipe(void) {
  char drain[64];
  while (read(signal_pipe[0], drain, sizeof drain) > 0) {
  }
}

/* Forget a handled signal (the REPL goes on after Ctrl-C). */
void joe_clear_signal(void) {
  drain_signal_pipe();
  pending_signal = 0;
  lua_sethook(global_state, NULL, 0, 0);
}

/* The sooner of two poll timeouts in milliseconds, where -1 is none. */
int joe_sooner(int a, int b) {
  if (a < 0)
    return b;
  return (b < 0 || a < b) ? a : b;
}

/* joe's one wait: poll p[0..n-1] and the signal pipe (p[n] is its slot) for at most ms
   (-1: no bound), waking for the keepalives of open SSH sessions and sending them.
   Returns poll's result; the caller looks at joe_pending_signal() for a signal. */
int joe_wait(struct pollfd *p, int n, int ms) {
  p[n] = (struct pollfd){signal_pipe[0], POLLIN, 0};
  int ready = poll(p, (nfds_t)n + 1, joe_sooner(ms, joe_ssh_keepalive()));
  if (ready > 0 && p[n].revents) {
    drain_signal_pipe();
    ready--;
  }
  return ready < 0 && errno == EINTR ? 0 : ready;
}

/* Lua code can only be stopped from inside Lua, so the signal handler sets this hook, as
   lua.c does. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

/* A command being waited on is stopped by its poll loop, which then returns normally so
   that Lua can write its state; only pure Lua code gets the hook. */
static void on_signal(int sig) {
  int saved = errno;
  pending_signal = sig;
  if (write(signal_pipe[1], "!", 1) < 0) {
    /* the pipe is full: a wake-up is already pending */
  }
  if (!joe_in_command)
    lua_sethook(global_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  errno = saved;
}

/* A forked child needs a signal pipe of its own: the shared one would wake the parent
   too. Called with SIGINT, SIGTERM and SIGHUP blocked. */
void joe_new_signal_pipe(void) {
  close(signal_pipe[0]);
  close(signal_pipe[1]);
  pending_signal = 0;
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    _exit(1);
}

/* Signals are not restarting, so a blocked read or poll returns EINTR and looks. */
static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    perror("joe: pipe");
    exit(1);
  }
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL); /* a closed terminal ends the run as SIGTERM does, recorded */
  signal(SIGPIPE, SIG_IGN);
}

/* Make the C modules requirable; lua/cijoe/boot.lua does the Lua ones. */
static void preload_c_modules(lua_State *L) {
  static const luaL_Reg c_modules[] = {{"cijoe.proc", luaopen_cijoe_proc},
                                       {"cijoe.libyaml", luaopen_cijoe_libyaml},
                                       {"cijoe.fs", luaopen_cijoe_fs},
                                       {"cijoe.ssh", luaopen_cijoe_ssh},
                                       {"cijoe.lineedit", luaopen_cijoe_lineedit},
                                       {"cijoe.fanout", luaopen_cijoe_fanout},
                                       {NULL, NULL}};
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, c_modules, 0);
  lua_pop(L, 1);
}

/* read(path): the content of a file compiled into the binary, or nil. Read when asked,
   not all at start: copying every file into Lua strings cost a run 1-2 ms. */
static int read_embedded(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  for (const struct joe_file *f = joe_files; f->name; f++)
    if (strcmp(f->name, path) == 0) {
      lua_pushlstring(L, f->data, (size_t)(f->end - f->data));
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

/* The paths of the files compiled into the binary, as a list. */
static void push_embedded_names(lua_State *L) {
  lua_newtable(L);
  lua_Integer n = 0;
  for (const struct joe_file *f = joe_files; f->name; f++) {
    lua_pushstring(L, f->name);
    lua_rawseti(L, -2, ++n);
  }
}

/* Message handler for errors that escape cijoe.cli: keep the traceback. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

/* Run lua/cijoe/boot.lua with the embedded files and the command line; returns the exit
   status it returns. */
static int run_boot(lua_State *L, int argc, char **argv) {
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, read_embedded);
  lua_pushstring(L, "lua/cijoe/boot.lua");
  lua_call(L, 1, 1);
  size_t len;
  const char *boot = lua_tolstring(L, -1, &len);
  if (luaL_loadbufferx(L, boot ? boot : "", len, "@lua/cijoe/boot.lua", "bt") == LUA_OK) {
    lua_pushcfunction(L, read_embedded);
    push_embedded_names(L);
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i);
    }
    if (lua_pcall(L, 3, 1, 1) == LUA_OK)
      return (int)luaL_optinteger(L, -1, 0);
  }
  fprintf(stderr, "joe: %s\n", lua_tostring(L, -1));
  return pending_signal ? 128 + pending_signal : 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("joe: out of memory\n", stderr);
    return 1;
  }
  global_state = L;
  install_signals();
  luaL_openlibs(L);
  preload_c_modules(L);
  int status = run_boot(L, argc, argv);
  lua_close(L);
  return status;
}
