/* A build tool, not part of joe: compile a Lua file to bytecode with its debug
   information (tracebacks keep their file names and lines: the chunk name is "@SOURCE",
   so give SOURCE as joe names it, lua/...), so that joe loads its core modules without
   parsing them at every start. `luac SOURCE OUTPUT`. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

static int write_out(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  return fwrite(p, 1, n, ud) == n ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fputs("usage: luac SOURCE OUTPUT\n", stderr);
    return 2;
  }
  lua_State *L = luaL_newstate();
  FILE *out = NULL;
  if (luaL_loadfilex(L, argv[1], "t") != LUA_OK || !(out = fopen(argv[2], "wb"))) {
    fprintf(stderr, "luac: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : argv[2]);
    return 1;
  }
  int failed = lua_dump(L, write_out, out, 0) != 0;
  failed |= fclose(out) != 0;
  lua_close(L);
  return failed;
}
