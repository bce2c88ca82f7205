/* A remote command on a channel of its own. Lua wraps it so that the shell prints its
   pid after a pid marker first (what the login prints before that is the log's) and an
   end marker with its exit status last: the command is over when the marker comes, not
   when the last process holding its output lets go, so a background process does not
   hold a step up (as locally). Both markers are unique to the command and found wherever
   they come. Timeout and Ctrl-C run Lua's stop script from a second channel, since
   libssh2 1.10 cannot send a signal request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"

enum { BUF_SIZE = 1 << 16, GRACE_MS = 2000, TICK_MS = 250, HELD = 64 };

struct command {
  struct session *s;
  LIBSSH2_CHANNEL *ch;
  struct joe_sink sink;
  double deadline, give_up, started; /* the timeout; when to stop waiting; the start */
  const char *why;                   /* "timeout" or "interrupted" once stopped */
  const char *pid_marker, *end_marker, *stop;
  size_t pid_len, end_len;
  long pid;             /* the remote shell; 0 until known, -1 when it cannot be */
  char held[HELD];      /* output that may be the start of a marker */
  size_t held_len;
  int markers, status;  /* end markers seen; the status they gave */
  const char *reading;  /* the marker whose number is being read, or NULL */
  char digits[24];
  size_t ndigits;
  int complete;         /* both end markers came, each with its status */
};

/* The number after a marker, up to its newline; returns the bytes taken. */
static size_t take_number(struct command *c, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '\n') {
      c->digits[c->ndigits] = '\0';
      long value = strtol(c->digits, NULL, 10);
      if (c->reading == c->pid_marker) {
        c->pid = value > 0 ? value : -1;
      } else {
        c->status = (int)value;
        c->complete = ++c->markers == 2;
      }
      c->reading = NULL, c->ndigits = 0;
      return i + 1;
    }
    if (c->ndigits + 1 < sizeof c->digits)
      c->digits[c->ndigits++] = buf[i];
  }
  return n;
}

/* The longest end of text[0..n) that begins marker (it may be completed later). */
static size_t marker_start(const char *marker, size_t len, const char *text, size_t n) {
  size_t k = n < len - 1 ? n : len - 1;
  for (; k > 0; k--)
    if (memcmp(text + n - k, marker, k) == 0)
      return k;
  return 0;
}

/* The first marker in text: the pid marker while the pid is not known (an end marker
   before it means it will not come), else an end marker. */
static const char *first_marker(struct command *c, const char *text, size_t len,
                                const char **which) {
  const char *at_end = memmem(text, len, c->end_marker, c->end_len);
  const char *at_pid = c->pid == 0 ? memmem(text, len, c->pid_marker, c->pid_len) : NULL;
  if (at_pid && (!at_end || at_pid < at_end)) {
    *which = c->pid_marker;
    return at_pid;
  }
  if (at_end && c->pid == 0)
    c->pid = -1;
  *which = c->end_marker;
  return at_end;
}

/* Everything that came on the channel: the command's output (and the login's) goes to
   the sink, the markers and their numbers do not (one end marker from its stdout, one
   from its stderr, in either order, as sshd reads the two pipes apart). */
static void take_output(struct command *c, const char *buf, size_t n) {
  static char text[HELD + BUF_SIZE];
  while (n > 0 && !c->complete) {
    if (c->reading) {
      size_t used = take_number(c, buf, n);
      buf += used, n -= used;
      continue;
    }
    memcpy(text, c->held, c->held_len);
    memcpy(text + c->held_len, buf, n);
    size_t len = c->held_len + n;
    const char *which, *at = first_marker(c, text, len, &which);
    if (!at) {
      size_t held = marker_start(c->end_marker, c->end_len, text, len);
      size_t pid_held = c->pid == 0 ? marker_start(c->pid_marker, c->pid_len, text, len) : 0;
      c->held_len = held > pid_held ? held : pid_held;
      joe_sink_write(&c->sink, text, len - c->held_len);
      memcpy(c->held, text + len - c->held_len, c->held_len);
      return;
    }
    size_t before = (size_t)(at - text);
    size_t after = before + (which == c->pid_marker ? c->pid_len : c->end_len);
    joe_sink_write(&c->sink, text, before);
    c->held_len = 0, c->reading = which;
    buf += after - (len - n), n = len - after; /* the rest of buf, past the marker */
  }
}

/* Run a command on a channel of its own: the stop script. Its channel is read to its
   end (for GRACE_MS at most): a login that prints (a ForceCommand, ~/.ssh/rc) would die
   of SIGPIPE on a channel closed at once, before the script ran. */
static void run_detached(struct session *s, const char *cmd) {
  char buf[4096];
  double until = joe_now() + GRACE_MS / 1000.0;
  joe_ssh_allow(s, GRACE_MS);
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->ssh);
  if (!ch)
    return;
  libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
  if (libssh2_channel_exec(ch, cmd) == 0) {
    libssh2_channel_send_eof(ch);
    while (!libssh2_channel_eof(ch) && joe_now() < until) {
      joe_ssh_allow(s, (until - joe_now()) * 1000);
      if (libssh2_channel_read(ch, buf, sizeof buf) < 0)
        break;
    }
  }
  libssh2_channel_free(ch);
}

/* On timeout or Ctrl-C, run the stop script once for the remote pid (with the signal's
   name in $s); false when the grace period after that is over. */
static int still_waiting(struct command *c) {
  double now = joe_now();
  int sig = joe_pending_signal();
  const char *why = sig ? "interrupted" : (c->deadline && now >= c->deadline) ? "timeout" : NULL;
  if (!why || c->why)
    return !c->why || now < c->give_up;
  if (c->pid > 0) {
    char *cmd = malloc(strlen(c->stop) + 64);
    if (cmd) {
      const char *name = sig == SIGINT ? "INT" : sig == SIGHUP ? "HUP" : "TERM";
      sprintf(cmd, "p=%ld s=%s; %s", c->pid, name, c->stop);
      run_detached(c->s, cmd);
      free(cmd);
    }
  }
  c->why = why;
  c->give_up = now + GRACE_MS / 1000.0;
  return 1;
}

/* Milliseconds joe may block before a timer, a keepalive or a look for Ctrl-C is due. */
static double next_wakeup(const struct command *c) {
  joe_ssh_keepalive();
  double due = c->why ? c->give_up : c->deadline, ms = TICK_MS;
  if (due && (due - joe_now()) * 1000 < ms)
    ms = (due - joe_now()) * 1000;
  return ms;
}

/* True when the peer said nothing for longer than its keepalives allow: while a command
   runs joe (and libssh2's own waits) send one every interval, and a live server answers
   each, so count_max + 1 silent intervals mean count_max went unanswered. */
static int peer_lost(struct command *c) {
  struct session *s = c->s;
  double heard = s->last_input > c->started ? s->last_input : c->started;
  if (s->interval > 0 && joe_now() - heard > s->interval * (s->count_max + 1))
    s->dead = 1;
  return s->dead;
}

/* Move output until the end marker or the channel's EOF: 0, 1 when we stopped waiting
   after stopping the command, a libssh2 error when the session broke, or 2 when the
   peer stopped answering. */
static int pump(struct command *c) {
  char buf[BUF_SIZE];
  while (!c->complete) {
    joe_ssh_allow(c->s, next_wakeup(c));
    ssize_t n = libssh2_channel_read(c->ch, buf, sizeof buf);
    if (n > 0)
      take_output(c, buf, (size_t)n);
    else if (n == 0 && libssh2_channel_eof(c->ch))
      return 0;
    else if (n != LIBSSH2_ERROR_TIMEOUT && n != 0)
      return (int)n;
    else if (peer_lost(c))
      return 2;
    else if (!still_waiting(c))
      return 1;
  }
  return 0;
}

/* Close the channel and push how the command ended: the end marker's status, the
   signal that killed it, its exit status, or 137 when we stopped waiting for it. */
static int finish(lua_State *L, struct command *c, int gave_up) {
  char *sig = NULL;
  joe_ssh_allow(c->s, c->complete ? TICK_MS : GRACE_MS);
  joe_sink_write(&c->sink, c->held, c->held_len); /* a marker's start that was not one */
  libssh2_channel_close(c->ch);
  if (!c->complete) /* with both markers in, the server's close says nothing new */
    libssh2_channel_wait_closed(c->ch);
  if (!c->complete)
    libssh2_channel_get_exit_signal(c->ch, &sig, NULL, NULL, NULL, NULL, NULL);
  int status = c->complete ? c->status : libssh2_channel_get_exit_status(c->ch);
  int pushed = joe_push_result(L, gave_up ? 137 : status, gave_up ? NULL : sig, c->why,
                               &c->sink);
  if (sig)
    libssh2_free(c->s->ssh, sig);
  libssh2_channel_free(c->ch);
  return pushed;
}

/* Open a channel, send the exec request, then input (what the wrapper reads first: the
   values that must not be on a command line) and close stdin (no command reads joe's);
   NULL on failure. */
static LIBSSH2_CHANNEL *start_command(struct session *s, const char *cmd, double seconds,
                                      const char *input, size_t len) {
  joe_ssh_allow(s, seconds * 1000);
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->ssh);
  if (ch)
    libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
  if (ch && libssh2_channel_exec(ch, cmd) != 0) {
    libssh2_channel_free(ch);
    ch = NULL;
  }
  for (ssize_t done = 0, n = 0; ch && (size_t)done < len; done += n)
    if ((n = libssh2_channel_write(ch, input + done, len - (size_t)done)) < 0) {
      libssh2_channel_free(ch);
      ch = NULL;
    }
  if (ch)
    libssh2_channel_send_eof(ch);
  return ch;
}

/* Push nil, message, phase: "start" when the command did not start (the session may be
   dead and the command can be sent again), "run" when the session broke while it ran;
   the session is dropped (not for a Ctrl-C before the start). */
static int failed(lua_State *L, struct session *s, const char *what, const char *phase) {
  joe_ssh_fail(L, s, what);
  if (strcmp(phase, "run") == 0 || !joe_pending_signal())
    joe_ssh_drop(s); /* a Ctrl-C before the start leaves a good session */
  lua_pushstring(L, phase);
  return 3;
}

/* The options of exec: markers, stop script, timers and the sink. */
static void read_options(lua_State *L, struct command *c) {
  luaL_checktype(L, 3, LUA_TTABLE);
  c->sink = joe_sink_of(L, 3);
  lua_getfield(L, 3, "pid_marker");
  lua_getfield(L, 3, "end_marker");
  lua_getfield(L, 3, "stop");
  lua_getfield(L, 3, "timeout");
  c->pid_marker = luaL_checklstring(L, 4, &c->pid_len);
  c->end_marker = luaL_checklstring(L, 5, &c->end_len);
  c->stop = luaL_checkstring(L, 6);
  luaL_argcheck(L, c->end_len > 1 && c->end_len <= sizeof c->held, 3, "end_marker length");
  luaL_argcheck(L, c->pid_len > 1 && c->pid_len <= sizeof c->held, 3, "pid_marker length");
  double timeout = luaL_optnumber(L, 7, 0);
  c->started = joe_now();
  c->deadline = timeout > 0 ? c->started + timeout : 0;
}

/* session:exec(cmd, {log =, monitor =, timeout =, start_timeout =, pid_marker =,
   end_marker =, stop =, input =}) -> status (or the name of the signal that killed it), why
   [, log error] | nil, message, phase. Output arrives merged, as the server sent it. */
int joe_ssh_exec(lua_State *L) {
  struct command c = {.s = luaL_checkudata(L, 1, "cijoe.ssh")};
  const char *cmd = luaL_checkstring(L, 2);
  read_options(L, &c);
  lua_getfield(L, 3, "start_timeout");
  lua_getfield(L, 3, "input");
  double start = luaL_optnumber(L, -2, 10);
  size_t input_len = 0;
  const char *input = luaL_optlstring(L, -1, "", &input_len);
  if (!c.s->ssh || joe_pending_signal() || joe_ssh_dead(c.s))
    return failed(L, c.s, "the session is closed", "start");
  joe_in_command = 1;
  c.ch = start_command(c.s, cmd, start, input, input_len);
  if (!c.ch) {
    joe_in_command = 0;
    return failed(L, c.s, "cannot start a command", "start");
  }
  int rc = pump(&c);
  joe_in_command = 0;
  if (rc == 2) {
    lua_pushfstring(L, "connection lost: no answer to %d keepalives", c.s->count_max);
    return failed(L, c.s, lua_tostring(L, -1), "run");
  }
  if (rc < 0)
    return failed(L, c.s, "the connection broke during the command", "run");
  return finish(L, &c, rc == 1);
}
