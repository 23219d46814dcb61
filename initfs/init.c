/*
 * testin's PID 1 inside the VM. Built with `gcc -static` so it starts in
 * milliseconds and needs nothing from the image.
 *
 * 1. mount proc, sys, dev; load the kernel modules listed in /modules/order
 * 2. open the control port, say HELLO, wait for the EXEC request
 * 3. mount the virtiofs root, mount proc/sys/dev/tmp/run inside it, switch into it
 * 4. run the command (env, cwd, uid/gid); relay its output as framed messages;
 *    reap every child; report the exit status; power off when told to.
 *
 * `init --agent` is the same program without a VM (testin run --no-vm): it
 * speaks the protocol on fd 3, runs the command in the container it is in, and
 * leaves the machine alone (no boot, no clock, no modprobe, no power-off).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

#define NEW_ROOT "/newroot"
/* where the "vol" share is mounted in the initramfs, to bind volumes from */
#define VOL_SHARE "/vol"
#define PORT_WAIT_MS 15000
#define ROOT_WAIT_MS 15000
#define MAX_LIST 4096
#define TOOLBOX_MODPROBE "/testin/sbin/modprobe" /* toolbox/toolbox-layout.ts: modprobe */

extern char **environ;

static int ctl = -1;
static int agent_mode;

static void log_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("testin-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void power_off(void) {
  if (agent_mode) exit(0);
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

/* An init that cannot go on says why on the console and stops the VM; the host
 * sees the VM end without an EXIT and prints the console tail. */
static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("testin-init: fatal: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (agent_mode) exit(125);
  power_off();
}

static uint32_t uptime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* ---- framing ---------------------------------------------------------- */

struct buf {
  uint8_t *data;
  size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) fatal("out of memory");
  b->cap = cap;
}

static void buf_put(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_u8(struct buf *b, uint8_t v) { buf_put(b, &v, 1); }

static void buf_u32(struct buf *b, uint32_t v) {
  uint8_t le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
  buf_put(b, le, 4);
}

static uint32_t get_u32(const uint8_t *p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void field_bytes(struct buf *b, uint8_t tag, const void *p, size_t n) {
  buf_u8(b, tag);
  buf_u32(b, (uint32_t)n);
  buf_put(b, p, n);
}

static void field_str(struct buf *b, uint8_t tag, const char *s) { field_bytes(b, tag, s, strlen(s)); }

static void field_u32(struct buf *b, uint8_t tag, uint32_t v) {
  buf_u8(b, tag);
  buf_u32(b, 4);
  buf_u32(b, v);
}

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        poll(&pfd, 1, -1);
        continue;
      }
      fatal("write to control port: %s", strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
}

static void send_msg(uint8_t type, uint32_t id, const void *payload, size_t n) {
  struct buf b = {0};
  buf_u32(&b, (uint32_t)(n + 5));
  buf_u8(&b, type);
  buf_u32(&b, id);
  buf_put(&b, payload, n);
  write_all(ctl, b.data, b.len);
  free(b.data);
}

static void send_error(uint32_t id, uint32_t code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct buf b = {0};
  field_str(&b, TAG_MESSAGE, msg);
  field_u32(&b, TAG_CODE, code);
  send_msg(MSG_ERROR, id, b.data, b.len);
  free(b.data);
}

/* A received frame: type, id and payload point into the reader's buffer. */
struct frame {
  uint8_t type;
  uint32_t id;
  const uint8_t *payload;
  size_t len;
};

static struct buf inbox;

/* Returns 1 and fills f when a whole frame is buffered. Consume it with inbox_drop. */
static int inbox_frame(struct frame *f) {
  if (inbox.len < 4) return 0;
  uint32_t n = get_u32(inbox.data);
  if (n < 5 || n > FRAME_MAX) fatal("bad control frame length %u", n);
  if (inbox.len < 4 + (size_t)n) return 0;
  f->type = inbox.data[4];
  f->id = get_u32(inbox.data + 5);
  f->payload = inbox.data + FRAME_HEADER;
  f->len = n - 5;
  return 1;
}

static void inbox_drop(const struct frame *f) {
  size_t used = FRAME_HEADER + f->len;
  memmove(inbox.data, inbox.data + used, inbox.len - used);
  inbox.len -= used;
}

/* Reads what the port has; returns 0 at EOF. */
static int inbox_fill(void) {
  buf_reserve(&inbox, 65536);
  ssize_t r = read(ctl, inbox.data + inbox.len, 65536);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
  inbox.len += (size_t)r;
  return r > 0;
}

/* ---- the EXEC request -------------------------------------------------- */

struct request {
  char *argv[MAX_LIST + 1];
  int argc;
  char *envp[MAX_LIST + 1];
  int envc;
  gid_t groups[256];
  int ngroups;
  char *cwd, *hostname;
  uid_t uid;
  gid_t gid;
  int want_stdin;
  char *net; /* "address/prefix gateway", or NULL: no NIC to configure */
  int tty;                  /* run on a pty */
  unsigned short rows, cols; /* its first size */
  char *tmpfs[64]; /* "target\0options" */
  int ntmpfs;
  char *volumes[64]; /* "target\0ro|rw", parents first */
  int nvolumes;
};

static char *dup_field(const uint8_t *p, uint32_t n) {
  char *s = malloc(n + 1);
  if (!s) fatal("out of memory");
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

static void parse_exec(const struct frame *f, struct request *r) {
  memset(r, 0, sizeof *r);
  size_t off = 0;
  while (off + 5 <= f->len) {
    uint8_t tag = f->payload[off];
    uint32_t n = get_u32(f->payload + off + 1);
    const uint8_t *v = f->payload + off + 5;
    if (off + 5 + n > f->len) fatal("truncated EXEC field");
    uint32_t num = n == 4 ? get_u32(v) : 0;
    switch (tag) {
      case TAG_ARG: if (r->argc < MAX_LIST) r->argv[r->argc++] = dup_field(v, n); break;
      case TAG_ENV: if (r->envc < MAX_LIST) r->envp[r->envc++] = dup_field(v, n); break;
      case TAG_CWD: r->cwd = dup_field(v, n); break;
      case TAG_UID: r->uid = num; break;
      case TAG_GID: r->gid = num; break;
      case TAG_GROUP: if (r->ngroups < 256) r->groups[r->ngroups++] = num; break;
      case TAG_HOSTNAME: r->hostname = dup_field(v, n); break;
      case TAG_STDIN: r->want_stdin = num != 0; break;
      case TAG_NET: r->net = dup_field(v, n); break;
      case TAG_TTY: r->tty = 1; r->rows = (unsigned short)(num >> 16); r->cols = (unsigned short)(num & 0xffff); break;
      case TAG_CLOCK: {
        /* the RTC has whole seconds and TCG drifts: take the host's clock, to the ms */
        char *ms = dup_field(v, n);
        long long t = atoll(ms);
        struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000};
        if (!agent_mode && t > 0 && clock_settime(CLOCK_REALTIME, &ts) < 0) log_line("set clock: %s", strerror(errno));
        free(ms);
        break;
      }
      case TAG_TMPFS: if (r->ntmpfs < 64) r->tmpfs[r->ntmpfs++] = dup_field(v, n); break;
      case TAG_VOLUME: if (r->nvolumes < 64) r->volumes[r->nvolumes++] = dup_field(v, n); break;
      default: break; /* unknown fields are skipped: newer hosts may send more */
    }
    off += 5 + n;
  }
  if (!r->cwd) r->cwd = "/";
}

/* ---- boot: modules, port, root ----------------------------------------- */

static void mount_or_log(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) < 0) log_line("mount %s on %s: %s", type, dst, strerror(errno));
}

/* /modules/order is testin's; /modules/order.user may come from a user's
 * --initrd (appended to ours) with more modules to load at boot. */
static void load_module_list(const char *list) {
  FILE *f = fopen(list, "r");
  if (!f) return;
  char line[512], path[600];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    snprintf(path, sizeof path, "/modules/%s", line);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fatal("open module %s: %s", path, strerror(errno));
    if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
      log_line("load module %s: %s", line, strerror(errno));
    close(fd);
  }
  fclose(f);
}

static void load_modules(void) {
  load_module_list("/modules/order");
  load_module_list("/modules/order.user");
}

/* A kernel without the drivers testin needs fails here at once, naming them,
 * instead of waiting for a port or a filesystem that cannot come. */
static void check_drivers(void) {
  static const struct { const char *path, *name; } needed[] = {
      {"/sys/bus/pci/drivers/virtio-pci", "virtio_pci"},
      {"/sys/bus/virtio/drivers/virtio_console", "virtio_console"},
      {"/sys/bus/virtio/drivers/virtiofs", "virtiofs (and fuse)"},
  };
  char missing[256] = "";
  for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
    if (access(needed[i].path, F_OK) == 0) continue;
    if (missing[0]) strncat(missing, ", ", sizeof missing - strlen(missing) - 1);
    strncat(missing, needed[i].name, sizeof missing - strlen(missing) - 1);
  }
  if (missing[0])
    fatal("the kernel lacks %s: build them in, or give their modules with --modules /lib/modules/<release>", missing);
}

static int open_port(const char *want) {
  for (uint32_t start = uptime_ms(); uptime_ms() - start < PORT_WAIT_MS; sleep_ms(5)) {
    DIR *d = opendir("/sys/class/virtio-ports");
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[512], name[128] = {0};
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      int fd = open(path, O_RDONLY);
      if (fd < 0) continue;
      ssize_t n = read(fd, name, sizeof name - 1);
      close(fd);
      if (n <= 0) continue;
      name[strcspn(name, "\n")] = 0;
      if (strcmp(name, want) != 0) continue;
      snprintf(path, sizeof path, "/dev/%s", e->d_name);
      int port = open(path, O_RDWR | O_CLOEXEC);
      if (port >= 0) {
        closedir(d);
        return port;
      }
    }
    closedir(d);
  }
  fatal("virtio port %s did not appear within %d ms (is virtio_console loaded?)", want, PORT_WAIT_MS);
  return -1;
}

/* Mounts a virtiofs share, waiting for its device to appear. */
static void mount_share(const char *tag, const char *target) {
  mkdir(target, 0755);
  int err = 0;
  for (uint32_t start = uptime_ms(); uptime_ms() - start < ROOT_WAIT_MS; sleep_ms(5)) {
    if (mount(tag, target, "virtiofs", 0, NULL) == 0) return;
    err = errno;
    if (err != ENODEV && err != ENOENT && err != ENXIO) break;
  }
  fatal("mount virtiofs %s: %s (the kernel needs virtio_pci, fuse and virtiofs)", tag, strerror(err));
}

/* The image's root comes from the "root" share, which the guest may cache
 * hard (nothing else changes it during the run). The user's volumes and
 * binds, which the host or other containers may change, come from the "vol"
 * share, the same tree served with the user's cache policy: each is bound
 * from there over the root's view of it, parents first. */
static void mount_root(const struct request *r) {
  mount_share("root", NEW_ROOT);
  if (r->nvolumes == 0) return;
  mount_share("vol", VOL_SHARE);
  for (int i = 0; i < r->nvolumes; i++) {
    const char *target = r->volumes[i];
    int ro = strcmp(target + strlen(target) + 1, "ro") == 0;
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s%s", VOL_SHARE, target);
    snprintf(to, sizeof to, "%s%s", NEW_ROOT, target);
    if (mount(from, to, NULL, MS_BIND, NULL) < 0) fatal("bind volume %s: %s", target, strerror(errno));
    if (ro && mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) fatal("read-only volume %s: %s", target, strerror(errno));
  }
}

static void link_or_ignore(const char *target, const char *path) {
  if (symlink(target, path) < 0 && errno != EEXIST) log_line("symlink %s: %s", path, strerror(errno));
}

static void enter_root(void) {
  mount_or_log("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_log("sysfs", NEW_ROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_log("cgroup2", NEW_ROOT "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_log("devtmpfs", NEW_ROOT "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_or_log("devpts", NEW_ROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  mount_or_log("shm", NEW_ROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_or_log("tmpfs", NEW_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_or_log("tmpfs", NEW_ROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  link_or_ignore("/proc/self/fd", NEW_ROOT "/dev/fd");
  link_or_ignore("/proc/self/fd/0", NEW_ROOT "/dev/stdin");
  link_or_ignore("/proc/self/fd/1", NEW_ROOT "/dev/stdout");
  link_or_ignore("/proc/self/fd/2", NEW_ROOT "/dev/stderr");
  if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
    fatal("switch into the root: %s", strerror(errno));
}

/* ---- network ------------------------------------------------------------ */

static void set_addr(struct sockaddr *sa, in_addr_t addr) {
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = addr;
}

static void link_up(int sock, const char *name) {
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) log_line("link %s up: %s", name, strerror(errno));
}

/* lo always comes up; the first other interface gets the address and the
 * default route the host chose (QEMU user networking: no DHCP wait). */
static void configure_network(const char *spec) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  link_up(sock, "lo");
  char addr[64] = "", gw[64] = "";
  unsigned prefix = 24, mtu = 0;
  if (!spec || sscanf(spec, "%63[^/]/%u %63s %u", addr, &prefix, gw, &mtu) < 2) {
    close(sock);
    return;
  }
  char nic[IFNAMSIZ] = "";
  DIR *d = opendir("/sys/class/net");
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.' && strcmp(e->d_name, "lo") != 0 && !nic[0]) snprintf(nic, sizeof nic, "%.15s", e->d_name);
  if (d) closedir(d);
  if (!nic[0]) {
    log_line("no network interface to configure");
    close(sock);
    return;
  }
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", nic);
  set_addr(&ifr.ifr_addr, inet_addr(addr));
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0) log_line("address of %s: %s", nic, strerror(errno));
  set_addr(&ifr.ifr_netmask, prefix ? htonl(~0u << (32 - prefix)) : 0);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) log_line("netmask of %s: %s", nic, strerror(errno));
  ifr.ifr_mtu = (int)mtu;
  if (mtu && ioctl(sock, SIOCSIFMTU, &ifr) < 0) log_line("mtu of %s: %s", nic, strerror(errno));
  link_up(sock, nic);
  if (gw[0]) {
    struct rtentry rt = {0};
    set_addr(&rt.rt_dst, INADDR_ANY);
    set_addr(&rt.rt_genmask, INADDR_ANY);
    set_addr(&rt.rt_gateway, inet_addr(gw));
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = nic;
    if (ioctl(sock, SIOCADDRT, &rt) < 0) log_line("default route via %s: %s", gw, strerror(errno));
    /* One datagram to the gateway's discard port: the ARP request it needs
     * tells the network backend our MAC, so that a connection to a published
     * port is forwarded at once, before the command has sent anything itself
     * (passt learns the guest's address from its first frame). */
    struct sockaddr_in discard = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = inet_addr(gw)};
    if (sendto(sock, "", 0, 0, (struct sockaddr *)&discard, sizeof discard) < 0) log_line("hello to %s: %s", gw, strerror(errno));
  }
  close(sock);
}

/* ---- running the command ----------------------------------------------- */

static int mkdir_p(const char *path);

/* docker's tmpfs options: the mount flags among them become flags, the rest data */
static void mount_tmpfs(const char *target, const char *options) {
  static const struct { const char *name; unsigned long set, clear; } known[] = {
      {"ro", MS_RDONLY, 0}, {"rw", 0, MS_RDONLY}, {"nosuid", MS_NOSUID, 0}, {"suid", 0, MS_NOSUID},
      {"nodev", MS_NODEV, 0}, {"dev", 0, MS_NODEV}, {"noexec", MS_NOEXEC, 0}, {"exec", 0, MS_NOEXEC},
      {"sync", MS_SYNCHRONOUS, 0}, {"async", 0, MS_SYNCHRONOUS}, {"noatime", MS_NOATIME, 0},
      {"atime", 0, MS_NOATIME}, {"relatime", MS_RELATIME, 0}, {"strictatime", MS_STRICTATIME, 0},
  };
  unsigned long flags = 0;
  char data[512] = "", opts[512];
  snprintf(opts, sizeof opts, "%s", options);
  for (char *save, *tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
      if (strcmp(tok, known[i].name) == 0) break;
    if (i < sizeof known / sizeof known[0]) {
      flags = (flags | known[i].set) & ~known[i].clear;
    } else {
      if (data[0]) strncat(data, ",", sizeof data - strlen(data) - 1);
      strncat(data, tok, sizeof data - strlen(data) - 1);
    }
  }
  if (mkdir_p(target) < 0 || mount("tmpfs", target, "tmpfs", flags, data) < 0)
    log_line("tmpfs on %s (%s): %s", target, options, strerror(errno));
}

/* An image without kmod still gets modules loaded on demand (ip link add ... type
 * dummy, mount -o loop): the kernel calls the toolbox's static modprobe. */
static void use_toolbox_modprobe(void) {
  if (access("/sbin/modprobe", X_OK) == 0 || access(TOOLBOX_MODPROBE, X_OK) != 0) return;
  int fd = open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, TOOLBOX_MODPROBE, strlen(TOOLBOX_MODPROBE)) < 0) log_line("set modprobe: %s", strerror(errno));
  close(fd);
}

/* Without udev nobody creates the static nodes (/dev/loop-control, /dev/net/tun,
 * ...) whose first open loads their module: make them from modules.devname, as
 * `kmod static-nodes` does on a booted system. */
static void make_static_nodes(void) {
  struct utsname u;
  uname(&u);
  char path[512], line[512];
  snprintf(path, sizeof path, "/lib/modules/%s/modules.devname", u.release);
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char module[128], node[256], type;
    unsigned major, minor;
    if (line[0] == '#' || sscanf(line, "%127s %255s %c%u:%u", module, node, &type, &major, &minor) != 5) continue;
    snprintf(path, sizeof path, "/dev/%s", node);
    char *slash = strrchr(path, '/');
    if (slash && slash != path + 4) {
      *slash = 0;
      mkdir_p(path);
      *slash = '/';
    }
    mode_t kind = type == 'b' ? S_IFBLK : S_IFCHR;
    if (mknod(path, kind | 0600, makedev(major, minor)) < 0 && errno != EEXIST) log_line("mknod %s: %s", path, strerror(errno));
  }
  fclose(f);
}

static void mount_user_tmpfs(struct request *r) {
  for (int i = 0; i < r->ntmpfs; i++) mount_tmpfs(r->tmpfs[i], r->tmpfs[i] + strlen(r->tmpfs[i]) + 1);
}

static int mkdir_p(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(tmp, 0755);
    *p = '/';
  }
  return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static const char *env_get(char **envp, const char *key) {
  size_t k = strlen(key);
  for (; *envp; envp++)
    if (strncmp(*envp, key, k) == 0 && (*envp)[k] == '=') return *envp + k + 1;
  return NULL;
}

/* Like runc: look the command up in the command's own PATH, never fall back
 * to /bin/sh for a file without a shebang (execvp would). */
static void exec_command(struct request *r) {
  const char *cmd = r->argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, r->argv, r->envp);
    return;
  }
  const char *path = env_get(r->envp, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int saw_eacces = 0;
  char full[4096];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    snprintf(full, sizeof full, "%.*s/%s", (int)(end - p), end == p ? "." : p, cmd);
    execve(full, r->argv, r->envp);
    if (errno == EACCES) saw_eacces = 1;
    if (!*end) break;
    p = end;
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

#define MAX_CHILDREN 64

/* One command the host asked for (EXEC id): its pipes or pty, its stdin queue,
 * its status. `testin run` has one; a session (testin up/exec) many at once. */
struct child {
  int used;
  uint32_t id;
  pid_t pid;
  int out, err, in; /* our ends: read out/err, write in (-1 when closed) */
  int out_open, err_open;
  int exited, status, reported;
  int tty_master; /* -1 without a pty */
  struct buf pending_in; /* stdin bytes waiting for the command to read them */
  int stdin_eof;
};

static struct child children[MAX_CHILDREN];

static struct child *child_by_id(uint32_t id) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].used && children[i].id == id) return &children[i];
  return NULL;
}

static struct child *new_child(uint32_t id) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].used) continue;
    struct child *c = &children[i];
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->id = id;
    c->out = c->err = c->in = c->tty_master = -1;
    return c;
  }
  return NULL;
}

static void free_child(struct child *c) {
  if (c->out >= 0) close(c->out);
  if (c->err >= 0) close(c->err);
  if (c->in >= 0) close(c->in);
  free(c->pending_in.data);
  c->used = 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void set_winsize(int fd, unsigned short rows, unsigned short cols) {
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  if (rows && cols) ioctl(fd, TIOCSWINSZ, &ws);
}

/* With -t the command's stdin, stdout and stderr are one pty: its output comes
 * back as MSG_STDOUT, as with docker. */
static int open_pty(struct request *r, struct child *c, int out[2], int err[2], int in[2]) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) return -1;
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return -1;
  set_winsize(master, r->rows, r->cols);
  c->tty_master = master;
  out[0] = master;
  out[1] = slave;
  err[0] = -1;
  err[1] = fcntl(slave, F_DUPFD_CLOEXEC, 0);
  in[0] = fcntl(slave, F_DUPFD_CLOEXEC, 0);
  in[1] = r->want_stdin ? fcntl(master, F_DUPFD_CLOEXEC, 0) : -1;
  return 0;
}

static int start_command(struct request *r, struct child *c) {
  int out[2], err[2], in[2], report[2];
  if (pipe2(report, O_CLOEXEC)) fatal("pipe: %s", strerror(errno));
  if (r->tty) {
    if (open_pty(r, c, out, err, in) < 0) fatal("pty: %s", strerror(errno));
  } else if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    fatal("pipe: %s", strerror(errno));
  } else if (r->want_stdin) {
    if (pipe2(in, O_CLOEXEC)) fatal("pipe: %s", strerror(errno));
  } else {
    in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    in[1] = -1;
  }
  pid_t pid = fork();
  if (pid < 0) fatal("fork: %s", strerror(errno));
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (r->tty && ioctl(in[0], TIOCSCTTY, 0) < 0) _exit(126);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    const char *step = "chdir";
    if (mkdir_p(r->cwd) < 0 || chdir(r->cwd) < 0) goto fail;
    step = "setgroups";
    if (setgroups(r->ngroups, r->groups) < 0) goto fail;
    step = "setgid";
    if (setgid(r->gid) < 0) goto fail;
    step = "setuid";
    if (setuid(r->uid) < 0) goto fail;
    step = "exec";
    exec_command(r);
  fail:;
    int e = errno;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%d %s", e, step);
    (void)!write(report[1], msg, (size_t)n);
    _exit(e == ENOENT && strcmp(step, "exec") == 0 ? 127 : 126);
  }
  close(out[1]);
  close(err[1]);
  close(in[0]);
  close(report[1]);
  char msg[512] = {0};
  ssize_t n = read(report[0], msg, sizeof msg - 1);
  close(report[0]);
  c->pid = pid;
  c->out = out[0];
  c->err = err[0];
  c->in = in[1];
  c->out_open = 1;
  c->err_open = c->err >= 0;
  set_nonblock(c->out);
  if (c->err >= 0) set_nonblock(c->err);
  if (c->in >= 0) set_nonblock(c->in);
  if (n > 0) {
    int e = atoi(msg);
    const char *step = strchr(msg, ' ') ? strchr(msg, ' ') + 1 : "exec";
    int code = e == ENOENT && strcmp(step, "exec") == 0 ? 127 : 126;
    if (strcmp(step, "exec") == 0)
      send_error(c->id, code, "exec %s: %s", r->argv[0], e == ENOENT ? "executable file not found in $PATH" : strerror(e));
    else
      send_error(c->id, code, "%s %s: %s", step, strcmp(step, "chdir") == 0 ? r->cwd : "", strerror(e));
    return -1;
  }
  return 0;
}

/* Starts the command of one EXEC request and says STARTED, or reports why not. */
static void run_exec(struct request *r, uint32_t id, uint32_t root_ms) {
  struct child *c = new_child(id);
  if (!c) {
    send_error(id, 125, "too many commands at once (at most %d)", MAX_CHILDREN);
    struct buf b = {0};
    field_u32(&b, TAG_CODE, 125);
    send_msg(MSG_EXIT, id, b.data, b.len);
    free(b.data);
    return;
  }
  if (start_command(r, c) < 0) {
    /* the child already _exit()ed with 126 or 127: that is the status */
    waitpid(c->pid, &c->status, 0);
    c->exited = 1;
    return;
  }
  struct buf b = {0};
  field_u32(&b, TAG_ROOT_MS, root_ms);
  field_u32(&b, TAG_UPTIME_MS, uptime_ms());
  send_msg(MSG_STARTED, id, b.data, b.len);
  free(b.data);
}

/* Moves what a pipe holds into MSG_STDOUT/MSG_STDERR frames; returns 0 at EOF. */
static int relay(struct child *c, int fd, uint8_t type) {
  static uint8_t chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
      send_msg(type, c->id, chunk, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

static void send_exit(const struct child *c) {
  struct buf b = {0};
  if (WIFSIGNALED(c->status)) field_u32(&b, TAG_SIGNO, (uint32_t)WTERMSIG(c->status));
  else field_u32(&b, TAG_CODE, (uint32_t)WEXITSTATUS(c->status));
  field_u32(&b, TAG_UPTIME_MS, uptime_ms());
  send_msg(MSG_EXIT, c->id, b.data, b.len);
  free(b.data);
}

/* Reaps every child that ended (orphans too: we are PID 1, or a subreaper). */
static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CHILDREN; i++) {
      struct child *c = &children[i];
      if (c->used && c->pid == pid && !c->exited) {
        c->exited = 1;
        c->status = status;
      }
    }
  }
}

static void flush_stdin(struct child *c) {
  while (c->in >= 0 && c->pending_in.len > 0) {
    ssize_t w = write(c->in, c->pending_in.data, c->pending_in.len);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      c->pending_in.len = 0; /* EPIPE: the command closed its stdin */
      break;
    }
    memmove(c->pending_in.data, c->pending_in.data + w, c->pending_in.len - (size_t)w);
    c->pending_in.len -= (size_t)w;
  }
  if (c->in >= 0 && c->stdin_eof && c->pending_in.len == 0) {
    close(c->in);
    c->in = -1;
  }
}

/* DMESG: the kernel's whole log buffer, as `dmesg` prints it (the <level>
 * prefix of each line dropped), then EXIT 0; the console only has what passed
 * `loglevel`, this has everything. */
static void send_dmesg(uint32_t id) {
  struct buf b = {0};
  int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
  char *log = size > 0 ? malloc((size_t)size) : NULL;
  int n = log ? klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, size) : -1;
  if (n < 0) {
    send_error(id, 1, "dmesg: %s", strerror(errno));
    field_u32(&b, TAG_CODE, 1);
  } else {
    struct buf out = {0};
    for (char *line = log, *end = log + n; line < end;) {
      char *nl = memchr(line, '\n', (size_t)(end - line));
      char *next = nl ? nl + 1 : end;
      char *text = line;
      if (*text == '<') {
        char *close = memchr(text, '>', (size_t)(next - text));
        if (close) text = close + 1;
      }
      buf_put(&out, text, (size_t)(next - text));
      line = next;
    }
    for (size_t at = 0; at < out.len; at += 65536)
      send_msg(MSG_STDOUT, id, out.data + at, out.len - at < 65536 ? out.len - at : 65536);
    free(out.data);
    field_u32(&b, TAG_CODE, 0);
  }
  free(log);
  send_msg(MSG_EXIT, id, b.data, b.len);
  free(b.data);
}

static void handle(const struct frame *f, uint32_t root_ms) {
  struct child *c = child_by_id(f->id);
  switch (f->type) {
    case MSG_EXEC: {
      struct request *r = calloc(1, sizeof *r);
      if (!r) fatal("out of memory");
      parse_exec(f, r);
      if (r->argc == 0) {
        send_error(f->id, 125, "EXEC without a command");
        struct buf b = {0};
        field_u32(&b, TAG_CODE, 125);
        send_msg(MSG_EXIT, f->id, b.data, b.len);
        free(b.data);
        break;
      }
      run_exec(r, f->id, root_ms);
      break;
    }
    case MSG_STDIN:
      if (!c) break;
      if (f->len == 0) c->stdin_eof = 1;
      else buf_put(&c->pending_in, f->payload, f->len);
      flush_stdin(c);
      break;
    case MSG_SIGNAL:
      if (c && f->len >= 4 && c->pid > 0 && !c->exited) kill(c->pid, (int)get_u32(f->payload));
      break;
    case MSG_POWEROFF:
      power_off();
      break;
    case MSG_DMESG:
      send_dmesg(f->id);
      break;
    case MSG_RESIZE:
      if (c && f->len >= 8 && c->tty_master >= 0) set_winsize(c->tty_master, (unsigned short)get_u32(f->payload), (unsigned short)get_u32(f->payload + 4));
      break;
    default:
      log_line("unexpected message type %u", f->type);
  }
}

static void serve(int sigfd, uint32_t root_ms) {
  struct pollfd p[2 + 3 * MAX_CHILDREN];
  struct child *owner[2 + 3 * MAX_CHILDREN];
  for (;;) {
    /* frames that came in the same read as EXEC (stdin, a signal) wait in the
     * inbox: handle them before sleeping in poll, which would not wake for them */
    struct frame f;
    while (inbox_frame(&f)) {
      handle(&f, root_ms);
      inbox_drop(&f);
    }
    int n = 0;
    p[n++] = (struct pollfd){ctl, POLLIN, 0};
    p[n++] = (struct pollfd){sigfd, POLLIN, 0};
    for (int i = 0; i < MAX_CHILDREN; i++) {
      struct child *c = &children[i];
      if (!c->used) continue;
      if (c->exited && !c->reported) {
        /* Take what the pipes hold now; a background process that keeps them
         * open must not hold back the exit status. */
        if (c->out_open) c->out_open = relay(c, c->out, MSG_STDOUT);
        if (c->err_open) c->err_open = relay(c, c->err, MSG_STDERR);
        send_exit(c);
        c->reported = 1;
        free_child(c);
        continue;
      }
      if (c->out_open) owner[n] = c, p[n++] = (struct pollfd){c->out, POLLIN, 0};
      if (c->err_open) owner[n] = c, p[n++] = (struct pollfd){c->err, POLLIN, 0};
      if (c->in >= 0 && c->pending_in.len) owner[n] = c, p[n++] = (struct pollfd){c->in, POLLOUT, 0};
    }
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      fatal("poll: %s", strerror(errno));
    }
    for (int i = 2; i < n; i++) {
      if (!p[i].revents) continue;
      struct child *c = owner[i];
      if (p[i].fd == c->out && c->out_open) c->out_open = relay(c, c->out, MSG_STDOUT);
      else if (p[i].fd == c->err && c->err_open) c->err_open = relay(c, c->err, MSG_STDERR);
      else if (p[i].fd == c->in) flush_stdin(c);
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) > 0) {}
      reap();
    }
    if (p[0].revents && !inbox_fill()) {
      /* the agent's host is gone: so must its commands be */
      if (agent_mode) {
        for (int i = 0; i < MAX_CHILDREN; i++)
          if (children[i].used && !children[i].exited) kill(-children[i].pid, SIGKILL);
        exit(125);
      }
      sleep_ms(10); /* the VM's port has no host yet: nothing to do but wait */
    }
  }
}

static struct frame wait_frame(void) {
  struct frame f;
  while (!inbox_frame(&f)) {
    if (inbox_fill()) continue;
    if (agent_mode) exit(125);
    sleep_ms(10);
  }
  return f;
}

int main(int argc, char **argv) {
  agent_mode = argc > 1 && strcmp(argv[1], "--agent") == 0;
  if (!agent_mode && getpid() != 1) {
    fprintf(stderr, "testin-init runs as PID 1 in the VM, or with --agent (control on fd 3)\n");
    return 2;
  }
  if (agent_mode) {
    ctl = 3;
    /* orphans of the command come to us to be reaped, as they would to PID 1 */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  } else {
    prctl(PR_SET_NAME, "testin-init");
    mount_or_log("proc", "/proc", "proc", 0, NULL);
    mount_or_log("sysfs", "/sys", "sysfs", 0, NULL);
    mount_or_log("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    load_modules();
  }

  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);

  if (!agent_mode) {
    check_drivers();
    ctl = open_port(CTL_PORT_NAME);
  }
  struct utsname u;
  uname(&u);
  struct buf hello = {0};
  field_str(&hello, TAG_RELEASE, u.release);
  field_u32(&hello, TAG_UPTIME_MS, uptime_ms());
  send_msg(MSG_HELLO, 0, hello.data, hello.len);

  struct frame f = wait_frame();
  if (f.type != MSG_EXEC) fatal("expected EXEC, got message type %u", f.type);
  static struct request req;
  parse_exec(&f, &req);
  uint32_t first_id = f.id;
  inbox_drop(&f);

  if (!agent_mode) {
    mount_root(&req);
    enter_root();
  }
  uint32_t root_ms = uptime_ms();
  if (req.hostname) sethostname(req.hostname, strlen(req.hostname));
  mount_user_tmpfs(&req);
  if (!agent_mode) {
    use_toolbox_modprobe();
    make_static_nodes();
    configure_network(req.net);
  }

  if (req.argc > 0) {
    run_exec(&req, first_id, root_ms);
  } else {
    /* a session: the first EXEC only sets the VM up; commands come later */
    struct buf b = {0};
    field_u32(&b, TAG_ROOT_MS, root_ms);
    field_u32(&b, TAG_UPTIME_MS, uptime_ms());
    send_msg(MSG_STARTED, first_id, b.data, b.len);
    free(b.data);
  }
  serve(sigfd, root_ms);
  return 0;
}
