/* SSH through libssh2, as mechanism: sessions over a TCP socket, a descriptor Lua gives
   (ProxyCommand) or a channel of another session (ProxyJump); the host key for Lua to
   check; logins by key file, agent or password; one channel per command; SFTP calls.
   Policy (which keys, known_hosts, the remote wrapper and its markers) is Lua's.

   Every libssh2 call blocks for at most the time joe can wait
   (libssh2_session_set_timeout); Ctrl-C breaks the wait, as joe's signals do not restart
   poll. All input passes through recv_cb, which notes when the peer last said anything:
   a session whose keepalives go unanswered is dead. TCP_NODELAY: Nagle with delayed ACKs
   costs 40 ms per command. */
#include <errno.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh.h"

enum { TICK_MS = 250 };

#define CIPHERS "aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc"

static struct session *open_sessions;

/* Push nil and "name: what (libssh2's own word)"; returns 2. */
int joe_ssh_fail(lua_State *L, struct session *s, const char *what) {
  char *detail = NULL;
  if (s->ssh)
    libssh2_session_last_error(s->ssh, &detail, NULL, 0);
  lua_pushnil(L);
  if (joe_pending_signal())
    lua_pushliteral(L, "interrupted");
  else if (detail && *detail)
    lua_pushfstring(L, "%s: %s (%s)", s->name, what, detail);
  else
    lua_pushfstring(L, "%s: %s", s->name, what);
  return 2;
}

/* Let libssh2 block for ms at most (0 would mean forever). */
void joe_ssh_allow(struct session *s, double ms) {
  libssh2_session_set_timeout(s->ssh, ms < 1 ? 1 : (long)ms);
}

/* True when the peer has not answered its keepalives: the connection is lost. */
int joe_ssh_dead(const struct session *s) { return s->dead; }

/* libssh2's input, from the socket or through the jump's channel; notes the time. */
static LIBSSH2_RECV_FUNC(recv_cb) {
  struct session *s = *abstract;
  ssize_t n;
  if (s->cut)
    return -ECONNRESET;
  if (s->via) {
    n = libssh2_channel_read(s->tunnel, buffer, length);
  } else {
    /* ACK at once: a server that keeps Nagle on (OpenSSH on a connection with no session,
       a jump host) would otherwise hold its next small packet for our delayed ACK */
    int one = 1;
    setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    n = recv(socket, buffer, length, flags);
  }
  if (n > 0)
    s->last_input = joe_now();
  if (s->via && n < 0)
    return n == LIBSSH2_ERROR_EAGAIN ? -EAGAIN : -ECONNRESET;
  return n < 0 ? -errno : n;
}

/* libssh2's output, to the socket or through the jump's channel. */
static LIBSSH2_SEND_FUNC(send_cb) {
  struct session *s = *abstract;
  if (s->cut)
    return -ECONNRESET;
  if (!s->via) {
    ssize_t n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
  }
  ssize_t n = libssh2_channel_write(s->tunnel, buffer, length);
  if (n < 0)
    return n == LIBSSH2_ERROR_EAGAIN ? -EAGAIN : -ECONNRESET;
  return n;
}

/* Route the session's I/O through recv_cb and send_cb. libssh2 1.10 takes callbacks as
   void *, which ISO C cannot convert a function pointer to: copy the bits instead. */
static void set_io_callbacks(LIBSSH2_SESSION *ssh) {
  ssize_t (*recv_fn)(libssh2_socket_t, void *, size_t, int, void **) = recv_cb;
  ssize_t (*send_fn)(libssh2_socket_t, const void *, size_t, int, void **) = send_cb;
  void *cb;
  memcpy(&cb, &recv_fn, sizeof cb);
  libssh2_session_callback_set(ssh, LIBSSH2_CALLBACK_RECV, cb);
  memcpy(&cb, &send_fn, sizeof cb);
  libssh2_session_callback_set(ssh, LIBSSH2_CALLBACK_SEND, cb);
}

/* TCP connect to host:port within timeout seconds; the socket, or -1 with why. */
static int open_socket(const char *host, int port, double timeout, const char **why) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list;
  char service[16];
  int sock = -1, one = 1, err;
  snprintf(service, sizeof service, "%d", port);
  if ((err = getaddrinfo(host, service, &hints, &list)) != 0) {
    static char text[300];
    snprintf(text, sizeof text, "cannot resolve %s: %s", host,
             err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
    *why = text;
    return -1;
  }
  for (struct addrinfo *a = list; a && sock < 0; a = a->ai_next) {
    sock = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct pollfd p[2] = {{sock, POLLOUT, 0}};
    socklen_t len = sizeof err;
    err = 0;
    if (sock >= 0 && connect(sock, a->ai_addr, a->ai_addrlen) != 0 &&
        (errno != EINPROGRESS || joe_wait(p, 1, (int)(timeout * 1000)) != 1 ||
         getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
      *why = strerror(err ? err : errno == EINPROGRESS ? ETIMEDOUT : errno);
      close(sock);
      sock = -1;
    }
  }
  freeaddrinfo(list);
  if (sock >= 0)
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return sock;
}

/* Take the session off the list of open sessions. */
static void unlist(struct session *s) {
  for (struct session **p = &open_sessions; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      return;
    }
}

/* Free what the session holds, after a polite disconnect; in a forked child, whose copy
   of a parent's session this is, only the socket (the parent goes on using it). */
void joe_ssh_drop(struct session *s) {
  unlist(s);
  if (s->ssh && s->owner == getpid()) {
    joe_ssh_allow(s, 1000);
    if (!s->dead && !s->cut)
      libssh2_session_disconnect(s->ssh, "bye");
    s->cut = 1; /* the peer was told: what libssh2 frees next needs no answer */
    if (s->sftp)
      libssh2_sftp_shutdown(s->sftp);
    libssh2_session_free(s->ssh);
  }
  if (s->tunnel && s->via && s->via->ssh && s->owner == getpid())
    libssh2_channel_free(s->tunnel);
  if (s->own_sock && s->sock >= 0)
    close(s->sock);
  *s = (struct session){.sock = -1};
}

/* session:is_open() -> whether this process may still use the session. */
static int session_is_open(lua_State *L) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  lua_pushboolean(L, s->ssh && s->owner == getpid());
  return 1;
}

/* session:close(); also __gc and __close. */
static int session_close(lua_State *L) {
  joe_ssh_drop(luaL_checkudata(L, 1, "cijoe.ssh"));
  return 0;
}

/* The session at index i, which must be open in this process. */
struct session *joe_ssh_check(lua_State *L, int i) {
  struct session *s = luaL_checkudata(L, i, "cijoe.ssh");
  luaL_argcheck(L, s->ssh && s->owner == getpid(), i, "the session is closed");
  return s;
}

/* Open a direct-tcpip channel to host:port (at via - 2 and via - 1) through the session
   at index via. */
static const char *tunnel_through(lua_State *L, struct session *s, int via, double ms) {
  struct session *v = joe_ssh_check(L, via);
  const char *host = luaL_checkstring(L, via - 2);
  int port = (int)luaL_checkinteger(L, via - 1);
  joe_ssh_allow(v, ms);
  s->tunnel = libssh2_channel_direct_tcpip(v->ssh, host, port);
  if (!s->tunnel) {
    char *detail = NULL;
    libssh2_session_last_error(v->ssh, &detail, NULL, 0);
    return lua_pushfstring(L, "cannot open a channel to %s:%d through %s (%s)", host, port,
                           v->name, detail ? detail : "");
  }
  libssh2_session_set_blocking(v->ssh, 0); /* it carries our bytes from now on */
  s->via = v, s->sock = v->sock;
  lua_pushvalue(L, via); /* keep the jump alive as long as this session */
  lua_setiuservalue(L, 1, 1);
  return NULL;
}

/* The transport under a new session: a channel of opts.via, opts.fd, or a TCP socket to
   opts.host:opts.port. NULL or what went wrong (pushed). */
static const char *connect_transport(lua_State *L, struct session *s, double ms) {
  const char *why = "";
  lua_getfield(L, 2, "host");
  lua_getfield(L, 2, "port");
  if (lua_getfield(L, 2, "via") != LUA_TNIL)
    return tunnel_through(L, s, lua_absindex(L, -1), ms) ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);
  if (lua_getfield(L, 2, "fd") != LUA_TNIL) {
    s->sock = (int)luaL_checkinteger(L, -1), s->own_sock = 1;
    return NULL;
  }
  const char *host = luaL_checkstring(L, -3);
  s->sock = open_socket(host, (int)luaL_checkinteger(L, -2), ms / 1000, &why);
  s->own_sock = 1;
  return s->sock < 0 ? lua_pushstring(L, why) : NULL;
}

/* ssh.open(name, {host =, port = | fd = | via = session, host =, port =; timeout =})
   -> session | nil, message: connected and through the handshake, not yet logged in. */
static int ssh_open(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "timeout");
  double deadline = joe_now() + luaL_optnumber(L, -1, 10);
  struct session *s = lua_newuserdatauv(L, sizeof *s, 1);
  *s = (struct session){.sock = -1, .owner = getpid(), .last_input = joe_now()};
  snprintf(s->name, sizeof s->name, "%s", name);
  luaL_setmetatable(L, "cijoe.ssh");
  lua_replace(L, 1);
  const char *problem = connect_transport(L, s, (deadline - joe_now()) * 1000);
  if (!problem && !(s->ssh = libssh2_session_init_ex(NULL, NULL, NULL, s)))
    problem = "out of memory";
  if (!problem) {
    set_io_callbacks(s->ssh);
    /* libssh2 1.10 ciphers one 16-byte block per call: AES-128's fewer rounds show */
    libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_CRYPT_CS, CIPHERS);
    libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_CRYPT_SC, CIPHERS);
    joe_ssh_allow(s, (deadline - joe_now()) * 1000);
    if (libssh2_session_handshake(s->ssh, s->sock) != 0)
      problem = "SSH handshake failed";
  }
  if (!problem) {
    lua_settop(L, 1);
    return 1;
  }
  joe_ssh_fail(L, s, problem);
  joe_ssh_drop(s);
  return 2;
}

/* session:hostkey() -> the server's host key (the SSH wire blob) and its SHA-256. */
static int session_hostkey(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  size_t len;
  int type;
  const char *key = libssh2_session_hostkey(s->ssh, &len, &type);
  const char *hash = libssh2_hostkey_hash(s->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
  if (!key || !hash)
    return joe_ssh_fail(L, s, "no host key");
  lua_pushlstring(L, key, len);
  lua_pushlstring(L, hash, 32);
  return 2;
}

/* nil, "what (libssh2's word)" after a failed login step, true after one that worked. */
static int auth_result(lua_State *L, struct session *s, int rc, const char *what) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  char *detail = NULL;
  libssh2_session_last_error(s->ssh, &detail, NULL, 0);
  lua_pushnil(L);
  lua_pushfstring(L, "%s (%s)", what, detail ? detail : "");
  lua_pushinteger(L, rc);
  return 3;
}

/* session:auth_key(user, private_key_path [, passphrase]) -> true | nil, why, code. */
static int session_auth_key(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  size_t n;
  const char *user = luaL_checklstring(L, 2, &n), *key = luaL_checkstring(L, 3);
  int rc = libssh2_userauth_publickey_fromfile_ex(s->ssh, user, (unsigned)n, NULL, key,
                                                  luaL_optstring(L, 4, NULL));
  return auth_result(L, s, rc, "key refused");
}

/* session:auth_password(user, password) -> true | nil, why, code. */
static int session_auth_password(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  size_t n, m;
  const char *user = luaL_checklstring(L, 2, &n), *pw = luaL_checklstring(L, 3, &m);
  int rc = libssh2_userauth_password_ex(s->ssh, user, (unsigned)n, pw, (unsigned)m, NULL);
  return auth_result(L, s, rc, "password refused");
}

/* session:auth_agent(user) -> true | nil, why: each key of the ssh-agent in turn. */
static int session_auth_agent(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  const char *user = luaL_checkstring(L, 2);
  LIBSSH2_AGENT *agent = libssh2_agent_init(s->ssh);
  struct libssh2_agent_publickey *id = NULL;
  int ok = agent && libssh2_agent_connect(agent) == 0 &&
           libssh2_agent_list_identities(agent) == 0;
  int in = 0, tried = 0;
  while (ok && !in && libssh2_agent_get_identity(agent, &id, id) == 0)
    in = ++tried && libssh2_agent_userauth(agent, user, id) == 0;
  if (agent) {
    libssh2_agent_disconnect(agent);
    libssh2_agent_free(agent);
  }
  if (in || !ok)
    return auth_result(L, s, in ? 0 : -1, "cannot use the ssh-agent");
  lua_pushnil(L);
  lua_pushfstring(L, "the agent's %d keys refused", tried);
  return 2;
}

/* session:auth_methods(user) -> the methods the server offers ("publickey,password"). */
static int session_auth_methods(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  size_t n;
  const char *user = luaL_checklstring(L, 2, &n);
  const char *list = libssh2_userauth_list(s->ssh, user, (unsigned)n);
  lua_pushstring(L, list ? list : "");
  return 1;
}

/* session:start(keepalive_seconds, count_max, stall_seconds): logged in; keepalives go
   out on it from now on, whenever joe waits; an SFTP call that makes no progress for
   stall_seconds fails. */
static int session_start(lua_State *L) {
  struct session *s = joe_ssh_check(L, 1);
  s->interval = luaL_checknumber(L, 2);
  s->count_max = (int)luaL_checkinteger(L, 3);
  s->stall_ms = luaL_checknumber(L, 4) * 1000;
  unlist(s);
  s->next = open_sessions;
  open_sessions = s;
  return 0;
}

/* Send the keepalive that is due on s; the milliseconds until the next, -1 for none.
   libssh2 is told the interval only for this call: with one set, its blocking calls wait
   only until the next keepalive is due and then fail ("Timed out waiting on socket"), so
   an SFTP reply slower than that would fail long before stall_ms. */
static int keep_alive(struct session *s) {
  int seconds = 0;
  if (s->interval <= 0)
    return -1;
  joe_ssh_allow(s, TICK_MS);
  libssh2_keepalive_config(s->ssh, 1, (unsigned)s->interval);
  libssh2_keepalive_send(s->ssh, &seconds);
  libssh2_keepalive_config(s->ssh, 1, 0);
  return seconds > 0 ? seconds * 1000 : -1;
}

/* Send the keepalives that are due on this process's open sessions, so that none goes
   idle while joe waits on something else (a local command, another target, a sleep);
   returns the milliseconds until the next is due, -1 when there is none. */
int joe_ssh_keepalive(void) {
  int soonest = -1;
  for (struct session *s = open_sessions; s; s = s->next)
    if (s->owner == getpid() && s->ssh && !s->via)
      soonest = joe_sooner(soonest, keep_alive(s));
  for (struct session *s = open_sessions; s; s = s->next) /* jumps: after their carriers */
    if (s->owner == getpid() && s->ssh && s->via)
      soonest = joe_sooner(soonest, keep_alive(s));
  return soonest;
}

/* ssh.hmac_sha1(key, text) -> the raw digest: hashed known_hosts entries. */
static int ssh_hmac_sha1(lua_State *L) {
  size_t klen, tlen;
  const char *key = luaL_checklstring(L, 1, &klen), *text = luaL_checklstring(L, 2, &tlen);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha1(), key, (int)klen, (const unsigned char *)text, tlen, out, &n))
    return luaL_error(L, "hmac_sha1 failed");
  lua_pushlstring(L, (const char *)out, n);
  return 1;
}

int luaopen_cijoe_ssh(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"hostkey", session_hostkey},     {"auth_key", session_auth_key},
      {"auth_agent", session_auth_agent}, {"auth_password", session_auth_password},
      {"auth_methods", session_auth_methods}, {"start", session_start},
      {"exec", joe_ssh_exec},            {"is_open", session_is_open},
      {"close", session_close},         {"__gc", session_close},
      {"__close", session_close},       {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"open", ssh_open}, {"hmac_sha1", ssh_hmac_sha1},
                                   {NULL, NULL}};
  libssh2_init(0);
  luaL_newmetatable(L, "cijoe.ssh");
  luaL_setfuncs(L, methods, 0);
  luaL_setfuncs(L, joe_sftp_methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  luaL_newlib(L, funcs);
  return 1;
}
