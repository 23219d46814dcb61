/**
 * The run plan: the one document the launcher hands to container-init (a
 * variable of the container, or a file put into it before it starts; compose:
 * the TESTIN_PLAN variable).
 * Every later stage only reads it. Its types, defaults, parsers and codec live here.
 */
import { PlanError, UsageError } from './errors.js';
import type { PlanRlimit } from './process-settings.js';

export const PLAN_VERSION = 2;
/** compose carries the plan in this variable (a run puts it in a file: layout.ts PLAN_FILE) */
export const PLAN_ENV = 'TESTIN_PLAN';
/**
 * A run's whole plan, as the launcher made it, in the container's environment:
 * given at create, it saves the round trip of a file put into the container
 * (~130 ms here). A plan longer than RUN_PLAN_ENV_MAX, or a --no-vm run's (its
 * command runs in that container, and docker exec would see the variable),
 * travels as the file.
 */
export const RUN_PLAN_ENV = 'TESTIN_RUN_PLAN';
/** well under Linux's limit on one environment string (128 KiB) */
export const RUN_PLAN_ENV_MAX = 32 * 1024;

/** what the user asked for; container-init decides, where the engine's CPU and /dev/kvm can be seen */
export type AccelChoice = 'auto' | 'kvm' | 'tcg';
export type Accel = 'kvm' | 'tcg';
export type FsCache = 'auto' | 'always' | 'never';
export type NetBackend = 'passt' | 'slirp';
export type NetBackendChoice = 'auto' | NetBackend;
export type Proto = 'tcp' | 'udp';

/** a port forwarded from the container into the VM */
export interface Forward {
  port: number;
  proto: Proto;
}

/** docker's PATH when the image sets none (initfs/init.h DEFAULT_PATH is the same) */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CPUS = 2;
export const DEFAULT_MEMORY_MIB = 1024;
/** QEMU's q35 guest has 40 physical address bits by default (1 TiB for RAM and the PCI windows together): QEMU refuses more */
const MAX_MEMORY_MIB = 512 * 1024;
const MIN_MEMORY_MIB = 128;

export interface VmPlan {
  cpus: number;
  memoryMiB: number;
  /** decided by container-init (it sees the engine's host): KVM where the CPU has vmx/svm and /dev/kvm opens */
  accel: AccelChoice;
  /** extra kernel command line words, after testin's own */
  kernelCmdline: readonly string[];
  /** stream the guest kernel log to stderr */
  console: boolean;
  /** ms to wait for the guest init to say hello */
  bootTimeoutMs: number;
  /** a user's kernel (paths inside the container); absent: the toolbox's */
  kernel?: { kernel: string; initrd: string; format: 'elf' | 'bzImage' } | undefined;
}

/** a user mount staged in the container, moved by container-init to its target in the VM's root */
export interface PlanMount {
  staging: string;
  target: string;
  readOnly: boolean;
  /**
   * a volume (named or anonymous, not nocopy): when it is empty it gets what the image has at its
   * target, with the folder's owner and mode, as docker fills one (container-init/volume-copy.ts).
   * Staged for the VM, it is mounted read-write in the container and made read-only there after.
   */
  copyUp?: boolean | undefined;
}

export interface PlanTmpfs {
  target: string;
  /** mount options, docker's syntax (nosuid,nodev,noexec,size=64m,...) */
  options: string;
}

export interface ProcessPlan {
  /** hex mask of the capabilities the command keeps (contract/process-settings.ts); absent: every one */
  capabilities?: string | undefined;
  noNewPrivileges?: boolean | undefined;
  rlimits?: readonly PlanRlimit[] | undefined;
  /** --group-add: more supplementary groups, by name (the image's /etc/group) or number */
  groupAdd?: readonly string[] | undefined;
  /** the signal a stop (SIGTERM to container-init: docker stop, the client's SIGTERM, --timeout) gives the command; absent: SIGTERM */
  stopSignal?: number | undefined;
}

export interface MachinePlan {
  /** --sysctl, in order */
  sysctls?: readonly (readonly [string, string])[] | undefined;
  /** --shm-size */
  shmSizeBytes?: number | undefined;
  /** --pids-limit: the command's cgroup in the VM holds at most this many tasks */
  pidsLimit?: number | undefined;
  /** --device: the VM's own devices to be there (a loop device is made) */
  devices?: readonly string[] | undefined;
}

export interface RunPlan {
  version: typeof PLAN_VERSION;
  runId: string;
  /** argv of the command; never empty, but for a session */
  argv: readonly string[];
  /** K=V, in docker's order: image Env, then -e flags */
  env: readonly string[];
  cwd: string;
  /** docker's -u syntax (uid[:gid] or name[:group]); '' is the image's default user, root when none */
  user: string;
  hostname?: string | undefined;
  stdin: boolean;
  tty: boolean;
  /** run in the container itself, without a VM (same plan, same exit codes) */
  noVm: boolean;
  /** a long-lived VM (testin up / start()): no command of its own, commands come through the session socket */
  session?: boolean | undefined;
  readonlyRoot: boolean;
  mounts: readonly PlanMount[];
  /** the kernel's modules, staged in the container, shown read-only at /lib/modules/<release> */
  kernelModules?: { staging: string; release: string } | undefined;
  tmpfs: readonly PlanTmpfs[];
  fsCache: FsCache;
  /** the VM's NIC: none with --network none; ports forwarded from the container into the VM; who carries its packets */
  network: { nic: boolean; forwards: readonly Forward[]; backend: NetBackend };
  /** after a forwarded SIGTERM/SIGINT, how long the command gets before the VM is stopped hard */
  stopTimeoutMs: number;
  /** --timeout: counted from the command's start (the boot has its own deadline); then SIGTERM, the stop timeout, exit 124 */
  timeoutMs?: number | undefined;
  vm: VmPlan;
  /** --boot: the image's init (this path) becomes PID 1 after testin's set-up; the command runs once the system has started */
  boot?: string | undefined;
  /** true: restore the VM's snapshot when there is one, and save one when not; decided once by the launcher (build-plan.ts) */
  snapshot?: boolean | undefined;
  /**
   * the client that started the run holds a lease on it: when the client goes away (killed, its
   * machine gone) the run stops by itself within seconds, so nothing is left on a remote engine,
   * and the run's result (its timeline) goes back to it. Not for compose, nor a persistent session
   * once up. How (launcher/run-lease.ts, container-init/client-lease.ts):
   * - 'exec': `testin-agent --lease`, docker exec'd beside the run, joined to container-init's
   *   lease socket; the result comes back on it;
   * - `{ stdinMark }`: the container's own stdin, which the client attaches and the engine closes
   *   when the client goes (Docker's StdinOnce, as `docker run -i` has it; a run without -i or -t):
   *   no exec; the result goes out last on stderr, after this mark, and the client takes it off.
   */
  lease?: RunLeasePlan | undefined;
  logLevel: string;
  /** docker's process settings, applied to the command in the VM (and to a session's commands) */
  process?: ProcessPlan | undefined;
  /** settings of the VM itself, made before its first command */
  machine?: MachinePlan | undefined;
  /**
   * compose: docker decides the command, environment, working directory, hostname,
   * terminal and mounts when the container starts; container-init takes them from the
   * container (argv, environment, /proc/self/mountinfo) and the plan's are not used
   */
  fromContainer?: boolean | undefined;
  /**
   * docker exec reaches the VM (testin-runtime): the session socket is served beside the
   * command, and `container-init --exec` in the container runs a command in the VM
   */
  execs?: boolean | undefined;
}

export function encodePlan(plan: RunPlan): string {
  return JSON.stringify(plan);
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Parses and checks a plan: the fields every stage relies on have their types. */
export function decodePlan(text: string): RunPlan {
  let plan: RunPlan;
  try {
    plan = JSON.parse(text) as RunPlan;
  } catch (error) {
    throw new PlanError(`not JSON (${(error as Error).message})`);
  }
  if (typeof plan !== 'object' || plan === null) throw new PlanError('not an object');
  if (plan.version !== PLAN_VERSION) throw new PlanError(`version ${String(plan.version)} is not ${PLAN_VERSION}: the toolbox and the launcher differ`);
  if (!isStrings(plan.argv) || (plan.argv.length === 0 && !plan.session && !plan.fromContainer && !plan.boot)) throw new PlanError('no command');
  if (!isStrings(plan.env)) throw new PlanError('env is not a list of K=V strings');
  if (typeof plan.cwd !== 'string' || typeof plan.user !== 'string') throw new PlanError('cwd and user must be strings');
  if (!Array.isArray(plan.mounts) || !Array.isArray(plan.tmpfs)) throw new PlanError('mounts and tmpfs must be lists');
  if (typeof plan.network !== 'object' || !Array.isArray(plan.network?.forwards)) throw new PlanError('network has no forwards');
  const vm = plan.vm;
  if (typeof vm !== 'object' || !Number.isInteger(vm?.cpus) || !Number.isInteger(vm?.memoryMiB) || !['auto', 'kvm', 'tcg'].includes(vm?.accel)) {
    throw new PlanError('vm needs cpus, memoryMiB and accel');
  }
  return plan;
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** docker's size syntax in bytes: a number with an optional b/k/m/g/t unit (512m, 1.5g, 1GiB); undefined when it is not one */
function sizeBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt])?i?b?$/i.exec(text.trim());
  return match ? Number(match[1]) * (UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1) : undefined;
}

/**
 * docker's --memory-swap, checked as docker checks it: with --memory, -1 or a size of at least
 * --memory's. Nothing else comes of it: the VM has no swap.
 */
export function checkMemorySwap(swap: string, memory: string | undefined): void {
  if (memory === undefined) throw new UsageError('--memory-swap without --memory', 'give --memory as well, as docker wants it (the VM has no swap: its command has --memory)');
  if (swap.trim() === '-1') return;
  const bytes = sizeBytes(swap);
  if (bytes === undefined) throw new UsageError(`invalid --memory-swap "${swap}"`, 'write a size such as 2g, or -1');
  if (bytes < parseMemoryMiB(memory) * 1024 ** 2) throw new UsageError(`--memory-swap ${swap} is below --memory ${memory}`, 'give at least --memory (memory and swap together), or -1');
}

/** docker's memory syntax: a number of bytes with an optional b/k/m/g/t unit. */
export function parseMemoryMiB(text: string): number {
  const bytes = sizeBytes(text);
  if (bytes === undefined) throw new UsageError(`invalid memory size "${text}"`, 'write a size such as 512m or 2g');
  const mib = Math.floor(bytes / 1024 ** 2);
  if (mib < MIN_MEMORY_MIB) throw new UsageError(`memory size "${text}" is below ${MIN_MEMORY_MIB} MiB`, `give the VM at least ${MIN_MEMORY_MIB}m`);
  if (mib > MAX_MEMORY_MIB) throw new UsageError(`memory size "${text}" is above ${MAX_MEMORY_MIB / 1024} GiB, more than the VM can address`, `give the VM at most ${MAX_MEMORY_MIB / 1024}g`);
  return mib;
}

function parsePort(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`invalid ${what} "${text}"`, 'give a port number from 1 to 65535');
  return n;
}

/** PORT[/tcp|udp] -> [port text, proto] */
export function splitProto(text: string): [string, Proto] {
  const [port = '', proto = 'tcp'] = text.split('/');
  if (proto !== 'tcp' && proto !== 'udp') throw new UsageError(`invalid protocol "${proto}"`, 'use /tcp or /udp');
  return [port, proto];
}

/** docker's --expose, the image's ExposedPorts keys, compose's expose: PORT[/proto] */
export function parseExposed(text: string): Forward {
  const [port, proto] = splitProto(text);
  return { port: parsePort(port, 'port'), proto };
}

export { parsePort };

/** how the client holds its lease on a run (RunPlan.lease) */
export type RunLeasePlan = 'exec' | { stdinMark: string };
