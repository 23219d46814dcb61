/*
 * `testin-agent --mount OP ARGS... [OP ARGS...]`: container-init's mounts of a run's
 * root (container-init/prepare-root.ts), made in one process by mount(2), in order,
 * stopping at the first that fails. node starting a process costs ~6 ms here, and
 * busybox mount one process per mount: the root took nine of them.
 *   mkdir PATH              mkdir -p
 *   bind SRC DST            mount --bind (not recursive)
 *   bind-there SRC DST      the same where DST is there (as the mounts before it left it), else nothing
 *   private DST             mount --make-private
 *   ro DST                  mount -o remount,bind,ro
 *   move SRC DST            mount --move
 *   tmpfs DST OPTIONS       mount -t tmpfs -o OPTIONS tmpfs DST
 */
#include "init.h"

static int fail(const char *what, const char *path) {
  fprintf(stderr, "mount: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

int run_mounts(char **argv) {
  for (char **a = argv; *a;) {
    const char *op = *a++;
    int n = strcmp(op, "bind") == 0 || strcmp(op, "bind-there") == 0 || strcmp(op, "move") == 0 || strcmp(op, "tmpfs") == 0 ? 2 : 1;
    for (int i = 0; i < n; i++)
      if (!a[i]) {
        fprintf(stderr, "testin-agent --mount: %s needs %d argument(s)\n", op, n);
        return 2;
      }
    int r;
    if (strcmp(op, "mkdir") == 0) r = mkdir_p(a[0]) < 0 ? fail("mkdir", a[0]) : 0;
    else if (strcmp(op, "bind") == 0) r = mount(a[0], a[1], NULL, MS_BIND, NULL) < 0 ? fail("bind on", a[1]) : 0;
    else if (strcmp(op, "bind-there") == 0) r = access(a[1], F_OK) < 0 ? 0 : mount(a[0], a[1], NULL, MS_BIND, NULL) < 0 ? fail("bind on", a[1]) : 0;
    else if (strcmp(op, "private") == 0) r = mount(NULL, a[0], NULL, MS_PRIVATE, NULL) < 0 ? fail("make-private", a[0]) : 0;
    else if (strcmp(op, "ro") == 0) r = mount(NULL, a[0], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0 ? fail("remount read-only", a[0]) : 0;
    else if (strcmp(op, "move") == 0) r = mount(a[0], a[1], NULL, MS_MOVE, NULL) < 0 ? fail("move to", a[1]) : 0;
    else if (strcmp(op, "tmpfs") == 0) r = mount("tmpfs", a[0], "tmpfs", 0, a[1]) < 0 ? fail("tmpfs on", a[0]) : 0;
    else {
      fprintf(stderr, "testin-agent --mount: unknown operation %s\n", op);
      return 2;
    }
    if (r) return r;
    a += n;
  }
  return 0;
}
