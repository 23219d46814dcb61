/*
 * docker's process settings, in the VM: the machine's sysctls and /dev/shm size
 * (set once, before the first command), and each command's rlimits,
 * capabilities and no_new_privs (set in its child, before exec).
 */
#include "init.h"
#include <linux/capability.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

int commands_cgroup = -1;

#define CGROUP_ROOT "/sys/fs/cgroup"
#define COMMANDS_CGROUP CGROUP_ROOT "/testin"

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t w = fd < 0 ? -1 : write(fd, text, strlen(text));
  int e = errno;
  if (fd >= 0) close(fd);
  errno = e;
  return w < 0 ? -1 : 0;
}

/* --pids-limit, as docker's container has it: the commands in a cgroup of their own with
 * pids.max (each joins it on its way to exec, in a cgroup namespace of its own, so that it sees
 * "0::/"), and that cgroup bound over /sys/fs/cgroup, where the command finds its pids.max as in
 * docker's container. cgroup.procs is opened before the bind hides the path. */
static int make_commands_cgroup(uint32_t limit, char *msg, size_t len) {
  char max[16];
  snprintf(max, sizeof max, "%u", limit);
  if ((mkdir(COMMANDS_CGROUP, 0755) < 0 && errno != EEXIST) || write_text(CGROUP_ROOT "/cgroup.subtree_control", "+pids") < 0 || write_text(COMMANDS_CGROUP "/pids.max", max) < 0 ||
      (commands_cgroup = open(COMMANDS_CGROUP "/cgroup.procs", O_WRONLY | O_CLOEXEC)) < 0) {
    snprintf(msg, len, "--pids-limit %u: the VM's cgroup for the command: %s\n  fix: give a kernel with the pids controller (CONFIG_CGROUP_PIDS), or drop --pids-limit", limit, strerror(errno));
    return -1;
  }
  if (mount(COMMANDS_CGROUP, CGROUP_ROOT, NULL, MS_BIND, NULL) < 0) log_line("--pids-limit: bind the command's cgroup over %s: %s", CGROUP_ROOT, strerror(errno));
  return 0;
}

/* Writes each "key=value" to /proc/sys/key (dots are folders), sizes /dev/shm and makes the
 * commands' cgroup. Returns 0, or -1 with what failed in msg. */
int apply_machine_settings(const struct request *r, char *msg, size_t len) {
  for (int i = 0; i < r->nsysctls; i++) {
    const char *kv = r->sysctls[i];
    const char *eq = strchr(kv, '=');
    if (!eq) continue;
    char path[512];
    int n = snprintf(path, sizeof path, "/proc/sys/");
    for (const char *k = kv; k < eq && n < (int)sizeof path - 1; k++) path[n++] = *k == '.' ? '/' : *k;
    path[n] = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t w = fd < 0 ? -1 : write(fd, eq + 1, strlen(eq + 1));
    int e = errno;
    if (fd >= 0) close(fd);
    if (w < 0) {
      snprintf(msg, len, "--sysctl %.*s: %s\n  fix: %s", (int)(eq - kv), kv, e == ENOENT ? "no such sysctl in this kernel" : strerror(e),
               e == ENOENT ? "check its name (testin run IMAGE ls /proc/sys/...), or load its module first" : "give a value the kernel takes (see its documentation)");
      return -1;
    }
  }
  for (int i = 0; i < r->ndevices; i++) {
    const char *dev = r->devices[i];
    int loop = -1;
    /* a loop device is made by the loop driver (loaded by opening its control node) */
    if (sscanf(dev, "/dev/loop%d", &loop) == 1 && loop >= 0 && access(dev, F_OK) < 0) {
      int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
      if (ctl >= 0) {
        if (ioctl(ctl, LOOP_CTL_ADD, loop) < 0 && errno != EEXIST) log_line("--device %s: %s", dev, strerror(errno));
        close(ctl);
      }
    }
    if (access(dev, F_OK) < 0) {
      snprintf(msg, len, "--device %s: the VM's kernel has no such device (%s)\n  fix: drop it, or give a kernel with its driver (--kernel, --modules)", dev, strerror(errno));
      return -1;
    }
    /* the modes a host's udev gives them, which docker's --device passes on: FUSE and TUN for
     * every user, loop devices to the disk group (the VM's static nodes are root's alone) */
    if (strcmp(dev, "/dev/fuse") == 0 || strcmp(dev, "/dev/net/tun") == 0) {
      chmod(dev, 0666);
    } else if (loop >= 0 || strcmp(dev, "/dev/loop-control") == 0) {
      if (chown(dev, 0, 6) == 0) chmod(dev, 0660);
    }
  }
  if (r->shm_size) {
    char data[64];
    snprintf(data, sizeof data, "mode=1777,size=%s", r->shm_size);
    if (mount("shm", "/dev/shm", "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, data) < 0) {
      snprintf(msg, len, "--shm-size %s: remount /dev/shm: %s\n  fix: give a smaller size", r->shm_size, strerror(errno));
      return -1;
    }
  }
  if (r->pids_limit > 0 && commands_cgroup < 0 && make_commands_cgroup(r->pids_limit, msg, len) < 0) return -1;
  return 0;
}

/* "RESOURCE SOFT HARD", -1 unlimited; the step's name on failure */
int apply_rlimits(const struct request *r, const char **step) {
  for (int i = 0; i < r->nrlimits; i++) {
    long long res, soft, hard;
    if (sscanf(r->rlimits[i], "%lld %lld %lld", &res, &soft, &hard) != 3) continue;
    struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
    *step = "setrlimit";
    if (setrlimit((int)res, &rl) < 0) return -1;
  }
  return 0;
}

static uint64_t kept_caps(const struct request *r) {
  return r->caps ? strtoull(r->caps, NULL, 16) : ~0ull;
}

static int last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {0};
  if (fd >= 0) {
    (void)!read(fd, buf, sizeof buf - 1);
    close(fd);
  }
  return buf[0] ? atoi(buf) : 40;
}

/* Before setuid: the capabilities the command may not have leave the bounding set (for good, in its
 * children too) and the ambient set. Needs CAP_SETPCAP, which the init's child still has here. */
int drop_bounding_caps(const struct request *r, const char **step) {
  if (!r->caps) return 0;
  uint64_t keep = kept_caps(r);
  *step = "drop capabilities";
  for (int cap = 0; cap <= last_cap(); cap++) {
    if (keep & (1ull << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
  }
  return 0;
}

/* After setuid: a root command keeps only its capabilities in the permitted, effective and
 * inheritable sets (another user has none, as with docker); then no_new_privs. */
int limit_process(const struct request *r, const char **step) {
  if (r->caps && r->uid == 0) {
    uint64_t keep = kept_caps(r);
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = data[i].inheritable = (uint32_t)(keep >> (32 * i));
    *step = "set capabilities";
    if (syscall(SYS_capset, &head, data) < 0) return -1;
  }
  if (r->no_new_privs) {
    *step = "no_new_privs";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  }
  return 0;
}
