/*
 * Running commands: many at once, by id, on pipes or a pty; relaying their output; reaping; the serve loop.
 */
#include "init.h"

static const char *env_get(char **envp, const char *key) {
  size_t k = strlen(key);
  for (; *envp; envp++)
    if (strncmp(*envp, key, k) == 0 && (*envp)[k] == '=') return *envp + k + 1;
  return NULL;
}

/* Like runc: look the command up in the command's own PATH, never fall back
 * to /bin/sh for a file without a shebang (execvp would). The first file found
 * that the kernel cannot execute (ENOEXEC: a binary of another architecture, a
 * script without #!) ends the search with that error, as runc's LookPath + exec. */
static void exec_command(struct request *r) {
  const char *cmd = r->argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, r->argv, r->envp);
    return;
  }
  const char *path = env_get(r->envp, "PATH");
  if (!path) path = DEFAULT_PATH;
  int saw_eacces = 0;
  char full[4096];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    snprintf(full, sizeof full, "%.*s/%s", (int)(end - p), end == p ? "." : p, cmd);
    execve(full, r->argv, r->envp);
    if (errno == ENOEXEC) return;
    if (errno == EACCES) saw_eacces = 1;
    if (!*end) break;
    p = end;
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

/* The tests' hold on the guest (TESTIN_TEST_HOLD_GUEST_MS in the command's
 * environment): the init says nothing for that long after the EXEC, as a guest
 * on a very busy machine would. Names starting TESTIN_TEST_ are testin's own. */
void test_hold_guest(const struct request *r) {
  const char *ms = env_get(r->envp, "TESTIN_TEST_HOLD_GUEST_MS");
  if (!ms) return;
  long n = strtol(ms, NULL, 10);
  if (n > 0 && n < 600000) {
    struct timespec ts = {.tv_sec = n / 1000, .tv_nsec = (n % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  }
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
  uint64_t exited_us; /* when it was reaped */
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

/* What the command's process does between its start and its exec: on the init's own memory
 * (clone_command), so it touches nothing but its own stack, and says why it failed on `report`. */
struct command_start {
  struct request *r;
  int in, out, err, report;
};

static int command_process(void *arg) {
  struct command_start *s = arg;
  struct request *r = s->r;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  if (r->tty && ioctl(s->in, TIOCSCTTY, 0) < 0) _exit(EXIT_CANNOT_EXECUTE);
  dup2(s->in, 0);
  dup2(s->out, 1);
  dup2(s->err, 2);
  const char *step = "chdir";
  if (mkdir_p(r->cwd) < 0 || chdir(r->cwd) < 0) goto fail;
  /* --pids-limit: into the commands' cgroup, seen as the root of a cgroup namespace of its own */
  step = "join the command's cgroup";
  if (commands_cgroup >= 0 && (write(commands_cgroup, "0", 1) < 0 || unshare(CLONE_NEWCGROUP) < 0)) goto fail;
  step = "setrlimit";
  if (apply_rlimits(r, &step) < 0) goto fail;
  step = "setgroups";
  if (setgroups(r->ngroups, r->groups) < 0) goto fail;
  step = "setgid";
  if (setgid(r->gid) < 0) goto fail;
  if (drop_bounding_caps(r, &step) < 0) goto fail;
  step = "setuid";
  if (setuid(r->uid) < 0) goto fail;
  if (limit_process(r, &step) < 0) goto fail;
  step = "exec";
  exec_command(r);
fail:;
  int e = errno;
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%d %s", e, step);
  (void)!write(s->report, msg, (size_t)n);
  _exit(e == ENOENT && strcmp(step, "exec") == 0 ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
}

/* the commands' processes start on it (clone_command) */
static char command_stack[256 * 1024] __attribute__((aligned(16)));

/* The command's process, as posix_spawn makes it: on the init's memory (no copy of its page
 * tables, which a fork makes and which took 15-25 ms of each run under TCG here), the init
 * waiting until it has exec'd or failed. The init has no signal handlers and one thread,
 * so nothing runs beside the child on the memory they share. */
static pid_t clone_command(struct command_start *s) {
  return clone(command_process, command_stack + sizeof command_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
}

/* what relay() reads a command's output into */
static uint8_t relay_chunk[65536];

/* A command's path (absolute, or from its working directory) names a file: an exec's ENOENT was then its interpreter's */
static int path_exists(const struct request *r, const char *path) {
  char full[PATH_MAX];
  if (path[0] == '/') snprintf(full, sizeof full, "%s", path);
  else snprintf(full, sizeof full, "%s/%s", r->cwd && r->cwd[0] ? r->cwd : "/", path);
  struct stat st;
  return stat(full, &st) == 0;
}

/* The top of the commands' stack, where each one's process starts, and the output's buffer:
 * written at boot, they are in the snapshot's RAM, and a restored run faults none of them in. */
void touch_command_buffers(void) {
  size_t top = 32 << 10;
  memset(command_stack + sizeof command_stack - top, 0, top);
  memset(relay_chunk, 0, sizeof relay_chunk);
  __asm__ volatile("" : : "r"(command_stack), "r"(relay_chunk) : "memory");
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
  struct command_start start = {.r = r, .in = in[0], .out = out[1], .err = err[1], .report = report[1]};
  pid_t pid = clone_command(&start);
  if (pid < 0) fatal("clone: %s", strerror(errno));
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
    int code = e == ENOENT && strcmp(step, "exec") == 0 ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
    if (strcmp(step, "exec") == 0 && e == ENOEXEC)
      send_error(c->id, code, "exec %s: exec format error (not a program this VM (%s) can run: a binary of another architecture, or a script without #!)", r->argv[0], GUEST_ARCH);
    else if (strcmp(step, "exec") == 0 && e == ENOENT && strchr(r->argv[0], '/'))
      send_error(c->id, code, "exec %s: no such file or directory%s", r->argv[0], path_exists(r, r->argv[0]) ? " (the file is there, its interpreter is not: the ELF loader it names, or the program of its #! line)" : "");
    else if (strcmp(step, "exec") == 0)
      send_error(c->id, code, "exec %s: %s", r->argv[0], e == ENOENT ? "executable file not found in $PATH" : strerror(e));
    else
      send_error(c->id, code, "%s%s%s: %s", step, strcmp(step, "chdir") == 0 ? " " : "", strcmp(step, "chdir") == 0 ? r->cwd : "", strerror(e));
    return -1;
  }
  return 0;
}

/* Starts the command of one EXEC request and says STARTED, or reports why not. */
void run_exec(struct request *r, uint32_t id, uint32_t root_ms) {
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
  step("command");
  struct buf b = {0};
  field_u32(&b, TAG_ROOT_MS, root_ms);
  field_u32(&b, TAG_UPTIME_MS, uptime_ms());
  field_steps(&b);
  send_msg(MSG_STARTED, id, b.data, b.len);
  free(b.data);
}

/* Moves what a pipe holds into MSG_STDOUT/MSG_STDERR frames; returns 0 at EOF. */
static int relay(struct child *c, int fd, uint8_t type) {
  for (;;) {
    ssize_t n = read(fd, relay_chunk, sizeof relay_chunk);
    if (n > 0) {
      send_msg(type, c->id, relay_chunk, (size_t)n);
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
  char exited[32];
  snprintf(exited, sizeof exited, "exited=%llu", (unsigned long long)c->exited_us);
  field_str(&b, TAG_STEPS, exited);
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
        c->exited_us = uptime_us();
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
      reseed_random(r->seed, r->seed_len);
      if (r->argc == 0) {
        send_error(f->id, 125, "EXEC without a command");
        struct buf b = {0};
        field_u32(&b, TAG_CODE, 125);
        send_msg(MSG_EXIT, f->id, b.data, b.len);
        free(b.data);
        free_request(r);
        free(r);
        break;
      }
      run_exec(r, f->id, root_ms);
      /* the child has its own copy now */
      free_request(r);
      free(r);
      break;
    }
    case MSG_STDIN:
      if (!c) break;
      if (f->len == 0) c->stdin_eof = 1;
      else buf_put(&c->pending_in, f->payload, f->len);
      flush_stdin(c);
      break;
    case MSG_SIGNAL:
      if (c && f->len >= 4 && c->pid > 0 && !c->exited) {
        int signo = (int)get_u32(f->payload);
        /* Ctrl-C and Ctrl-\ reach the command's whole process group, as a terminal sends them to
         * its foreground job (sh -c 'make test' stops make too, not just sh); other signals go to
         * the command alone, as docker stop and docker kill send them */
        kill(signo == SIGINT || signo == SIGQUIT ? -c->pid : c->pid, signo);
      }
      break;
    case MSG_POWEROFF:
      power_off();
      break;
    case MSG_DMESG:
      send_dmesg(f->id);
      break;
    case MSG_DIAL:
      forward_dial(f);
      break;
    case MSG_RESIZE:
      if (c && f->len >= 8 && c->tty_master >= 0) set_winsize(c->tty_master, (unsigned short)get_u32(f->payload), (unsigned short)get_u32(f->payload + 4));
      break;
    default:
      log_line("unexpected message type %u", f->type);
  }
}

void serve(int sigfd, uint32_t root_ms) {
  struct pollfd p[3 + 3 * MAX_CHILDREN];
  struct child *owner[3 + 3 * MAX_CHILDREN];
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
    p[n++] = (struct pollfd){port_timer, POLLIN, 0}; /* -1 (no forwarding): poll skips it */
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
    if (p[2].revents) forward_scan();
    for (int i = 3; i < n; i++) {
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

struct frame wait_frame(void) {
  struct frame f;
  while (!inbox_frame(&f)) {
    if (inbox_fill()) continue;
    if (agent_mode) exit(125);
    sleep_ms(10);
  }
  return f;
}
