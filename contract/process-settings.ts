/**
 * docker's process settings as the VM applies them: capabilities (--cap-add, --cap-drop,
 * --privileged), rlimits (--ulimit), sysctls (--sysctl), /dev/shm's size (--shm-size),
 * no_new_privs (--security-opt no-new-privileges). Parsed here from docker's syntax
 * (the CLI's flags and compose's keys alike) into the plan's fields.
 */
import { UsageError } from './errors.js';

/** Linux's capabilities, by number (include/uapi/linux/capability.h) */
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
  'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE',
  'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** NET_ADMIN, net_admin, CAP_NET_ADMIN: docker takes each */
function capabilityNumber(name: string, flag: string): number | 'ALL' {
  const bare = name.trim().toUpperCase().replace(/^CAP_/, '');
  if (bare === 'ALL') return 'ALL';
  const n = (CAPABILITIES as readonly string[]).indexOf(bare);
  if (n < 0) throw new UsageError(`${flag} ${name}: no such capability`, `name one of ${CAPABILITIES.slice(0, 4).join(', ')}... (capabilities(7)), or ALL`);
  return n;
}

/**
 * The capabilities the command keeps, as a hex mask; undefined when it keeps every one (the default
 * of `testin run`: the command is root of its own machine). --cap-drop takes them out; after
 * --cap-drop ALL, --cap-add puts the named ones back, as docker's order does; --privileged keeps all.
 */
export function capabilityMask(add: readonly string[] = [], drop: readonly string[] = [], privileged = false): string | undefined {
  if (privileged || drop.length === 0) {
    for (const name of add) capabilityNumber(name, '--cap-add');
    return undefined;
  }
  const all = (1n << BigInt(CAPABILITIES.length)) - 1n;
  let keep = all;
  for (const name of drop) {
    const n = capabilityNumber(name, '--cap-drop');
    keep = n === 'ALL' ? 0n : keep & ~(1n << BigInt(n));
  }
  for (const name of add) {
    const n = capabilityNumber(name, '--cap-add');
    keep = n === 'ALL' ? all : keep | (1n << BigInt(n));
  }
  return keep === all ? undefined : keep.toString(16);
}

/** the names a mask keeps (for tests and --debug) */
export function capabilityNames(mask: string | undefined): string[] {
  const keep = mask === undefined ? (1n << BigInt(CAPABILITIES.length)) - 1n : BigInt(`0x${mask}`);
  return CAPABILITIES.filter((_, i) => (keep >> BigInt(i)) & 1n);
}

/** setrlimit(2)'s resources, by number (the same on x86-64 and arm64), under docker's --ulimit names */
const RLIMITS: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

export interface PlanRlimit {
  name: string;
  resource: number;
  /** -1: unlimited */
  soft: number;
  hard: number;
}

/** /proc/PID/limits' rows, by setrlimit(2)'s names above */
const PROC_LIMITS: Record<string, string> = {
  'Max cpu time': 'cpu', 'Max file size': 'fsize', 'Max data size': 'data', 'Max stack size': 'stack', 'Max core file size': 'core',
  'Max resident set': 'rss', 'Max processes': 'nproc', 'Max open files': 'nofile', 'Max locked memory': 'memlock', 'Max address space': 'as',
  'Max file locks': 'locks', 'Max pending signals': 'sigpending', 'Max msgqueue size': 'msgqueue', 'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio', 'Max realtime timeout': 'rttime',
};
/** the most open files a process may have in the VM: its kernel's default fs.nr_open */
export const GUEST_NR_OPEN = 1024 * 1024;

/**
 * Pure: the limits of /proc/PID/limits (the container's, as the engine set them: its defaults,
 * its --default-ulimit, compose's `ulimits`), to give the command in the VM what docker gives
 * the container's process. Open files above the VM kernel's fs.nr_open (an engine under systemd's
 * LimitNOFILE=infinity gives 2^30) are held to it: setrlimit refuses more.
 */
export function parseProcLimits(text: string): PlanRlimit[] {
  const limits: PlanRlimit[] = [];
  const value = (v: string): number => (v === 'unlimited' ? -1 : Number(v));
  for (const line of text.split('\n')) {
    const m = /^(Max [a-z ]+?)\s{2,}(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
    const name = m ? PROC_LIMITS[m[1] as string] : undefined;
    if (!m || name === undefined) continue;
    const held = (v: number): number => (name === 'nofile' && (v === -1 || v > GUEST_NR_OPEN) ? GUEST_NR_OPEN : v);
    limits.push({ name, resource: RLIMITS[name] as number, soft: held(value(m[2] as string)), hard: held(value(m[3] as string)) });
  }
  return limits;
}

/** Pure: the command's limits: the container's, each replaced by --ulimit's of the same resource */
export function mergeRlimits(inherited: readonly PlanRlimit[], own: readonly PlanRlimit[] = []): PlanRlimit[] {
  const given = new Set(own.map((r) => r.resource));
  return [...inherited.filter((r) => !given.has(r.resource)), ...own];
}

/** --ulimit NAME=SOFT[:HARD] (-1 or unlimited: no limit), compose's `ulimits: {nofile: {soft, hard}}` or `nproc: 65535` */
export function parseUlimit(text: string): PlanRlimit {
  const m = /^([a-z]+)=(-?\d+|unlimited)(?::(-?\d+|unlimited))?$/.exec(text.trim());
  const resource = m ? RLIMITS[m[1] as string] : undefined;
  if (!m || resource === undefined) throw new UsageError(`--ulimit ${text}: not NAME=SOFT[:HARD] with a known NAME`, `write e.g. --ulimit nofile=1024:2048 (names: ${Object.keys(RLIMITS).join(', ')})`);
  const value = (v: string): number => (v === 'unlimited' ? -1 : Number(v));
  const soft = value(m[2] as string);
  const hard = m[3] === undefined ? soft : value(m[3]);
  if (hard !== -1 && (soft === -1 || soft > hard)) throw new UsageError(`--ulimit ${text}: the soft limit is above the hard one`, 'give SOFT <= HARD');
  return { name: m[1] as string, resource, soft, hard };
}

/** the devices every VM's kernel has of its own (made at boot from its modules' list, or by devtmpfs), which a --device names */
const VM_DEVICES = new Set([
  '/dev/fuse', '/dev/net/tun', '/dev/loop-control', '/dev/mapper/control', '/dev/btrfs-control', '/dev/uinput', '/dev/uhid', '/dev/ppp',
  '/dev/vhost-net', '/dev/vhost-vsock', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx', '/dev/autofs',
]);

/**
 * --device PATH[:PATH][:PERMS] of a run in a VM: the VM's own device of that path (a loop device is
 * made), as docker's container gets the host's. A device of the host (a disk, a GPU, a USB port, KVM)
 * cannot reach the VM's kernel; another path in the VM than the device's is not taken.
 */
export function parseDevice(text: string): string {
  const [path = '', second, third] = text.split(':');
  const inVm = second === undefined || /^[rwm]+$/.test(second) ? path : second;
  if (third !== undefined && !/^[rwm]+$/.test(third)) throw new UsageError(`--device ${text}: not PATH[:PATH][:PERMS]`, 'write e.g. --device /dev/fuse');
  if (inVm !== path) throw new UsageError(`--device ${text}: the VM has its own ${path}, at that path only`, `write --device ${path}`);
  if (!VM_DEVICES.has(path) && !/^\/dev\/loop\d{1,3}$/.test(path)) {
    throw new UsageError(`--device ${path}: a device of the host cannot be handed into the VM's kernel`, `the VM's own devices can: ${[...VM_DEVICES].slice(0, 5).join(', ')}, /dev/loopN...; drop it otherwise`);
  }
  return path;
}

/** --sysctl KEY=VALUE: any sysctl (in a VM all of them are the command's own machine's, not only docker's namespaced ones) */
export function parseSysctl(text: string): [string, string] {
  const at = text.indexOf('=');
  const key = at < 0 ? '' : text.slice(0, at).trim();
  if (!/^[a-z0-9_][a-z0-9_./-]*$/i.test(key) || key.includes('..')) throw new UsageError(`--sysctl ${text}: not KEY=VALUE`, 'write e.g. --sysctl net.ipv4.ip_forward=1');
  return [key.replace(/\//g, '.'), text.slice(at + 1)];
}

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** --shm-size, docker's units (64m, 1g, bytes without one) */
export function parseShmSize(text: string): number {
  const m = /^(\d+)\s*([bkmg])?b?$/i.exec(text.trim());
  const bytes = m ? Number(m[1]) * (SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1) : 0;
  if (!m || bytes < 4096) throw new UsageError(`--shm-size ${text}: not a size of at least 4k`, 'write e.g. --shm-size 256m');
  return bytes;
}

/** Linux's signal numbers (x86-64 and arm64 share them), as docker names them */
const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15,
  STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29,
  PWR: 30, SYS: 31, RTMIN: 34, RTMAX: 64,
};

/**
 * --stop-signal (compose's stop_signal, an image's STOPSIGNAL) as docker reads it: SIGUSR1, USR1,
 * 10, SIGRTMIN+3 (docker counts real-time signals from 34, as glibc does).
 */
export function parseSignal(text: string, flag = '--stop-signal'): number {
  const bare = text.trim().toUpperCase().replace(/^SIG/, '');
  const m = /^(RTMIN|RTMAX)([+-]\d+)?$/.exec(bare);
  const n = /^\d+$/.test(bare) ? Number(bare) : m ? (SIGNALS[m[1] as string] as number) + Number(m[2] ?? 0) : SIGNALS[bare];
  if (n === undefined || !(n >= 1 && n <= 64)) {
    throw new UsageError(`${flag} ${text}: no such signal`, 'name one as docker does: SIGTERM, SIGINT, SIGUSR1, SIGRTMIN+3, or its number');
  }
  return n;
}

/** a signal's name for messages (SIGUSR1, SIGRTMIN+3) */
export function signalName(signo: number): string {
  if (signo > 34 && signo <= 64) return `SIGRTMIN+${signo - 34}`;
  const name = Object.entries(SIGNALS).find(([, n]) => n === signo)?.[0];
  return name ? `SIG${name}` : `signal ${signo}`;
}
