/*
 * The warm-up: a run restored from a snapshot starts in a new QEMU, whose TCG has
 * translated none of the guest's code, so every kernel path the run takes first
 * (mounts, a process's clone, exec and exit) is translated on the way, on the one
 * vCPU the init runs on, while the other stands idle. A process forked at boot,
 * before the snapshot (so no run pays its fork), waits; the first EXEC wakes it,
 * and it takes those paths on the other vCPU while the init mounts the root:
 * TCG's translations are shared by the vCPUs, so the init and the command find
 * them made. It touches nothing of the run's (its mounts are its own, in the
 * initramfs, and gone before it exits). It also puts the run's fresh entropy
 * into the kernel's generator (10 ms under TCG here), which the init would
 * otherwise do on its way to the command: the init hands it the seed, and waits
 * for it before anything of the user's runs. Off with testin.no_warm on the
 * kernel's command line.
 */
#include "init.h"

/* init -> warm-up: a byte that wakes it, then the seed's length and bytes */
static int kick = -1;
/* warm-up -> init: a byte once the seed is in */
static int seeded = -1;
/* the seed went to the warm-up: the init waits for its byte */
static int seed_handed;

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int exit_at_once(void *arg) {
  char *argv[] = {(char *)arg, "--noop", NULL};
  char *envp[] = {NULL};
  execve((char *)arg, argv, envp);
  _exit(0);
}

/* the paths a run's set-up and command take, on a scratch tmpfs of the initramfs; the seed put in between */
static void warm_up(int in, int out) {
  static const char *dirs[] = {"/warm/proc", "/warm/sys", "/warm/pts", "/warm/tmp"};
  mkdir("/warm", 0755);
  if (mount("tmpfs", "/warm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0) {
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) mkdir(dirs[i], 0755);
    mount("proc", dirs[0], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("sysfs", dirs[1], "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("devpts", dirs[2], "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount("tmpfs", dirs[3], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;) umount2(dirs[i], MNT_DETACH);
    umount2("/warm", MNT_DETACH);
  }
  uint8_t len, seed[64];
  if (read_full(in, &len, 1) == 0 && len <= sizeof seed && read_full(in, seed, len) == 0) {
    reseed_random(seed, len);
    (void)!write(out, "s", 1);
  }
  close(out);
  /* a process made as the command's is (commands.c), exec'd, ended and reaped */
  static char stack[64 * 1024] __attribute__((aligned(16)));
  pid_t child = clone(exit_at_once, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)"/init");
  if (child > 0) waitpid(child, NULL, 0);
}

void warm_up_fork(void) {
  int p[2], q[2];
  if (pipe2(p, O_CLOEXEC) < 0) return;
  if (pipe2(q, O_CLOEXEC) < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    return;
  }
  if (pid > 0) {
    close(p[0]);
    close(q[1]);
    kick = p[1];
    seeded = q[0];
    return;
  }
  close(p[1]);
  close(q[0]);
  prctl(PR_SET_NAME, "testin-warm");
  char c;
  if (read(p[0], &c, 1) == 1) warm_up(p[0], q[1]);
  _exit(0);
}

void warm_up_start(void) {
  if (kick >= 0) (void)!write(kick, "w", 1);
}

/* Hands the request's seed (maybe empty: the warm-up then puts nothing in) to the warm-up;
 * 0 when there is no warm-up to take it (the init puts it in itself). */
int warm_up_reseed(const struct request *r) {
  if (kick < 0) return 0;
  uint8_t msg[1 + sizeof r->seed];
  msg[0] = (uint8_t)r->seed_len;
  memcpy(msg + 1, r->seed, r->seed_len);
  /* one write below PIPE_BUF: whole or not at all */
  int ok = write(kick, msg, 1 + r->seed_len) == (ssize_t)(1 + r->seed_len);
  close(kick);
  kick = -1;
  seed_handed = ok;
  return ok;
}

/* Waits until the warm-up has put the seed in; 0 when it has not (it ended first: the init puts it in). */
int warm_up_reseeded(void) {
  if (!seed_handed) return 0;
  seed_handed = 0;
  char c;
  int ok = read_full(seeded, &c, 1) == 0;
  close(seeded);
  seeded = -1;
  return ok;
}
