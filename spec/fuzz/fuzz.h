/* What the libFuzzer targets share: a Lua state with the standard libraries, the cijoe C
   modules (the project's own C files, linked in) and package.path on the source tree, so
   the Lua code under test is the tree's. A target names a Lua check file that returns a
   function of the input; the function raises when a property does not hold, and any
   error escaping it is a finding (abort, so libFuzzer saves the input). */
#ifndef JOE_FUZZ_H
#define JOE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/joe.h"

/* main.c's part of joe.h: no signals ever arrive in a fuzz run. */
volatile sig_atomic_t joe_in_command;
const struct joe_file joe_files[] = {{0, 0, 0}};
int joe_pending_signal(void) { return 0; }
void joe_clear_signal(void) {}
int joe_sooner(int a, int b) { return a < 0 ? b : (b < 0 || a < b) ? a : b; }
int joe_wait(struct pollfd *p, int n, int ms) { return poll(p, (nfds_t)n, ms); }

/* ssh.c's part: no SSH session exists in a fuzz run. */
int joe_ssh_keepalive(void) { return -1; }

/* Coverage of the Lua code for libFuzzer: liblua is not instrumented, so without this the
   fuzzer would see only the C side. A line hook counts each pair (previous line, line) in
   libFuzzer's extra counters, as it counts the edges of instrumented C code. */
enum { LUA_EDGES = 1 << 16 };
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];

/* The line hook: hash where the running chunk is (its source string is one object per
   chunk) with the line before, and count that edge. */
static void count_line(lua_State *L, lua_Debug *ar) {
  static uintptr_t previous;
  lua_getinfo(L, "S", ar);
  uintptr_t here = ((uintptr_t)ar->source >> 4) * 2654435761u + (uintptr_t)ar->currentline;
  uint8_t *counter = &lua_edges[(here ^ previous) % LUA_EDGES];
  if (*counter < 255)
    (*counter)++;
  previous = here >> 1;
}

/* The state and the check function (a registry reference), made on the first input. */
static lua_State *fuzz_L;
static int fuzz_check;

/* Build the state and load the check file `check` (a path below JOE_ROOT). */
static void fuzz_setup(const char *check) {
  static const luaL_Reg c_modules[] = {{"cijoe.proc", luaopen_cijoe_proc},
                                       {"cijoe.libyaml", luaopen_cijoe_libyaml},
                                       {"cijoe.fs", luaopen_cijoe_fs},
                                       {NULL, NULL}};
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, c_modules, 0);
  lua_getglobal(L, "package");
  lua_pushliteral(L, JOE_ROOT "/lua/?.lua;" JOE_ROOT "/packages/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, JOE_ROOT);
  lua_setglobal(L, "JOE_ROOT");
  lua_settop(L, 0);
  if (luaL_dofile(L, check) != LUA_OK || !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: %s: %s\n", check, lua_tostring(L, -1));
    exit(1);
  }
  fuzz_check = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(L, count_line, LUA_MASKLINE, 0);
  fuzz_L = L;
}

/* Run the check on one input; a raised error is a finding. */
static int fuzz_run(const char *check, const uint8_t *data, size_t size) {
  if (!fuzz_L)
    fuzz_setup(check);
  lua_State *L = fuzz_L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_check);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCCOLLECT); /* so an input frees what it took: libFuzzer's leak check then
                               runs only where C code may have leaked */
  return 0;
}

#endif
