/* The file-system calls Lua's io and os libraries lack: folders (made, listed), links,
   modes, the type of an entry without following links, a new file that must not exist
   yet (how a run claims its journal and a transfer its temporary file), and a lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "joe.h"

/* fs.mkdir(path [, parents [, mode]]) -> true | nil, message, errno. Without parents an
   existing path is an error (EEXIST), which is how a run claims a fresh directory. */
static int fs_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)luaL_optinteger(L, 3, 0755);
  if (!lua_toboolean(L, 2))
    return luaL_fileresult(L, mkdir(path, mode) == 0, path);
  luaL_Buffer b;
  size_t len = strlen(path);
  char *copy = luaL_buffinitsize(L, &b, len + 1);
  memcpy(copy, path, len + 1);
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(copy, mode) != 0 && errno != EEXIST)
      return luaL_fileresult(L, 0, copy);
    *p = '/';
  }
  return luaL_fileresult(L, mkdir(copy, mode) == 0 || errno == EEXIST, path);
}

/* fs.symlink(target, path [, replace]): make the link path -> target; with replace,
   atomically replace what is at path (the `latest` link of the output folder). */
static int fs_symlink(lua_State *L) {
  const char *target = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
  if (!lua_toboolean(L, 3))
    return luaL_fileresult(L, symlink(target, path) == 0, path);
  const char *tmp = lua_pushfstring(L, "%s.%d.tmp", path, (int)getpid());
  unlink(tmp);
  if (symlink(target, tmp) != 0)
    return luaL_fileresult(L, 0, tmp);
  int ok = rename(tmp, path) == 0, saved = errno;
  if (!ok)
    unlink(tmp);
  errno = saved;
  return luaL_fileresult(L, ok, path);
}

/* fs.readlink(path) -> the link's target | nil, message, errno. */
static int fs_readlink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char target[4096];
  ssize_t n = readlink(path, target, sizeof target);
  if (n < 0 || n == (ssize_t)sizeof target)
    return luaL_fileresult(L, 0, path);
  lua_pushlstring(L, target, (size_t)n);
  return 1;
}

/* fs.dir(path) -> the entry names, without . and .., in no order | nil, message, errno. */
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
  return 1;
}

/* The name of a file's type. */
static const char *type_of(mode_t mode) {
  if (S_ISREG(mode))
    return "file";
  if (S_ISDIR(mode))
    return "directory";
  return S_ISLNK(mode) ? "link" : "other";
}

/* {type = "file"|"directory"|"link"|"other", mode =, size =, mtime =} of path; follow
   says whether a link is followed (stat) or described (lstat). */
static int push_stat(lua_State *L, int follow) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
    return luaL_fileresult(L, 0, path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, type_of(st.st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

/* fs.stat(path) and fs.lstat(path) -> the table above | nil, message, errno. */
static int fs_stat(lua_State *L) { return push_stat(L, 1); }
static int fs_lstat(lua_State *L) { return push_stat(L, 0); }

/* fs.chmod(path, mode) -> true | nil, message, errno. */
static int fs_chmod(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  return luaL_fileresult(L, chmod(path, (mode_t)luaL_checkinteger(L, 2)) == 0, path);
}

/* The close function of the streams fs.create makes, as liolib's own. */
static int close_stream(lua_State *L) {
  luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* fs.create(path [, mode]) -> a Lua file open for appending to a new file (never one
   that exists, nor through a link) | nil, message, errno. */
static int fs_create(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0644);
  luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->closef = NULL; /* not a file yet, for __gc */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0 || !(p->f = fdopen(fd, "a"))) {
    int saved = errno;
    if (fd >= 0)
      close(fd);
    errno = saved;
    return luaL_fileresult(L, 0, path);
  }
  p->closef = close_stream;
  return 1;
}

/* fs.lock(file) -> true | nil, message: an exclusive lock on an open Lua file, held until
   it is closed (appends to a file other programs share, as known_hosts). */
static int fs_lock(lua_State *L) {
  luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  int rc;
  while ((rc = flock(fileno(p->f), LOCK_EX)) != 0 && errno == EINTR && !joe_pending_signal()) {
  }
  return luaL_fileresult(L, rc == 0, NULL);
}

int luaopen_cijoe_fs(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"mkdir", fs_mkdir}, {"symlink", fs_symlink}, {"readlink", fs_readlink},
      {"dir", fs_dir},     {"stat", fs_stat},       {"lstat", fs_lstat},
      {"chmod", fs_chmod}, {"create", fs_create},   {"lock", fs_lock},
      {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
