/* joe: what the C files share. Each file is one concern and exposes one luaopen_*. */
#ifndef JOE_H
#define JOE_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>

/* The Lua sources and package files compiled into the binary (build/embedded.c). */
struct joe_file {
  const char *name;
  const char *data;
  const char *end;
};
extern const struct joe_file joe_files[];

/* main.c: a SIGINT or SIGTERM that arrived (0 for none), forgotten again by the REPL;
   a forked child's own signal pipe. joe_in_command is set while C code waits on a
   command and handles a signal itself (else Lua code is stopped by a hook). */
int joe_pending_signal(void);
void joe_clear_signal(void);
void joe_new_signal_pipe(void);
extern volatile sig_atomic_t joe_in_command;

/* main.c: the one wait (poll p[0..n-1] and the signal pipe in p[n], at most ms, keeping
   SSH sessions alive), and the sooner of two poll timeouts (-1 is none). */
int joe_wait(struct pollfd *p, int n, int ms);
int joe_sooner(int a, int b);

/* proc.c */
double joe_now(void);

/* ssh.c: send the keepalives that are due on open SSH sessions; milliseconds until the
   next one is due, -1 when none is. */
int joe_ssh_keepalive(void);

/* sink.c: a command's output, to the log Lua opened and with monitor the terminal. */
struct joe_sink {
  int log;       /* the log's descriptor; -1 for none */
  int log_errno; /* the first write to it that failed */
  int monitor;   /* also to our stdout */
};
struct joe_sink joe_sink_of(lua_State *L, int opts);
void joe_sink_write(struct joe_sink *s, const char *buf, size_t n);
int joe_push_result(lua_State *L, int status, const char *signal, const char *why,
                    const struct joe_sink *s);

int luaopen_cijoe_proc(lua_State *L);
int luaopen_cijoe_libyaml(lua_State *L);
int luaopen_cijoe_fs(lua_State *L);
int luaopen_cijoe_ssh(lua_State *L);
int luaopen_cijoe_lineedit(lua_State *L);
int luaopen_cijoe_fanout(lua_State *L);

#endif
