/* SSH through libssh2: one session per target, connected within a time bound, host key
   checked against known_hosts, then one channel per command and SFTP for files. Every
   libssh2 call blocks for at most the time joe can wait (libssh2_session_set_timeout);
   Ctrl-C breaks the wait (our signals do not restart poll), and a timeout wakes joe to
   look at its timers. The socket has TCP_NODELAY: Nagle with delayed ACKs costs 40 ms
   per command. */
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "joe.h"

enum { BUF_SIZE = 1 << 16, XFER_SIZE = 4 << 20, GRACE_MS = 2000, IDLE_MS = 60000, TICK_MS = 250 };

#define CIPHERS "aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc"

struct session {
  LIBSSH2_SESSION *ssh;
  LIBSSH2_SFTP *sftp;
  int sock;
  pid_t owner;           /* a forked child (cijoe.each) must not use its parent's session */
  struct session *next; /* the list of open sessions, for keepalives */
  char name[300];       /* user@host:port, for messages */
};

static struct session *open_sessions;

/* One remote command: its channel, where its output goes, and its timers. */
struct command {
  LIBSSH2_CHANNEL *ch;
  int log, log_errno, monitor;
  double deadline, give_up; /* the timeout; when to stop waiting after signalling */
  const char *why;
  char first[64]; /* the first output line, which holds the remote pid */
  size_t first_len;
  long pid; /* the remote process group; 0 until known, -1 when unknown */
};

/* Push nil and "user@host:port: what" (with libssh2's own word on it); returns 2. */
static int fail(lua_State *L, struct session *s, const char *what) {
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
static void allow(struct session *s, double ms) {
  libssh2_session_set_timeout(s->ssh, ms < 1 ? 1 : (long)ms);
}

/* TCP connect to host:port within timeout seconds. */
static int open_socket(const char *host, int port, double timeout) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list, *a;
  char service[16];
  int sock = -1, one = 1, err = 0;
  snprintf(service, sizeof service, "%d", port);
  if ((err = getaddrinfo(host, service, &hints, &list)) != 0)
    return errno = err == EAI_SYSTEM ? errno : EHOSTUNREACH, -1;
  for (a = list; a && sock < 0; a = a->ai_next) {
    sock = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct pollfd p = {sock, POLLOUT, 0};
    socklen_t len = sizeof err;
    if (sock >= 0 && connect(sock, a->ai_addr, a->ai_addrlen) != 0 &&
        (errno != EINPROGRESS || poll(&p, 1, (int)(timeout * 1000)) != 1 ||
         getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
      close(sock);
      sock = -1;
      errno = err ? err : errno == EINPROGRESS ? ETIMEDOUT : errno;
    }
  }
  freeaddrinfo(list);
  if (sock >= 0)
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return sock;
}

/* "SHA256:<base64>" of the server's host key, as OpenSSH prints it. */
static void fingerprint(struct session *s, char *out) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(s->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
  unsigned char hash[33] = {0};
  size_t n = (size_t)sprintf(out, "SHA256:");
  memcpy(hash, h ? h : hash, 32);
  for (int i = 0; i < 32; i += 3) {
    unsigned long v = (unsigned long)hash[i] << 16 | hash[i + 1] << 8 | hash[i + 2];
    for (int k = 0; k < (i == 30 ? 3 : 4); k++)
      out[n++] = b64[(v >> (18 - 6 * k)) & 63];
  }
  out[n] = '\0';
}

/* Check the host key against known_hosts under the policy "yes" or "accept-new" (which
   writes an unknown key down); returns NULL or what is wrong (pushed on the stack). */
static const char *check_host_key(lua_State *L, struct session *s, const char *file,
                                  const char *policy, const char *host, int port) {
  static const int types[] = {LIBSSH2_KNOWNHOST_KEY_UNKNOWN, LIBSSH2_KNOWNHOST_KEY_SSHRSA,
                              LIBSSH2_KNOWNHOST_KEY_SSHDSS, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
                              LIBSSH2_KNOWNHOST_KEY_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
                              LIBSSH2_KNOWNHOST_KEY_ED25519};
  size_t len;
  int type;
  char fp[64];
  const char *key = libssh2_session_hostkey(s->ssh, &len, &type), *problem = NULL;
  LIBSSH2_KNOWNHOSTS *known = key ? libssh2_knownhost_init(s->ssh) : NULL;
  if (!known)
    return lua_pushliteral(L, "no host key");
  int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | types[type < 7 ? type : 0];
  libssh2_knownhost_readfile(known, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  int found = libssh2_knownhost_checkp(known, host, port, key, len, mask, NULL);
  fingerprint(s, fp);
  if (found == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
    problem = lua_pushfstring(L, "the host key has CHANGED (now %s); refusing to connect. "
                                 "If that is expected, remove the old key from %s", fp, file);
  else if (found != LIBSSH2_KNOWNHOST_CHECK_MATCH && strcmp(policy, "accept-new") != 0)
    problem = lua_pushfstring(L, "the host key is not known (%s); add it to %s or set "
                                 "host_key_check: accept-new", fp, file);
  else if (found != LIBSSH2_KNOWNHOST_CHECK_MATCH &&
           (libssh2_knownhost_addc(known, port == 22 ? host : lua_pushfstring(L, "[%s]:%d", host, port),
                                   NULL, key, len, NULL, 0, mask, NULL) != 0 ||
            libssh2_knownhost_writefile(known, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0))
    problem = lua_pushfstring(L, "cannot add the host key to %s", file);
  libssh2_knownhost_free(known);
  libssh2_session_set_last_error(s->ssh, 0, NULL); /* a missing known_hosts is no news */
  return problem;
}

/* Try the key file, then the ssh-agent's keys; true once logged in. */
static int try_keys(struct session *s, const char *user, const char *key, const char *phrase) {
  if (key && libssh2_userauth_publickey_fromfile_ex(s->ssh, user, (unsigned)strlen(user), NULL,
                                                    key, phrase) == 0)
    return 1;
  LIBSSH2_AGENT *agent = getenv("SSH_AUTH_SOCK") ? libssh2_agent_init(s->ssh) : NULL;
  struct libssh2_agent_publickey *id = NULL;
  int ok = agent && libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0;
  int in = 0;
  while (ok && !in && libssh2_agent_get_identity(agent, &id, id) == 0)
    in = libssh2_agent_userauth(agent, user, id) == 0;
  if (agent) {
    libssh2_agent_disconnect(agent);
    libssh2_agent_free(agent);
  }
  return in;
}

/* Log in with the first method that works: key file, ssh-agent, password. */
static const char *authenticate(lua_State *L, struct session *s, const char *user) {
  lua_getfield(L, 1, "key");
  lua_getfield(L, 1, "passphrase");
  lua_getfield(L, 1, "password");
  const char *key = lua_tostring(L, -3), *phrase = lua_tostring(L, -2), *pw = lua_tostring(L, -1);
  if (try_keys(s, user, key, phrase))
    return NULL;
  if (pw && libssh2_userauth_password_ex(s->ssh, user, (unsigned)strlen(user), pw,
                                         (unsigned)strlen(pw), NULL) == 0)
    return NULL;
  return lua_pushfstring(L, "authentication failed (tried: %s%s%s)", key ? "key file, " : "",
                         getenv("SSH_AUTH_SOCK") ? "ssh-agent, " : "", pw ? "password" : "no password");
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
static void close_session(struct session *s) {
  unlist(s);
  if (s->ssh && s->owner == getpid()) {
    allow(s, 1000);
    if (s->sftp)
      libssh2_sftp_shutdown(s->sftp);
    libssh2_session_disconnect(s->ssh, "bye");
    libssh2_session_free(s->ssh);
  }
  if (s->sock >= 0)
    close(s->sock);
  *s = (struct session){.sock = -1};
}

/* session:close(); also __gc and __close. */
static int session_close(lua_State *L) {
  close_session(luaL_checkudata(L, 1, "cijoe.ssh"));
  return 0;
}

/* Handshake, host key, login, each bounded by the time that is left. Returns NULL or
   what went wrong (pushed on the stack). */
static const char *log_in(lua_State *L, struct session *s, double deadline) {
  const char *host = luaL_checkstring(L, 2), *user = luaL_checkstring(L, 4);
  lua_getfield(L, 1, "known_hosts");
  lua_getfield(L, 1, "host_key_check");
  const char *known = lua_tostring(L, -2), *policy = luaL_optstring(L, -1, "yes");
  if (!(s->ssh = libssh2_session_init()))
    return lua_pushliteral(L, "out of memory");
  libssh2_session_set_blocking(s->ssh, 1);
  /* libssh2 1.10 ciphers one 16-byte block per call: AES-128's fewer rounds show */
  libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_CRYPT_CS, CIPHERS);
  libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_CRYPT_SC, CIPHERS);
  allow(s, (deadline - joe_now()) * 1000);
  if (libssh2_session_handshake(s->ssh, s->sock) != 0)
    return lua_pushliteral(L, "SSH handshake failed");
  if (strcmp(policy, "no") != 0) {
    const char *problem = known ? check_host_key(L, s, known, policy, host, (int)luaL_checkinteger(L, 3))
                                : lua_pushliteral(L, "no known_hosts file to check the host key");
    if (problem)
      return problem;
  }
  allow(s, (deadline - joe_now()) * 1000);
  return authenticate(L, s, user);
}

/* ssh.connect(opts, host, port, user) -> session | nil, message. opts: key, passphrase,
   password, known_hosts, host_key_check ("yes"|"accept-new"|"no"), timeout, keepalive. */
static int ssh_connect(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *host = luaL_checkstring(L, 2), *user = luaL_checkstring(L, 4);
  int port = (int)luaL_checkinteger(L, 3);
  lua_getfield(L, 1, "timeout");
  lua_getfield(L, 1, "keepalive");
  double timeout = luaL_optnumber(L, -2, 10);
  unsigned keepalive = (unsigned)luaL_optinteger(L, -1, 15);
  struct session *s = lua_newuserdatauv(L, sizeof *s, 0);
  *s = (struct session){.sock = -1, .owner = getpid()};
  luaL_setmetatable(L, "cijoe.ssh");
  int ud = lua_gettop(L);
  snprintf(s->name, sizeof s->name, "%s@%s:%d", user, host, port);
  s->sock = open_socket(host, port, timeout);
  const char *problem = s->sock < 0 ? strerror(errno) : log_in(L, s, joe_now() + timeout);
  if (problem) {
    fail(L, s, problem);
    close_session(s);
    return 2;
  }
  libssh2_keepalive_config(s->ssh, 1, keepalive);
  s->next = open_sessions;
  open_sessions = s;
  lua_settop(L, ud);
  return 1;
}

/* Send what the command printed to its log and, with monitor, to the terminal. */
static void deliver(struct command *c, const char *buf, size_t n) {
  if (c->log >= 0 && !c->log_errno && write(c->log, buf, n) != (ssize_t)n)
    c->log_errno = errno ? errno : ENOSPC;
  if (c->monitor && write(STDOUT_FILENO, buf, n) < 0)
    c->monitor = 0; /* the terminal went away; the log still has it */
}

/* The remote wrapper prints "joe-pid:N" first; keep that line out of the log. */
static void take_output(struct command *c, const char *buf, size_t n) {
  while (!c->pid && n > 0) {
    c->first[c->first_len++] = *buf++;
    n--;
    if (c->first[c->first_len - 1] != '\n' && c->first_len < sizeof c->first)
      continue;
    if (sscanf(c->first, "joe-pid:%ld", &c->pid) != 1 || c->pid <= 0) {
      deliver(c, c->first, c->first_len);
      c->pid = -1;
    }
  }
  if (n > 0)
    deliver(c, buf, n);
}

/* Run a command on a channel of its own and forget it. */
static void run_detached(struct session *s, const char *cmd) {
  allow(s, GRACE_MS);
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->ssh);
  if (ch) {
    libssh2_channel_exec(ch, cmd);
    libssh2_channel_free(ch);
  }
}

/* On timeout or Ctrl-C, signal the remote process group once, from a second channel
   (libssh2 1.10 cannot send a signal request, and closing our channel alone leaves the
   command running); false when the grace period after that is over. */
static int still_waiting(struct session *s, struct command *c) {
  double now = joe_now();
  int sig = joe_pending_signal();
  const char *why = sig ? "interrupted" : (c->deadline && now >= c->deadline) ? "timeout" : NULL;
  if (why && !c->why && c->pid > 0) {
    char cmd[512]; /* OpenSSH makes the shell a group leader; dropbear does not: then its
                      children, found in /proc, get the signal one by one */
    snprintf(cmd, sizeof cmd,
             "p=%ld s=%s; kill -$s -$p 2>/dev/null || { for d in /proc/[0-9]*; do read -r _ _ _ pp _ "
             "<$d/stat && [ \"$pp\" = $p ] && kill -$s ${d#/proc/}; done; kill -$s $p; } 2>/dev/null; "
             "(sleep %d; kill -KILL -$p || kill -KILL $p) </dev/null >/dev/null 2>&1 &",
             c->pid, sig == SIGINT ? "INT" : "TERM", GRACE_MS / 1000);
    run_detached(s, cmd);
  }
  if (why && !c->why) {
    c->why = why;
    c->give_up = now + GRACE_MS / 1000.0;
  }
  return !c->why || now < c->give_up;
}

/* Send the keepalives that are due on this process's open sessions, so that none goes
   idle while joe waits on something else (a local command, another target, a sleep);
   returns the milliseconds until the next is due, -1 when there is none. */
int joe_ssh_keepalive(void) {
  int soonest = -1;
  for (struct session *s = open_sessions; s; s = s->next) {
    int seconds = 60;
    if (s->owner != getpid() || !s->ssh)
      continue;
    allow(s, TICK_MS);
    libssh2_keepalive_send(s->ssh, &seconds);
    if (seconds > 0 && (soonest < 0 || seconds * 1000 < soonest)) /* 0: keepalive off */
      soonest = seconds * 1000;
  }
  return soonest;
}

/* Milliseconds joe may block before a timer, a keepalive or a look for Ctrl-C is due. */
static double next_wakeup(const struct command *c) {
  joe_ssh_keepalive();
  double due = c->why ? c->give_up : c->deadline, ms = TICK_MS;
  if (due && (due - joe_now()) * 1000 < ms)
    ms = (due - joe_now()) * 1000;
  return ms;
}

/* Move output until the channel's EOF: 0, 1 when we stopped waiting after signalling
   the command, or a libssh2 error when the session broke. */
static int pump(struct session *s, struct command *c) {
  char buf[BUF_SIZE];
  for (;;) {
    allow(s, next_wakeup(c));
    ssize_t n = libssh2_channel_read(c->ch, buf, sizeof buf);
    if (n > 0)
      take_output(c, buf, (size_t)n);
    else if (n == 0 && libssh2_channel_eof(c->ch))
      return 0;
    else if (n != LIBSSH2_ERROR_TIMEOUT && n != 0)
      return (int)n;
    else if (!still_waiting(s, c))
      return 1;
  }
}

/* The number of a signal named as SSH names them ("TERM"). */
static int signal_number(const char *name) {
  static const char *names[] = {"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE",
                                "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM"};
  for (int i = 0; i < 15; i++)
    if (strcmp(name, names[i]) == 0)
      return i + 1;
  return 0;
}

/* Close the channel and tell how the command ended: its exit status, 128+N when signal
   N killed it, 137 when we stopped waiting for it. */
static int finish_channel(struct session *s, struct command *c, int gave_up) {
  char *sig = NULL;
  allow(s, GRACE_MS);
  libssh2_channel_close(c->ch);
  libssh2_channel_wait_closed(c->ch);
  libssh2_channel_get_exit_signal(c->ch, &sig, NULL, NULL, NULL, NULL, NULL);
  int status = gave_up ? 137 : sig ? 128 + signal_number(sig) : libssh2_channel_get_exit_status(c->ch);
  if (sig)
    libssh2_free(s->ssh, sig);
  libssh2_channel_free(c->ch);
  return status;
}

/* Open a channel and send the exec request; NULL on failure. */
static LIBSSH2_CHANNEL *start_command(struct session *s, const char *cmd, double seconds) {
  allow(s, seconds * 1000);
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->ssh);
  if (ch)
    libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
  if (ch && libssh2_channel_exec(ch, cmd) != 0) {
    libssh2_channel_free(ch);
    ch = NULL;
  }
  return ch;
}

/* Call opts.started() while the command starts (Lua opens its state file then); true
   when it raised, with the error left on the stack. */
static int call_started(lua_State *L) {
  if (lua_getfield(L, 3, "started") != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return 0;
  }
  return lua_pcall(L, 0, 0, 0) != LUA_OK;
}

/* Push nil, message, phase: "start" when the command did not start (the session may be
   dead and the command can be sent again), "run" when the session broke while it ran. */
static int failed_exec(lua_State *L, struct session *s, const char *what, const char *phase) {
  fail(L, s, what);
  if (strcmp(phase, "run") == 0 || !joe_pending_signal())
    close_session(s);
  lua_pushstring(L, phase);
  return 3;
}

/* session:exec(cmd, {log=, monitor=, timeout=, start_timeout=, started=}) -> status, why,
   log_error | nil, message, phase. Stdout and stderr arrive merged, in the order the
   server sent them. */
static int session_exec(lua_State *L) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  const char *cmd = luaL_checkstring(L, 2), *log;
  struct command c = {.log = -1};
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_getfield(L, 3, "log");
  lua_getfield(L, 3, "timeout");
  lua_getfield(L, 3, "start_timeout");
  lua_getfield(L, 3, "monitor");
  log = lua_tostring(L, 4);
  double timeout = luaL_optnumber(L, 5, 0), start = luaL_optnumber(L, 6, 10);
  c.monitor = lua_toboolean(L, 7);
  lua_settop(L, 3);
  if (!s->ssh || joe_pending_signal())
    return failed_exec(L, s, "the session is closed", "start");
  if (log && (c.log = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    lua_pushnil(L); /* not run: joe could not record it */
    lua_pushfstring(L, "%s: %s", log, strerror(errno));
    return 2;
  }
  joe_in_command = 1;
  c.ch = start_command(s, cmd, start);
  joe_in_command = c.ch != NULL;
  if (!c.ch && c.log >= 0)
    close(c.log);
  if (!c.ch)
    return failed_exec(L, s, "cannot start a command", "start");
  c.deadline = timeout > 0 ? joe_now() + timeout : 0;
  int raised = call_started(L);
  c.deadline = raised ? joe_now() : c.deadline; /* stop it at once */
  int rc = pump(s, &c);
  joe_in_command = 0;
  if (c.log >= 0)
    close(c.log);
  if (rc < 0)
    return failed_exec(L, s, "the connection broke during the command", "run");
  int status = finish_channel(s, &c, rc == 1);
  if (raised)
    return lua_error(L);
  lua_pushinteger(L, status);
  lua_pushstring(L, c.why);
  if (c.log_errno)
    lua_pushfstring(L, "%s: %s", log, strerror(c.log_errno));
  return c.log_errno ? 3 : 2;
}

/* The session's SFTP subsystem, started on first use, with a generous idle bound. */
static LIBSSH2_SFTP *sftp_of(struct session *s) {
  if (!s->ssh)
    return NULL;
  allow(s, IDLE_MS);
  if (!s->sftp)
    s->sftp = libssh2_sftp_init(s->ssh);
  return s->sftp;
}

/* Push nil and "<session>: <path>: <what SFTP said>"; returns 2. */
static int sftp_fail(lua_State *L, struct session *s, const char *path) {
  static const char *status[] = {"ok", "end of file", "no such file", "permission denied",
                                 "failure", "bad message", "no connection", "connection lost",
                                 "operation unsupported"};
  if (joe_pending_signal() || !s->sftp || libssh2_session_last_errno(s->ssh) != LIBSSH2_ERROR_SFTP_PROTOCOL)
    return fail(L, s, lua_pushfstring(L, "%s: SFTP failed", path));
  unsigned long code = libssh2_sftp_last_error(s->sftp);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s: %s", s->name, path, code < 9 ? status[code] : "error");
  return 2;
}

/* Open a remote file or directory; NULL on failure. */
static LIBSSH2_SFTP_HANDLE *sftp_open(struct session *s, const char *path, unsigned long flags,
                                      long mode, int type) {
  return sftp_of(s) ? libssh2_sftp_open_ex(s->sftp, path, (unsigned)strlen(path), flags, mode, type)
                    : NULL;
}

/* Copy between a local fd and a remote handle: 0, 1 when the local side failed (errno
   tells), or a libssh2 error. libssh2 pipelines a large buffer into many SFTP requests. */
static long copy_data(LIBSSH2_SFTP_HANDLE *h, int fd, int upload, char *buf) {
  for (;;) {
    ssize_t n = upload ? read(fd, buf, XFER_SIZE) : libssh2_sftp_read(h, buf, XFER_SIZE);
    if (joe_pending_signal())
      return LIBSSH2_ERROR_TIMEOUT;
    if (n <= 0)
      return n == 0 ? 0 : upload ? 1 : (long)n;
    for (ssize_t done = 0, w; done < n; done += w) {
      w = upload ? libssh2_sftp_write(h, buf + done, (size_t)(n - done)) : write(fd, buf + done, (size_t)(n - done));
      if (w < 0)
        return upload ? (long)w : 1;
    }
  }
}

/* session:put(local, remote, mode) / session:get(remote, local, mode) -> true | nil,
   message: one file, its mode kept. */
static int transfer(lua_State *L, int upload) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  const char *src = luaL_checkstring(L, 2), *dst = luaL_checkstring(L, 3);
  const char *local = upload ? src : dst, *remote = upload ? dst : src;
  long mode = (long)luaL_checkinteger(L, 4) & 07777;
  char *buf = lua_newuserdatauv(L, XFER_SIZE, 0);
  int fd = open(local, upload ? O_RDONLY | O_CLOEXEC : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return luaL_fileresult(L, 0, local);
  LIBSSH2_SFTP_HANDLE *h = sftp_open(s, remote, upload ? LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
                                     LIBSSH2_FXF_TRUNC : LIBSSH2_FXF_READ, mode, LIBSSH2_SFTP_OPENFILE);
  LIBSSH2_SFTP_ATTRIBUTES attrs = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS, .permissions = (unsigned long)mode};
  long rc = h ? copy_data(h, fd, upload, buf) : LIBSSH2_ERROR_SFTP_PROTOCOL;
  if (rc == 0)
    rc = upload ? libssh2_sftp_fstat_ex(h, &attrs, 1) : fchmod(fd, (mode_t)mode) != 0;
  int saved = errno;
  if (h && libssh2_sftp_close_handle(h) != 0 && rc == 0)
    rc = LIBSSH2_ERROR_SFTP_PROTOCOL;
  if (close(fd) != 0 && rc == 0)
    rc = 1, saved = errno;
  errno = saved;
  if (rc == 1)
    return luaL_fileresult(L, 0, local);
  if (rc != 0)
    return sftp_fail(L, s, remote);
  lua_pushboolean(L, 1);
  return 1;
}

static int session_put(lua_State *L) { return transfer(L, 1); }
static int session_get(lua_State *L) { return transfer(L, 0); }

/* session:stat(path) -> {type = "file"|"directory"|"other", mode =, size =} | nil, msg. */
static int session_stat(lua_State *L) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  size_t len;
  const char *path = luaL_checklstring(L, 2, &len);
  LIBSSH2_SFTP_ATTRIBUTES a;
  if (!sftp_of(s) || libssh2_sftp_stat_ex(s->sftp, path, (unsigned)len, LIBSSH2_SFTP_STAT, &a) != 0)
    return sftp_fail(L, s, path);
  unsigned long kind = a.permissions & LIBSSH2_SFTP_S_IFMT;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind == LIBSSH2_SFTP_S_IFREG ? "file" : kind == LIBSSH2_SFTP_S_IFDIR ? "directory" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)(a.permissions & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)a.filesize);
  lua_setfield(L, -2, "size");
  return 1;
}

/* session:mkdir(path, mode) -> true | nil, message. */
static int session_mkdir(lua_State *L) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  size_t len;
  const char *path = luaL_checklstring(L, 2, &len);
  if (!sftp_of(s) || libssh2_sftp_mkdir_ex(s->sftp, path, (unsigned)len, (long)luaL_checkinteger(L, 3)) != 0)
    return sftp_fail(L, s, path);
  lua_pushboolean(L, 1);
  return 1;
}

/* session:dir(path) -> array of entry names without . and .. | nil, message. */
static int session_dir(lua_State *L) {
  struct session *s = luaL_checkudata(L, 1, "cijoe.ssh");
  const char *path = luaL_checkstring(L, 2);
  LIBSSH2_SFTP_HANDLE *h = sftp_open(s, path, 0, 0, LIBSSH2_SFTP_OPENDIR);
  char name[1024];
  LIBSSH2_SFTP_ATTRIBUTES a;
  int rc, n = 0;
  if (!h)
    return sftp_fail(L, s, path);
  lua_newtable(L);
  while ((rc = libssh2_sftp_readdir_ex(h, name, sizeof name, NULL, 0, &a)) > 0)
    if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
      lua_pushlstring(L, name, (size_t)rc);
      lua_rawseti(L, -2, ++n);
    }
  libssh2_sftp_close_handle(h);
  return rc < 0 ? sftp_fail(L, s, path) : 1;
}

int luaopen_cijoe_ssh(lua_State *L) {
  static const luaL_Reg methods[] = {{"exec", session_exec}, {"put", session_put},
                                     {"get", session_get},   {"stat", session_stat},
                                     {"mkdir", session_mkdir}, {"dir", session_dir},
                                     {"close", session_close}, {"__gc", session_close},
                                     {"__close", session_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"connect", ssh_connect}, {NULL, NULL}};
  libssh2_init(0);
  luaL_newmetatable(L, "cijoe.ssh");
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  luaL_newlib(L, funcs);
  return 1;
}
