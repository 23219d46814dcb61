#ifndef TESTIN_INIT_H
#define TESTIN_INIT_H

#define _GNU_SOURCE

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
 * `init --lease SOCKET` is the client's lease on a run, in the container (lease.c);
 * `init --init CMD...` is PID 1 of the container, before container-init (pid1.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
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
#include <linux/random.h>
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
/* the toolbox (contract/layout.ts TOOLBOX_MOUNT), bound by container-init under the image's /run */
#define TOOLBOX_DIR "/run/testin/toolbox"
#define TOOLBOX_MODPROBE TOOLBOX_DIR "/sbin/modprobe" /* contract/layout.ts: TOOLBOX_LAYOUT.modprobe */
/* the contract's values (contract/run-plan.ts, contract/exit-codes.ts): a unit test compares them */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXIT_CANNOT_EXECUTE 126
/* the architecture the init (and so the VM) was built for, as docker's platforms name it */
#if defined(__x86_64__)
#define GUEST_ARCH "linux/amd64"
#elif defined(__aarch64__)
#define GUEST_ARCH "linux/arm64"
#else
#define GUEST_ARCH "this architecture"
#endif
#define EXIT_NOT_FOUND 127

extern char **environ;

extern int ctl;        /* the control channel: the virtio port, or fd 3 with --agent */
extern int agent_mode; /* --agent: no VM (testin run --no-vm) */

struct buf {
  uint8_t *data;
  size_t len, cap;
};

/* A received frame: type, id and payload point into the reader's buffer. */
struct frame {
  uint8_t type;
  uint32_t id;
  const uint8_t *payload;
  size_t len;
};

struct request {
  /* NULL-terminated, as long as the host sent (docker's limits are the kernel's, not ours) */
  char **argv;
  int argc, argcap;
  char **envp;
  int envc, envcap;
  gid_t groups[256];
  int ngroups;
  char *cwd, *hostname;
  uid_t uid;
  gid_t gid;
  int want_stdin;
  char *net; /* "address/prefix gateway", or NULL: no NIC to configure */
  char *tunnel; /* "port token": forward the guest's listening ports (forward.c) */
  int tty;                  /* run on a pty */
  unsigned short rows, cols; /* its first size */
  char *tmpfs[64]; /* "target\0options" */
  int ntmpfs;
  char *volumes[64]; /* "target\0ro|rw", parents first */
  int nvolumes;
  char *boot; /* the image's init, to become PID 1 after the set-up (--boot); NULL: none */
  char *sysctls[64]; /* "key=value" */
  int nsysctls;
  char *rlimits[16]; /* "RESOURCE SOFT HARD" */
  int nrlimits;
  char *caps;     /* hex mask kept; NULL: all */
  int no_new_privs;
  char *shm_size; /* bytes; NULL: as mounted */
  int announce;   /* the run publishes ports: tell the gateway who we are at once */
  int modprobe;   /* MODPROBE_*, as the host found the image; 0: look */
  uint8_t seed[64]; /* fresh entropy from the host, put in by reseed_random (or the warm-up) */
  uint32_t seed_len;
  struct { char *field; uint32_t len; } fresh[256]; /* TAG_FRESH, as sent */
  int nfresh;
  char *carry[64]; /* TAG_CARRY */
  int ncarry;
  int own_run, own_tmp; /* TAG_OWN_DIR */
  char *devices[16]; /* TAG_DEVICE */
  int ndevices;
  uint32_t pids_limit; /* TAG_PIDS_LIMIT; 0: none */
};

/* base.c */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void power_off(void);
/* set when the image's init is PID 1 and this init serves beside it (--boot) */
extern int beside_init;
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint32_t uptime_ms(void);
uint64_t uptime_us(void);
/* the guest's own steps of a run (its EXEC to its command), said in the first STARTED (TAG_STEPS) */
void step(const char *name);
void field_steps(struct buf *b);
void sleep_ms(long ms);
int mkdir_p(const char *path);
/* main.c */
void start_image_init(const char *path);
/* lease.c */
int run_lease(const char *path);
/* pid1.c */
int run_init(char **argv);
/* `testin-agent --mount OP ARGS...`: container-init's mounts, in one process (mounts.c) */
int run_mounts(char **argv);
/* `testin-agent --ram-load IMAGE RAMFILE OFFSET LENGTH...`: a snapshot's RAM written back (ram-load.c) */
int run_ram_load(char **argv);

/* channel.c: frames out (send_msg), frames in (inbox_*), the EXEC request */
void buf_reserve(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_u8(struct buf *b, uint8_t v);
void buf_u32(struct buf *b, uint32_t v);
uint32_t get_u32(const uint8_t *p);
void field_bytes(struct buf *b, uint8_t tag, const void *p, size_t n);
void field_str(struct buf *b, uint8_t tag, const char *s);
void field_u32(struct buf *b, uint8_t tag, uint32_t v);
int write_all(int fd, const uint8_t *p, size_t n); /* all of it, or -1 with errno */
void send_msg(uint8_t type, uint32_t id, const void *payload, size_t n);
/* a frame's fields in turn: 1 and the next in *out, 0 at the end, -1 if truncated */
struct field {
  uint8_t tag;
  uint32_t len, num; /* num: the value as a u32 when it is 4 bytes long, else 0 */
  const uint8_t *value;
};
int next_field(const struct frame *f, size_t *off, struct field *out);
void send_error(uint32_t id, uint32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int inbox_frame(struct frame *f);
void inbox_drop(const struct frame *f);
int inbox_fill(void);
void parse_exec(const struct frame *f, struct request *r);
void free_request(struct request *r);

/* process.c: docker's process settings in the VM */
/* --pids-limit: the commands' cgroup's cgroup.procs, which each command's process joins; -1: none */
extern int commands_cgroup;
int apply_machine_settings(const struct request *r, char *msg, size_t len);
int apply_rlimits(const struct request *r, const char **step);
int drop_bounding_caps(const struct request *r, const char **step);
int limit_process(const struct request *r, const char **step);

/* boot.c */
int mount_or_log(const char *src, const char *dst, const char *type, unsigned long flags, const char *data);
void load_modules(void);
void check_drivers(void);
int open_port(const char *want);
void mount_root_at_boot(void);
void premake_root_mounts(void);
void mount_root(const struct request *r);
void enter_root(const struct request *r);
void use_toolbox_modprobe(int told);
/* warm.c */
void warm_up_fork(void);
void warm_up_start(void);
int warm_up_reseed(const struct request *r);
void reseed_random(const uint8_t *bytes, uint32_t len);
int warm_up_reseeded(void);
int make_static_nodes(const char *devname);
/* lo and the NIC up with no address yet: at boot, before a snapshot */
void links_up(void);
void mount_user_tmpfs(struct request *r);

/* net.c */
void configure_network(const char *spec, int announce);
void configure_network_at_boot(const char *words);
extern struct in_addr guest_ip, gateway_ip; /* the NIC's, once configured */

/* forward.c: the guest's listening ports, reachable from the container's network */
extern int port_timer; /* readable when the ports are due to be looked at again; -1: off */
void forward_start(const char *spec);
void forward_scan(void);
void forward_dial(const struct frame *f);

/* commands.c */
void test_hold_guest(const struct request *r);
void touch_command_buffers(void);
void run_exec(struct request *r, uint32_t id, uint32_t root_ms);
void serve(int sigfd, uint32_t root_ms) __attribute__((noreturn));
struct frame wait_frame(void);

#endif
