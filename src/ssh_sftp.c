/* SFTP calls on a session, one per method, as mechanism for the tree copy in Lua
   (lua/cijoe/copy.lua): which names, links and modes are allowed is decided there. Data
   moves between a remote file and a Lua file that Lua opened. A failure is nil, what
   went wrong, and the SFTP status when the server refused (none when the session broke:
   the caller drops it). Every call may stall for stall_ms at most. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh.h"

enum { XFER_SIZE = 4 << 20, STALL_MS = 60000 };

/* The session at 1, its SFTP subsystem started when it can be (s->sftp is NULL when
   not: every call then fails with libssh2's reason). */
static struct session *sftp_session(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  joe_ssh_allow(s, s->stall_ms > 0 ? s->stall_ms : STALL_MS);
  if (!s->sftp)
    s->sftp = libssh2_sftp_init(s->ssh);
  return s;
}

/* What a failed call left in libssh2, copied at once: the next call (closing a handle)
   may wait on the socket, which clears libssh2's error. */
struct failure {
  int code;              /* libssh2's error */
  unsigned long status;  /* the server's SFTP status, when it refused */
  char text[256];
};

/* The failure of the call just made. One without an SFTP status broke the session: its
   I/O is cut, so that freeing what it holds (handles, requests) asks nothing of a peer
   that does not answer; the caller drops it. */
static void note_failure(struct session *s, struct failure *f) {
  char *detail = NULL;
  f->code = s->sftp ? libssh2_session_last_errno(s->ssh) : 0;
  libssh2_session_last_error(s->ssh, &detail, NULL, 0);
  snprintf(f->text, sizeof f->text, "%s", joe_pending_signal() ? "interrupted" :
           detail ? detail : "");
  f->status = f->code == LIBSSH2_ERROR_SFTP_PROTOCOL ? libssh2_sftp_last_error(s->sftp) : 0;
  if (f->code != LIBSSH2_ERROR_SFTP_PROTOCOL)
    s->cut = 1;
}

/* Push nil, "path: what went wrong" and the SFTP status (nil when the session broke). */
static int push_failure(lua_State *L, const struct failure *f, const char *path) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, f->text);
  if (f->code == LIBSSH2_ERROR_SFTP_PROTOCOL)
    lua_pushinteger(L, (lua_Integer)f->status);
  else
    lua_pushnil(L);
  return 3;
}

/* The failure of the call just made on path; returns 3. */
static int sftp_fail(lua_State *L, struct session *s, const char *path) {
  struct failure f;
  note_failure(s, &f);
  return push_failure(L, &f, path);
}

/* The type of a file from its mode, as fs.stat names them. */
static const char *type_of(unsigned long mode) {
  switch (mode & LIBSSH2_SFTP_S_IFMT) {
  case LIBSSH2_SFTP_S_IFREG: return "file";
  case LIBSSH2_SFTP_S_IFDIR: return "directory";
  case LIBSSH2_SFTP_S_IFLNK: return "link";
  default: return "other";
  }
}

/* Push {type =, mode =, size =, mtime =} of SFTP attributes. */
static void push_attrs(lua_State *L, const LIBSSH2_SFTP_ATTRIBUTES *a) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, type_of(a->permissions));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)(a->permissions & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)a->filesize);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)a->mtime);
  lua_setfield(L, -2, "mtime");
}

/* stat or lstat of the path at 2. */
static int stat_path(lua_State *L, int how) {
  struct session *s = sftp_session(L);
  size_t len;
  const char *path = luaL_checklstring(L, 2, &len);
  LIBSSH2_SFTP_ATTRIBUTES a;
  if (!s->sftp || libssh2_sftp_stat_ex(s->sftp, path, (unsigned)len, how, &a) != 0)
    return sftp_fail(L, s, path);
  push_attrs(L, &a);
  return 1;
}

/* session:stat(path), session:lstat(path) -> {type, mode, size, mtime} | nil, why, code. */
static int sftp_stat(lua_State *L) { return stat_path(L, LIBSSH2_SFTP_STAT); }
static int sftp_lstat(lua_State *L) { return stat_path(L, LIBSSH2_SFTP_LSTAT); }

/* session:list(path) -> {{name =, type =, mode =, size =, mtime =}, ...} without . and ..,
   the types as the server's lstat gives them | nil, why, code. libssh2 1.10 gives 0 for
   an empty name as for the end of the listing; only an entry fills the attributes, so a
   sentinel in them tells the two apart (the copy refuses the name). */
static int sftp_list(lua_State *L) {
  struct session *s = sftp_session(L);
  const char *path = luaL_checkstring(L, 2);
  LIBSSH2_SFTP_HANDLE *h = s->sftp ? libssh2_sftp_opendir(s->sftp, path) : NULL;
  char name[4096];
  LIBSSH2_SFTP_ATTRIBUTES a = {.flags = ~0UL};
  int rc, n = 0;
  if (!h)
    return sftp_fail(L, s, path);
  lua_newtable(L);
  while ((rc = libssh2_sftp_readdir_ex(h, name, sizeof name, NULL, 0, &a)) > 0 ||
         (rc == 0 && a.flags != ~0UL)) {
    if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
      push_attrs(L, &a);
      lua_pushlstring(L, name, (size_t)rc);
      lua_setfield(L, -2, "name");
      lua_rawseti(L, -2, ++n);
    }
    a.flags = ~0UL;
  }
  struct failure f;
  if (rc < 0)
    note_failure(s, &f);
  libssh2_sftp_closedir(h);
  return rc < 0 ? push_failure(L, &f, path) : 1;
}

/* true, or the failure of the call just made on the path at 2. */
static int done(lua_State *L, struct session *s, int rc) {
  if (rc != 0)
    return sftp_fail(L, s, lua_tostring(L, 2));
  lua_pushboolean(L, 1);
  return 1;
}

/* session:mkdir(path, mode), session:remove(path), session:rmdir(path),
   session:setmode(path, mode), session:rename(from, to), session:symlink(path, target)
   -> true | nil, why, code. */
static int sftp_mkdir(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n;
  const char *path = luaL_checklstring(L, 2, &n);
  long mode = (long)luaL_checkinteger(L, 3);
  return done(L, s, s->sftp ? libssh2_sftp_mkdir_ex(s->sftp, path, (unsigned)n, mode) : -1);
}

static int sftp_remove(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n;
  const char *path = luaL_checklstring(L, 2, &n);
  return done(L, s, s->sftp ? libssh2_sftp_unlink_ex(s->sftp, path, (unsigned)n) : -1);
}

static int sftp_rmdir(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n;
  const char *path = luaL_checklstring(L, 2, &n);
  return done(L, s, s->sftp ? libssh2_sftp_rmdir_ex(s->sftp, path, (unsigned)n) : -1);
}

static int sftp_setmode(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n;
  const char *path = luaL_checklstring(L, 2, &n);
  LIBSSH2_SFTP_ATTRIBUTES a = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS,
                               .permissions = (unsigned long)luaL_checkinteger(L, 3)};
  return done(L, s, s->sftp ? libssh2_sftp_stat_ex(s->sftp, path, (unsigned)n,
                                             LIBSSH2_SFTP_SETSTAT, &a) : -1);
}

static int sftp_rename(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n, m;
  const char *from = luaL_checklstring(L, 2, &n), *to = luaL_checklstring(L, 3, &m);
  long flags = LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC;
  return done(L, s, s->sftp ? libssh2_sftp_rename_ex(s->sftp, from, (unsigned)n, to, (unsigned)m,
                                               flags) : -1);
}

/* OpenSSH's sftp-server takes the link's target first, the reverse of the draft; libssh2
   sends its "orig" first, so the target goes there. */
static int sftp_symlink(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n, m;
  const char *path = luaL_checklstring(L, 2, &n), *target = luaL_checklstring(L, 3, &m);
  char *t = (char *)target;
  return done(L, s, s->sftp ? libssh2_sftp_symlink_ex(s->sftp, t, (unsigned)m, (char *)path,
                                                (unsigned)n, LIBSSH2_SFTP_SYMLINK) : -1);
}

/* session:readlink(path) -> the link's target | nil, why, code. */
static int sftp_readlink(lua_State *L) {
  struct session *s = sftp_session(L);
  size_t n;
  const char *path = luaL_checklstring(L, 2, &n);
  char target[4096];
  int rc = s->sftp ? libssh2_sftp_symlink_ex(s->sftp, path, (unsigned)n, target, sizeof target,
                                       LIBSSH2_SFTP_READLINK) : -1;
  if (rc < 0)
    return sftp_fail(L, s, path);
  lua_pushlstring(L, target, (size_t)rc);
  return 1;
}

/* A buffer for a transfer of `size` bytes, owned by Lua (freed even when Lua raises):
   no bigger than the file, since libssh2 asks the server for a whole buffer ahead. */
static char *transfer_buffer(lua_State *L, lua_Integer size, size_t *len) {
  *len = size >= 0 && size < XFER_SIZE ? (size_t)size + 1 : XFER_SIZE;
  return lua_newuserdatauv(L, *len, 0);
}

/* Remote to local: 0, 1 when the local write failed (errno), or a libssh2 error. */
static long download(LIBSSH2_SFTP_HANDLE *h, int fd, char *buf, size_t len, lua_Integer size) {
  for (lua_Integer total = 0; size < 0 || total < size;) { /* the size listed is enough: no
                                                             round trip to hear of the end */
    ssize_t n = libssh2_sftp_read(h, buf, len);
    if (joe_pending_signal())
      return LIBSSH2_ERROR_TIMEOUT;
    if (n <= 0)
      return (long)n;
    total += n;
    for (ssize_t done = 0, w; done < n; done += w)
      if ((w = write(fd, buf + done, (size_t)(n - done))) < 0)
        return 1;
  }
  return 0;
}

/* Local to remote: 0, 1 when the local read failed (errno), or a libssh2 error. */
static long upload(LIBSSH2_SFTP_HANDLE *h, int fd, char *buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n < 0)
      return 1;
    if (n == 0)
      return 0;
    for (ssize_t done = 0, w; done < n; done += w)
      if ((w = libssh2_sftp_write(h, buf + done, (size_t)(n - done))) < 0 ||
          joe_pending_signal())
        return w < 0 ? (long)w : LIBSSH2_ERROR_TIMEOUT;
  }
}

/* Close a transfer's handle; rc is how the transfer went (0, 1 for the local side's
   errno, or a libssh2 error, whose failure is noted before the close can clear it).
   Pushes true, nil and the local errno's message and "local", or the SFTP failure. */
static int end_transfer(lua_State *L, struct session *s, LIBSSH2_SFTP_HANDLE *h, long rc,
                        const char *path, int local_errno) {
  struct failure f = {0};
  if (rc < 0)
    note_failure(s, &f);
  if (libssh2_sftp_close_handle(h) != 0 && rc == 0) {
    rc = -1;
    note_failure(s, &f);
  }
  if (rc == 1) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(local_errno));
    lua_pushliteral(L, "local");
    return 3;
  }
  if (rc != 0)
    return push_failure(L, &f, path);
  lua_pushboolean(L, 1);
  return 1;
}

/* session:get(remote, file [, size]) -> true | nil, why, code: the remote file's bytes
   written to the open Lua file; with size (as its listing gave it), that many. code is
   the SFTP status, "local" when writing the file failed, nil when the session broke. */
static int sftp_get(lua_State *L) {
  struct session *s = sftp_session(L);
  const char *remote = luaL_checkstring(L, 2);
  int fd = fileno(((luaL_Stream *)luaL_checkudata(L, 3, LUA_FILEHANDLE))->f);
  size_t len;
  lua_Integer size = luaL_optinteger(L, 4, -1);
  char *buf = transfer_buffer(L, size, &len);
  LIBSSH2_SFTP_HANDLE *h = s->sftp ? libssh2_sftp_open(s->sftp, remote, LIBSSH2_FXF_READ, 0) : NULL;
  if (!h)
    return sftp_fail(L, s, remote);
  joe_in_command = 1;
  long rc = download(h, fd, buf, len, size);
  int saved = errno;
  joe_in_command = 0;
  return end_transfer(L, s, h, rc, remote, saved);
}

/* session:put(file, remote, mode [, exact]) -> true | nil, why, code: a new remote file
   (never one that exists) with the open Lua file's bytes, made with mode, which the
   server's umask may take bits of; with exact, the mode is set again once it is written.
   code as for get ("local": reading the file failed). */
static int sftp_put(lua_State *L) {
  struct session *s = sftp_session(L);
  int fd = fileno(((luaL_Stream *)luaL_checkudata(L, 2, LUA_FILEHANDLE))->f);
  const char *remote = luaL_checkstring(L, 3);
  LIBSSH2_SFTP_ATTRIBUTES a = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS,
                               .permissions = (unsigned long)luaL_checkinteger(L, 4)};
  struct stat st;
  size_t len;
  char *buf = transfer_buffer(L, fstat(fd, &st) == 0 ? st.st_size : -1, &len);
  unsigned long flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL;
  int exact = lua_toboolean(L, 5);
  long mode = exact ? 0600 : (long)a.permissions;
  LIBSSH2_SFTP_HANDLE *h = s->sftp ? libssh2_sftp_open(s->sftp, remote, flags, mode) : NULL;
  if (!h)
    return sftp_fail(L, s, remote);
  joe_in_command = 1;
  long rc = upload(h, fd, buf, len);
  int saved = errno;
  joe_in_command = 0;
  if (rc == 0 && exact && libssh2_sftp_fsetstat(h, &a) != 0)
    rc = LIBSSH2_ERROR_SFTP_PROTOCOL;
  return end_transfer(L, s, h, rc, remote, saved);
}

/* session:sftp_start(seconds) -> true | nil, why: the SFTP subsystem started now, within
   seconds (Lua starts
   it on a fresh session, before any command: dropbear leaves a subsystem request
   unanswered when it comes while a command's channel is still closing). A server with
   no SFTP keeps the session for commands: the transfers say why then. */
static int sftp_start(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  double seconds = luaL_checknumber(L, 2);
  joe_ssh_allow(s, seconds * 1000);
  if (!s->sftp)
    s->sftp = libssh2_sftp_init(s->ssh);
  if (s->sftp) {
    lua_pushboolean(L, 1);
    return 1;
  }
  char *detail = NULL;
  libssh2_session_last_error(s->ssh, &detail, NULL, 0);
  lua_pushnil(L);
  lua_pushstring(L, detail ? detail : "SFTP did not start");
  return 2;
}

const luaL_Reg joe_sftp_methods[] = {
    {"sftp_start", sftp_start},
    {"stat", sftp_stat},       {"lstat", sftp_lstat},     {"list", sftp_list},
    {"mkdir", sftp_mkdir},     {"remove", sftp_remove},   {"rmdir", sftp_rmdir},
    {"setmode", sftp_setmode}, {"rename", sftp_rename},   {"symlink", sftp_symlink},
    {"readlink", sftp_readlink}, {"get", sftp_get},       {"put", sftp_put},
    {NULL, NULL}};
