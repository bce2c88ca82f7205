/* What the SSH files share: a session (ssh.c makes it; ssh_exec.c runs commands on it,
   ssh_sftp.c moves files through it) and the helpers every call on it needs. */
#ifndef JOE_SSH_H
#define JOE_SSH_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <sys/types.h>

#include "joe.h"

struct session {
  LIBSSH2_SESSION *ssh;
  LIBSSH2_SFTP *sftp;
  int sock;                /* the socket (or proxy pipe); shared with `via` for a jump */
  int own_sock;            /* we close sock (not when it is via's) */
  struct session *via;     /* a jump: we speak through a channel of this session */
  LIBSSH2_CHANNEL *tunnel; /* that channel (direct-tcpip) */
  pid_t owner;             /* a forked child (cijoe.each) must not use its parent's session */
  double last_input;       /* when the peer last sent a byte */
  double interval;         /* keepalive seconds; 0 for none */
  int count_max;           /* keepalives that may go unanswered */
  int dead;                /* they went unanswered: the connection is lost */
  int cut;                 /* given up on: its I/O fails at once, so freeing it waits for
                              nothing (a peer that stalls, a transfer that broke) */
  double stall_ms;         /* how long an SFTP call may wait without progress */
  struct session *next;    /* the list of open sessions, for keepalives */
  char name[300];          /* user@host:port, for messages */
};

/* Push nil and "name: what (libssh2's word)"; returns 2. */
int joe_ssh_fail(lua_State *L, struct session *s, const char *what);
/* Let libssh2 block for at most ms. */
void joe_ssh_allow(struct session *s, double ms);
/* True when the peer did not answer its keepalives (see ssh_exec.c). */
int joe_ssh_dead(const struct session *s);
/* The open session at index i (raises when it is closed or not this process's). */
struct session *joe_ssh_check(lua_State *L, int i);
/* Disconnect and free. */
void joe_ssh_drop(struct session *s);

int joe_ssh_exec(lua_State *L);
extern const luaL_Reg joe_sftp_methods[];

#endif
