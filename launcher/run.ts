import type { Readable, Writable } from 'node:stream';
import type { WriteStream } from 'node:tty';
import type { RunLogger } from './logger.js';
import type { ContainerHandle, DockerClient } from '../contract/docker-client.js';
import { VM_STEPS, parseTimeline, startPhases, type VmStep, type VmTimeline } from '../contract/timeline.js';
import { EXIT_TIMED_OUT, stopGraceMs } from '../contract/exit-codes.js';
import { TIMELINE_FILE } from '../contract/layout.js';
import { terminate } from '../contract/terminate.js';
import { readFileFromTar } from '../toolbox/tar.js';
import { dockerRefusal, engineError } from './docker-refusal.js';
import { createLogger } from './logger.js';
import { collectInto } from './output-sinks.js';
import { makeTerminalRaw } from './raw-terminal.js';
import { CanceledError, DockerUnreachableError, EngineLostError } from '../contract/errors.js';
import { createRunContainer } from './run-container.js';
import type { RunOptions } from '../contract/run-options.js';
import { resultOfSignal, signalName, type RunResult } from './run-result.js';
import { RunStopper } from './run-stopper.js';
import { stdinLease, takeLease, type RunLease } from './run-lease.js';
import { testHook } from './test-hook.js';


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
  logger?: RunLogger;
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
  const output = (): Pick<RunResult, 'stdout' | 'stderr'> => ({
    ...(io.stdout ? {} : { stdout: Buffer.concat(captured.stdout) }),
    ...(io.stderr ? {} : { stderr: Buffer.concat(captured.stderr) }),
  });
  const logger = io.logger ?? createLogger(options.logLevel);

  // a signal is taken from the first moment: before the container exists it stops the set-up
  const stopper = new RunStopper({ signal: io.signal, processSignals: io.forwardProcessSignals === true });
  const hookOut = io.stderr ?? process.stderr;
  let container: ContainerHandle | undefined;
  let lease: RunLease | undefined;
  // --rm=false keeps the container once the command has run (one that never ran goes, as any half-done run)
  let keep = false;
  try {
    let created: Awaited<ReturnType<typeof createRunContainer>>;
    try {
      created = await createRunContainer(options, {
        docker: io.docker,
        stderr: hookOut,
        logger,
        phase,
        signal: stopper.signal,
        beforeCreate: () => testHook('create', () => stopper.stopped !== undefined, hookOut),
      });
    } catch (error) {
      if (stopper.stopped || error instanceof CanceledError) return { ...resultOfSignal(stopper.stopped ?? 'SIGTERM', started, phases), ...output() };
      throw error;
    }
    container = created.container;
    phase('create');
    await testHook('start', () => stopper.stopped !== undefined, hookOut);
    if (stopper.stopped) return { ...resultOfSignal(stopper.stopped, started, phases), ...output() };

    const ran = container;
    // container-init passes the signal to the command and stops the VM hard after the stop timeout;
    // should it not end even then, the container is killed; a second interrupt kills it at once
    stopper.onStop((sig, count) => {
      if (count > 1 && sig !== 'SIGHUP') return void ran.kill('SIGKILL');
      void terminate(ran, ran.wait(), { signal: sig, graceMs: stopGraceMs(created.plan) });
    });
    let exitCode: number;
    const startedAt = Date.now();
    // the lease on the container's stdin is held from the attach, before the start; the exec's once started
    const onStdin = typeof created.plan.lease === 'object' ? stdinLease(created.plan.lease.stdinMark, stderr) : undefined;
    lease = onStdin;
    try {
      exitCode = await runContainer(
        container,
        stopper,
        hookOut,
        { stdout, stderr: onStdin?.stderr ?? stderr, stdin: onStdin?.stdin ?? (options.interactive ? (io.stdin ?? process.stdin) : undefined), tty: options.tty ?? false },
        created.plan.lease === 'exec' ? async () => void (lease = await takeLease(ran, (error) => void warnLeaseRefused(ran, error, logger))) : undefined,
      );
    } catch (error) {
      // docker checks some things only at start (the network exists...); a connection lost after the start is the engine gone
      const told = dockerRefusal(error, options) ?? engineError(error, 'run the container');
      throw told instanceof DockerUnreachableError && lease !== undefined ? new EngineLostError(error) : told;
    }
    phase('run');
    keep = options.keep === true;
    // a stop from here on changes nothing: the command's code is known; the teardown still happens in full
    await testHook('teardown', () => stopper.stopped !== undefined, hookOut);
    // the result came on the lease before the container exited (and the engine removed it)
    const leased = await lease?.result(LEASE_RESULT_WAIT_MS);
    lease?.release();
    const timeline = leased ? parseTimeline(leased) : await readTimeline(container);
    const plan = created.plan;
    return {
      exitCode,
      signal: signalName(exitCode),
      timedOut: timeline.timedOut === true && exitCode === EXIT_TIMED_OUT,
      canceled: stopper.stopped !== undefined,
      durationMs: Date.now() - started,
      // by reference: the teardown below adds `remove`
      phases: Object.assign(phases, vmPhases(timeline), startPhases(timeline, startedAt)),
      image: { name: options.image, id: created.imageId },
      vm: {
        cpus: plan.vm.cpus,
        memoryMiB: plan.vm.memoryMiB,
        accel: plan.vm.accel === 'kvm' ? 'kvm' : 'tcg',
        accelReason: created.accelReason ?? null,
        kernelRelease: created.kernelRelease,
        toolbox: created.toolbox.hash,
        startedFrom: plan.noVm ? 'no-vm' : timeline.restored ? 'snapshot' : typeof timeline.initUp === 'number' ? 'cold' : 'unknown',
      },
      ...(timeline.abnormal ? { abnormal: timeline.abnormal } : {}),
      ...(timeline.console ? { console: timeline.console } : {}),
      ...output(),
    };
  } finally {
    stopper.close();
    lease?.release();
    // a failed removal is said, never put in the place of how the run ended
    if (container && !keep) await container.remove().catch((error: unknown) => logger.warn({ container: container?.id, error: (error as Error).message }, 'could not remove the container'));
    phases.remove = Date.now() - mark;
  }
}

/**
 * A refused lease is said only while the run goes on: a command that ended before the lease's exec
 * came (a fast one, on an engine whose exec starts late) leaves a container that is gone or stopped,
 * and no run to lose.
 */
async function warnLeaseRefused(container: ContainerHandle, error: Error, logger: RunLogger): Promise<void> {
  const running = await container.inspect().then((info) => info.running, () => false);
  if (running) logger.warn({ error: error.message }, 'the lease on the run was refused: if this process dies, the run goes on');
}

/** how long the run's result may lag behind the container's exit on the lease (it normally comes before) */
const LEASE_RESULT_WAIT_MS = 2000;

async function runContainer(
  container: ContainerHandle,
  stopper: RunStopper,
  hookOut: Writable,
  io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined; tty: boolean },
  onStarted?: () => Promise<void>,
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
    // a signal that came while the container was being started reaches it now
    stopper.started();
    await onStarted?.();
    await testHook('started', () => stopper.stopped !== undefined, hookOut);
    if (io.tty) resize();
    code = await exit;
  } finally {
    terminal?.off('resize', resize);
    restoreTerminal?.();
    // a stdin still flowing would keep the process alive
    if (io.stdin === process.stdin) process.stdin.pause();
  }
  // the status can come before the last bytes of output: wait for the stream to end (bounded)
  // (unref'd: a library caller's process must not wait for this bound once the run is over)
  await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
  return code;
}

/** What container-init wrote of the VM's life (ms after it started); {} when it wrote nothing. */
async function readTimeline(container: ContainerHandle): Promise<VmTimeline> {
  try {
    const tar = await container.getArchive(TIMELINE_FILE);
    const data = tar && (await readFileFromTar(tar, 'timeline.json'));
    return data ? parseTimeline(data.toString('utf8')) : {};
  } catch {
    // an optional timing file never changes how a run ended
    return {};
  }
}

/**
 * The VM's steps as durations: VMM start, kernel to init, root mounted,
 * command started, the command, VM down.
 */
function vmPhases(t: VmTimeline): Record<string, number> {
  // a VM restored from its snapshot has no kernel boot: the time to a guest that takes its command is the restore's
  const names: Record<VmStep, string | undefined> = {
    virtiofsdUp: undefined,
    vmmStarted: 'vmmStart',
    initUp: t.restored ? 'restore' : 'kernelToInit',
    rootMounted: 'rootMounted',
    systemUp: 'systemUp',
    commandStarted: 'commandStarted',
    commandEnded: 'command',
    vmDown: 'vmDown',
  };
  const out: Record<string, number> = {};
  // the first run of a VM shape saves its snapshot (the guest stands still meanwhile); a snapshot that did not restore cost a cold boot's worth more
  if (t.snapshotSaveMs !== undefined) out['vm.snapshotSave'] = t.snapshotSaveMs;
  if (t.restoreFailed !== undefined) out['vm.restoreFailed'] = t.restoreFailed;
  if (t.startCrashed !== undefined) out['vm.startCrashed'] = t.startCrashed;
  // the restore's parts, within vm.restore (not added to the run's steps)
  if (t.restoreParts) for (const [part, ms] of Object.entries(t.restoreParts)) out[`vm.restore.${part}`] = ms;
  let previous = 0;
  for (const step of VM_STEPS) {
    const at = t[step];
    if (at === undefined || names[step] === undefined) continue;
    out[`vm.${names[step]}`] = Math.max(0, at - previous);
    previous = at;
  }
  Object.assign(out, guestPhases(t));
  return out;
}

/**
 * The guest's own steps, each from the one before (the first from the guest's answer,
 * when its EXEC went): its EXEC read, the root, the tmpfs, the devices, the network,
 * the machine settings, the command started, the command reaped; then that exit on
 * its way to container-init (vm.guest.exitToHost). Within the VM's steps, not added to them.
 */
function guestPhases(t: VmTimeline): Record<string, number> {
  const out: Record<string, number> = {};
  if (!t.guestSteps || t.initUp === undefined) return out;
  let previous = t.initUp;
  for (const [name, at] of Object.entries(t.guestSteps)) {
    out[`vm.guest.${name}`] = Math.max(0, at - previous);
    previous = at;
  }
  const exited = t.guestSteps.exited;
  if (exited !== undefined && t.commandEnded !== undefined) out['vm.guest.exitToHost'] = Math.max(0, t.commandEnded - exited);
  return out;
}

function isTty(stream: Writable): stream is WriteStream {
  return (stream as Partial<WriteStream>).isTTY === true;
}
