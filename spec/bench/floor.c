/* The floors of joe's speed targets: C doing the same work a logged command (or a run)
   does, and nothing else, so that joe's figure can be a ratio to it measured in the same
   run.

     floor local N DIR        N times: create DIR/cmd_N.output and .state, spawn
                              `sh -c true` with its output on a pipe copied to the log,
                              wait, write the state and append a journal line
     floor ssh N DIR HOST PORT USER KEY
                              the same over one libssh2 session (a channel per command)
     floor startup N DIR      N runs of one command: the run's folder and files
                              (config.orig, journal, a step folder, the command's files,
                              workflow.state, report.html, junit.xml, the latest link)

   Each prints the rate in runs per second. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libssh2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char STATE[] = "begin: 1796182175.9828064\ncmd: \"true\"\nelapsed: 0.0012\n"
                            "end: 1796182175.9840064\nerr: 0\noutput_fpath: x/001_s/cmd_01.output\n"
                            "state_fpath: x/001_s/cmd_01.state\ntransport: local\n";
static const char EVENT[] = "- {\"cmd\": \"true\", \"elapsed\": 0.0012, \"err\": 0, \"ev\": \"cmd\", "
                            "\"log\": \"001_s/cmd_01.output\", \"n\": 1, \"transport\": \"local\"}\n";

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Write a whole small file. */
static void put_file(const char *path, const char *text, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0)
    exit(1);
}

/* One local command: its log, the shell on a pipe copied to the log, its state. */
static void local_command(const char *dir, int i, int journal) {
  char path[4096], buf[65536];
  snprintf(path, sizeof path, "%s/cmd_%d.output", dir, i);
  int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), fds[2];
  if (log < 0 || pipe2(fds, O_CLOEXEC) != 0)
    exit(1);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  char *argv[] = {"sh", "-c", "true", NULL};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) != 0)
    exit(1);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    if (write(log, buf, (size_t)n) != n)
      exit(1);
  waitpid(pid, NULL, 0);
  close(fds[0]);
  close(log);
  snprintf(path, sizeof path, "%s/cmd_%d.state", dir, i);
  put_file(path, STATE, sizeof STATE - 1);
  if (write(journal, EVENT, sizeof EVENT - 1) < 0)
    exit(1);
}

/* A logged-in libssh2 session to host:port (blocking, TCP_NODELAY as joe). */
static LIBSSH2_SESSION *ssh_session(const char *host, int port, const char *user,
                                    const char *key) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int sock = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(sock, (struct sockaddr *)&a, sizeof a) != 0)
    exit(1);
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  libssh2_init(0);
  LIBSSH2_SESSION *s = libssh2_session_init();
  libssh2_session_method_pref(s, LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr");
  libssh2_session_method_pref(s, LIBSSH2_METHOD_CRYPT_SC, "aes128-ctr");
  if (libssh2_session_handshake(s, sock) != 0 ||
      libssh2_userauth_publickey_fromfile(s, user, NULL, key, NULL) != 0)
    exit(1);
  return s;
}

/* One remote command on a channel of its own, logged the same way. */
static void ssh_command(LIBSSH2_SESSION *s, const char *dir, int i, int journal) {
  char path[4096], buf[65536];
  snprintf(path, sizeof path, "%s/cmd_%d.output", dir, i);
  int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s);
  if (log < 0 || !ch || libssh2_channel_exec(ch, "true") != 0)
    exit(1);
  for (ssize_t n; (n = libssh2_channel_read(ch, buf, sizeof buf)) > 0;)
    if (write(log, buf, (size_t)n) != n)
      exit(1);
  libssh2_channel_close(ch);
  libssh2_channel_wait_closed(ch);
  libssh2_channel_free(ch);
  close(log);
  snprintf(path, sizeof path, "%s/cmd_%d.state", dir, i);
  put_file(path, STATE, sizeof STATE - 1);
  if (write(journal, EVENT, sizeof EVENT - 1) < 0)
    exit(1);
}

/* One run of one command: the files a run of joe makes, in a fresh folder. */
static void startup_run(const char *dir, int i) {
  static char report[8192], path[4096], run[4096], step[4096];
  memset(report, 'x', sizeof report);
  snprintf(run, sizeof run, "%s/run-%d-%d", dir, (int)getpid(), i);
  snprintf(step, sizeof step, "%s/001_one", run);
  if (mkdir(run, 0755) != 0 || mkdir(step, 0755) != 0)
    exit(1);
  const char *files[] = {"config.orig", "workflow.state", "report.html", "junit.xml"};
  snprintf(path, sizeof path, "%s/journal.yml", run);
  int journal = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (journal < 0 || write(journal, EVENT, sizeof EVENT - 1) < 0)
    exit(1);
  local_command(step, 1, journal);
  close(journal);
  for (int f = 0; f < 4; f++) {
    snprintf(path, sizeof path, "%s/%s", run, files[f]);
    put_file(path, report, f == 2 ? sizeof report : 400);
  }
  snprintf(path, sizeof path, "%s/latest", dir);
  unlink(path);
  if (symlink(run, path) != 0)
    exit(1);
}

int main(int argc, char **argv) {
  if (argc < 4)
    return 2;
  int n = atoi(argv[2]), journal = -1;
  char path[4096];
  snprintf(path, sizeof path, "%s/journal.yml", argv[3]);
  if (strcmp(argv[1], "startup") != 0 &&
      (journal = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
    return 1;
  LIBSSH2_SESSION *s = strcmp(argv[1], "ssh") == 0 && argc >= 8
                           ? ssh_session(argv[4], atoi(argv[5]), argv[6], argv[7]) : NULL;
  double t0 = now();
  for (int i = 0; i < n; i++) {
    if (strcmp(argv[1], "local") == 0)
      local_command(argv[3], i, journal);
    else if (s)
      ssh_command(s, argv[3], i, journal);
    else
      startup_run(argv[3], i);
  }
  if (s || strcmp(argv[1], "local") == 0 || n > 1) /* one start-up run says nothing */
    printf("%.1f\n", n / (now() - t0));
  return 0;
}
