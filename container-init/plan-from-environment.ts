import { PlanError } from '../contract/errors.js';
import { BOOT_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_S } from '../contract/exit-codes.js';
import { MODULES_STAGING, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, PLAN_VERSION, parseExposed, parseMemoryMiB, type AccelChoice, type FsCache, type RunPlan } from '../contract/run-plan.js';

/**
 * When compose (not `testin run`) started the container, `testin compose` has
 * put a plan in TESTIN_PLAN, made by the launcher's own buildPlan, whose
 * run-time parts (command, environment, working directory, hostname, mounts)
 * come from the container as docker set it up. These variables (documented in
 * the README) override its choices, and stand in for it in a compose file
 * written by hand. They are taken out of the command's environment.
 */
const TESTIN_VARIABLES = {
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
  TESTIN_NET_BACKEND: "passt or slirp (a hand-written file: default slirp; passt needs the seccomp profile `testin compose` writes)",
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

/** The plan of a compose file written by hand (no TESTIN_PLAN): the defaults, before the overrides. */
export function defaultPlan(modulesRelease: string | undefined): RunPlan {
  return {
    version: PLAN_VERSION,
    runId: '',
    argv: [],
    env: [],
    cwd: '/',
    user: '',
    stdin: false,
    tty: false,
    noVm: false,
    readonlyRoot: false,
    mounts: [],
    tmpfs: [],
    kernelModules: modulesRelease ? { staging: MODULES_STAGING, release: modulesRelease } : undefined,
    fsCache: 'auto',
    network: { nic: true, backend: 'slirp', forwards: [] },
    stopTimeoutMs: DEFAULT_STOP_TIMEOUT_S * 1000,
    vm: { cpus: DEFAULT_CPUS, memoryMiB: DEFAULT_MEMORY_MIB, accel: 'auto', kernelCmdline: [], console: false, bootTimeoutMs: BOOT_TIMEOUT_MS },
    logLevel: 'warn',
    fromContainer: true,
  };
}

/**
 * The TESTIN_* variables a compose file sets (the README lists them), over a
 * plan: the one place they are read. A variable that is not set leaves the
 * plan's value.
 */
export function applyOverrides(plan: RunPlan, env: NodeJS.ProcessEnv): RunPlan {
  const get = (name: keyof typeof TESTIN_VARIABLES): string | undefined => env[name] || undefined;
  const number = (name: 'TESTIN_CPUS' | 'TESTIN_STOP_TIMEOUT', fallback: number): number => {
    const text = get(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new PlanError(`${name}=${text} is not a number`);
    return n;
  };
  const network = get('TESTIN_NETWORK') === 'none' ? { ...plan.network, nic: false, backend: 'slirp' as const } : plan.network;
  const forward = get('TESTIN_FORWARD');
  const backend = get('TESTIN_NET_BACKEND');
  return {
    ...plan,
    user: env.TESTIN_USER !== undefined ? env.TESTIN_USER : plan.user,
    readonlyRoot: get('TESTIN_READ_ONLY') ? get('TESTIN_READ_ONLY') === '1' : plan.readonlyRoot,
    fsCache: (get('TESTIN_FS_CACHE') as FsCache | undefined) ?? plan.fsCache,
    network: {
      ...network,
      backend: network.nic && (backend === 'passt' || backend === 'slirp') ? backend : network.backend,
      forwards: forward ? forward.split(/[\s,]+/).filter(Boolean).map(parseExposed) : network.forwards,
    },
    stopTimeoutMs: number('TESTIN_STOP_TIMEOUT', plan.stopTimeoutMs / 1000) * 1000,
    vm: {
      ...plan.vm,
      cpus: number('TESTIN_CPUS', plan.vm.cpus),
      memoryMiB: get('TESTIN_MEMORY') ? parseMemoryMiB(get('TESTIN_MEMORY') as string) : plan.vm.memoryMiB,
      accel: (get('TESTIN_ACCEL') as AccelChoice | undefined) ?? plan.vm.accel,
      kernelCmdline: get('TESTIN_KERNEL_CMDLINE') ? (get('TESTIN_KERNEL_CMDLINE') as string).split(/\s+/).filter(Boolean) : plan.vm.kernelCmdline,
      console: get('TESTIN_CONSOLE') ? get('TESTIN_CONSOLE') === '1' : plan.vm.console,
    },
    logLevel: get('TESTIN_LOG_LEVEL') ?? plan.logLevel,
  };
}

/**
 * What docker decides when the container starts (compose): the command (the
 * service's, or what `docker-compose run svc CMD` gave), the environment, the
 * working directory, the hostname, the terminal. Taken from the container
 * itself; TESTIN_* variables are not the command's.
 */
export function completeFromContainer(plan: RunPlan, facts: ContainerFacts): RunPlan {
  if (facts.argv.length === 0) throw new PlanError('no command: give the service a command (or an image with ENTRYPOINT/CMD)');
  const imageSets = (name: string): boolean => plan.env.some((e) => e.startsWith(`${name}=`));
  const env = Object.entries(facts.env)
    .filter(([k, v]) => v !== undefined && !k.startsWith('TESTIN_') && !notTheCommands(k, v, imageSets))
    .map(([k, v]) => `${k}=${v as string}`);
  return {
    ...plan,
    runId: plan.runId || facts.hostname,
    argv: facts.argv,
    env,
    cwd: facts.cwd,
    hostname: facts.hostname,
    tty: facts.tty,
    stdin: facts.tty || facts.env.TESTIN_STDIN === '1',
  };
}

/**
 * Variables of container-init's own start, not the command's: SHLVL and PWD
 * from the busybox sh that starts it, and the HOME docker gives root (the
 * override runs container-init as root; the command's HOME is its user's).
 */
function notTheCommands(name: string, value: string | undefined, imageSets: (name: string) => boolean): boolean {
  if (name === 'SHLVL' || name === 'PWD') return !imageSets(name);
  return name === 'HOME' && value === '/root' && !imageSets('HOME');
}

/** A hand-written compose file's plan: the defaults, the TESTIN_* overrides, the container's own facts. */
export function planFromEnvironment(facts: ContainerFacts): RunPlan {
  return completeFromContainer(applyOverrides(defaultPlan(facts.modulesRelease), facts.env), facts);
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
