import { UsageError } from './errors.js';
import type { RunOptions } from './run-options.js';
import { PLAN_VERSION, type Accel, type NetBackend, type RunPlan, type VmPlan } from './run-plan.js';
import type { VolumeMapping } from '../volumes/volume-mapping.js';

/** What the plan needs from `docker image inspect` (.Config). */
export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  ExposedPorts?: Record<string, unknown> | null;
  WorkingDir?: string;
  User?: string;
}

/** docker's PATH when the image sets none */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CPUS = 2;
export const DEFAULT_MEMORY_MIB = 1024;
/** guest init must say hello within this; TCG boots take seconds, a hang must not take forever */
export const BOOT_TIMEOUT_MS = 120_000;
/** docker's default grace between SIGTERM and SIGKILL */
export const DEFAULT_STOP_TIMEOUT_S = 10;

export interface PlanContext {
  runId: string;
  accel: Accel;
  /** the caller's environment, for `-e K` */
  hostEnv: Readonly<Record<string, string | undefined>>;
  /** contents of the --env-file files, in order */
  envFileTexts?: readonly string[];
  volumes?: VolumeMapping;
  kernelModules?: { staging: string; release: string } | undefined;
  /** a user's kernel, staged in the container */
  kernel?: VmPlan['kernel'];
  /** a long-lived VM whose commands come later (start(), testin up): no command of its own */
  session?: boolean;
  /** ports forwarded into the VM */
  forwards?: RunPlan['network']['forwards'];
  /** the toolbox carries passt */
  passtAvailable?: boolean;
}

export function buildPlan(options: RunOptions, image: ImageConfig, ctx: PlanContext): RunPlan {
  return {
    version: PLAN_VERSION,
    runId: ctx.runId,
    argv: ctx.session ? [] : resolveArgv(options, image),
    ...(ctx.session ? { session: true } : {}),
    env: resolveEnv(options, image, ctx),
    cwd: options.workdir || image.WorkingDir || '/',
    user: options.user ?? image.User ?? '',
    hostname: options.hostname,
    stdin: options.interactive ?? false,
    tty: options.tty ?? false,
    noVm: options.noVm ?? false,
    readonlyRoot: options.readOnly ?? false,
    mounts: ctx.volumes?.moves ?? [],
    tmpfs: ctx.volumes?.tmpfs ?? [],
    kernelModules: ctx.kernelModules,
    fsCache: options.fsCache ?? 'auto',
    stopTimeoutMs: (options.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S) * 1000,
    network: { nic: options.network !== 'none', forwards: ctx.forwards ?? [], backend: resolveNetBackend(options, ctx) },
    vm: {
      cpus: options.cpus ?? DEFAULT_CPUS,
      memoryMiB: options.memory === undefined ? DEFAULT_MEMORY_MIB : parseMemoryMiB(options.memory),
      accel: ctx.accel,
      kernelCmdline: options.kernelCmdline ? options.kernelCmdline.split(/\s+/).filter(Boolean) : [],
      console: options.console ?? false,
      bootTimeoutMs: BOOT_TIMEOUT_MS,
      kernel: ctx.kernel,
    },
    logLevel: options.logLevel ?? 'warn',
  };
}

/** auto: passt where the toolbox has it; a VM without a NIC, or no VM at all, has no backend to speak of (slirp, the default, stays) */
export function resolveNetBackend(options: RunOptions, ctx: PlanContext): NetBackend {
  const choice = options.netBackend ?? 'auto';
  if (choice === 'passt' && !ctx.passtAvailable) {
    throw new UsageError('--net-backend passt: the toolbox has no passt (the host has no /usr/bin/passt)', 'apt-get install -y passt, then run again (the toolbox is rebuilt)');
  }
  if (options.noVm || options.network === 'none') return 'slirp';
  return choice === 'auto' ? (ctx.passtAvailable ? 'passt' : 'slirp') : choice;
}

/** docker's rule: ENTRYPOINT + (user command, else CMD); --entrypoint drops the image's CMD. */
export function resolveArgv(options: RunOptions, image: ImageConfig): string[] {
  const entrypoint = options.entrypoint !== undefined ? (options.entrypoint ? [options.entrypoint] : []) : (image.Entrypoint ?? []);
  const cmd = options.command ?? (options.entrypoint !== undefined ? [] : (image.Cmd ?? []));
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new UsageError('no command: the image has no ENTRYPOINT or CMD and none was given', 'add the command after --, e.g. testin run --image IMG -- sh -c "..."');
  }
  return argv;
}

export function resolveEnv(options: RunOptions, image: ImageConfig, ctx: PlanContext): string[] {
  const env = new Map<string, string>();
  for (const entry of image.Env ?? []) setEntry(env, entry);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  for (const text of ctx.envFileTexts ?? []) {
    for (const line of parseEnvFile(text)) applyFlag(env, line, ctx.hostEnv);
  }
  for (const flag of options.env ?? []) applyFlag(env, flag, ctx.hostEnv);
  if (options.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function setEntry(env: Map<string, string>, entry: string): void {
  const eq = entry.indexOf('=');
  if (eq <= 0) return;
  env.set(entry.slice(0, eq), entry.slice(eq + 1));
}

/** `-e K=V` sets, `-e K` copies the caller's K (and is dropped when the caller has none), as docker does. */
function applyFlag(env: Map<string, string>, flag: string, hostEnv: PlanContext['hostEnv']): void {
  const eq = flag.indexOf('=');
  if (eq === 0) throw new UsageError(`invalid environment variable "${flag}": the name is empty`, 'write -e NAME=VALUE');
  if (eq > 0) return setEntry(env, flag);
  const value = hostEnv[flag];
  if (value !== undefined) env.set(flag, value);
}

/** docker's --env-file: one K=V or K per line; # comments and blank lines are skipped. */
export function parseEnvFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/^\s+/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** docker's memory syntax: a number of bytes with an optional b/k/m/g/t unit. */
export function parseMemoryMiB(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt])?i?b?$/i.exec(text.trim());
  if (!match) throw new UsageError(`invalid memory size "${text}"`, 'write a size such as 512m or 2g');
  const bytes = Number(match[1]) * (UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1);
  const mib = Math.floor(bytes / 1024 ** 2);
  if (mib < 128) throw new UsageError(`memory size "${text}" is below 128 MiB`, 'give the VM at least 128m');
  return mib;
}
