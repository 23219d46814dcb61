import type { ImageConfig } from '../contract/docker-client.js';
import { UsageError } from '../contract/errors.js';
import { LABEL_PREFIX } from '../contract/labels.js';
import { BOOT_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_S } from '../contract/exit-codes.js';
import { capabilityMask, parseDevice, parseShmSize, parseSignal, parseSysctl, parseUlimit } from '../contract/process-settings.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, DEFAULT_PATH, PLAN_VERSION, parseMemoryMiB, type AccelChoice, type Forward, type MachinePlan, type NetBackend, type ProcessPlan, type RunLeasePlan, type RunPlan, type VmPlan } from '../contract/run-plan.js';
import type { VolumeMapping } from '../volumes/volume-mapping.js';
import type { RunOptions } from '../contract/run-options.js';

export interface PlanContext {
  runId: string;
  /** decided from the engine's host (a run) or left to container-init ('auto': compose) */
  accel: AccelChoice;
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
  forwards?: readonly Forward[];
  /** the toolbox carries passt */
  passtAvailable?: boolean;
  /** the toolbox's VMM can save and restore a booted VM */
  snapshotsAvailable?: boolean;
  /** how the client holds a lease on the run (a run stops by itself once its client is gone) */
  lease?: RunLeasePlan | undefined;
}

export function buildPlan(options: RunOptions, image: ImageConfig, ctx: PlanContext): RunPlan {
  return {
    version: PLAN_VERSION,
    runId: ctx.runId,
    // --boot: the image's init is what runs; a command given runs once its system is up (the image's CMD is not used)
    argv: ctx.session ? [] : options.boot !== undefined ? [...(options.command ?? [])] : resolveArgv(options, image),
    ...(options.boot !== undefined ? { boot: resolveBoot(options.boot) } : {}),
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
    timeoutMs: options.timeout,
    network: { nic: options.network !== 'none', forwards: ctx.forwards ?? [], backend: resolveNetBackend(options, ctx) },
    vm: {
      // a fraction (docker's CPU time) is that many vCPUs rounded up; the container is held to the fraction (run-container.ts)
      cpus: Math.ceil(options.cpus ?? DEFAULT_CPUS),
      memoryMiB: options.memory === undefined ? DEFAULT_MEMORY_MIB : parseMemoryMiB(options.memory),
      accel: ctx.accel,
      kernelCmdline: options.kernelCmdline ? options.kernelCmdline.split(/\s+/).filter(Boolean) : [],
      console: options.console ?? false,
      bootTimeoutMs: options.bootTimeout ?? BOOT_TIMEOUT_MS,
      kernel: ctx.kernel,
    },
    snapshot: usesSnapshots(options, ctx),
    ...(ctx.lease ? { lease: ctx.lease } : {}),
    logLevel: options.logLevel ?? 'warn',
    ...resolveProcessSettings(options, options.boot === undefined ? image.StopSignal : undefined),
  };
}

/**
 * docker's process settings as the plan's fields, absent when none is asked. The machine's (sysctls,
 * /dev/shm) are the VM's; without a VM the engine applies them to the container (run-container.ts).
 */
export function resolveProcessSettings(options: RunOptions, imageStopSignal?: string | null): { process?: ProcessPlan; machine?: MachinePlan } {
  const capabilities = capabilityMask(options.capAdd, options.capDrop, options.privileged);
  const noNewPrivileges = resolveSecurityOpt(options.securityOpt ?? []);
  const rlimits = (options.ulimits ?? []).map(parseUlimit);
  const process: ProcessPlan = {
    ...(capabilities === undefined ? {} : { capabilities }),
    ...(noNewPrivileges ? { noNewPrivileges } : {}),
    ...(rlimits.length ? { rlimits } : {}),
    ...(options.groupAdd?.length ? { groupAdd: [...options.groupAdd] } : {}),
    ...stopSignal(options.stopSignal, imageStopSignal),
  };
  const sysctls = (options.sysctls ?? []).map(parseSysctl);
  const shmSizeBytes = options.shmSize === undefined ? undefined : parseShmSize(options.shmSize);
  const devices = options.noVm ? [] : (options.devices ?? []).map(parseDevice);
  // docker: 0 and -1 are no limit
  const pidsLimit = options.pidsLimit !== undefined && options.pidsLimit > 0 ? options.pidsLimit : undefined;
  const machine: MachinePlan = options.noVm
    ? {}
    : { ...(sysctls.length ? { sysctls } : {}), ...(shmSizeBytes ? { shmSizeBytes } : {}), ...(devices.length ? { devices } : {}), ...(pidsLimit ? { pidsLimit } : {}) };
  return { ...(Object.keys(process).length ? { process } : {}), ...(Object.keys(machine).length ? { machine } : {}) };
}

/**
 * The signal a stop gives the command: --stop-signal, else the image's STOPSIGNAL (not with --boot:
 * there it is meant for the image's init, which testin powers off itself), else SIGTERM (absent).
 */
function stopSignal(flag: string | undefined, image: string | null | undefined): { stopSignal?: number } {
  const signo = flag ? parseSignal(flag) : image ? parseSignal(image, "the image's STOPSIGNAL") : undefined;
  return signo === undefined || signo === 15 ? {} : { stopSignal: signo };
}

/** --security-opt: no-new-privileges (docker's spellings) is honoured; the engine's profiles cannot reach into a VM */
function resolveSecurityOpt(opts: readonly string[]): boolean {
  let noNewPrivileges = false;
  for (const opt of opts) {
    const m = /^no-new-privileges(?:[:=](true|false))?$/.exec(opt.trim());
    if (m) {
      noNewPrivileges = m[1] !== 'false';
      continue;
    }
    throw new UsageError(
      `--security-opt ${opt}: not supported by testin: the command runs in a VM of its own kernel, where the engine's seccomp, AppArmor and SELinux profiles do not reach`,
      'drop it; --cap-drop and --security-opt no-new-privileges limit the command in the VM',
    );
  }
  return noNewPrivileges;
}

/**
 * Whether the run restores its VM from a snapshot (and saves one when there is none): decided
 * here once. Not without a VM, with a user's kernel (it lives outside what a snapshot's key
 * covers), with --console (asked for to see the kernel boot, which a restore skips), nor with a
 * toolbox whose VMM cannot; --no-snapshot and TESTIN_SNAPSHOT=0 turn it off.
 */
function usesSnapshots(options: RunOptions, ctx: PlanContext): boolean {
  const wanted = options.snapshot ?? !/^(0|false|no|off)$/i.test(ctx.hostEnv.TESTIN_SNAPSHOT ?? '');
  return wanted && ctx.snapshotsAvailable === true && !options.noVm && !ctx.kernel && !options.console;
}

/** auto: passt where the toolbox has it; a VM without a NIC, or no VM at all, has no backend to speak of (slirp, the default, stays) */
export function resolveNetBackend(options: RunOptions, ctx: PlanContext): NetBackend {
  const choice = options.netBackend ?? 'auto';
  if (choice === 'passt' && !ctx.passtAvailable) {
    throw new UsageError("--net-backend passt: the toolbox has no passt (its Debian release packages none)", 'use --net-backend slirp, or a toolbox from Debian 12 or later (--toolbox-base debian:trixie-slim)');
  }
  if (options.noVm || options.network === 'none') return 'slirp';
  return choice === 'auto' ? (ctx.passtAvailable ? 'passt' : 'slirp') : choice;
}

/** --boot (the image's /sbin/init) or --boot=PATH: an absolute path in the image */
export function resolveBoot(value: string | boolean): string {
  const path = value === true || value === '' ? '/sbin/init' : String(value);
  if (!path.startsWith('/')) throw new UsageError(`--boot=${path}: the image's init must be an absolute path`, 'write --boot (the image\'s /sbin/init) or --boot=/lib/systemd/systemd');
  return path;
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
  if (eq > 0) {
    setEntry(env, flag);
    return;
  }
  const value = hostEnv[flag];
  if (value !== undefined) env.set(flag, value);
}

/**
 * A session command's variables as docker exec takes them: --env-file lines, then -e flags (later
 * wins; `K` alone copies this process's K, and is dropped when it has none). The session's own stay
 * beneath them in the VM.
 */
export function execEnv(flags: readonly string[], fileTexts: readonly string[], hostEnv: PlanContext['hostEnv']): string[] {
  const env = new Map<string, string>();
  for (const line of fileTexts.flatMap((text) => parseEnvFile(text))) applyFlag(env, line, hostEnv);
  for (const flag of flags) applyFlag(env, flag, hostEnv);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/**
 * docker's --env-file (and --label-file): one K=V or K per line; # comments and blank lines are skipped.
 * A name with whitespace in it (`export A=1`: the file is not a shell script) or no name at all is
 * refused, as docker refuses it, rather than set as written.
 */
export function parseEnvFile(text: string, flag = '--env-file'): string[] {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.replace(/^\s+/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of lines) {
    const name = line.split('=', 1)[0] as string;
    if (name === '') throw new UsageError(`${flag}: no name on the line "${line}"`, 'write NAME=VALUE lines');
    if (/\s/.test(name)) throw new UsageError(`${flag}: the name "${name}" has whitespace in it`, 'write NAME=VALUE lines: the file is not a shell script (no export, no spaces in a name)');
  }
  return lines;
}

/**
 * The container's labels from --label-file texts and --label flags, as docker reads them: KEY=VALUE,
 * or KEY alone for an empty value; a flag wins over a file. The `testin.` keys are testin's own.
 */
export function resolveLabels(flags: readonly string[], fileTexts: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of [...fileTexts.flatMap((text) => parseEnvFile(text, '--label-file')), ...flags]) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key.trim() === '') throw new UsageError(`invalid label "${entry}": the key is empty`, 'write --label KEY=VALUE');
    if (key.startsWith(`${LABEL_PREFIX}.`)) throw new UsageError(`--label ${key}: the ${LABEL_PREFIX}.* labels are testin's own`, 'pick a key of your own, e.g. --label com.example.job=42');
    labels[key] = eq < 0 ? '' : entry.slice(eq + 1);
  }
  return labels;
}
