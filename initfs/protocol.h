/*
 * The control protocol between container-init (host side) and the in-VM init.
 * Mirrored in contract/control-protocol.ts: change both together.
 *
 * One virtio-serial port ("testin.ctl") carries every message, so the order in
 * which the guest sends them is the order in which the host sees them: the exit
 * status always arrives after the last byte of the command's output.
 *
 * frame  = u32le length (of everything after it) | u8 type | u32le id | payload
 * fields = repeated (u8 tag | u32le length | bytes)      -- for EXEC, HELLO, EXIT, ERROR
 * numbers inside fields are u32le.
 */
#ifndef TESTIN_PROTOCOL_H
#define TESTIN_PROTOCOL_H

#define CTL_PORT_NAME "testin.ctl"
#define FRAME_HEADER 9 /* length + type + id */
#define FRAME_MAX (1u << 24)

/* host -> guest */
enum {
  MSG_EXEC = 0x01,     /* fields: TAG_* below */
  MSG_STDIN = 0x02,    /* raw bytes; an empty payload is EOF */
  MSG_SIGNAL = 0x03,   /* u32le signal number */
  MSG_POWEROFF = 0x04, /* no payload */
  MSG_RESIZE = 0x05,   /* u32le rows, u32le cols: the command's terminal size */
  MSG_DMESG = 0x06,    /* no payload: the kernel's log comes back as STDOUT, then EXIT */
  MSG_DIAL = 0x07,     /* fields: TAG_PORT, TAG_CONN: connect to that port in the guest and back to the tunnel */
};

/* guest -> host */
enum {
  MSG_HELLO = 0x81,   /* fields: TAG_RELEASE, TAG_UPTIME_MS */
  MSG_STARTED = 0x82, /* fields: TAG_ROOT_MS, TAG_UPTIME_MS, TAG_STEPS */
  MSG_STDOUT = 0x83,  /* raw bytes */
  MSG_STDERR = 0x84,  /* raw bytes */
  MSG_EXIT = 0x85,    /* fields: TAG_CODE or TAG_SIGNO, TAG_UPTIME_MS, TAG_STEPS (exited: when it was reaped) */
  MSG_ERROR = 0x86,   /* fields: TAG_MESSAGE, TAG_CODE */
  MSG_PORTS = 0x87,   /* fields: TAG_PORT repeated: the TCP ports the guest listens on beyond loopback, whenever they change */
};

/* field tags */
enum {
  TAG_ARG = 1,       /* repeated: argv */
  TAG_ENV = 2,       /* repeated: K=V */
  TAG_CWD = 3,
  TAG_UID = 4,       /* u32 */
  TAG_GID = 5,       /* u32 */
  TAG_GROUP = 6,     /* repeated u32: supplementary groups */
  TAG_HOSTNAME = 7,
  TAG_STDIN = 8,     /* u32 1: stdin comes as MSG_STDIN, else /dev/null */
  TAG_TMPFS = 10,    /* repeated: target NUL options (docker's tmpfs options) */
  TAG_CLOCK = 11,    /* host time, decimal ms since the epoch: the guest clock is set to it */
  TAG_TTY = 12,      /* u32 rows << 16 | cols: run the command on a pty of that size */
  TAG_NET = 13,      /* "ADDRESS/PREFIX GATEWAY [MTU]": configure the first NIC so (no DHCP) */
  TAG_VOLUME = 14,   /* repeated, parents first: "target\0ro" or "target\0rw": bind from the "vol" share over the root's */
  TAG_TUNNEL = 15,   /* "PORT TOKEN": report listening ports (PORTS) and DIAL back to the gateway's PORT, token (hex) first */
  TAG_PORT = 16,     /* u32 */
  TAG_CONN = 17,     /* u32: a forwarded connection's number, sent back on the tunnel */
  TAG_SEED = 18,     /* hex: host entropy, credited to the guest's pool, which is then reseeded */
  TAG_BOOT = 19,     /* the first EXEC: after the set-up, this program (the image's init) becomes PID 1; the init serves on beside it */
  TAG_RELEASE = 20,  /* uname -r */
  TAG_UPTIME_MS = 21,
  TAG_CODE = 22,     /* u32 exit code */
  TAG_SIGNO = 23,    /* u32 signal that killed the command */
  TAG_MESSAGE = 24,
  TAG_ROOT_MS = 25,  /* uptime when the root was mounted */
  TAG_SYSCTL = 26,   /* repeated "key=value": written to /proc/sys before the first command */
  TAG_RLIMIT = 27,   /* repeated "RESOURCE SOFT HARD" (-1: unlimited): set on the command */
  TAG_CAPS = 28,     /* hex mask of the capabilities the command keeps; absent: all */
  TAG_NO_NEW_PRIVS = 29, /* u32 1: the command runs with no_new_privs */
  TAG_SHM_SIZE = 30, /* bytes: /dev/shm's size, set before the first command */
  TAG_ANNOUNCE = 31, /* u32 1: the run publishes ports: the guest makes itself known to the gateway at once */
  TAG_MODPROBE = 32, /* u32: the modprobe the kernel calls, as the host found the image (MODPROBE_*); absent: the guest looks */
  TAG_STEPS = 33,    /* "NAME=US NAME=US ...": the guest's own steps (CLOCK_BOOTTIME, microseconds), in STARTED and EXIT */
  TAG_FRESH = 34,    /* repeated, parents first: "TYPE MODE UID GID PATH\0DATA" (TYPE d, l or f; MODE octal; DATA a link's target, a file's bytes): the image's /run and /tmp, made again in the fresh ones */
  TAG_CARRY = 35,    /* repeated, parents first: a mount's target under /run or /tmp, bound again over the fresh ones */
  TAG_OWN_DIR = 36,  /* repeated: "/run" or "/tmp" stays the image's own folder (no fresh tmpfs) */
  TAG_DEVICE = 37,   /* repeated: a device of the VM's own that must be there before the first command (--device; a loop device is made) */
  TAG_PIDS_LIMIT = 38, /* u32: --pids-limit: the commands run in a cgroup of their own that holds at most this many tasks */
};

/* TAG_MODPROBE's values */
enum {
  MODPROBE_TOOLBOX = 1, /* the image has no /sbin/modprobe: the toolbox's static one */
  MODPROBE_IMAGE = 2,   /* the image's own (the kernel's default path) */
};

/* what a DIAL's child writes first on the tunnel: the token, the connection's
 * number (u32le), and whether the server in the guest took the connection (0) or not (1) */
#define TUNNEL_TOKEN_LEN 16
#define TUNNEL_HELLO_LEN (TUNNEL_TOKEN_LEN + 5)

#endif
