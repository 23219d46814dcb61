/*
 * Boot: modules, the control port, the virtiofs root and volumes, the switch into the root, tmpfs mounts, modprobe and static device nodes.
 */
#include "init.h"

/* ---- boot: modules, port, root ----------------------------------------- */

int mount_or_log(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) == 0) return 0;
  log_line("mount %s on %s: %s", type, dst, strerror(errno));
  return -1;
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

void load_modules(void) {
  load_module_list("/modules/order");
  load_module_list("/modules/order.user");
}

/* A kernel without the drivers testin needs fails here at once, naming them,
 * instead of waiting for a port or a filesystem that cannot come. */
void check_drivers(void) {
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

int open_port(const char *want) {
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

/* the root's share mounted at boot, before the snapshot (mount_root_at_boot) */
static int root_at_boot;

/* The root's share mounted at boot, so that the snapshot holds it: a restored guest finds it
 * mounted, and the new virtiofsd takes the old one's place through the device state that
 * QEMU carries in the snapshot (the root's inode, which virtiofsd maps to the directory it
 * shares: the new run's root). Nothing is asked of the share before the snapshot, not even
 * the root directory's attributes (a mount does not fetch them): the guest holds nothing of
 * the directory shared at boot, and asks this run's virtiofsd for all of it. */
void mount_root_at_boot(void) {
  mkdir(NEW_ROOT, 0755);
  root_at_boot = mount("root", NEW_ROOT, "virtiofs", 0, NULL) == 0;
  if (!root_at_boot) log_line("mount virtiofs root at boot: %s (mounted with the command instead)", strerror(errno));
}

/* The image's root comes from the "root" share, which the guest may cache
 * hard (nothing else changes it during the run). The user's volumes and
 * binds, which the host or other containers may change, come from the "vol"
 * share, the same tree served with the user's cache policy: each is bound
 * from there over the root's view of it, parents first. */
void mount_root(const struct request *r) {
  if (!root_at_boot) mount_share("root", NEW_ROOT);
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

/* The new root's own mounts, parents first. Made at boot in the initramfs, under /pre (so
 * that the snapshot holds them, empty), and moved into the root by each run: a move is a
 * few µs where a new proc or devpts took 10-20 ms of a restored run under TCG. Made in the
 * root itself when that failed or with testin.root_per_run. A top entry is moved with the
 * mounts under it. */
#define PRE "/pre"
static const struct root_mount {
  const char *path, *source, *type, *data;
  unsigned long flags;
  int top;
} root_mounts[] = {
    {"/proc", "proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 1},
    {"/sys", "sysfs", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 1},
    {"/sys/fs/cgroup", "cgroup2", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0},
    {"/dev", "devtmpfs", "devtmpfs", "mode=0755", MS_NOSUID, 1},
    {"/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", MS_NOSUID | MS_NOEXEC, 0},
    {"/dev/shm", "shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 0},
    /* POSIX message queues (mq_open), where docker mounts them */
    {"/dev/mqueue", "mqueue", "mqueue", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0},
    {"/tmp", "tmpfs", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 1},
    {"/run", "tmpfs", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, 1},
};
#define NROOT_MOUNTS (sizeof root_mounts / sizeof root_mounts[0])
static int premade;

/* all of root_mounts under UNDER; 0 when one failed (each failure logged) */
static int make_root_mounts(const char *under) {
  int ok = 1;
  for (size_t i = 0; i < NROOT_MOUNTS; i++) {
    const struct root_mount *m = &root_mounts[i];
    char at[PATH_MAX];
    snprintf(at, sizeof at, "%s%s", under, m->path);
    if (mount_or_log(m->source, at, m->type, m->flags, m->data) < 0) ok = 0;
  }
  return ok;
}

void premake_root_mounts(void) {
  mkdir(PRE, 0755);
  premade = make_root_mounts(PRE);
  if (!premade) log_line("the root's mounts were not all made at boot: made with the command instead");
}

/* /run or /tmp (or a path in one) stays the image's own folder, through virtiofs (TAG_OWN_DIR) */
static int own_dir(const struct request *r, const char *path) {
  if (r->own_run && (strcmp(path, "/run") == 0 || strncmp(path, "/run/", 5) == 0)) return 1;
  return r->own_tmp && (strcmp(path, "/tmp") == 0 || strncmp(path, "/tmp/", 5) == 0);
}

/* The image's entries of /run and /tmp (TAG_FRESH, parents first), made again in the fresh
 * tmpfs: folders, links and files, with their modes and owners. Nothing goes to virtiofsd. */
static void make_fresh(const struct request *r) {
  for (int i = 0; i < r->nfresh; i++) {
    const char *f = r->fresh[i].field;
    char type;
    unsigned mode, uid, gid;
    int at = 0;
    if (sscanf(f, "%c %o %u %u %n", &type, &mode, &uid, &gid, &at) != 4 || at == 0) continue;
    const char *path = f + at;
    size_t plen = strlen(path);
    if (path[0] != '/' || strstr(path, "/..") || own_dir(r, path)) continue;
    const char *data = path + plen + 1;
    size_t dlen = (size_t)at + plen + 1 <= r->fresh[i].len ? r->fresh[i].len - ((size_t)at + plen + 1) : 0;
    char full[PATH_MAX];
    snprintf(full, sizeof full, NEW_ROOT "%s", path);
    if (type == 'd') {
      if (mkdir(full, 0700) < 0 && errno != EEXIST) log_line("mkdir %s: %s", path, strerror(errno));
    } else if (type == 'l') {
      char target[PATH_MAX];
      snprintf(target, sizeof target, "%.*s", (int)(dlen < sizeof target ? dlen : sizeof target - 1), data);
      if (symlink(target, full) < 0) log_line("symlink %s: %s", path, strerror(errno));
      if (lchown(full, uid, gid) < 0) log_line("lchown %s: %s", path, strerror(errno));
      continue;
    } else if (type == 'f') {
      int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) {
        log_line("create %s: %s", path, strerror(errno));
        continue;
      }
      for (size_t done = 0; done < dlen;) {
        ssize_t w = write(fd, data + done, dlen - done);
        if (w <= 0) break;
        done += (size_t)w;
      }
      close(fd);
    } else {
      continue;
    }
    if (chown(full, uid, gid) < 0 || chmod(full, mode) < 0) log_line("owner or mode of %s: %s", path, strerror(errno));
  }
}

/* the user's mounts under /run and /tmp (TAG_CARRY, parents first), which the fresh tmpfs
 * cover, bound again over them: from the "vol" share when the volumes come from it, else from
 * `view`, the root's share seen without what was moved over it (its submounts come on access) */
static void carry_mounts(const struct request *r, const char *view) {
  for (int i = 0; i < r->ncarry; i++) {
    const char *target = r->carry[i];
    if (target[0] != '/' || strstr(target, "/..") || own_dir(r, target)) continue;
    int from_vol = 0, ro = 0;
    for (int v = 0; v < r->nvolumes; v++) {
      if (strcmp(r->volumes[v], target) != 0) continue;
      from_vol = 1;
      ro = strcmp(r->volumes[v] + strlen(r->volumes[v]) + 1, "ro") == 0;
    }
    if (!from_vol && !view) continue;
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s%s", from_vol ? VOL_SHARE : view, target);
    snprintf(to, sizeof to, NEW_ROOT "%s", target);
    struct stat st;
    if (stat(from, &st) < 0) {
      log_line("mount %s under a fresh folder: %s", target, strerror(errno));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      mkdir_p(to);
    } else {
      char parent[PATH_MAX];
      snprintf(parent, sizeof parent, "%s", to);
      *strrchr(parent, '/') = 0;
      mkdir_p(parent);
      int fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) close(fd);
    }
    if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0) log_line("bind %s under a fresh folder: %s", target, strerror(errno));
    else if (ro && mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) log_line("read-only %s: %s", target, strerror(errno));
  }
}

#define ROOT_VIEW "/view"

void enter_root(const struct request *r) {
  /* the toolbox sits under the image's /run (never at a path an image uses): kept aside
   * while /run becomes a fresh tmpfs, then put back at the same path */
  int kept = mkdir("/toolbox", 0755) == 0 && mount(NEW_ROOT TOOLBOX_DIR, "/toolbox", NULL, MS_BIND | MS_REC, NULL) == 0;
  /* the root's share as it is, for the user's mounts under /run and /tmp (also those the volumes' share does not name as sent) */
  int view = r->ncarry > 0 && (mkdir(ROOT_VIEW, 0755) == 0 || errno == EEXIST) && mount(NEW_ROOT, ROOT_VIEW, NULL, MS_BIND, NULL) == 0;
  if (premade) {
    for (size_t i = 0; i < NROOT_MOUNTS; i++) {
      if (!root_mounts[i].top || own_dir(r, root_mounts[i].path)) continue;
      char from[PATH_MAX], to[PATH_MAX];
      snprintf(from, sizeof from, PRE "%s", root_mounts[i].path);
      snprintf(to, sizeof to, NEW_ROOT "%s", root_mounts[i].path);
      mkdir(to, 0755);
      if (mount(from, to, NULL, MS_MOVE, NULL) < 0) log_line("move %s to %s: %s", from, to, strerror(errno));
    }
  } else {
    make_root_mounts(NEW_ROOT);
    if (r->own_run) umount2(NEW_ROOT "/run", MNT_DETACH);
    if (r->own_tmp) umount2(NEW_ROOT "/tmp", MNT_DETACH);
  }
  make_fresh(r);
  if (kept && (mkdir_p(NEW_ROOT TOOLBOX_DIR) < 0 || mount("/toolbox", NEW_ROOT TOOLBOX_DIR, NULL, MS_MOVE, NULL) < 0))
    log_line("toolbox at %s: %s", TOOLBOX_DIR, strerror(errno));
  carry_mounts(r, view ? ROOT_VIEW : NULL);
  if (view) umount2(ROOT_VIEW, MNT_DETACH);
  link_or_ignore("/proc/self/fd", NEW_ROOT "/dev/fd");
  link_or_ignore("/proc/self/fd/0", NEW_ROOT "/dev/stdin");
  link_or_ignore("/proc/self/fd/1", NEW_ROOT "/dev/stdout");
  link_or_ignore("/proc/self/fd/2", NEW_ROOT "/dev/stderr");
  if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
    fatal("switch into the root: %s", strerror(errno));
}

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
 * dummy, mount -o loop): the kernel calls the toolbox's static modprobe. The host
 * tells which (it looks in the image without a round trip to virtiofsd per path,
 * 10-15 ms of each run under TCG here); a host that did not, the guest looks. */
void use_toolbox_modprobe(int told) {
  if (told == MODPROBE_IMAGE) return;
  if (told != MODPROBE_TOOLBOX && (access("/sbin/modprobe", X_OK) == 0 || access(TOOLBOX_MODPROBE, X_OK) != 0)) return;
  int fd = open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, TOOLBOX_MODPROBE, strlen(TOOLBOX_MODPROBE)) < 0) log_line("set modprobe: %s", strerror(errno));
  close(fd);
}

/* Without udev nobody creates the static nodes (/dev/loop-control, /dev/net/tun,
 * ...) whose first open loads their module: make them from modules.devname (DEVNAME,
 * else the running kernel's in /lib/modules), as `kmod static-nodes` does on a booted
 * system. Made at boot in devtmpfs, they are in every later mount of it (the new
 * root's /dev) and in the VM's snapshot. -1 when there is no such file. */
int make_static_nodes(const char *devname) {
  char path[512], line[512];
  struct utsname u;
  if (!devname) {
    uname(&u);
    snprintf(path, sizeof path, "/lib/modules/%s/modules.devname", u.release);
    devname = path;
  }
  FILE *f = fopen(devname, "r");
  if (!f) return -1;
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
  return 0;
}

void mount_user_tmpfs(struct request *r) {
  for (int i = 0; i < r->ntmpfs; i++) mount_tmpfs(r->tmpfs[i], r->tmpfs[i] + strlen(r->tmpfs[i]) + 1);
}
