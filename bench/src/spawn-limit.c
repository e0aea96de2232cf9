/* The machine's spawn limit, for P1: runs N `/bin/true ARG` with J in
 * flight and waits for them, in two forms:
 *   bare   posix_spawn + waitpid, nothing else;
 *   pipes  what a job runner that captures output needs: a stdout and a
 *          stderr pipe per job, the job in a process group of its own, and
 *          both pipes read to EOF (poll) before the job is reaped.
 * Usage: spawn-limit bare|pipes N J
 * Built by bench/spawn-limit (gcc -O2); no error goes unreported. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct job { pid_t pid; int out, err; };

static void die(const char *what) {
  fprintf(stderr, "spawn-limit: %s: %s\n", what, strerror(errno));
  exit(1);
}

static pid_t start(long i, int pipes, struct job *j) {
  char arg[32];
  snprintf(arg, sizeof arg, "%ld", i);
  char *argv[] = {"/bin/true", arg, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  int o[2] = {-1, -1}, e[2] = {-1, -1};
  if (pipes) {
    if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) die("pipe2");
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  }
  pid_t pid;
  int rc = posix_spawn(&pid, "/bin/true", &fa, &at, argv, environ);
  if (rc) { errno = rc; die("posix_spawn"); }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (pipes) { close(o[1]); close(e[1]); }
  j->pid = pid; j->out = o[0]; j->err = e[0];
  return pid;
}

/* Reads every in-flight job's pipes until one job has both at EOF;
 * returns its index. */
static int drain(struct job *jobs, int n) {
  struct pollfd p[2 * n];
  char buf[4096];
  for (;;) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      p[k].fd = jobs[i].out; p[k++].events = POLLIN;
      p[k].fd = jobs[i].err; p[k++].events = POLLIN;
    }
    if (poll(p, k, -1) < 0 && errno != EINTR) die("poll");
    for (int i = 0; i < n; i++) {
      for (int s = 0; s < 2; s++) {
        int *fd = s ? &jobs[i].err : &jobs[i].out;
        if (*fd >= 0 && p[2 * i + s].revents) {
          ssize_t r = read(*fd, buf, sizeof buf);
          if (r == 0 || (r < 0 && errno != EINTR)) { close(*fd); *fd = -1; }
        }
      }
      if (jobs[i].out < 0 && jobs[i].err < 0) return i;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: spawn-limit bare|pipes N J\n"); return 2; }
  int pipes = strcmp(argv[1], "pipes") == 0;
  long n = atol(argv[2]);
  int j = atoi(argv[3]);
  struct job jobs[j];
  int running = 0;
  long next = 1;
  while (next <= n || running > 0) {
    while (running < j && next <= n) start(next++, pipes, &jobs[running++]);
    int done;
    if (pipes) {
      done = drain(jobs, running);
      int st;
      if (waitpid(jobs[done].pid, &st, 0) < 0) die("waitpid");
    } else {
      int st;
      pid_t pid = wait(&st);
      if (pid < 0) die("wait");
      for (done = 0; jobs[done].pid != pid; done++) {}
    }
    jobs[done] = jobs[--running];
  }
  return 0;
}
