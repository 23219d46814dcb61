/*
 * `testin-agent --init CMD ARGS...`: PID 1 of a VM's container (vm-container.ts), in the place of
 * the engine's own init (docker's docker-init, Podman's catatonit, which Podman may not have):
 * it starts container-init, passes every signal on to it (one that comes before container-init
 * has its handlers ends it by the signal's default action, never vanishes), reaps what is left
 * to it, and exits as container-init did (128+N for a signal N).
 *
 * container-init says its exit code on a pipe (fd LAST_WORD_FD, named to it by LAST_WORD_ENV)
 * just before node's own exit. Should that exit not come within LAST_WORD_GRACE_MS (node's exit
 * joins its thread pool's threads, and waits for ever on one that never returns), what each of
 * its threads waits on goes to stderr, it is killed, and the container exits with the code it said.
 */
#include "init.h"

#define LAST_WORD_FD 3
#define LAST_WORD_ENV "TESTIN_LAST_WORD_FD"
#define LAST_WORD_GRACE_MS 5000

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the first line of a small file, or "" */
static void read_line(const char *path, char *out, size_t size) {
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  out[n > 0 ? n : 0] = '\0';
  out[strcspn(out, "\n")] = '\0';
}

/* what each thread of `pid` waits on (its name, wchan, syscall and arguments), and its open files */
static void tell_threads(pid_t pid) {
  char dir[64], path[320], comm[64], wchan[64], call[192];
  snprintf(dir, sizeof dir, "/proc/%d/task", pid);
  DIR *tasks = opendir(dir);
  for (struct dirent *e; tasks && (e = readdir(tasks));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
    read_line(path, comm, sizeof comm);
    snprintf(path, sizeof path, "%s/%s/wchan", dir, e->d_name);
    read_line(path, wchan, sizeof wchan);
    snprintf(path, sizeof path, "%s/%s/syscall", dir, e->d_name);
    read_line(path, call, sizeof call);
    fprintf(stderr, "  thread %s %s: wchan %s, syscall %s\n", e->d_name, comm, wchan, call);
  }
  if (tasks) closedir(tasks);
  snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
  DIR *fds = opendir(dir);
  fprintf(stderr, "  files:");
  for (struct dirent *e; fds && (e = readdir(fds));) {
    if (e->d_name[0] == '.') continue;
    char target[128];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    fprintf(stderr, " %s=%s", e->d_name, target);
  }
  fprintf(stderr, "\n");
  if (fds) closedir(fds);
}

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
  /* the code container-init said, once it did; when its exit is due; whether it was killed for being late */
  int said = -1, killed = 0;
  long long due = 0;
  for (;;) {
    int timeout = said < 0 || killed ? -1 : (int)(due > now_ms() ? due - now_ms() : 0);
    int ready = poll(watch, 2, timeout);
    if (ready < 0) continue;
    if (ready == 0) {
      fprintf(stderr, "testin: container-init said its exit code (%d) but had not exited %d s later: killed it; what it waited on:\n", said, LAST_WORD_GRACE_MS / 1000);
      tell_threads(child);
      kill(child, SIGKILL);
      killed = 1;
      continue;
    }
    if (watch[1].revents) {
      unsigned char code;
      ssize_t n = read(word[0], &code, 1);
      if (n == 1 && said < 0) {
        said = code;
        due = now_ms() + LAST_WORD_GRACE_MS;
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
      if (killed) return said;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
