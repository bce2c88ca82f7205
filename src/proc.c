/* Local commands: spawn `sh -c CMD` in its own process group with stdout and stderr on one
   pipe, copy every byte to the log (and the terminal with monitor) as it arrives, and
   enforce timeouts and Ctrl-C by signalling the whole group. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "joe.h"

enum { KILL_GRACE_MS = 1000, BUF_SIZE = 1 << 16 };

struct child {
  pid_t pid;
  int out;         /* read end of the output pipe */
  int hold;        /* our copy of its write end: the pipe never hangs up while the child
                      runs, so only data and the child's exit wake us (one wake-up for a
                      silent command, as a plain waitpid) */
  int pidfd;       /* readable when the child exits */
  struct joe_sink sink;
  double deadline; /* when the timeout fires; 0 for none */
  double kill_at;  /* when SIGTERM becomes SIGKILL; 0 until the group was signalled */
  const char *why; /* "timeout" or "interrupted" once the group was signalled */
  int forwarded;   /* a signal to joe was passed on to the group */
};

/* Wall-clock seconds as a float: the begin/end stamps of the state files. */
double joe_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Move what the pipe holds to the log and the terminal: 1 when it moved bytes, 0 at
   EOF, -1 when nothing is there yet. */
static int drain_once(struct child *c) {
  char buf[BUF_SIZE];
  ssize_t n;
  while ((n = read(c->out, buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  if (n <= 0)
    return n == 0 ? 0 : -1;
  joe_sink_write(&c->sink, buf, (size_t)n);
  return 1;
}

/* After the child exited, take what it left in the pipe without waiting for a
   background grandchild that may keep the pipe open. */
static void drain_rest(struct child *c) {
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  while (drain_once(c) > 0) {
  }
}

/* Signal the group now, SIGKILL it after the grace period. */
static void signal_group(struct child *c, int sig, const char *why) {
  if (!c->why)
    c->why = why;
  kill(-c->pid, sig);
  c->kill_at = joe_now() + KILL_GRACE_MS / 1000.0;
}

/* Milliseconds poll may sleep before a timer is due; -1 for no timer. */
static int next_wakeup(const struct child *c) {
  double due = c->kill_at ? c->kill_at : c->deadline;
  if (!due)
    return -1;
  double left = (due - joe_now()) * 1000.0;
  return left <= 0 ? 0 : (int)left + 1;
}

/* Fire the timeout and the SIGKILL escalation when they are due. */
static void check_timers(struct child *c) {
  double now = joe_now();
  if (c->kill_at && now >= c->kill_at) {
    kill(-c->pid, SIGKILL);
    c->kill_at = now + 3600;
  } else if (!c->kill_at && c->deadline && now >= c->deadline)
    signal_group(c, SIGTERM, "timeout");
}

/* Wait for output, the child's exit, timers and signals until the child is reaped; then
   take what it left in the pipe. Returns its status, 128+N when signal N killed it. */
static int wait_child(struct child *c) {
  int status = 0;
  for (;;) {
    struct pollfd p[3] = {{c->out, POLLIN, 0}, {c->pidfd, POLLIN, 0}};
    if (joe_wait(p, 2, next_wakeup(c)) < 0)
      break;
    if (p[0].revents)
      drain_once(c);
    if (p[1].revents && waitpid(c->pid, &status, 0) == c->pid)
      break;
    if (joe_pending_signal() && !c->forwarded) {
      c->forwarded = 1;
      signal_group(c, joe_pending_signal(), "interrupted");
    }
    check_timers(c);
  }
  close(c->hold);
  c->hold = -1;
  drain_rest(c);
  if (c->why)
    kill(-c->pid, SIGKILL); /* what the shell left behind in the group */
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* True when the list at index list holds a "NAME=..." for the name of entry "NAME=...". */
static int overridden(lua_State *L, int list, const char *entry) {
  size_t len = strcspn(entry, "=");
  for (lua_Integer i = 1; lua_rawgeti(L, list, i) == LUA_TSTRING; i++) {
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (strncmp(s, entry, len) == 0 && s[len] == '=')
      return 1;
  }
  lua_pop(L, 1);
  return 0;
}

/* The environment of a command: joe's, with the "NAME=value" strings of opts.env (at
   index opts) in place of joe's variables of those names; kept in Lua memory (on the
   stack) until the spawn. Values go to the command this way, not on its command line,
   where ps would show them. */
static char **command_env(lua_State *L, int opts) {
  if (lua_getfield(L, opts, "env") == LUA_TNIL)
    return environ;
  int list = lua_gettop(L);
  size_t n = lua_rawlen(L, list), count = 0, k = 0;
  while (environ[count])
    count++;
  char **envp = lua_newuserdatauv(L, sizeof(char *) * (count + n + 1), 0);
  for (size_t i = 0; i < count; i++)
    if (!overridden(L, list, environ[i]))
      envp[k++] = environ[i];
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, list, (lua_Integer)i);
    envp[k++] = (char *)luaL_checkstring(L, -1); /* the list keeps it alive */
    lua_pop(L, 1);
  }
  envp[k] = NULL;
  return envp;
}

/* posix_spawn `sh -c cmd` with stdin from `in` (-1: /dev/null), stdout on `out` and
   stderr on `err`, in a new process group, with default signal dispositions; returns 0
   or an errno. */
static int spawn_shell(pid_t *pid, const char *cmd, const int io[3], char **envp) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, defaults;
  char *argv[] = {"sh", "-c", (char *)cmd, NULL};
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGHUP);
  posix_spawn_file_actions_init(&fa);
  if (io[0] < 0)
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  else
    posix_spawn_file_actions_adddup2(&fa, io[0], 0);
  posix_spawn_file_actions_adddup2(&fa, io[1], 1);
  if (io[2] != 2)
    posix_spawn_file_actions_adddup2(&fa, io[2], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc;
}

/* Push nil and "what: why" for a command that did not run; returns 2. */
static int not_run(lua_State *L, const char *what, int err) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(err));
  return 2;
}

/* Start the shell with its output on a pipe; 0, or pushes nil, msg and returns 2.
   Everything that can fail comes before the spawn: the descriptor the pidfd will take is
   held until then, so a command that started is always watched (and its status is what
   joe returns), never killed for want of a descriptor after it may have done its work. */
static int start(lua_State *L, struct child *c, const char *cmd, char **envp) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return not_run(L, "cannot make a pipe", errno);
  c->out = fds[0];
  c->hold = fds[1];
  int reserved = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
  if (reserved < 0)
    return not_run(L, "cannot watch the command", errno);
  int io[3] = {-1, fds[1], fds[1]};
  int rc = spawn_shell(&c->pid, cmd, io, envp);
  close(reserved);
  if (rc == 0 && (c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) < 0) {
    rc = errno; /* cannot happen but without memory: stop it, and reap it */
    kill(-c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
  }
  return rc == 0 ? 0 : not_run(L, "cannot run /bin/sh", rc);
}

/* Release the descriptors of a finished or failed command (the log is Lua's). */
static void finish(struct child *c) {
  int fds[3] = {c->out, c->hold, c->pidfd};
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close(fds[i]);
}

/* proc.run(cmd, {log = file, timeout =, monitor =, env = {"K=V", ...}}) -> status, why
   [, log error], or nil,
   message when the command could not be started. Everything that can fail before the
   command runs is Lua's (the log is open already) or is done here before the spawn. */
static int proc_run(lua_State *L) {
  const char *cmd = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  struct child c = {.pid = -1, .out = -1, .hold = -1, .pidfd = -1};
  c.sink = joe_sink_of(L, 2);
  lua_getfield(L, 2, "timeout");
  double timeout = luaL_optnumber(L, -1, 0);
  c.deadline = timeout > 0 ? joe_now() + timeout : 0;
  if (joe_pending_signal()) {
    lua_pushnil(L);
    lua_pushliteral(L, "interrupted");
    return 2;
  }
  int failed = start(L, &c, cmd, command_env(L, 2));
  joe_in_command = 1;
  int status = failed ? 0 : wait_child(&c);
  joe_in_command = 0;
  finish(&c);
  if (failed)
    return failed;
  return joe_push_result(L, status, NULL, c.why, &c.sink);
}

/* proc.connect(cmd) -> fd, pid | nil, message: `sh -c cmd` with its stdin and stdout on
   one end of a socket pair, the other end for the caller (an SSH ProxyCommand), its
   stderr joe's; in a process group of its own, so a Ctrl-C to joe does not cut it. */
static int proc_connect(lua_State *L) {
  const char *cmd = luaL_checkstring(L, 1);
  int sv[2];
  pid_t pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return not_run(L, "cannot make a socket pair", errno);
  int io[3] = {sv[1], sv[1], 2};
  int rc = spawn_shell(&pid, cmd, io, environ);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return not_run(L, "cannot run /bin/sh", rc);
  }
  lua_pushinteger(L, sv[0]);
  lua_pushinteger(L, pid);
  return 2;
}

/* proc.reap(pid): end a process proc.connect started (SIGTERM) and reap it. */
static int proc_reap(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return 0;
}

/* proc.now(): wall-clock seconds with sub-second precision. */
static int proc_now(lua_State *L) {
  lua_pushnumber(L, joe_now());
  return 1;
}

/* proc.sleep(seconds): wait, but wake at once for Ctrl-C (os.execute("sleep") would
   hide it from us), and keep SSH sessions alive meanwhile. */
static int proc_sleep(lua_State *L) {
  struct pollfd p[1];
  double until = joe_now() + luaL_checknumber(L, 1);
  while (!joe_pending_signal() && joe_now() < until)
    joe_wait(p, 0, (int)((until - joe_now()) * 1000) + 1);
  return 0;
}

/* proc.exe(): the path of the running joe, to start another (core.testrunner). */
static int proc_exe(lua_State *L) {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path);
  if (n < 0)
    return luaL_fileresult(L, 0, "/proc/self/exe");
  lua_pushlstring(L, path, (size_t)n);
  return 1;
}

/* proc.pid(): this process's id (names that forked children must not share). */
static int proc_pid(lua_State *L) {
  lua_pushinteger(L, getpid());
  return 1;
}

/* proc.signal(): the number of a pending SIGINT/SIGTERM, or nil. */
static int proc_signal(lua_State *L) {
  if (joe_pending_signal())
    lua_pushinteger(L, joe_pending_signal());
  else
    lua_pushnil(L);
  return 1;
}

/* proc.clear_signal(): the REPL handled a Ctrl-C and goes on. */
static int proc_clear_signal(lua_State *L) {
  (void)L;
  joe_clear_signal();
  return 0;
}

int luaopen_cijoe_proc(lua_State *L) {
  static const luaL_Reg funcs[] = {{"run", proc_run},
                                   {"now", proc_now},
                                   {"sleep", proc_sleep},
                                   {"exe", proc_exe},
                                   {"signal", proc_signal},
                                   {"pid", proc_pid},
                                   {"connect", proc_connect},
                                   {"reap", proc_reap},
                                   {"clear_signal", proc_clear_signal},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
