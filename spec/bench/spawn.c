/* The reference of the benchmarks: posix_spawn a program N times and wait for it, with
   nothing else. `spawn N [prog args...]` (default: sh -c true) prints the rate in runs per
   second and the largest peak RSS of a run in KiB. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  char *shell[] = {"/bin/sh", "-c", "true", NULL};
  char **args = argc > 2 ? argv + 2 : shell;
  struct timespec t0, t1;
  long maxrss = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    pid_t pid;
    int status;
    struct rusage ru;
    if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
      return 1;
    wait4(pid, &status, 0, &ru);
    if (ru.ru_maxrss > maxrss)
      maxrss = ru.ru_maxrss;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%.1f %ld\n", n / secs, maxrss);
  return 0;
}
