/*
 * The control channel: length-prefixed frames on the virtio port (or fd 3), and the EXEC request.
 */
#include "init.h"

/* ---- framing ---------------------------------------------------------- */

void buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) fatal("out of memory");
  b->cap = cap;
}

void buf_put(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void buf_u8(struct buf *b, uint8_t v) { buf_put(b, &v, 1); }

void buf_u32(struct buf *b, uint32_t v) {
  uint8_t le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
  buf_put(b, le, 4);
}

uint32_t get_u32(const uint8_t *p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

void field_bytes(struct buf *b, uint8_t tag, const void *p, size_t n) {
  buf_u8(b, tag);
  buf_u32(b, (uint32_t)n);
  buf_put(b, p, n);
}

void field_str(struct buf *b, uint8_t tag, const char *s) { field_bytes(b, tag, s, strlen(s)); }

void field_u32(struct buf *b, uint8_t tag, uint32_t v) {
  buf_u8(b, tag);
  buf_u32(b, 4);
  buf_u32(b, v);
}

int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        poll(&pfd, 1, -1);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

void send_msg(uint8_t type, uint32_t id, const void *payload, size_t n) {
  struct buf b = {0};
  buf_u32(&b, (uint32_t)(n + 5));
  buf_u8(&b, type);
  buf_u32(&b, id);
  buf_put(&b, payload, n);
  if (write_all(ctl, b.data, b.len) < 0) fatal("write to control port: %s", strerror(errno));
  free(b.data);
}

void send_error(uint32_t id, uint32_t code, const char *fmt, ...) {
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

static struct buf inbox;

/* Returns 1 and fills f when a whole frame is buffered. Consume it with inbox_drop. */
int inbox_frame(struct frame *f) {
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

void inbox_drop(const struct frame *f) {
  size_t used = FRAME_HEADER + f->len;
  memmove(inbox.data, inbox.data + used, inbox.len - used);
  inbox.len -= used;
}

/* Reads what the port has; returns 0 at EOF. */
int inbox_fill(void) {
  buf_reserve(&inbox, 65536);
  ssize_t r = read(ctl, inbox.data + inbox.len, 65536);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
  inbox.len += (size_t)r;
  return r > 0;
}


/* ---- the EXEC request -------------------------------------------------- */

int next_field(const struct frame *f, size_t *off, struct field *out) {
  if (*off + 5 > f->len) return 0;
  out->tag = f->payload[*off];
  out->len = get_u32(f->payload + *off + 1);
  out->value = f->payload + *off + 5;
  if (*off + 5 + out->len > f->len) return -1;
  out->num = out->len == 4 ? get_u32(out->value) : 0;
  *off += 5 + out->len;
  return 1;
}

static char *dup_field(const uint8_t *p, uint32_t n) {
  char *s = malloc(n + 1);
  if (!s) fatal("out of memory");
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

/* appends to a NULL-terminated list that grows as needed */
static void push(char ***list, int *n, int *cap, char *s) {
  if (*n + 1 >= *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *list = realloc(*list, (size_t)*cap * sizeof **list);
    if (!*list) fatal("out of memory");
  }
  (*list)[(*n)++] = s;
  (*list)[*n] = NULL;
}

void free_request(struct request *r) {
  for (int i = 0; i < r->argc; i++) free(r->argv[i]);
  for (int i = 0; i < r->envc; i++) free(r->envp[i]);
  for (int i = 0; i < r->ntmpfs; i++) free(r->tmpfs[i]);
  for (int i = 0; i < r->nvolumes; i++) free(r->volumes[i]);
  for (int i = 0; i < r->nsysctls; i++) free(r->sysctls[i]);
  for (int i = 0; i < r->nrlimits; i++) free(r->rlimits[i]);
  for (int i = 0; i < r->nfresh; i++) free(r->fresh[i].field);
  for (int i = 0; i < r->ncarry; i++) free(r->carry[i]);
  for (int i = 0; i < r->ndevices; i++) free(r->devices[i]);
  free(r->caps);
  free(r->shm_size);
  free(r->argv);
  free(r->envp);
  free(r->cwd);
  free(r->hostname);
  free(r->net);
  free(r->tunnel);
  free(r->boot);
  memset(r, 0, sizeof *r);
}

/* Fresh host entropy, credited, then a reseed of the kernel's generator: a VM
 * restored from a snapshot would otherwise replay the snapshot's random state
 * (the same /dev/urandom bytes, the same UUIDs) in every run. */
void reseed_random(const uint8_t *bytes, uint32_t len) {
  if (agent_mode || len == 0) return;
  struct {
    struct rand_pool_info info;
    uint8_t bytes[64];
  } seed = {0};
  if (len > sizeof seed.bytes) len = sizeof seed.bytes;
  memcpy(seed.bytes, bytes, len);
  seed.info.entropy_count = (int)len * 8;
  seed.info.buf_size = (int)len;
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    log_line("reseed: open /dev/urandom: %s", strerror(errno));
    return;
  }
  if (ioctl(fd, RNDADDENTROPY, &seed) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0) log_line("reseed the random generator: %s", strerror(errno));
  close(fd);
}

/* the seed's hex, kept for reseed_random */
static void keep_seed(struct request *r, const uint8_t *hex, uint32_t n) {
  uint32_t len = n / 2 > sizeof r->seed ? (uint32_t)sizeof r->seed : n / 2;
  for (uint32_t i = 0; i < len; i++) {
    char pair[3] = {(char)hex[2 * i], (char)hex[2 * i + 1], 0};
    r->seed[i] = (uint8_t)strtoul(pair, NULL, 16);
  }
  r->seed_len = len;
}

void parse_exec(const struct frame *f, struct request *r) {
  memset(r, 0, sizeof *r);
  /* an empty list is a list: execve and env_get need their NULL */
  push(&r->argv, &r->argc, &r->argcap, NULL);
  r->argc = 0;
  push(&r->envp, &r->envc, &r->envcap, NULL);
  r->envc = 0;
  size_t off = 0;
  struct field fl;
  int more;
  while ((more = next_field(f, &off, &fl)) != 0) {
    if (more < 0) fatal("truncated EXEC field");
    const uint8_t *v = fl.value;
    uint32_t n = fl.len, num = fl.num;
    switch (fl.tag) {
      case TAG_ARG: push(&r->argv, &r->argc, &r->argcap, dup_field(v, n)); break;
      case TAG_ENV: push(&r->envp, &r->envc, &r->envcap, dup_field(v, n)); break;
      case TAG_CWD: r->cwd = dup_field(v, n); break;
      case TAG_UID: r->uid = num; break;
      case TAG_GID: r->gid = num; break;
      case TAG_GROUP: if (r->ngroups < 256) r->groups[r->ngroups++] = num; break;
      case TAG_HOSTNAME: r->hostname = dup_field(v, n); break;
      case TAG_STDIN: r->want_stdin = num != 0; break;
      case TAG_NET: r->net = dup_field(v, n); break;
      case TAG_TUNNEL: r->tunnel = dup_field(v, n); break;
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
      case TAG_SEED: keep_seed(r, v, n); break;
      case TAG_TMPFS: if (r->ntmpfs < 64) r->tmpfs[r->ntmpfs++] = dup_field(v, n); break;
      case TAG_VOLUME: if (r->nvolumes < 64) r->volumes[r->nvolumes++] = dup_field(v, n); break;
      case TAG_BOOT: free(r->boot); r->boot = dup_field(v, n); break;
      case TAG_SYSCTL: if (r->nsysctls < 64) r->sysctls[r->nsysctls++] = dup_field(v, n); break;
      case TAG_RLIMIT: if (r->nrlimits < 16) r->rlimits[r->nrlimits++] = dup_field(v, n); break;
      case TAG_CAPS: free(r->caps); r->caps = dup_field(v, n); break;
      case TAG_NO_NEW_PRIVS: r->no_new_privs = num != 0; break;
      case TAG_SHM_SIZE: free(r->shm_size); r->shm_size = dup_field(v, n); break;
      case TAG_ANNOUNCE: r->announce = num != 0; break;
      case TAG_MODPROBE: r->modprobe = (int)num; break;
      case TAG_FRESH:
        if (r->nfresh < 256) {
          r->fresh[r->nfresh].field = dup_field(v, n);
          r->fresh[r->nfresh++].len = n;
        }
        break;
      case TAG_CARRY: if (r->ncarry < 64) r->carry[r->ncarry++] = dup_field(v, n); break;
      case TAG_DEVICE: if (r->ndevices < 16) r->devices[r->ndevices++] = dup_field(v, n); break;
      case TAG_PIDS_LIMIT: r->pids_limit = num; break;
      case TAG_OWN_DIR:
        if (n == 4 && memcmp(v, "/run", 4) == 0) r->own_run = 1;
        if (n == 4 && memcmp(v, "/tmp", 4) == 0) r->own_tmp = 1;
        break;
      default: break; /* unknown fields are skipped: newer hosts may send more */
    }
  }
  if (!r->cwd) r->cwd = strdup("/");
}
