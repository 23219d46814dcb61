import { PlanError } from '../contract/run-plan.js';
import { BOOT_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_S } from '../contract/exit-codes.js';
import { MODULES_STAGING, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, PLAN_VERSION, parseExposed, parseMemoryMiB, type AccelChoice, type FsCache, type RunPlan } from '../contract/run-plan.js';

/**
 * When compose (not `testin run`) started the container, there is no
 * TESTIN_PLAN: the plan comes from the container itself, as docker set it up:
 * the command is our argv, the environment and working directory are ours, and
 * these variables (documented in the README) carry the rest. They are taken out
 * of the command's environment.
 */
export const TESTIN_VARIABLES = {
  TESTIN_USER: "the user the command runs as (compose's `user:` moves here; container-init itself must be root)",
  TESTIN_CPUS: 'virtual CPUs (default 2)',
  TESTIN_MEMORY: 'VM memory, docker units (default 1g)',
  TESTIN_ACCEL: 'auto, kvm or tcg (default auto)',
  TESTIN_KERNEL_CMDLINE: 'extra kernel command line',
  TESTIN_CONSOLE: '1: stream the guest kernel log to stderr',
  TESTIN_FS_CACHE: 'virtiofs cache policy: auto, always, never',
  TESTIN_STOP_TIMEOUT: 'seconds the command gets after SIGTERM before the VM is stopped hard (default 10)',
  TESTIN_FORWARD: 'ports forwarded into the VM, e.g. "8080/tcp 53/udp" (compose ports and expose)',
  TESTIN_NETWORK: 'none: no NIC in the VM',
  TESTIN_NET_BACKEND: "passt or slirp (default slirp; `testin compose` sets passt, with the seccomp profile passt needs, when the toolbox has it)",
  TESTIN_READ_ONLY: "1: the image's root is read-only in the VM",
  TESTIN_STDIN: '1: stream stdin to the command (on with a tty)',
  TESTIN_LOG_LEVEL: "container-init's diagnostics (debug shows the boot)",
} as const;

export interface ContainerFacts {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  tty: boolean;
  hostname: string;
  modulesRelease?: string | undefined;
}

export function planFromEnvironment(facts: ContainerFacts): RunPlan {
  const env = facts.env;
  const get = (name: keyof typeof TESTIN_VARIABLES): string | undefined => env[name] || undefined;
  if (facts.argv.length === 0) throw new PlanError('no command: give the service a command (or an image with ENTRYPOINT/CMD)');
  const commandEnv = Object.entries(env)
    .filter(([k, v]) => !k.startsWith('TESTIN_') && v !== undefined)
    .map(([k, v]) => `${k}=${v as string}`);
  return {
    version: PLAN_VERSION,
    runId: facts.hostname,
    argv: facts.argv,
    env: commandEnv,
    cwd: facts.cwd,
    user: get('TESTIN_USER') ?? '',
    hostname: facts.hostname,
    stdin: facts.tty || get('TESTIN_STDIN') === '1',
    tty: facts.tty,
    noVm: false,
    readonlyRoot: get('TESTIN_READ_ONLY') === '1',
    mounts: [],
    tmpfs: [],
    kernelModules: facts.modulesRelease ? { staging: MODULES_STAGING, release: facts.modulesRelease } : undefined,
    fsCache: (get('TESTIN_FS_CACHE') ?? 'auto') as FsCache,
    network: {
      nic: get('TESTIN_NETWORK') !== 'none',
      backend: get('TESTIN_NET_BACKEND') === 'passt' ? 'passt' : 'slirp',
      forwards: (get('TESTIN_FORWARD') ?? '').split(/[\s,]+/).filter(Boolean).map(parseExposed),
    },
    stopTimeoutMs: Number(get('TESTIN_STOP_TIMEOUT') ?? DEFAULT_STOP_TIMEOUT_S) * 1000,
    vm: {
      cpus: Number(get('TESTIN_CPUS') ?? DEFAULT_CPUS),
      memoryMiB: get('TESTIN_MEMORY') ? parseMemoryMiB(get('TESTIN_MEMORY') as string) : DEFAULT_MEMORY_MIB,
      accel: (get('TESTIN_ACCEL') ?? 'auto') as AccelChoice,
      kernelCmdline: (get('TESTIN_KERNEL_CMDLINE') ?? '').split(/\s+/).filter(Boolean),
      console: get('TESTIN_CONSOLE') === '1',
      bootTimeoutMs: BOOT_TIMEOUT_MS,
    },
    logLevel: get('TESTIN_LOG_LEVEL') ?? 'warn',
  };
}

/** Mount points docker set up for the container that the VM must see too (compose volumes, tmpfs, binds). */
export function userMountPoints(mountinfo: string): { path: string; readOnly: boolean }[] {
  const skip = (p: string): boolean =>
    p === '/' ||
    ['/proc', '/sys', '/dev', TOOLBOX_MOUNT, WORK_DIR].some((s) => p === s || p.startsWith(`${s}/`)) ||
    ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].includes(p);
  const points: { path: string; readOnly: boolean }[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 6) continue;
    const path = (f[4] as string).replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (skip(path)) continue;
    points.push({ path, readOnly: (f[5] as string).split(',').includes('ro') });
  }
  return points;
}
