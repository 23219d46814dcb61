import { PlanError } from '../contract/errors.js';
import { BOOT_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_S } from '../contract/exit-codes.js';
import { MODULES_STAGING, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { optionsFromVariables } from '../contract/run-options.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, PLAN_VERSION, parseExposed, parseMemoryMiB, type RunPlan } from '../contract/run-plan.js';

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
 * When compose (not `testin run`) started the container, `testin compose` has put a plan in
 * TESTIN_PLAN, made by the launcher's own buildPlan, whose run-time parts (command, environment,
 * working directory, hostname, mounts) come from the container as docker set it up. The TESTIN_*
 * variables of the run options' table (contract/run-options.ts; the README lists them) override
 * its choices, and stand in for it in a compose file written by hand: the one place they are
 * read. A variable that is not set leaves the plan's value; they are not the command's.
 */
export function applyOverrides(plan: RunPlan, env: NodeJS.ProcessEnv): RunPlan {
  const o = optionsFromVariables(env);
  const network = o.network === 'none' ? { ...plan.network, nic: false, backend: 'slirp' as const } : plan.network;
  const backend = o.netBackend;
  return {
    ...plan,
    // an empty TESTIN_USER is root (compose's `user:` was moved here)
    user: env.TESTIN_USER === '' ? '' : (o.user ?? plan.user),
    readonlyRoot: o.readOnly ?? plan.readonlyRoot,
    fsCache: o.fsCache ?? plan.fsCache,
    network: {
      ...network,
      backend: network.nic && (backend === 'passt' || backend === 'slirp') ? backend : network.backend,
      forwards: o.expose ? o.expose.map(parseExposed) : network.forwards,
    },
    stopTimeoutMs: o.stopTimeout !== undefined ? o.stopTimeout * 1000 : plan.stopTimeoutMs,
    vm: {
      ...plan.vm,
      cpus: o.cpus === undefined ? plan.vm.cpus : Math.ceil(o.cpus),
      memoryMiB: o.memory ? parseMemoryMiB(o.memory) : plan.vm.memoryMiB,
      accel: o.accel ?? plan.vm.accel,
      kernelCmdline: o.kernelCmdline ? o.kernelCmdline.split(/\s+/).filter(Boolean) : plan.vm.kernelCmdline,
      console: o.console ?? plan.vm.console,
    },
    logLevel: o.logLevel ?? plan.logLevel,
    ...(o.boot !== undefined ? { boot: bootPath(String(o.boot)) } : {}),
  };
}

/** TESTIN_BOOT: the image's init, an absolute path in the image */
function bootPath(value: string): string {
  if (!value.startsWith('/')) throw new PlanError(`TESTIN_BOOT=${value}: the image's init must be an absolute path`);
  return value;
}

/**
 * What docker decides when the container starts (compose): the command (the
 * service's, or what `docker-compose run svc CMD` gave), the environment, the
 * working directory, the hostname, the terminal. Taken from the container
 * itself; TESTIN_* variables are not the command's.
 */
export function completeFromContainer(plan: RunPlan, facts: ContainerFacts): RunPlan {
  if (facts.argv.length === 0 && !plan.boot) throw new PlanError('no command: give the service a command (or an image with ENTRYPOINT/CMD)');
  // a booted system's image whose CMD is its init (systemd images): the init runs as PID 1, no command after it
  const argv = plan.boot && facts.argv.length === 1 && facts.argv[0] === plan.boot ? [] : facts.argv;
  const imageSets = (name: string): boolean => plan.env.some((e) => e.startsWith(`${name}=`));
  const env = Object.entries(facts.env)
    .filter(([k, v]) => v !== undefined && !k.startsWith('TESTIN_') && !notTheCommands(k, v, imageSets))
    .map(([k, v]) => `${k}=${v as string}`);
  return {
    ...plan,
    runId: plan.runId || facts.hostname,
    argv,
    env,
    cwd: facts.cwd,
    hostname: facts.hostname,
    tty: facts.tty,
    stdin: facts.tty || optionsFromVariables(facts.env).interactive === true,
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
