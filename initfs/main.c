/*
 * main: boot as PID 1 (or --agent on fd 3), take the first EXEC, serve.
 */
#include "init.h"

static char *own_argv0;

/* testin's own mounts (the toolbox under /run/testin, the kernel's modules) are busy until the
 * end (the agent, udev's mapped module indexes): the image's systemd is told not to stop them
 * at shutdown, which would only fail; the final unmount loop and sync take them as they take /. */
static void keep_own_mounts(void) {
  static const char *const prefixes[] = {"run-testin-", "usr-lib-modules-"};
  static const char conf[] = "# testin: this mount is the VM's own, kept until the end\n[Unit]\nDefaultDependencies=no\n";
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    char dir[128];
    snprintf(dir, sizeof dir, "/run/systemd/system/%s.mount.d", prefixes[i]);
    char file[160];
    snprintf(file, sizeof file, "%s/testin.conf", dir);
    int fd = mkdir_p(dir) < 0 ? -1 : open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, conf, sizeof conf - 1) < 0) log_line("keep %s mounts: %s", prefixes[i], strerror(errno));
    if (fd >= 0) close(fd);
  }
}

/* --boot: the image's init becomes PID 1 (this process, exec'd), and a child
 * of it goes on as testin's agent: it serves commands, streams, signals, files
 * and dmesg beside the image's init. Its argv[0] starts with '@', which
 * systemd's shutdown spares (as it spares a root storage daemon) until the end. */
void start_image_init(const char *path) {
  keep_own_mounts();
  pid_t pid = fork();
  if (pid < 0) fatal("fork for the image's init: %s", strerror(errno));
  if (pid > 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *const argv[] = {(char *)path, NULL};
    char *const envp[] = {"HOME=/", "TERM=linux", NULL};
    execve(path, argv, envp);
    /* PID 1 cannot go on without an init: say why, and stop the VM */
    log_line("fatal: exec the image's init %s: %s (--boot=PATH names another)", path, strerror(errno));
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
  }
  beside_init = 1;
  if (own_argv0) own_argv0[0] = '@';
  prctl(PR_SET_NAME, "testin-agent");
  /* the commands' orphans come back to us, not to the image's init */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* the static nodes were made at boot, from the initrd's modules.devname */
static int static_nodes_made;
/* the set-up every run needs is done at boot, before the snapshot; the kernel
 * argument testin.late_setup leaves it to each run, as before (bench/start's "before" row) */
static int early_setup;

/* the kernel's command line has this word, or (value given) this word=VALUE: the last one's value in `value` */
static int kernel_arg_value(const char *word, char *value, size_t size) {
  char line[4096];
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  line[n > 0 ? n : 0] = 0;
  size_t len = strlen(word);
  int found = 0;
  for (char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
    if (p != line && p[-1] != ' ') continue;
    char end = p[len];
    if (!value && (end == ' ' || end == '\n' || end == 0)) return 1;
    if (value && end == '=') {
      snprintf(value, size, "%.*s", (int)strcspn(p + len + 1, " \n"), p + len + 1);
      found = 1;
    }
  }
  return found;
}

static int kernel_arg(const char *word) {
  return kernel_arg_value(word, NULL, 0);
}

/* the first EXEC's request (main) */
static struct request req;

/* What a restored guest's init writes first (the request, the heap the EXEC's strings go on, the
 * command's stack, the buffer its output goes through) is written at boot: in the snapshot's RAM
 * already, not new pages for each run to fault in (13-20 ms under TCG here: the kernel's
 * page-fault path taken for the first time in a new QEMU). A freed chunk below glibc's trim
 * threshold (128 KiB) stays in the heap for the next malloc. */
static void touch_run_memory(void) {
  memset(&req, 0, sizeof req);
  touch_command_buffers();
  size_t size = 96 << 10;
  char *heap = malloc(size);
  if (!heap) return;
  memset(heap, 0, size);
  /* the compiler must not drop the writes */
  __asm__ volatile("" : : "r"(heap) : "memory");
  free(heap);
}

int main(int argc, char **argv) {
  own_argv0 = argv[0];
  /* the warm-up's process to exec and end (warm.c) */
  if (argc > 1 && strcmp(argv[1], "--noop") == 0) return 0;
  if (argc > 2 && strcmp(argv[1], "--lease") == 0) return run_lease(argv[2]);
  if (argc > 2 && strcmp(argv[1], "--init") == 0) return run_init(argv + 2);
  if (argc > 1 && strcmp(argv[1], "--mount") == 0) return run_mounts(argv + 2);
  if (argc > 1 && strcmp(argv[1], "--ram-load") == 0) return run_ram_load(argv + 2);
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
    early_setup = !kernel_arg("testin.late_setup");
    if (early_setup) static_nodes_made = make_static_nodes("/modules/devname") == 0;
  }

  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);

  if (!agent_mode) {
    check_drivers();
    /* what every run's guest would do first, done once before the snapshot is taken:
     * the links up, and the NIC's address and route when the kernel's command line gives
     * them (testin.net=ADDRESS/PREFIX,GATEWAY[,MTU]: the same for every run of this VM) */
    if (early_setup) {
      links_up();
      char net[96];
      if (kernel_arg_value("testin.net", net, sizeof net)) configure_network_at_boot(net);
      if (!kernel_arg("testin.root_per_run")) {
        mount_root_at_boot();
        premake_root_mounts();
      }
    }
    ctl = open_port(CTL_PORT_NAME);
    if (!kernel_arg("testin.no_warm")) warm_up_fork();
  }
  touch_run_memory();
  struct utsname u;
  uname(&u);
  struct buf hello = {0};
  field_str(&hello, TAG_RELEASE, u.release);
  field_u32(&hello, TAG_UPTIME_MS, uptime_ms());
  send_msg(MSG_HELLO, 0, hello.data, hello.len);

  struct frame f = wait_frame();
  step("exec");
  warm_up_start();
  if (f.type != MSG_EXEC) fatal("expected EXEC, got message type %u", f.type);
  parse_exec(&f, &req);
  /* the fresh entropy goes in on the warm-up's vCPU while this one mounts the root */
  int seeding = warm_up_reseed(&req);
  if (!seeding) reseed_random(req.seed, req.seed_len);
  uint32_t first_id = f.id;
  inbox_drop(&f);
  test_hold_guest(&req);

  if (!agent_mode) {
    mount_root(&req);
    enter_root(&req);
  }
  uint32_t root_ms = uptime_ms();
  step("root");
  if (req.hostname) sethostname(req.hostname, strlen(req.hostname));
  mount_user_tmpfs(&req);
  /* nothing of the user's runs before the generator is reseeded */
  if (seeding && !warm_up_reseeded()) reseed_random(req.seed, req.seed_len);
  step("tmpfs");
  if (!agent_mode) {
    use_toolbox_modprobe(req.modprobe);
    if (!static_nodes_made) make_static_nodes(NULL);
    step("devices");
    configure_network(req.net, req.announce);
    if (guest_ip.s_addr && gateway_ip.s_addr) forward_start(req.tunnel);
    if (req.boot) start_image_init(req.boot);
    step("network");
  }

  char why[600];
  int refused = apply_machine_settings(&req, why, sizeof why) < 0;
  step("settings");
  if (refused) {
    /* docker refuses such a run before it starts: 125, and the command never runs */
    send_error(first_id, 125, "%s", why);
    struct buf b = {0};
    field_u32(&b, TAG_CODE, 125);
    send_msg(MSG_EXIT, first_id, b.data, b.len);
    free(b.data);
  } else if (req.argc > 0) {
    run_exec(&req, first_id, root_ms);
  } else {
    /* a session: the first EXEC only sets the VM up; commands come later */
    struct buf b = {0};
    field_u32(&b, TAG_ROOT_MS, root_ms);
    field_u32(&b, TAG_UPTIME_MS, uptime_ms());
    field_steps(&b);
    send_msg(MSG_STARTED, first_id, b.data, b.len);
    free(b.data);
  }
  serve(sigfd, root_ms);
  return 0;
}
