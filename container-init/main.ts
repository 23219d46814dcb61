/**
 * container-init: the entrypoint of the user's container. Reads the run plan,
 * shares the image's root with the VM through virtiofsd, boots the VM and
 * relays the command's output and exit status. Bundled by esbuild into
 * /run/testin/toolbox/container-init.js, run by the toolbox's own node.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FORWARDED_SIGNALS } from '../contract/control-protocol.js';
import { TestinError } from '../contract/errors.js';
import { EXIT_TESTIN_FAILED, exitCodeForSignal } from '../contract/exit-codes.js';
import { LEASE_SOCKET, NEW_ROOT, SESSION_SOCKET, SNAPSHOT_DIR, TIMELINE_FILE, TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { encodePlan, type Accel, type RunLeasePlan, type RunPlan } from '../contract/run-plan.js';
import { parseProcLimits, type PlanRlimit } from '../contract/process-settings.js';
import { SESSION_ENDED, type SessionExecRequest } from '../contract/session-protocol.js';
import type { ToolboxManifest } from '../contract/toolbox-manifest.js';
import { decideAccel, describeTcgNotice, foreignAccel } from '../contract/accel.js';
import { describeForeignGuest } from '../contract/arch.js';
import { readHostKvmFacts } from './accel.js';
import { commandRequest, guestModprobe, guestVolumes, sessionRequest } from './command-request.js';
import { bindRoot, prepareContainerRoot, ramDir, readText, resolveIn } from './prepare-root.js';
import { FRESH_DIRS, freshDirs } from './fresh-dirs.js';
import { fillEmptyVolumes } from './volume-copy.js';
import { readPlan } from './read-plan.js';
import { UserLookupError } from './resolve-user.js';
import { runSessionClient } from './session-client.js';
import { VmRun, type VmOutcome } from './vm-run.js';
import { ClientLease, StdinLease, type Lease } from './client-lease.js';
import { guestCommand } from './guest-command.js';
import type { SnapshotMode } from './snapshot-controller.js';
import { terminate } from '../contract/terminate.js';
import type { VmTimeline } from '../contract/timeline.js';
import { BOOT_CONSOLE_LINES, readConsoleTail } from './console-tail.js';
import { sayLastWord, takeLastWord, takePid1StartedAt, takeUnderAgent } from './last-word.js';
import { HeldVmm } from './held-vmm.js';

// the tests' `init` moment: container-init runs, its signal handlers are not set yet (a stop now
// ends node by the signal's default action, and docker's init reports 128+N); see launcher/test-hook.ts
if (process.env.TESTIN_TEST_HOOK === 'init' && process.argv[2] !== '--exec') {
  process.stderr.write('testin-hook init\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}

/**
 * Signals are taken before anything else: one that comes while the plan is
 * read or the root is bound is held, and given to the VM as soon as it exists.
 */
const held: string[] = [];
/** started by testin's PID 1: in a VM's container, never by hand (last-word.ts) */
const UNDER_AGENT = takeUnderAgent();
/** wall-clock ms when PID 1 started: the container's start splits at it (contract/timeline.ts startPhases) */
const PID1_STARTED_AT = takePid1StartedAt();
/** the pipe to PID 1 that the exit code goes on last (last-word.ts) */
const LAST_WORD = takeLastWord();
/** the QEMU PID 1 started with the container, taken before any child of ours could inherit its fds (held-vmm.ts) */
const HELD_VMM = HeldVmm.take();
/** wall-clock ms when this node process started, and when its code began: the run's phases split the container's start with them */
const PROCESS_STARTED_AT = Math.round(performance.timeOrigin);
const MAIN_AT = Date.now();
let onSignal: ((name: string) => void) | undefined;
/** the client's lease on the run (plan.lease); the timeline goes back on it at the end */
let lease: Lease | undefined;
let finalTimeline = '{}';
/** after the client went away, the command gets this long to end before the VM is stopped hard */
const CLIENT_GONE_GRACE_MS = 2000;
for (const name of Object.keys(FORWARDED_SIGNALS)) process.on(name, () => (onSignal ? onSignal(name) : held.push(name)));

/**
 * Where things are. The defaults are the container's; the variables let the
 * boot benchmark run the same code against a plain folder (its floor).
 */
const TOOLBOX_DIR = process.env.TESTIN_TOOLBOX_DIR ?? TOOLBOX_MOUNT;
const SHARED_ROOT = process.env.TESTIN_SHARED_ROOT;

function fail(message: string, fix?: string, timeline: VmTimeline = {}): number {
  process.stderr.write(`testin: ${message}\n${fix ? `  fix: ${fix}\n` : ''}`);
  writeTimeline(timeline, { abnormal: { reason: message, consoleTail: [] } });
  return EXIT_TESTIN_FAILED;
}

/**
 * The VM's timeline (for run()'s phases) and how it ended, for the run's report:
 * an abnormal end's reason and console tail, or a booted system's console.
 * Optional: it never changes how the run ended.
 */
function writeTimeline(timeline: VmTimeline, end: Pick<VmTimeline, 'abnormal' | 'console'> = {}): void {
  finalTimeline = JSON.stringify({ ...timeline, pid1StartedAt: PID1_STARTED_AT, processStartedAt: PROCESS_STARTED_AT, mainAt: MAIN_AT, ...end } satisfies VmTimeline);
  try {
    writeFileSync(TIMELINE_FILE, finalTimeline);
  } catch {
    // a folder made read-only, a full disk: the command's code still stands
  }
}

/** a stop asked for before the VM runs: the run ends at once, as the command would have */
function stoppedEarly(): number | undefined {
  const stop = held.find((s) => s === 'SIGINT' || s === 'SIGTERM' || s === 'SIGHUP' || s === 'SIGQUIT');
  return stop ? exitCodeForSignal(FORWARDED_SIGNALS[stop] as number) : undefined;
}

/** an early end of the run: its exit code, the reason already said */
class RunEnded {
  constructor(readonly code: number) {}
}

/** The run, as its steps: the plan, the client's lease, the command, the root, the VM, how it ended. */
async function main(): Promise<number> {
  if (process.argv[2] === '--exec') {
    return runSessionClient(SESSION_SOCKET, join(TOOLBOX_DIR, TOOLBOX_LAYOUT.busybox), JSON.parse(process.env.TESTIN_EXEC ?? '{}') as SessionExecRequest);
  }
  // it binds the container's root and mounts over it: run anywhere else (a host's shell), it would do that to the host
  if (!UNDER_AGENT) {
    process.stderr.write(`testin: container-init runs only as the child of ${TOOLBOX_DIR}/${TOOLBOX_LAYOUT.agent} --init, in a VM's container (it mounts over the root it finds): nothing was done\n  fix: let testin start it (testin run, testin compose, docker run --runtime testin)\n`);
    return EXIT_TESTIN_FAILED;
  }
  const manifest = JSON.parse(readFileSync(join(TOOLBOX_DIR, TOOLBOX_LAYOUT.manifest), 'utf8')) as ToolboxManifest;
  mkdirSync(WORK_DIR, { recursive: true });
  try {
    const { plan, mirror, accel } = readRun(manifest);
    // PID 1 holds QEMU for every plan in the environment: one without a VM lets it go
    if (plan.noVm) HELD_VMM?.dismiss();
    if (plan.lease) takeClientLease(plan.lease);
    const root = SHARED_ROOT ?? '/';
    // the container's own limits, read once: the run's command and every session command get them
    const rlimits = containerRlimits(plan);
    const exec = guestRequest(plan, root, mirror, rlimits);
    const newRoot = prepareRoot(plan, mirror);
    // the image's /run and /tmp, and the user's mounts under them, for the VM's fresh ones
    if (!plan.noVm && !SHARED_ROOT) exec.fresh = imageRunAndTmp(plan, mirror, newRoot);
    if (plan.logLevel === 'debug' || plan.logLevel === 'trace') process.stderr.write(`testin[container-init] the root is ready ${Date.now() - MAIN_AT} ms after container-init's start\n`);
    const early = stoppedEarly();
    if (early !== undefined) return early;
    const { vm, outcome } = await runVm(plan, accel, manifest, exec, root, newRoot, rlimits);
    if (plan.session && vm.servedSession && !vm.shutDown) await outliveSessionVm(vm, outcome, (stop) => (onSignal = stop));
    return reportOutcome(plan, vm, outcome);
  } catch (error) {
    if (error instanceof RunEnded) return error.code;
    throw error;
  }
}

/** The plan (from the launcher, or compose's container), and the accelerator: decided by the launcher from the engine's host, or here ('auto': compose). */
function readRun(manifest: ToolboxManifest): { plan: RunPlan; mirror: { path: string; readOnly: boolean }[]; accel: Accel } {
  try {
    const { plan, mirror } = readPlan(process.argv.slice(2), process.env, manifest.modules.release);
    if (plan.logLevel === 'debug' || plan.logLevel === 'trace') process.stderr.write(`testin[container-init] plan ${encodePlan(plan)}\n`);
    if (plan.vm.accel !== 'auto' || plan.noVm) return { plan, mirror, accel: plan.noVm ? 'tcg' : plan.vm.accel === 'kvm' ? 'kvm' : 'tcg' };
    const foreign = describeForeignGuest(manifest.arch);
    const decision = foreign ? foreignAccel('auto', foreign) : decideAccel('auto', readHostKvmFacts());
    if (decision.reason) process.stderr.write(`${describeTcgNotice(decision.reason)}\n`);
    return { plan, mirror, accel: decision.accel };
  } catch (error) {
    if (error instanceof TestinError) throw new RunEnded(fail(error.message, error.fix));
    throw error;
  }
}

/** The client's lease (plan.lease): when the client goes, the run stops as after docker stop, with a short grace. */
function takeClientLease(how: RunLeasePlan): void {
  const gone = (why: string): void => {
    process.stderr.write(`testin: the client of this run went away (${why}): stopping it\n`);
    if (onSignal) onSignal('client-gone');
    else held.push('SIGTERM');
  };
  lease = how === 'exec' ? new ClientLease(LEASE_SOCKET, gone) : new StdinLease(how.stdinMark, gone);
}

/** The command as the guest's init takes it: argv, env, the user looked up in the image, the mounts. */
function guestRequest(plan: RunPlan, root: string, mirror: { path: string; readOnly: boolean }[], rlimits: PlanRlimit[]): ReturnType<typeof commandRequest> {
  try {
    return commandRequest(plan, {
      root,
      rlimits,
      domainname: plan.noVm ? undefined : readText('/proc/sys/kernel/domainname'),
      netBackend: plan.network.nic && !plan.noVm ? plan.network.backend : undefined,
      tty: plan.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined,
      volumes: plan.noVm || SHARED_ROOT ? undefined : guestVolumes(plan, mirror, inImageRoot),
      modprobe: plan.noVm || SHARED_ROOT ? undefined : guestModprobe(plan, mirror, isExecutable, join(TOOLBOX_DIR, TOOLBOX_LAYOUT.modprobe)),
    });
  } catch (error) {
    if (error instanceof UserLookupError) throw new RunEnded(fail(error.message, error.fix));
    throw error;
  }
}

/**
 * What the VM's fresh /run and /tmp hold (fresh-dirs.ts); a root that cannot be read leaves them empty, as before, and says why.
 * A read-only root (--read-only) keeps the image's own folders, read-only as the rest of it, as docker's
 * container has them (a --tmpfs on either is the writable one).
 */
function imageRunAndTmp(plan: RunPlan, mirror: readonly { path: string }[], newRoot: string): ReturnType<typeof freshDirs> | undefined {
  if (plan.readonlyRoot) return { entries: [], own: [...FRESH_DIRS], carry: [] };
  try {
    return freshDirs(newRoot, [...plan.mounts.map((m) => m.target), ...mirror.map((m) => m.path)].map(inImageRoot));
  } catch (error) {
    process.stderr.write(`testin: the image's /run and /tmp could not be read (${(error as Error).message}): the VM's are empty\n`);
    return undefined;
  }
}

/** a mount's target where the VM finds it: the image's links resolved in its root (Debian's /var/run -> /run), as the container's mount is */
const inImageRoot = (target: string): string => resolveIn('/', target);

/**
 * The container's own limits, as the engine set them, for the command in the VM (docker's process
 * gets them): PID 1's, since node raises its own open files' soft limit to the hard one.
 * --no-vm's command runs in this container and has them already.
 */
function containerRlimits(plan: RunPlan): PlanRlimit[] {
  if (plan.noVm) return [];
  try {
    return parseProcLimits(readFileSync('/proc/1/limits', 'utf8'));
  } catch {
    return [];
  }
}

/** The image's root for the VM: bound (non-recursively) where virtiofsd shares it, the volumes moved under it; returns where. */
function prepareRoot(plan: RunPlan, mirror: { path: string; readOnly: boolean }[]): string {
  const newRoot = SHARED_ROOT ?? NEW_ROOT;
  try {
    // docker fills an empty volume from the image: the engine did not (the volumes are staged)
    fillEmptyVolumes(plan.mounts, TOOLBOX_DIR, (line) => process.stderr.write(line));
    if (plan.noVm) prepareContainerRoot(plan, TOOLBOX_DIR);
    else if (!SHARED_ROOT) bindRoot(plan, { toolbox: TOOLBOX_DIR, newRoot, ram: snapshotsDir(plan) ? { dir: ramDir(WORK_DIR), sizeBytes: plan.vm.memoryMiB * 2 ** 20 } : undefined }, mirror);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new RunEnded(fail(`cannot bind the image root for the VM: ${stderr || (error as Error).message}`, 'the container needs CAP_SYS_ADMIN (testin run adds it)'));
  }
  if (plan.network.nic && plan.network.backend === 'passt' && !plan.noVm && !ensureTmp()) {
    throw new RunEnded(fail('the image has no /tmp and none can be made, which passt (the VM network) needs', 'run with --net-backend slirp'));
  }
  return newRoot;
}

/** the launcher decided whether this run uses snapshots (plan.snapshot); the volume is there when it mounted one */
function snapshotsDir(plan: RunPlan): string | undefined {
  return plan.snapshot === true && !SHARED_ROOT && existsSync(SNAPSHOT_DIR) ? SNAPSHOT_DIR : undefined;
}

/**
 * The VM, with every stop taken from here on (the command gets the signal, then the VM
 * is stopped hard after its grace); a snapshot that did not restore costs a cold boot.
 */
async function runVm(plan: RunPlan, accel: Accel, manifest: ToolboxManifest, exec: ReturnType<typeof commandRequest>, root: string, newRoot: string, rlimits: PlanRlimit[]): Promise<{ vm: VmRun; outcome: VmOutcome }> {
  const snapshots = snapshotsDir(plan);
  const newVm = (mode: SnapshotMode | undefined): VmRun =>
    new VmRun(plan, accel, manifest, exec, { toolbox: TOOLBOX_DIR, work: WORK_DIR, newRoot, snapshots: snapshots && mode ? { dir: snapshots, mode } : undefined, held: HELD_VMM }, plan.session || plan.execs ? (req) => sessionRequest(plan, root, req, rlimits) : undefined);
  let vm = newVm('auto');
  let ended: Promise<unknown> = Promise.resolve();
  /** what stopped the run (SIGINT, SIGTERM, the client gone), and the grace the command got */
  let stopping: { by: string; graceMs: number } | undefined;
  // the command as the one terminate module sees it: the stop signal, then (after the grace) the VM stopped hard
  const command = guestCommand(
    { signal: (signo) => vm.signal(signo), kill: () => vm.kill() },
    plan.process?.stopSignal,
    () => process.stderr.write(`testin: the command did not end within ${(stopping?.graceMs ?? 0) / 1000} s of ${stopping?.by}: stopping the VM\n`),
  );
  onSignal = (name) => {
    // docker stop of a session (or its client gone): the VM powers off
    if (plan.session) return vm.shutdown();
    const gone = name === 'client-gone';
    if (stopping || (name !== 'SIGINT' && name !== 'SIGTERM' && !gone)) return vm.signal(FORWARDED_SIGNALS[name] as number);
    stopping = gone ? { by: 'the client going away', graceMs: CLIENT_GONE_GRACE_MS } : { by: name, graceMs: plan.stopTimeoutMs };
    void terminate(command, ended, { signal: gone ? 'SIGTERM' : (name as NodeJS.Signals), graceMs: stopping.graceMs });
  };
  let run = vm.run();
  // the stop's grace ends with the command (a --boot system's shutdown after it has a grace of its own)
  ended = Promise.race([run, vm.commandEnded]);
  for (const name of held.splice(0)) onSignal(name);
  let outcome = await run;
  let mode: SnapshotMode | undefined = 'auto';
  const startAgain = async (next: SnapshotMode | undefined, cost: 'restoreFailed' | 'startCrashed'): Promise<VmOutcome> => {
    const first = vm.timeline;
    mode = next;
    vm = newVm(next);
    run = vm.run();
    ended = Promise.race([run, vm.commandEnded]);
    const again = await run;
    vm.timeline.restoreFailed = first.restoreFailed;
    vm.timeline.startCrashed = first.startCrashed;
    vm.timeline[cost] = (first[cost] ?? 0) + (first.vmDown ?? 1);
    return again;
  };
  // nothing of the command ran in either case: each is tried again once
  let restoreTried = false;
  let crashTried = false;
  for (;;) {
    if (outcome.kind === 'restoreFailed' && !restoreTried) {
      restoreTried = true;
      // boot cold, and (one run at a time) put a good snapshot in the place of a damaged one
      process.stderr.write(`testin: the VM snapshot did not restore (${outcome.reason}): booting cold${outcome.damaged ? ', and replacing it' : ''}\n`);
      outcome = await startAgain(outcome.damaged ? 'replace' : undefined, 'restoreFailed');
    } else if (outcome.kind === 'startCrashed' && !crashTried) {
      crashTried = true;
      // QEMU under TCG here aborts now and then while a guest boots (an assertion in its memory map, about 1 cold boot in 40 with 5 at once on 2 cores); a QEMU that stands still is stopped (stall-watch.ts)
      process.stderr.write(`testin: the VM did not come up (${outcome.reason}): starting it again\n`);
      outcome = await startAgain(mode, 'startCrashed');
    } else {
      return { vm, outcome };
    }
  }
}

/** How the run ended, to the user (the code; an abnormal end's reason and console tail) and to the timeline. */
function reportOutcome(plan: RunPlan, vm: VmRun, outcome: VmOutcome): number {
  if (outcome.kind === 'exited') {
    // --boot: the system's console (its units starting and stopping) goes into the run's report
    writeTimeline(vm.timeline, plan.boot ? { console: readConsoleTail(vm.consoleLog, BOOT_CONSOLE_LINES) } : {});
    return outcome.code;
  }
  if (outcome.kind === 'restoreFailed') return fail(`the VM did not start: ${outcome.reason}`, 'run with --no-snapshot', vm.timeline);
  // 'abnormal', or a start that crashed again
  writeTimeline(vm.timeline, { abnormal: { reason: outcome.reason, consoleTail: outcome.consoleTail } });
  process.stderr.write(`testin: ${outcome.reason}\n`);
  if (outcome.consoleTail.length) {
    process.stderr.write(`testin: last ${outcome.consoleTail.length} lines of the guest console:\n${outcome.consoleTail.map((l) => `  | ${l}`).join('\n')}\n`);
  }
  return EXIT_TESTIN_FAILED;
}

/**
 * A session's VM ended by itself (a panic, a poweroff in the VM, the VMM gone): the container
 * stays, so that `testin logs` shows the console and `testin ls` the session as ended, and
 * every command sent to it is told why; it goes at `testin down` (docker stop), or when the
 * client that leased it is gone.
 */
async function outliveSessionVm(vm: VmRun, outcome: VmOutcome, onStop: (stop: () => void) => void): Promise<void> {
  const reason = outcome.kind === 'exited' ? `it powered off (code ${outcome.code})` : outcome.reason;
  vm.endSession(`the VM of this session ended: ${reason}; \`testin logs\` shows its console, \`testin down\` removes it`);
  process.stderr.write(`${SESSION_ENDED} ${reason}\n`);
  await new Promise<void>((resolve) => onStop(resolve));
}

main().then(
  async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    // the client reads the result before the container exits (and the engine removes it)
    await lease?.deliver(finalTimeline);
    exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`testin: internal error in container-init: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n  please report it with this output\n`);
    exit(EXIT_TESTIN_FAILED);
  },
);

/** PID 1 hears the code and ends the container with it at once (last-word.ts); process.exit is for a container-init without it */
function exit(code: number): never {
  sayLastWord(LAST_WORD, code);
  // the tests' `exit-hang` moment: node's exit hangs as a thread pool's thread that never returns makes it
  if (process.env.TESTIN_TEST_HOOK === 'exit-hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  process.exit(code);
}

/** Resolves once what was written before is out: pipe writes may be queued, and exiting would drop them. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * passt confines itself in a tmpfs it mounts on /tmp (in a mount namespace of
 * its own), so /tmp must exist in the container. An image without one gets an
 * empty /tmp in this container's layer; the VM mounts its own tmpfs there.
 */
function ensureTmp(): boolean {
  try {
    mkdirSync('/tmp', { mode: 0o1777, recursive: true });
    return true;
  } catch {
    return false;
  }
}
