/*
 * `testin-agent --init CMD ARGS...`: PID 1 of a VM's container (vm-container.ts), in the place of
 * the engine's own init (docker's docker-init, Podman's catatonit, which Podman may not have):
 * it starts container-init, passes every signal on to it (one that comes before container-init
 * has its handlers ends it by the signal's default action, never vanishes), reaps what is left
 * to it, and exits as container-init did (128+N for a signal N).
 */
#include "init.h"

int run_init(char **argv) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "testin-agent --init: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execv(argv[0], argv);
    fprintf(stderr, "testin-agent --init: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
