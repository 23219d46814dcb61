/*
 * `testin-agent --lease SOCKET`: the client's lease on a run (launcher/run-lease.ts,
 * container-init/client-lease.ts). docker exec'd by the launcher with stdin open, it
 * joins its stdio to container-init's lease socket: the run's result comes back on
 * stdout, and when the client goes away (its connection to the engine drops: the
 * engine ends this process, or its stdin ends) the socket closes, and container-init
 * stops the run. No node start: a few milliseconds, beside the VM's boot.
 */
#include "init.h"
#include <sys/un.h>

#define LEASE_CONNECT_MS 30000

int run_lease(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, path);
  int s = -1;
  /* container-init makes the socket a moment after its start: retried */
  for (int waited = 0;; waited += 10) {
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) break;
    if (s >= 0) close(s);
    if (waited >= LEASE_CONNECT_MS) {
      fprintf(stderr, "testin-agent --lease: %s: %s\n", path, strerror(errno));
      return 1;
    }
    usleep(10000);
  }
  signal(SIGPIPE, SIG_IGN);
  int stdin_open = 1;
  char buf[65536];
  for (;;) {
    struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = 0, .events = stdin_open ? POLLIN : 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[0].revents) {
      ssize_t n = read(s, buf, sizeof buf);
      /* container-init closed the lease: the result (if any) is out */
      if (n <= 0) return 0;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(1, buf + off, (size_t)(n - off));
        if (w <= 0) return 1;
        off += w;
      }
    }
    if (stdin_open && p[1].revents) {
      /* the client's words ("persist") go to container-init; their end means the client is gone */
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = 0;
        shutdown(s, SHUT_WR);
      } else {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(s, buf + off, (size_t)(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
    }
  }
}
