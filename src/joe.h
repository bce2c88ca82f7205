/* joe: what the C files share. Each file is one concern and exposes one luaopen_*. */
#ifndef JOE_H
#define JOE_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>

/* The Lua sources and package files compiled into the binary (build/embedded.c). */
struct joe_file {
  const char *name;
  const char *data;
  const char *end;
};
extern const struct joe_file joe_files[];

/* main.c: a SIGINT/SIGTERM that arrived, and a pipe that becomes readable when one does,
   so poll loops can wake up for it. joe_in_command is set while a loop watches it. */
int joe_pending_signal(void);
int joe_signal_fd(void);
void joe_clear_signal(void);
void joe_new_signal_pipe(void);
extern volatile sig_atomic_t joe_in_command;

/* proc.c */
double joe_now(void);

/* ssh.c: send the keepalives that are due on open SSH sessions; milliseconds until the
   next one is due, -1 when none is. Local waits call it so idle sessions stay up. */
int joe_ssh_keepalive(void);

int luaopen_cijoe_proc(lua_State *L);
int luaopen_cijoe_yaml(lua_State *L);
int luaopen_cijoe_fs(lua_State *L);
int luaopen_cijoe_ssh(lua_State *L);
int luaopen_cijoe_lineedit(lua_State *L);
int luaopen_cijoe_fanout(lua_State *L);

#endif
