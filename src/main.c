/* joe's host: it builds the Lua state, makes the embedded Lua sources and the C modules
   requirable, turns SIGINT and SIGTERM into something Lua and the poll loops can see,
   and hands the command line to cijoe.cli. Everything else is Lua. */
#include <errno.h>
#include <fcntl.h>
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
int joe_signal_fd(void) { return signal_pipe[0]; }

/* Forget a handled signal (the REPL goes on after Ctrl-C). */
void joe_clear_signal(void) {
  char drain[64];
  while (read(signal_pipe[0], drain, sizeof drain) > 0) {
  }
  pending_signal = 0;
  lua_sethook(global_state, NULL, 0, 0);
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
   too. Called with SIGINT and SIGTERM blocked. */
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
  signal(SIGPIPE, SIG_IGN);
}

/* Turn "lua/cijoe/cli.lua" into "cijoe.cli" and "packages/qemu/init.lua" into "qemu";
   returns 0 for files that are not Lua modules. */
static int module_name(const char *path, char *out, size_t size) {
  const char *rest = strchr(path, '/');
  size_t len = rest ? strlen(rest + 1) : 0;
  if (len < 5 || len >= size || strcmp(rest + 1 + len - 4, ".lua") != 0)
    return 0;
  memcpy(out, rest + 1, len - 4);
  out[len - 4] = '\0';
  for (char *p = out; *p; p++)
    if (*p == '/')
      *p = '.';
  len = strlen(out);
  if (len > 5 && strcmp(out + len - 5, ".init") == 0)
    out[len - 5] = '\0';
  return 1;
}

/* package.preload entry of an embedded module: compile it under its real file name. */
static int load_embedded(lua_State *L) {
  const struct joe_file *f = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushfstring(L, "@%s", f->name);
  if (luaL_loadbufferx(L, f->data, (size_t)(f->end - f->data), lua_tostring(L, -1), "t"))
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

/* cijoe.embedded.read(path): a packaged file (default.config, a worklet) or nil. */
static int embedded_read(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const struct joe_file *f = joe_files; f->name; f++)
    if (strcmp(f->name, name) == 0) {
      lua_pushlstring(L, f->data, (size_t)(f->end - f->data));
      return 1;
    }
  return 0;
}

/* cijoe.embedded.files(): the paths of every packaged file, in build order. */
static int embedded_files(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; joe_files[i].name; i++) {
    lua_pushstring(L, joe_files[i].name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int luaopen_cijoe_embedded(lua_State *L) {
  static const luaL_Reg funcs[] = {{"read", embedded_read},
                                   {"files", embedded_files},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}

/* Make the C modules and, unless JOE_LUA_PATH points at a source tree, the embedded Lua
   modules requirable. */
static void preload_modules(lua_State *L) {
  static const luaL_Reg c_modules[] = {{"cijoe.proc", luaopen_cijoe_proc},
                                       {"cijoe.yaml", luaopen_cijoe_yaml},
                                       {"cijoe.fs", luaopen_cijoe_fs},
                                       {"cijoe.ssh", luaopen_cijoe_ssh},
                                       {"cijoe.lineedit", luaopen_cijoe_lineedit},
                                       {"cijoe.fanout", luaopen_cijoe_fanout},
                                       {"cijoe.embedded", luaopen_cijoe_embedded},
                                       {NULL, NULL}};
  char name[256];
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, c_modules, 0);
  for (const struct joe_file *f = joe_files; f->name && !getenv("JOE_LUA_PATH"); f++) {
    if (!module_name(f->name, name, sizeof name))
      continue;
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);
}

/* With JOE_LUA_PATH=<tree>, the modules come from <tree>/lua and <tree>/packages. */
static void prepend_source_path(lua_State *L) {
  const char *tree = getenv("JOE_LUA_PATH");
  if (!tree)
    return;
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/packages/?.lua;%s/packages/?/init.lua;",
                  tree, tree, tree, tree);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* Message handler for errors that escape cijoe.cli: keep the traceback. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

/* Call require("cijoe.cli").main(arg) and return its exit status. */
static int run_cli(lua_State *L, int argc, char **argv) {
  lua_pushcfunction(L, traceback);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cijoe.cli");
  if (lua_pcall(L, 1, 1, 1) == LUA_OK) {
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, -1);
    lua_setglobal(L, "arg");
    if (lua_pcall(L, 1, 1, 1) == LUA_OK)
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
  preload_modules(L);
  prepend_source_path(L);
  int status = run_cli(L, argc, argv);
  lua_close(L);
  return status;
}
