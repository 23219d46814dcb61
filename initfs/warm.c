/*
 * The warm-up: a run restored from a snapshot starts in a new QEMU, whose TCG has
 * translated none of the guest's code, so every kernel path the run takes first
 * (mounts, a process's clone, exec and exit) is translated on the way, on the one
 * vCPU the init runs on, while the other stands idle. A process forked at boot,
 * before the snapshot (so no run pays its fork), waits; the first EXEC wakes it,
 * and it takes those paths on the other vCPU while the init mounts the root:
 * TCG's translations are shared by the vCPUs, so the init and the command find
 * them made. It touches nothing of the run's (its mounts are its own, in the
 * initramfs, and gone before it exits). Off with testin.no_warm on the kernel's
 * command line.
 */
#include "init.h"

static int kick = -1;

static int exit_at_once(void *arg) {
  char *argv[] = {(char *)arg, "--noop", NULL};
  char *envp[] = {NULL};
  execve((char *)arg, argv, envp);
  _exit(0);
}

/* the paths a run's set-up and command take, on a scratch tmpfs of the initramfs */
static void warm_up(void) {
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
  /* a process made as the command's is (commands.c), exec'd, ended and reaped */
  static char stack[64 * 1024] __attribute__((aligned(16)));
  pid_t child = clone(exit_at_once, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)"/init");
  if (child > 0) waitpid(child, NULL, 0);
}

void warm_up_fork(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid > 0) {
    close(p[0]);
    kick = p[1];
    return;
  }
  close(p[1]);
  prctl(PR_SET_NAME, "testin-warm");
  char c;
  if (read(p[0], &c, 1) == 1) warm_up();
  _exit(0);
}

void warm_up_start(void) {
  if (kick < 0) return;
  (void)!write(kick, "w", 1);
  close(kick);
  kick = -1;
}
