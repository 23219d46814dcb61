/*
 * Logging, stopping, time, folders: what every part of the init uses.
 */
#include "init.h"

int ctl = -1;
int agent_mode;
int beside_init;

/* One line on the console: "testin-init: PREFIXmessage". */
static void vlog(const char *prefix, const char *fmt, va_list ap) {
  fprintf(stderr, "testin-init: %s", prefix);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void log_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog("", fmt, ap);
  va_end(ap);
}

void power_off(void) {
  if (agent_mode) exit(0);
  sync();
  if (beside_init) {
    /* the image's init powers the machine off: SIGRTMIN+4 is systemd's poweroff, SIGUSR2
     * busybox's (and others' that take signals); the host stops the VM should it not within its grace */
    char comm[32] = "";
    int fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, comm, sizeof comm - 1);
      comm[n > 0 ? n : 0] = 0;
      close(fd);
    }
    kill(1, strncmp(comm, "systemd", 7) == 0 ? SIGRTMIN + 4 : SIGUSR2);
    return;
  }
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

/* An init that cannot go on says why on the console and stops the VM; the host
 * sees the VM end without an EXIT and prints the console tail. */
void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog("fatal: ", fmt, ap);
  va_end(ap);
  if (agent_mode) exit(125);
  power_off();
  exit(125);
}

uint64_t uptime_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t uptime_ms(void) {
  return (uint32_t)(uptime_us() / 1000u);
}

#define MAX_STEPS 16
static struct {
  const char *name;
  uint64_t us;
} steps[MAX_STEPS];
static int step_count;

void step(const char *name) {
  if (step_count < MAX_STEPS) steps[step_count++] = (typeof(steps[0])){name, uptime_us()};
}

/* the steps marked so far as one TAG_STEPS field; they are said once */
void field_steps(struct buf *b) {
  char text[MAX_STEPS * 40];
  size_t n = 0;
  for (int i = 0; i < step_count && n < sizeof text; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s%s=%llu", i ? " " : "", steps[i].name, (unsigned long long)steps[i].us);
  if (step_count) field_str(b, TAG_STEPS, text);
  step_count = 0;
}

void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}


int mkdir_p(const char *path) {
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
