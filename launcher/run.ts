import { seccompSecurityOpt } from './seccomp-profile.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { WriteStream } from 'node:tty';
import { makeTerminalRaw } from './raw-terminal.js';
import type { Logger } from 'pino';
import { buildToolbox } from '../toolbox/build-toolbox.js';
import { ensureToolboxVolumes } from '../toolbox/toolbox-volume.js';
import { CUSTOM_KERNEL_FILES, prepareCustomKernel } from '../toolbox/custom-kernel.js';
import { MODULES_STAGING, TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR, hasPasst } from '../toolbox/toolbox-layout.js';
import { decideAccel, describeTcgNotice, readHostKvmFacts } from './accel.js';
import { buildPlan } from './build-plan.js';
import { createDockerClient, type ContainerHandle, type DockerClient } from './docker-client.js';
import { DockerUnreachableError, ImageNotFoundError, UsageError, dockerRefusal } from './errors.js';
import { createLogger } from './logger.js';
import type { RunOptions } from './run-options.js';
import { encodePlan, PLAN_ENV, type RunPlan } from './run-plan.js';
import type { RunResult } from './run-result.js';
import { validateRunOptions } from './validate-options.js';
import { collectInto } from './output-sinks.js';
import { planPorts } from './publish-ports.js';
import { REPORT_DIR_PREFIX, ownerLabels, reapStaleRuns } from './reap-stale-runs.js';
import { parseMounts, type MountSpec } from '../volumes/parse-mounts.js';
import { mapVolumes } from '../volumes/volume-mapping.js';

export const RUN_LABEL = 'testin.run';
/** exit code of a run stopped by --timeout, as coreutils timeout */
export const EXIT_TIMED_OUT = 124;
const CUSTOM_KERNEL_STAGING = `${WORK_DIR}/kernel`;
const REPORT_STAGING = `${WORK_DIR}/report`;

export interface RunIo {
  stdout?: Writable;
  stderr?: Writable;
  /** read when options.interactive is set */
  stdin?: Readable;
  /** aborting stops the run: SIGTERM to the command, then the container is removed */
  signal?: AbortSignal;
  /** forward SIGINT/SIGTERM/SIGHUP of this process to the command, as docker run does */
  forwardProcessSignals?: boolean;
  docker?: DockerClient;
  logger?: Logger;
}

/** Runs one command from an image in a fresh VM, like `docker run --rm`. */
export async function run(options: RunOptions, io: RunIo = {}): Promise<RunResult> {
  const started = Date.now();
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string): void => {
    const now = Date.now();
    phases[name] = now - mark;
    mark = now;
  };
  // without writables given, output is captured and returned in the result
  const captured = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const stdout = io.stdout ?? collectInto(captured.stdout);
  const stderr = io.stderr ?? collectInto(captured.stderr);
  const logger = io.logger ?? createLogger(options.logLevel);

  const { container, plan, reportDir } = await createRunContainer(options, { docker: io.docker, stderr: io.stderr ?? process.stderr, logger, phase });
  phase('create');

  // container-init forwards a signal to the command and stops the VM hard after
  // the stop timeout; a second interrupt here kills the container at once
  let canceled = false;
  let timedOut = false;
  let stopsAsked = 0;
  const stop = (signal: string): void => {
    stopsAsked += 1;
    void container.kill(stopsAsked > 1 && signal !== 'SIGHUP' ? 'SIGKILL' : signal);
  };
  const onAbort = (): void => {
    canceled = true;
    stop('SIGTERM');
  };
  io.signal?.addEventListener('abort', onAbort);
  const forwarded = new Map<NodeJS.Signals, () => void>();
  if (io.forwardProcessSignals) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) {
      const handler = (): void => {
        canceled = true;
        stop(sig);
      };
      forwarded.set(sig, handler);
      process.on(sig, handler);
    }
  }
  const timer =
    options.timeout === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stderr.write(`testin: timed out after ${formatSeconds(options.timeout as number)}: stopping the command (SIGTERM, then the VM after ${plan.stopTimeoutMs / 1000} s)\n`);
          stop('SIGTERM');
        }, options.timeout);
  try {
    const exitCode = await runContainer(container, {
      stdout,
      stderr,
      stdin: options.interactive ? (io.stdin ?? process.stdin) : undefined,
      tty: options.tty ?? false,
    });
    phase('run');
    return {
      exitCode: timedOut ? EXIT_TIMED_OUT : exitCode,
      signal: signalName(exitCode),
      timedOut,
      canceled,
      durationMs: Date.now() - started,
      // by reference: the teardown below adds `remove`
      phases: Object.assign(phases, vmPhases(reportDir)),
      ...(io.stdout ? {} : { stdout: Buffer.concat(captured.stdout) }),
      ...(io.stderr ? {} : { stderr: Buffer.concat(captured.stderr) }),
    };
  } catch (error) {
    // docker checks some things only at start (the network exists...)
    throw dockerRefusal(error, options) ?? error;
  } finally {
    clearTimeout(timer);
    io.signal?.removeEventListener('abort', onAbort);
    for (const [sig, handler] of forwarded) process.off(sig, handler);
    await container.remove();
    if (reportDir) rmSync(reportDir, { recursive: true, force: true });
    phases.remove = Date.now() - mark;
  }
}

export interface CreatedRun {
  container: ContainerHandle;
  plan: RunPlan;
  docker: DockerClient;
  /** host folder where container-init leaves the VM's timeline (removed by the caller) */
  reportDir?: string | undefined;
}

/**
 * Everything up to a created container: options checked, image, accelerator,
 * toolbox and its volumes, the plan, the mounts. `run()` starts it and waits;
 * `start()` (a session) keeps it up.
 */
export async function createRunContainer(
  options: RunOptions,
  ctx: { docker?: DockerClient | undefined; stderr: Writable; logger: Logger; phase?: (name: string) => void; session?: { labels: Record<string, string> } },
): Promise<CreatedRun> {
  const { stderr, logger } = ctx;
  const phase = ctx.phase ?? ((): void => undefined);
  validateRunOptions(options);
  const envFileTexts = (options.envFiles ?? []).map(readEnvFile);
  const mountSpecs = parseMounts({ volumes: options.volumes, mounts: options.mounts, tmpfs: options.tmpfs }, process.cwd());
  prepareBindSources(mountSpecs);
  const volumes = mapVolumes(mountSpecs);
  const docker = ctx.docker ?? createDockerClient();
  try {
    await docker.ping();
  } catch (error) {
    throw new DockerUnreachableError(error);
  }
  const reaped = reapStaleRuns(docker, RUN_LABEL).catch(() => []);
  const image = await docker.inspectImage(options.image);
  if (!image) throw new ImageNotFoundError(options.image);

  const accel = options.noVm ? { accel: 'tcg' as const } : decideAccel(options.accel ?? 'auto', readHostKvmFacts());
  if (accel.reason && options.accel !== 'tcg') stderr.write(`${describeTcgNotice(accel.reason)}\n`);

  const toolbox = buildToolbox();
  phase('toolbox');
  const runId = randomBytes(8).toString('hex');
  const custom = options.kernel ? prepareCustomKernel({ kernel: options.kernel, initrd: options.initrd, modules: options.modules }, toolbox) : undefined;
  const kernelModules = options.noVm
    ? undefined
    : custom
      ? custom.modulesDir && custom.release
        ? { staging: MODULES_STAGING, release: custom.release }
        : undefined
      : { staging: MODULES_STAGING, release: toolbox.manifest.modules.release };
  const kernel = custom && {
    kernel: `${CUSTOM_KERNEL_STAGING}/${CUSTOM_KERNEL_FILES.kernel}`,
    initrd: `${CUSTOM_KERNEL_STAGING}/${CUSTOM_KERNEL_FILES.initrd}`,
    format: custom.format,
  };
  const ports = planPorts(options.publish ?? [], options.expose ?? [], Object.keys(image.ExposedPorts ?? {}), options.publishAll ?? false);
  const plan = buildPlan(options, image, {
    session: ctx.session !== undefined,
    runId,
    accel: accel.accel,
    hostEnv: process.env,
    envFileTexts,
    volumes,
    kernelModules,
    kernel,
    forwards: ports.forwards,
    passtAvailable: hasPasst(toolbox.manifest),
  });
  phase('plan');
  const volumeState = await ensureToolboxVolumes(docker, toolbox);
  logger.info({ volume: toolbox.volumeName, state: volumeState }, `toolbox volume ${volumeState}`);
  phase('volume');
  const reapedIds = await reaped;
  if (reapedIds.length) logger.info({ containers: reapedIds }, 'removed containers of runs whose launcher died');

  const reportDir = ctx.session ? undefined : mkdtempSync(join(tmpdir(), `${REPORT_DIR_PREFIX}${process.pid}-`));
  let container: ContainerHandle;
  try {
    container = await docker.createContainer({
    image: options.image,
    name: options.name,
    entrypoint: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.containerInit}`],
    cmd: [],
    env: [`${PLAN_ENV}=${encodePlan(plan)}`],
    labels: { [RUN_LABEL]: runId, ...(ctx.session?.labels ?? ownerLabels()) },
    mounts: [
      { type: 'volume', source: toolbox.volumeName, target: TOOLBOX_MOUNT, readOnly: true },
      ...(custom ? [{ type: 'bind' as const, source: custom.dir, target: CUSTOM_KERNEL_STAGING, readOnly: true }] : []),
      ...(kernelModules
        ? [
            custom?.modulesDir
              ? { type: 'bind' as const, source: custom.modulesDir, target: MODULES_STAGING, readOnly: true }
              : { type: 'volume' as const, source: toolbox.manifest.modules.volumeName, target: MODULES_STAGING, readOnly: true },
          ]
        : []),
      ...volumes.container,
      ...(reportDir ? [{ type: 'bind' as const, source: reportDir, target: REPORT_STAGING, readOnly: false }] : []),
    ],
    tmpfs: { [WORK_DIR]: 'rw,exec,mode=755' },
    capAdd: ['SYS_ADMIN'],
    devices: accel.accel === 'kvm' && !options.noVm ? ['/dev/kvm'] : [],
    // the default AppArmor profile forbids mount even with CAP_SYS_ADMIN
    // passt sandboxes itself with pivot_root, which docker's default seccomp profile refuses
    securityOpt: ['apparmor=unconfined', ...(plan.network.nic && plan.network.backend === 'passt' ? [seccompSecurityOpt()] : [])],
    openStdin: options.interactive ?? false,
    tty: options.tty ?? false,
    hostname: options.hostname,
    networkMode: options.network,
    exposedPorts: ports.exposedPorts,
    portBindings: ports.portBindings,
    extraHosts: options.addHost,
    // docker stop (and compose down) must leave container-init its own grace first
    stopTimeout: Math.ceil(plan.stopTimeoutMs / 1000) + 5,
  });
  } catch (error) {
    if (reportDir) rmSync(reportDir, { recursive: true, force: true });
    throw dockerRefusal(error, options) ?? error;
  }
  logger.debug({ container: container.id, runId }, 'container created');
  return { container, plan, docker, reportDir };
}

async function runContainer(
  container: ContainerHandle,
  io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined; tty: boolean },
): Promise<number> {
  const { ended } = await container.attach(io);
  const exit = container.wait();
  // a terminal on our side: raw, so keys such as Ctrl-C reach the VM's pty; its size follows ours
  const terminal = io.tty && isTty(io.stdout) ? io.stdout : undefined;
  const restoreTerminal = io.tty && io.stdin === process.stdin && process.stdin.isTTY ? makeTerminalRaw() : undefined;
  const resize = (): void => void container.resize(terminal?.rows ?? 24, terminal?.columns ?? 80);
  terminal?.on('resize', resize);
  let code: number;
  try {
    await container.start();
    if (io.tty) resize();
    code = await exit;
  } finally {
    terminal?.off('resize', resize);
    restoreTerminal?.();
    // a stdin still flowing would keep the process alive
    if (io.stdin === process.stdin) process.stdin.pause();
  }
  // the status can come before the last bytes of output: wait for the stream to end (bounded)
  await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
  return code;
}

/** docker -v creates a missing host folder; --mount refuses it. */
function prepareBindSources(specs: readonly MountSpec[]): void {
  for (const spec of specs) {
    if (spec.type !== 'bind' || existsSync(spec.source)) continue;
    if (!spec.createSource) throw new UsageError(`bind source path does not exist: ${spec.source}`, 'create it first, or use -v, which creates it');
    mkdirSync(spec.source, { recursive: true });
  }
}

function readEnvFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read env file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, 'give --env-file a readable file of NAME=VALUE lines');
  }
}

/**
 * The VM's steps (ms after container-init started) as durations: VMM start,
 * kernel to init, root mounted, command started, the command, VM down.
 */
function vmPhases(reportDir: string | undefined): Record<string, number> {
  if (!reportDir || !existsSync(join(reportDir, 'timeline.json'))) return {};
  const t = JSON.parse(readFileSync(join(reportDir, 'timeline.json'), 'utf8')) as Record<string, number>;
  const steps = ['vmmStarted', 'initUp', 'rootMounted', 'commandStarted', 'commandEnded', 'vmDown'] as const;
  const names = { vmmStarted: 'vmmStart', initUp: 'kernelToInit', rootMounted: 'rootMounted', commandStarted: 'commandStarted', commandEnded: 'command', vmDown: 'vmDown' };
  const out: Record<string, number> = {};
  let previous = 0;
  for (const step of steps) {
    if (t[step] === undefined) continue;
    out[`vm.${names[step]}`] = Math.max(0, t[step] - previous);
    previous = t[step];
  }
  return out;
}

function isTty(stream: Writable): stream is WriteStream {
  return (stream as Partial<WriteStream>).isTTY === true;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function signalName(exitCode: number): string | undefined {
  if (exitCode <= 128 || exitCode >= 128 + 65) return undefined;
  const n = exitCode - 128;
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
}
