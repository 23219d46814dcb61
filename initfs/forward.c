/*
 * The guest's servers, reachable from the container's network as in docker,
 * whether or not a port was declared (-p, --expose, compose's expose:).
 *
 * Every PORT_SCAN_MS the init looks at the TCP sockets listening on an address
 * other than loopback and, when the set changed, tells container-init (PORTS).
 * container-init listens on those ports in the container; for each connection
 * it sends a DIAL. A child of the init then connects to the server here and
 * back to container-init's tunnel port through the NIC's gateway (which both
 * network backends map to the container's loopback), says who it is (token,
 * connection number, whether the server took it) and relays the two sockets
 * until both sides have closed.
 */
#include "init.h"

#include <sys/timerfd.h>

#define PORT_SCAN_MS 100
#define MAX_PORTS 4096

int port_timer = -1;
static uint16_t tunnel_port;
static uint8_t tunnel_token[TUNNEL_TOKEN_LEN];
static uint16_t reported[MAX_PORTS];
static int nreported;

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* spec: "PORT TOKENHEX", from the first EXEC */
void forward_start(const char *spec) {
  unsigned port = 0;
  char hex[2 * TUNNEL_TOKEN_LEN + 1] = "";
  if (!spec || sscanf(spec, "%u %32s", &port, hex) != 2 || port == 0 || port > 65535 || strlen(hex) != 2 * TUNNEL_TOKEN_LEN) return;
  for (int i = 0; i < TUNNEL_TOKEN_LEN; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    tunnel_token[i] = (uint8_t)(hi << 4 | lo);
  }
  tunnel_port = (uint16_t)port;
  port_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (port_timer < 0) {
    log_line("port forwarding off: timerfd: %s", strerror(errno));
    return;
  }
  struct itimerspec every = {{0, PORT_SCAN_MS * 1000000L}, {0, 1000000L}};
  timerfd_settime(port_timer, 0, &every, NULL);
}

/* a listening socket's local address as /proc/net/tcp{,6} prints it: loopback? */
static int is_loopback(const char *hex) {
  size_t n = strlen(hex);
  /* IPv4: the __be32 printed as a host-order number, so 127.x.y.z ends in "7F" */
  if (n == 8) return strcmp(hex + 6, "7F") == 0;
  if (n == 32) {
    if (strcmp(hex, "00000000000000000000000001000000") == 0) return 1; /* ::1 */
    return strncmp(hex, "0000000000000000FFFF0000", 24) == 0 && strcmp(hex + 30, "7F") == 0; /* ::ffff:127.x */
  }
  return 0;
}

static int cmp_port(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int scan_file(const char *path, uint16_t *ports, int n) {
  FILE *f = fopen(path, "re");
  if (!f) return n;
  char line[512];
  if (!fgets(line, sizeof line, f)) line[0] = 0; /* the header */
  while (n < MAX_PORTS && fgets(line, sizeof line, f)) {
    char local[80];
    unsigned state;
    if (sscanf(line, " %*u: %79s %*s %x", local, &state) != 2 || state != 0x0A /* TCP_LISTEN */) continue;
    char *colon = strrchr(local, ':');
    if (!colon) continue;
    *colon = 0;
    unsigned long port = strtoul(colon + 1, NULL, 16);
    if (port == 0 || port > 65535 || is_loopback(local)) continue;
    ports[n++] = (uint16_t)port;
  }
  fclose(f);
  return n;
}

void forward_scan(void) {
  uint64_t ticks;
  if (read(port_timer, &ticks, sizeof ticks) < 0 && errno != EAGAIN) return;
  static uint16_t now[MAX_PORTS];
  int n = scan_file("/proc/net/tcp", now, 0);
  n = scan_file("/proc/net/tcp6", now, n);
  qsort(now, (size_t)n, sizeof now[0], cmp_port);
  int unique = 0;
  for (int i = 0; i < n; i++)
    if (unique == 0 || now[unique - 1] != now[i]) now[unique++] = now[i];
  if (unique == nreported && memcmp(now, reported, (size_t)unique * sizeof now[0]) == 0) return;
  memcpy(reported, now, (size_t)unique * sizeof now[0]);
  nreported = unique;
  struct buf b = {0};
  for (int i = 0; i < unique; i++) field_u32(&b, TAG_PORT, now[i]);
  send_msg(MSG_PORTS, 0, b.data, b.len);
  free(b.data);
}

static int connect_to(struct in_addr ip, uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip};
  if (s >= 0 && connect(s, (struct sockaddr *)&to, sizeof to) == 0) return s;
  if (s >= 0) close(s);
  return -1;
}

/* both directions until each has ended: an end is passed on as a half-close */
static void relay_pair(int a, int b) {
  static uint8_t data[65536];
  int fds[2] = {a, b}, open_in[2] = {1, 1};
  while (open_in[0] || open_in[1]) {
    struct pollfd p[2];
    int which[2], n = 0;
    for (int i = 0; i < 2; i++)
      if (open_in[i]) which[n] = i, p[n++] = (struct pollfd){fds[i], POLLIN, 0};
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int k = 0; k < n; k++) {
      if (!p[k].revents) continue;
      int from = which[k], to = 1 - from;
      ssize_t r = read(fds[from], data, sizeof data);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        open_in[from] = 0;
        shutdown(fds[to], SHUT_WR);
        if (r < 0) return; /* a reset: the other side is reset too, when we exit */
        continue;
      }
      if (write_all(fds[to], data, (size_t)r) < 0) return;
    }
  }
}

void forward_dial(const struct frame *f) {
  if (port_timer < 0) return;
  uint32_t port = 0, conn = 0;
  size_t off = 0;
  struct field fl;
  int more;
  while ((more = next_field(f, &off, &fl)) > 0) {
    if (fl.tag == TAG_PORT) port = fl.num;
    if (fl.tag == TAG_CONN) conn = fl.num;
  }
  if (more < 0) return;
  if (port == 0 || port > 65535) return;
  pid_t pid = fork();
  if (pid < 0) log_line("port %u: fork: %s", port, strerror(errno));
  if (pid != 0) return; /* the init goes on; reap() takes the child when it ends */

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* the init's fds (the channel, the commands' pipes: a command would not see
   * the end of its stdin while a connection is open) are not this child's */
  if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
    for (int fd = 3; fd < 1024; fd++) close(fd);
  int server = connect_to(guest_ip, (uint16_t)port);
  int back = connect_to(gateway_ip, tunnel_port);
  if (back < 0) _exit(1);
  uint8_t hello[TUNNEL_HELLO_LEN];
  memcpy(hello, tunnel_token, TUNNEL_TOKEN_LEN);
  for (int i = 0; i < 4; i++) hello[TUNNEL_TOKEN_LEN + i] = (uint8_t)(conn >> (8 * i));
  hello[TUNNEL_TOKEN_LEN + 4] = server >= 0 ? 0 : 1;
  if (write_all(back, hello, sizeof hello) == 0 && server >= 0) relay_pair(server, back);
  _exit(0);
}
