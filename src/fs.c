/* The few file-system calls Lua's io library lacks: the output directory needs mkdir and
   the `latest` link, the runners list folders and tell files from directories. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "joe.h"

/* fs.mkdir(path [, parents]) -> true | nil, message, errno. Without parents an existing
   path is an error (EEXIST), which is how a run claims a fresh output directory. */
static int fs_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (!lua_toboolean(L, 2))
    return luaL_fileresult(L, mkdir(path, 0755) == 0, path);
  luaL_Buffer b;
  char *copy = luaL_buffinitsize(L, &b, strlen(path) + 1);
  memcpy(copy, path, strlen(path) + 1);
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(copy, 0755) != 0 && errno != EEXIST)
      return luaL_fileresult(L, 0, copy);
    *p = '/';
  }
  return luaL_fileresult(L, mkdir(copy, 0755) == 0 || errno == EEXIST, path);
}

/* fs.symlink(target, path): make or atomically replace the link path -> target. */
static int fs_symlink(lua_State *L) {
  const char *target = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
  const char *tmp = lua_pushfstring(L, "%s.%d.tmp", path, (int)getpid());
  unlink(tmp);
  if (symlink(target, tmp) != 0)
    return luaL_fileresult(L, 0, tmp);
  if (rename(tmp, path) != 0) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
    return luaL_fileresult(L, 0, path);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Order entries by name, so listings are the same on every machine. */
static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* fs.dir(path) -> sorted array of entry names without . and .. | nil, message. */
static int fs_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d)
    return luaL_fileresult(L, 0, path);
  lua_newtable(L);
  int n = 0;
  /* cppcheck-suppress readdirCalled ; readdir_r is the deprecated one (glibc 2.24): readdir
     is safe for a stream no other thread reads, and joe has one thread */
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      lua_pushstring(L, e->d_name);
      lua_rawseti(L, -2, ++n);
    }
  }
  closedir(d);
  const char **names = lua_newuserdatauv(L, sizeof(char *) * ((size_t)n + 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -2, i + 1);
    names[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  qsort(names, (size_t)n, sizeof *names, by_name);
  lua_newtable(L);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* fs.stat(path) -> {type = "file"|"directory"|"other", mode =, size =, mtime =}
   | nil, message, errno. Links are followed. */
static int fs_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0)
    return luaL_fileresult(L, 0, path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

int luaopen_cijoe_fs(lua_State *L) {
  static const luaL_Reg funcs[] = {{"mkdir", fs_mkdir},
                                   {"symlink", fs_symlink},
                                   {"dir", fs_dir},
                                   {"stat", fs_stat},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
