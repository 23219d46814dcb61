/**
 * container-init: the entrypoint of the user's container. Reads the run plan,
 * shares the image's root with the VM through virtiofsd, boots the VM and
 * relays the command's output and exit status. Bundled by esbuild into
 * /run/testin/toolbox/container-init.js, run by the toolbox's own node.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FORWARDED_SIGNALS } from '../contract/control-protocol.js';
import { TestinError } from '../contract/errors.js';
import { EXIT_TESTIN_FAILED, exitCodeForSignal } from '../contract/exit-codes.js';
import { NEW_ROOT, SESSION_SOCKET, SNAPSHOT_DIR, TIMELINE_FILE, TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { encodePlan, type Accel, type RunPlan } from '../contract/run-plan.js';
import type { SessionExecRequest } from '../contract/session-protocol.js';
import type { ToolboxManifest } from '../contract/toolbox-manifest.js';
import { decideAccel, describeTcgNotice } from '../contract/accel.js';
import { readHostKvmFacts } from './accel.js';
import { commandRequest, guestVolumes, sessionRequest } from './command-request.js';
import { bindRoot, prepareContainerRoot } from './prepare-root.js';
import { readPlan } from './read-plan.js';
import { UserLookupError } from './resolve-user.js';
import { runSessionClient } from './session-client.js';
import { VmRun } from './vm-run.js';
import { BOOT_CONSOLE_LINES, readConsoleTail } from './console-tail.js';

/**
 * Signals are taken before anything else: one that comes while the plan is
 * read or the root is bound is held, and given to the VM as soon as it exists.
 */
const held: string[] = [];
/** wall-clock ms when this node process started, and when its code began: the run's phases split the container's start with them */
const PROCESS_STARTED_AT = Math.round(performance.timeOrigin);
const MAIN_AT = Date.now();
let onSignal: ((name: string) => void) | undefined;
for (const name of Object.keys(FORWARDED_SIGNALS)) process.on(name, () => (onSignal ? onSignal(name) : held.push(name)));

/**
 * Where things are. The defaults are the container's; the variables let the
 * boot benchmark run the same code against a plain folder (its floor).
 */
const TOOLBOX_DIR = process.env.TESTIN_TOOLBOX_DIR ?? TOOLBOX_MOUNT;
const SHARED_ROOT = process.env.TESTIN_SHARED_ROOT;

function fail(message: string, fix?: string, timeline: Record<string, number> = {}): number {
  process.stderr.write(`testin: ${message}\n${fix ? `  fix: ${fix}\n` : ''}`);
  writeTimeline(timeline, { abnormal: { reason: message, consoleTail: [] } });
  return EXIT_TESTIN_FAILED;
}

/**
 * The VM's timeline (for run()'s phases) and how it ended, for the run's report:
 * an abnormal end's reason and console tail, or a booted system's console.
 * Optional: it never changes how the run ended.
 */
function writeTimeline(timeline: Record<string, number>, end: { abnormal?: { reason: string; consoleTail: string[] }; console?: string[] } = {}): void {
  try {
    writeFileSync(TIMELINE_FILE, JSON.stringify({ ...timeline, processStartedAt: PROCESS_STARTED_AT, mainAt: MAIN_AT, ...end }));
  } catch {
    // a folder made read-only, a full disk: the command's code still stands
  }
}

/** a stop asked for before the VM runs: the run ends at once, as the command would have */
function stoppedEarly(): number | undefined {
  const stop = held.find((s) => s === 'SIGINT' || s === 'SIGTERM' || s === 'SIGHUP' || s === 'SIGQUIT');
  return stop ? exitCodeForSignal(FORWARDED_SIGNALS[stop] as number) : undefined;
}

async function main(): Promise<number> {
  if (process.argv[2] === '--exec') {
    return runSessionClient(SESSION_SOCKET, join(TOOLBOX_DIR, TOOLBOX_LAYOUT.busybox), JSON.parse(process.env.TESTIN_EXEC ?? '{}') as SessionExecRequest);
  }
  const manifest = JSON.parse(readFileSync(join(TOOLBOX_DIR, TOOLBOX_LAYOUT.manifest), 'utf8')) as ToolboxManifest;
  mkdirSync(WORK_DIR, { recursive: true });
  let plan: RunPlan;
  let mirror: { path: string; readOnly: boolean }[];
  let accel: Accel;
  try {
    ({ plan, mirror } = readPlan(process.argv.slice(2), process.env, manifest.modules.release));
    if (plan.logLevel === 'debug' || plan.logLevel === 'trace') process.stderr.write(`testin[container-init] plan ${encodePlan(plan)}\n`);
    // `testin run` decided from the engine's host already; a plan that says 'auto' (compose) is decided here
    if (plan.vm.accel !== 'auto' || plan.noVm) accel = plan.noVm ? 'tcg' : plan.vm.accel === 'kvm' ? 'kvm' : 'tcg';
    else {
      const decision = decideAccel('auto', readHostKvmFacts());
      accel = decision.accel;
      if (decision.reason) process.stderr.write(`${describeTcgNotice(decision.reason)}\n`);
    }
  } catch (error) {
    if (error instanceof TestinError) return fail(error.message, error.fix);
    throw error;
  }
  const root = SHARED_ROOT ?? '/';
  let exec: ReturnType<typeof commandRequest>;
  try {
    exec = commandRequest(plan, {
      root,
      netBackend: plan.network.nic && !plan.noVm ? plan.network.backend : undefined,
      tty: plan.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined,
      volumes: plan.noVm || SHARED_ROOT ? undefined : guestVolumes(plan, mirror),
    });
  } catch (error) {
    if (error instanceof UserLookupError) return fail(error.message, 'pick a user that the image has, or a numeric uid:gid');
    throw error;
  }

  const newRoot = SHARED_ROOT ?? NEW_ROOT;
  try {
    if (plan.noVm) prepareContainerRoot(plan, TOOLBOX_DIR);
    else if (!SHARED_ROOT) bindRoot(plan, { toolbox: TOOLBOX_DIR, newRoot }, mirror);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return fail(`cannot bind the image root for the VM: ${stderr || (error as Error).message}`, 'the container needs CAP_SYS_ADMIN (testin run adds it)');
  }
  if (plan.network.nic && plan.network.backend === 'passt' && !plan.noVm && !ensureTmp()) {
    return fail('the image has no /tmp and none can be made, which passt (the VM network) needs', 'run with --net-backend slirp');
  }
  const early = stoppedEarly();
  if (early !== undefined) return early;

  const snapshots = plan.snapshot !== false && !plan.noVm && !SHARED_ROOT && existsSync(SNAPSHOT_DIR) ? SNAPSHOT_DIR : undefined;
  const newVm = (mode: 'auto' | 'save'): VmRun =>
    new VmRun(plan, accel, manifest, exec, { toolbox: TOOLBOX_DIR, work: WORK_DIR, newRoot, snapshots: snapshots ? { dir: snapshots, mode } : undefined }, plan.session ? (req) => sessionRequest(plan, root, req) : undefined);
  let vm = newVm('auto');
  let grace: NodeJS.Timeout | undefined;
  onSignal = (name) => {
    // docker stop of a session: the VM powers off
    if (plan.session) return vm.shutdown();
    vm.signal(FORWARDED_SIGNALS[name] as number);
    if (grace || (name !== 'SIGINT' && name !== 'SIGTERM')) return;
    // the command gets the stop timeout to end by itself, then the VM is stopped hard
    grace = setTimeout(() => {
      process.stderr.write(`testin: the command did not end within ${plan.stopTimeoutMs / 1000} s of ${name}: stopping the VM\n`);
      vm.kill();
    }, plan.stopTimeoutMs);
  };
  for (const name of held.splice(0)) onSignal(name);
  let outcome = await vm.run();
  if (outcome.kind === 'restoreFailed') {
    // nothing of the command ran: boot cold, and put a good snapshot in the place of the bad one
    process.stderr.write(`testin: the VM snapshot did not restore (${outcome.reason}): booting cold, and replacing it\n`);
    const first = vm.timeline;
    vm = newVm('save');
    outcome = await vm.run();
    vm.timeline.restoreFailed = first.vmDown ?? 1;
  }
  clearTimeout(grace);
  if (outcome.kind === 'exited') {
    // --boot: the system's console (its units starting and stopping) goes into the run's report
    writeTimeline(vm.timeline, plan.boot ? { console: readConsoleTail(vm.consoleLog, BOOT_CONSOLE_LINES) } : {});
    return outcome.code;
  }
  if (outcome.kind === 'restoreFailed') return fail(`the VM did not start: ${outcome.reason}`, 'run with --no-snapshot', vm.timeline);
  writeTimeline(vm.timeline, { abnormal: { reason: outcome.reason, consoleTail: outcome.consoleTail } });
  process.stderr.write(`testin: ${outcome.reason}\n`);
  if (outcome.consoleTail.length) {
    process.stderr.write(`testin: last ${outcome.consoleTail.length} lines of the guest console:\n${outcome.consoleTail.map((l) => `  | ${l}`).join('\n')}\n`);
  }
  return EXIT_TESTIN_FAILED;
}

main().then(
  async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`testin: internal error in container-init: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n  please report it with this output\n`);
    process.exit(EXIT_TESTIN_FAILED);
  },
);

/** Resolves once what was written before is out: pipe writes may be queued, and exiting would drop them. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
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
