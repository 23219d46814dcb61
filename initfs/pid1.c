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
/* says to container-init that testin's PID 1 started it (container-init/main.ts: it refuses to run otherwise) */
#define UNDER_AGENT_ENV "TESTIN_UNDER_AGENT"
/* when PID 1 started, wall-clock ms: the run's report splits the container's start at it (contract/timeline.ts) */
#define STARTED_AT_ENV "TESTIN_PID1_STARTED_AT"

/*
 * The VMM held (vmm-hold.c): a run whose plan came with the create (RUN_PLAN_ENV: a VM's run,
 * contract/run-plan.ts), and a compose service's or the OCI runtime's container (PLAN_ENV: their
 * plans are a VM's; container-init lets a held QEMU go at once when one is not), gets QEMU
 * started here at once, beside container-init, through the toolbox's loader with the hold
 * library preloaded. Its loading (most of QEMU's start) then
 * happens while node loads, on the other core; container-init gives it its command line later
 * (container-init/held-vmm.ts). container-init gets, at the fds HELD_ENV names ("PID ARGV OUT
 * PAIR STATUS"): the pipe the argv goes on, the pipe of QEMU's stdout and stderr, its end of a
 * socket pair whose other end is QEMU's fd 3 (passt's, for the VM's network), and a pipe on
 * which PID 1 says how QEMU ended ("exit N" or "signal N"), since QEMU is PID 1's child, not
 * node's. A toolbox without the library, or a plan sent as a file, starts QEMU from container-init.
 */
#define RUN_PLAN_ENV "TESTIN_RUN_PLAN"
#define PLAN_ENV "TESTIN_PLAN"
#define HELD_ENV "TESTIN_HELD_VMM"
#define HOLD_FD_ENV "TESTIN_HOLD_FD"
/* contract/layout.ts: TOOLBOX_LAYOUT.loader, lib, vmmHold, qemu, qemuModules */
#define HOLD_LOADER TOOLBOX_DIR "/lib/ld.so"
#define HOLD_LIBS TOOLBOX_DIR "/lib"
#define HOLD_LIB TOOLBOX_DIR "/lib/testin-vmm-hold.so"
#define HOLD_QEMU TOOLBOX_DIR "/bin/qemu-system"
#define HOLD_QEMU_MODULES TOOLBOX_DIR "/lib/qemu"
/* QEMU's malloc on transparent huge pages (container-init/qemu-vmm.ts: VMM_GLIBC_TUNABLES) */
#define HOLD_GLIBC_TUNABLES "glibc.malloc.hugetlb=1"
/* the held QEMU's fds: its argv pipe's read end at 4 (HOLD_FD_ENV), its socket pair's end at 3 */
#define HOLD_ARGV_FD 4
#define HOLD_PAIR_FD 3
/* container-init's: the last word at 3, then these */
#define HELD_FIRST_FD 4

/* the held QEMU: its pid, and the fds container-init gets (argv write, output read, pair, status read); PID 1 keeps status_w */
struct held_vmm {
  pid_t pid;
  int give[4];
  int status_w;
};

static void close_all(int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Puts each of from[i] at fd to[i] (close-on-exec cleared), whatever numbers they had: each is
 * first moved above every target, so that no dup2 closes one still to be placed. */
static int place_fds(const int *from, const int *to, size_t n) {
  int high[8];
  for (size_t i = 0; i < n; i++)
    if ((high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 16)) < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (dup2(high[i], to[i]) < 0) return -1;
  for (size_t i = 0; i < n; i++) close(high[i]);
  return 0;
}

static int start_held_vmm(struct held_vmm *h, const sigset_t *old) {
  h->pid = -1;
  if ((!getenv(RUN_PLAN_ENV) && !getenv(PLAN_ENV)) || access(HOLD_LIB, R_OK) < 0 || access(HOLD_QEMU, X_OK) < 0 || access(HOLD_LOADER, X_OK) < 0) return -1;
  int argv_pipe[2] = {-1, -1}, out[2] = {-1, -1}, pair[2] = {-1, -1}, status[2] = {-1, -1};
  if (pipe2(argv_pipe, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0 || pipe2(status, O_CLOEXEC) < 0) {
    int all[] = {argv_pipe[0], argv_pipe[1], out[0], out[1], pair[0], pair[1], status[0], status[1]};
    close_all(all, 8);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, old, NULL);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int from[] = {null, out[1], out[1], pair[0], argv_pipe[0]};
    int to[] = {0, 1, 2, HOLD_PAIR_FD, HOLD_ARGV_FD};
    if (null < 0 || place_fds(from, to, 5) < 0) _exit(EXIT_CANNOT_EXECUTE);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", HOLD_ARGV_FD);
    setenv(HOLD_FD_ENV, fd, 1);
    setenv("QEMU_MODULE_DIR", HOLD_QEMU_MODULES, 1);
    setenv("GLIBC_TUNABLES", HOLD_GLIBC_TUNABLES, 1);
    char *const argv[] = {HOLD_LOADER, "--library-path", HOLD_LIBS, "--preload", HOLD_LIB, HOLD_QEMU, NULL};
    execv(argv[0], argv);
    _exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
  }
  if (pid < 0) {
    int all[] = {argv_pipe[0], argv_pipe[1], out[0], out[1], pair[0], pair[1], status[0], status[1]};
    close_all(all, 8);
    return -1;
  }
  int its[] = {argv_pipe[0], out[1], pair[0]};
  close_all(its, 3);
  h->pid = pid;
  h->give[0] = argv_pipe[1];
  h->give[1] = out[0];
  h->give[2] = pair[1];
  h->give[3] = status[0];
  h->status_w = status[1];
  return 0;
}

/* how the held QEMU ended, said to container-init once (it may have gone: nothing is lost) */
static void say_held_end(struct held_vmm *h, int status) {
  char line[32];
  int n = WIFEXITED(status) ? snprintf(line, sizeof line, "exit %d\n", WEXITSTATUS(status)) : snprintf(line, sizeof line, "signal %d\n", WTERMSIG(status));
  if (write(h->status_w, line, (size_t)n) < 0) {
    /* container-init closed it: it did not use the held QEMU, or ended */
  }
  close(h->status_w);
  h->status_w = -1;
  h->pid = -1;
}

int run_init(char **argv) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char started_at[24];
  snprintf(started_at, sizeof started_at, "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
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
  struct held_vmm held = {.pid = -1, .give = {-1, -1, -1, -1}, .status_w = -1};
  start_held_vmm(&held, &old);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "testin-agent --init: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* the write end at LAST_WORD_FD, the held QEMU's fds after it, kept across the exec (dup2 clears close-on-exec) */
    int from[5], to[5];
    size_t n = 0;
    if (word[1] >= 0) {
      from[n] = word[1];
      to[n++] = LAST_WORD_FD;
    }
    for (int i = 0; held.pid > 0 && i < 4; i++) {
      from[n] = held.give[i];
      to[n++] = HELD_FIRST_FD + i;
    }
    if (n > 0 && place_fds(from, to, n) == 0) {
      if (word[1] >= 0) setenv(LAST_WORD_ENV, "3", 1);
      char fds[64];
      snprintf(fds, sizeof fds, "%d %d %d %d %d", (int)held.pid, HELD_FIRST_FD, HELD_FIRST_FD + 1, HELD_FIRST_FD + 2, HELD_FIRST_FD + 3);
      if (held.pid > 0) setenv(HELD_ENV, fds, 1);
    }
    setenv(STARTED_AT_ENV, started_at, 1);
    setenv(UNDER_AGENT_ENV, "1", 1);
    execv(argv[0], argv);
    fprintf(stderr, "testin-agent --init: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
  }
  if (word[1] >= 0) close(word[1]);
  close_all(held.give, 4);
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
      if (pid == held.pid) say_held_end(&held, status);
      if (pid != child) continue;
      if (said >= 0) return said;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
