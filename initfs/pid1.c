/*
 * `testin-agent --init CMD ARGS...`: PID 1 of a VM's container (vm-container.ts), in the place of
 * the engine's own init (docker's docker-init, Podman's catatonit, which Podman may not have):
 * it starts container-init, passes every signal on to it (one that comes before container-init
 * has its handlers ends it by the signal's default action, never vanishes), reaps what is left
 * to it, and exits as container-init did (128+N for a signal N).
 *
 * container-init says its exit code on a pipe (fd LAST_WORD_FD, named to it by LAST_WORD_ENV)
 * once its output and the run's result are out: from then on nothing of node's is needed, and
 * PID 1 kills it and exits with that code at once. Node's own exit joins its thread pool's
 * threads, and one that never returned once held a CI run for ever (it also took ~15 ms by
 * itself here, which a whole run did not show).
 */
#include "init.h"

#define LAST_WORD_FD 3
#define LAST_WORD_ENV "TESTIN_LAST_WORD_FD"

int run_init(char **argv) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  int signals = signalfd(-1, &all, SFD_CLOEXEC);
  if (signals < 0) {
    fprintf(stderr, "testin-agent --init: signalfd: %s\n", strerror(errno));
    return 125;
  }
  int word[2] = {-1, -1};
  if (pipe2(word, O_CLOEXEC) < 0) word[0] = word[1] = -1;
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "testin-agent --init: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* the write end at LAST_WORD_FD, kept across the exec (dup2 clears close-on-exec) */
    if (word[1] >= 0 && dup2(word[1], LAST_WORD_FD) == LAST_WORD_FD) setenv(LAST_WORD_ENV, "3", 1);
    execv(argv[0], argv);
    fprintf(stderr, "testin-agent --init: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
  }
  if (word[1] >= 0) close(word[1]);
  struct pollfd watch[2] = {{.fd = signals, .events = POLLIN}, {.fd = word[0], .events = POLLIN}};
  /* the code container-init said, once it did */
  int said = -1;
  for (;;) {
    if (poll(watch, 2, -1) < 0) continue;
    if (watch[1].revents) {
      unsigned char code;
      ssize_t n = read(word[0], &code, 1);
      if (n == 1 && said < 0) {
        said = code;
        kill(child, SIGKILL);
      } else if (n <= 0 && !(n < 0 && errno == EINTR)) {
        /* its end closed (it exited, or never said anything): no more to hear */
        close(word[0]);
        watch[1].fd = -1;
      }
    }
    if (!(watch[0].revents & POLLIN)) continue;
    struct signalfd_siginfo si;
    if (read(signals, &si, sizeof si) != sizeof si) continue;
    if (si.ssi_signo != SIGCHLD) {
      kill(child, (int)si.ssi_signo);
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      if (said >= 0) return said;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
