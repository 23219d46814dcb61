import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import {
  FrameReader,
  MessageType,
  Tag,
  decodeFields,
  decodePorts,
  encodeExec,
  encodeFrame,
  encodeSignal,
  fieldNumber,
  fieldString,
  type ExecRequest,
  type Frame,
} from '../contract/control-protocol.js';
import { BOOT_POWEROFF_GRACE_MS, EXIT_TIMED_OUT, POWEROFF_GRACE_MS, exitCodeForSignal } from '../contract/exit-codes.js';
import { CONSOLE_LOG, SESSION_SOCKET, TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { Accel, RunPlan } from '../contract/run-plan.js';
import { SESSION_READY, type SessionExecRequest } from '../contract/session-protocol.js';
import type { ToolboxManifest } from '../contract/toolbox-manifest.js';
import { startHelper, stopHelper, type Helper } from './child-process.js';
import { abnormalTail, diagnoseConsole, readConsoleTail } from './console-tail.js';
import { SystemWait, type SystemState } from './image-init.js';
import { PortForwarder } from './port-forwarder.js';
import { SessionServer } from './session-server.js';
import { pipeStdin, streamConsole, wireTerminal } from './stdio-relay.js';
import { Qmp } from './qmp.js';
import { hostCpuSignature, markUsed, pruneSnapshots, readSnapshot, removeSnapshot, restoreSnapshot, saveSnapshot, snapshotFiles, snapshotKey, snapshotsSupported, type SnapshotFiles, type SnapshotMeta } from './snapshot.js';
import { startVmHelpers } from './vm-helpers.js';
import { qemuVmm, type GuestSpec, type Vmm } from './vmm.js';

/** passt ends with QEMU too: only a passt that ended while QEMU ran this much longer is a failure */
const PASST_GRACE_MS = 1500;
/** the command id of container-init's own questions to the guest (a session's commands count up from 1) */
const KERNEL_LOG_ID = 0xffffffff;
const KERNEL_LOG_WAIT_MS = 2000;
/** how far back in the console the reason of an abnormal end is looked for */
const DIAGNOSE_LINES = 400;
/** a restored guest answers its first command in a few hundred ms, even under TCG: one that says nothing this long is broken */
const RESTORE_ANSWER_MS = 10_000;
const QMP_CONNECT_MS = 10_000;

export interface VmRunPaths {
  /** the toolbox tree: /testin in a container */
  toolbox: string;
  /** sockets and the console log */
  work: string;
  /** the folder shared with the VM as its root */
  newRoot: string;
  /**
   * the snapshots volume's folder: 'auto' restores the snapshot of this VM's
   * shape when there is one and saves one when not; 'save' boots cold and
   * saves (a snapshot that did not restore is replaced); absent: cold, no snapshot
   */
  snapshots?: { dir: string; mode: 'auto' | 'save' } | undefined;
}

/** How a VM run ended: the command's status, or an abnormal end with a reason. */
export type VmOutcome =
  | { kind: 'exited'; code: number; signal?: number }
  | { kind: 'abnormal'; reason: string; consoleTail: string[] }
  /** the snapshot did not come back to life: nothing of the command ran; boot cold instead */
  | { kind: 'restoreFailed'; reason: string };

const log = (plan: RunPlan, msg: string): void => {
  if (plan.logLevel === 'debug' || plan.logLevel === 'trace') process.stderr.write(`testin[container-init] ${msg}\n`);
};

/** Boots the VM for one command, relays its output, and returns how it ended. */
export class VmRun {
  #virtiofsd: Helper[] = [];
  #passt?: Helper;
  #guest?: Helper;
  #server?: Server;
  #socket?: Socket;
  #exit?: { code: number; signal?: number };
  #execSent = false;
  #killed = false;
  #pendingSignals: number[] = [];
  #stoppedBeforeCommand?: number;
  /** frames of container-init's own question to the guest: its kernel log */
  #kernelLog?: ((frame: Frame) => void) | undefined;
  #timeout?: NodeJS.Timeout;
  /** --timeout ran out: the run ends with 124 */
  #timedOut = false;
  #stopConsole?: () => void;
  #session?: SessionServer;
  /** the guest's listening ports, reachable in the container's network */
  #forwarder?: PortForwarder;
  #tunnel?: { port: number; token: Buffer };
  #shuttingDown = false;
  readonly #t0 = Date.now();
  /**
   * Milliseconds since container-init started at which each step of the VM's
   * life happened (guest steps placed by the guest's own uptime clock).
   */
  readonly timeline: Record<string, number> = {};
  #helloUptime = 0;
  /** ms the guest was stopped while its snapshot was saved: its uptime clock stood still meanwhile */
  #stoppedMs = 0;
  #qmp?: Qmp;
  #qmpReady?: Promise<Qmp>;
  /** this VM's snapshot: to restore (meta known) or to save at hello */
  #snapshot?: { files: SnapshotFiles; meta?: SnapshotMeta | undefined };
  /** --boot: the set-up EXEC went ('setup'), the system is being waited for ('waiting'), it is up ('up') */
  #bootStage: 'none' | 'setup' | 'waiting' | 'up' = 'none';
  #systemWait?: SystemWait;
  /** restored, and the guest has not said anything yet */
  #awaitingRestoredGuest = false;

  #mark(step: string, at = Date.now() - this.#t0): void {
    this.timeline[step] ??= at;
  }

  constructor(
    private readonly plan: RunPlan,
    /** decided by container-init from the engine's host */
    private readonly accel: Accel,
    private readonly manifest: ToolboxManifest,
    private readonly exec: ExecRequest,
    private readonly paths: VmRunPaths,
    /** a session's commands: what a client asked for, as a guest EXEC */
    private readonly toSessionExec?: (req: SessionExecRequest) => ExecRequest,
    private readonly vmm: Vmm = qemuVmm(paths.toolbox),
  ) {}

  get consoleLog(): string {
    return CONSOLE_LOG;
  }

  async run(): Promise<VmOutcome> {
    try {
      const outcome = await this.#boot();
      if (outcome.kind === 'restoreFailed' && this.#snapshot) removeSnapshot(this.#snapshot.files);
      return outcome;
    } finally {
      await this.close();
      this.#mark('vmDown');
    }
  }

  /**
   * Forwards a signal to the command in the VM. Before the command runs, a
   * stop (HUP, INT, QUIT, TERM) ends the boot at once, as 128+N; other signals
   * wait for the command.
   */
  signal(signo: number): void {
    if (this.#exit) return;
    if (this.#execSent && this.#socket) this.#socket.write(encodeSignal(0, signo));
    else if ([1, 2, 3, 15].includes(signo) && !this.plan.session) {
      this.#stoppedBeforeCommand = signo;
      this.#guest?.child.kill('SIGKILL');
    } else this.#pendingSignals.push(signo);
  }

  /** A session ends: the guest powers off (QEMU is stopped if it does not). */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#powerOff();
  }

  /** Stops the VM hard; the run then ends as if the command was killed by SIGKILL (137). */
  kill(): void {
    this.#killed = true;
    this.#guest?.child.kill('SIGKILL');
  }

  /** Stops everything at once: the VMM first, then virtiofsd. Idempotent. */
  async close(): Promise<void> {
    this.#stopConsole?.();
    clearTimeout(this.#timeout);
    const results = await Promise.allSettled([
      this.#guest ? stopHelper(this.#guest) : undefined,
    ]);
    await Promise.allSettled([...this.#virtiofsd.map((h) => stopHelper(h)), this.#passt ? stopHelper(this.#passt) : undefined]);
    this.#forwarder?.close();
    this.#qmp?.close();
    this.#socket?.destroy();
    this.#server?.close();
    for (const r of results) if (r.status === 'rejected') process.stderr.write(`testin: teardown: ${String(r.reason)}\n`);
  }

  async #boot(): Promise<VmOutcome> {
    const started = this.plan.noVm ? this.#startAgent() : await this.#startVm();
    if ('kind' in started) return started;
    const { connected } = started;
    const guestName = this.plan.noVm ? 'the agent' : this.vmm.name;

    const guestExited = (this.#guest as Helper).exited;
    const outcome = await new Promise<VmOutcome>((resolve) => {
      const bootTimer = setTimeout(
        () => resolve(this.#abnormal(`the VM did not start its init within ${this.plan.vm.bootTimeoutMs / 1000} s`)),
        this.plan.vm.bootTimeoutMs,
      );
      void connected.then((socket) => this.#serve(socket, () => clearTimeout(bootTimer), resolve));
      if (this.#snapshot?.meta) void this.#restore(this.#snapshot.meta, connected, () => clearTimeout(bootTimer), resolve);
      // the VM's network is gone with passt: the run cannot go on as if it were there.
      // passt also ends when QEMU does (its client went away): then the VM's own end decides,
      // and the control socket may still hold the command's EXIT
      void this.#passt?.exited.then(async (r) => {
        const guestEnded = await Promise.race([guestExited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), PASST_GRACE_MS).unref())]);
        if (guestEnded || this.#exit || this.#shuttingDown) return;
        clearTimeout(bootTimer);
        const said = this.#passt?.output().split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Failed to send')).at(-1);
        resolve(this.#abnormal(`passt, which carries the VM's network, ended (${r.signal ?? `code ${r.code}`})${said ? `: ${said}` : ''}`));
      });
      void guestExited.then((r) => {
        clearTimeout(bootTimer);
        // the socket may still hold the last frames: read them before judging
        void this.#socketDrained().then(() => {
          if (this.#exit) return resolve({ kind: 'exited', ...this.#exit });
          if (this.#awaitingRestoredGuest && !this.#stoppedBeforeCommand && !this.#killed) {
            return resolve({ kind: 'restoreFailed', reason: `QEMU exited with ${r.signal ?? `code ${r.code}`}${this.#guest?.output().trim() ? `: ${this.#guest.output().trim().split('\n').at(-1)}` : ''}` });
          }
          this.#session?.closeAll('the VM stopped');
          if (this.#shuttingDown) return resolve({ kind: 'exited', code: 0 });
          // --boot without a command runs until the system powers off: `systemctl poweroff` ends it with 0
          if (this.#bootsUntilPoweroff && r.code === 0 && this.#bootStage === 'up') return resolve({ kind: 'exited', code: 0 });
          if (this.#stoppedBeforeCommand) return resolve({ kind: 'exited', code: exitCodeForSignal(this.#stoppedBeforeCommand), signal: this.#stoppedBeforeCommand });
          if (this.#timedOut) return resolve({ kind: 'exited', code: EXIT_TIMED_OUT });
          if (this.#killed) return resolve({ kind: 'exited', code: exitCodeForSignal(9), signal: 9 });
          const why = r.code === 0 ? 'the VM powered off before the command ended' : `${guestName} exited with ${r.signal ?? `code ${r.code}`}`;
          const guestSaid = this.#guest?.output().trim();
          resolve(this.#abnormal(guestSaid ? `${why}: ${guestSaid.split('\n').at(-1)}` : why));
        });
      });
    });
    return outcome;
  }

  /** --no-vm: the VM's init runs as an agent in this container, on a socket pair */
  #startAgent(): { connected: Promise<Socket> } {
    this.#guest = startHelper('agent', [join(this.paths.toolbox, TOOLBOX_LAYOUT.agent), '--agent'], process.env, { controlFd: true });
    return { connected: Promise.resolve(this.#guest.child.stdio[3] as Socket) };
  }

  async #startVm(): Promise<{ connected: Promise<Socket> } | VmOutcome> {
    const tb = (p: string): string => join(this.paths.toolbox, p);
    const helpers = await startVmHelpers(this.plan, {
      ...this.paths,
      flavor: this.manifest.virtiofsdFlavor,
      hasVolumes: (this.exec.volumes?.length ?? 0) > 0,
    });
    this.#virtiofsd = helpers.virtiofsd;
    this.#passt = helpers.passt;
    if (helpers.failed) return this.#abnormal(helpers.failed);
    const c = helpers.caches;
    log(this.plan, `${[...helpers.virtiofsd, ...(helpers.passt ? [helpers.passt] : [])].map((h) => h.name).join(', ')} up after ${Date.now() - this.#t0} ms (root cache ${c.root}${c.volumes ? `, volumes cache ${c.volumes}` : ''})`);
    this.#mark('virtiofsdUp');

    if (this.plan.network.nic) {
      const declared = new Set(this.plan.network.forwards.filter((f) => f.proto === 'tcp').map((f) => f.port));
      this.#forwarder = new PortForwarder((frame) => this.#socket?.write(frame), declared, (msg) => log(this.plan, msg));
      this.#tunnel = await this.#forwarder.start();
    }

    const ctlSocket = join(this.paths.work, 'ctl.sock');
    const qmpSocket = join(this.paths.work, 'qmp.sock');
    // a cold boot after a snapshot that did not restore reuses the paths
    for (const p of [ctlSocket, qmpSocket]) rmSync(p, { force: true });
    const connected = this.#listen(ctlSocket);
    const spec: GuestSpec = {
      vm: { ...this.plan.vm, accel: this.accel },
      kernel: this.plan.vm.kernel?.kernel ?? tb(TOOLBOX_LAYOUT.kernel),
      initrd: this.plan.vm.kernel?.initrd ?? tb(TOOLBOX_LAYOUT.initrd),
      fsSocket: helpers.fsSocket,
      volSocket: helpers.volSocket,
      ctlSocket,
      consoleLog: this.consoleLog,
      network: this.plan.network,
      netdev: helpers.netdev,
    };
    this.#snapshot = this.#snapshotFor(spec);
    this.#awaitingRestoredGuest = this.#snapshot?.meta !== undefined;
    this.#mark('vmmStarted');
    // the wall clock too: the launcher measures from its start of the container to here
    this.timeline.vmmStartedAt = Date.now();
    const { helper, argv } = this.vmm.start(spec, this.#snapshot ? { qmpSocket, incoming: this.#snapshot.meta !== undefined } : undefined);
    this.#guest = helper;
    log(this.plan, `${this.vmm.name} ${argv.join(' ')}`);
    if (this.#snapshot) {
      const gone = (): boolean => helper.child.exitCode !== null || helper.child.signalCode !== null;
      this.#qmpReady = Qmp.connect(qmpSocket, QMP_CONNECT_MS, gone).then((q) => (this.#qmp = q));
      this.#qmpReady.catch(() => undefined);
      log(this.plan, this.#snapshot.meta ? `restoring the VM from snapshot ${this.#snapshot.files.key}` : `booting cold; a snapshot of this VM (${this.#snapshot.files.key}) is saved when its init is up`);
    } else log(this.plan, 'booting cold (no snapshot for this run)');
    if (this.plan.vm.console) this.#stopConsole = streamConsole(this.consoleLog);
    return { connected };
  }

  async #serveSession(): Promise<void> {
    if (!this.toSessionExec) return;
    this.#session = new SessionServer((frame) => this.#socket?.write(frame), this.toSessionExec);
    await this.#session.listen(SESSION_SOCKET);
    process.stderr.write(`${SESSION_READY} (${this.accel})\n`);
  }

  /** resolves once QEMU's end of the control socket has closed and all was read (bounded wait) */
  #socketDrained(): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.destroyed || socket.readableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #listen(path: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      this.#server = createServer({ allowHalfOpen: false }, (socket) => resolve(socket));
      this.#server.on('error', reject);
      this.#server.listen(path);
    });
  }

  #serve(socket: Socket, onHello: () => void, resolve: (o: VmOutcome) => void): void {
    this.#socket = socket;
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) this.#onFrame(frame, onHello, resolve);
    });
    socket.on('error', () => undefined);
  }

  #onFrame(frame: Frame, onHello: () => void, resolve: (o: VmOutcome) => void): void {
    this.#awaitingRestoredGuest = false;
    if (this.#systemWait?.take(frame)) return;
    if (frame.id === KERNEL_LOG_ID) {
      this.#kernelLog?.(frame);
      return;
    }
    if (this.plan.session && frame.id !== 0) {
      this.#session?.fromGuest(frame);
      return;
    }
    switch (frame.type) {
      case MessageType.hello: {
        onHello();
        const fields = decodeFields(frame.payload);
        log(this.plan, `guest init up: kernel ${fieldString(fields, Tag.release)}, uptime ${fieldNumber(fields, Tag.uptimeMs)} ms, ${Date.now() - this.#t0} ms since start`);
        this.#mark('initUp');
        this.#helloUptime = fieldNumber(fields, Tag.uptimeMs) ?? 0;
        const snapshot = this.#snapshot;
        if (snapshot && !snapshot.meta) {
          void this.#save(snapshot.files, { helloUptimeMs: this.#helloUptime, release: fieldString(fields, Tag.release) ?? '' }).then(() => this.#guestReady());
          break;
        }
        this.#guestReady();
        break;
      }
      case MessageType.started: {
        const fields = decodeFields(frame.payload);
        // the guest's uptime at a step, placed on container-init's clock (the guest's stood still while a snapshot was saved)
        const since = (tag: number): number => (this.timeline.initUp ?? 0) + this.#stoppedMs + (fieldNumber(fields, tag) ?? this.#helloUptime) - this.#helloUptime;
        if (this.#bootStage === 'setup') {
          // the set-up is done and the image's init is PID 1: wait for its system, then the command
          this.#mark('rootMounted', since(Tag.rootMs));
          // without a command there is nothing to wait for: the system runs until it powers off
          if (this.#bootsUntilPoweroff) this.#bootStage = 'up';
          else void this.#waitForSystem(resolve);
          break;
        }
        log(this.plan, `command started: root mounted at ${fieldNumber(fields, Tag.rootMs)} ms, started at ${fieldNumber(fields, Tag.uptimeMs)} ms guest uptime`);
        this.#mark('rootMounted', since(Tag.rootMs));
        this.#mark('commandStarted', since(Tag.uptimeMs));
        if (this.plan.session) void this.#serveSession();
        else this.#startTimeout();
        break;
      }
      case MessageType.stdout:
        this.#write(process.stdout, frame.payload);
        break;
      case MessageType.stderr:
        this.#write(process.stderr, frame.payload);
        break;
      case MessageType.ports:
        void this.#forwarder?.update(decodePorts(frame.payload));
        break;
      case MessageType.error:
        process.stderr.write(`testin: ${fieldString(decodeFields(frame.payload), Tag.message) ?? 'unknown error in the VM'}\n`);
        break;
      case MessageType.exit: {
        const fields = decodeFields(frame.payload);
        const signo = fieldNumber(fields, Tag.signo);
        this.#exit = this.#timedOut ? { code: EXIT_TIMED_OUT } : signo !== undefined ? { code: exitCodeForSignal(signo), signal: signo } : { code: fieldNumber(fields, Tag.code) ?? 0 };
        log(this.plan, `command ended (${JSON.stringify(this.#exit)}) ${Date.now() - this.#t0} ms since start`);
        this.#mark('commandEnded');
        const exit = this.#exit;
        // killed by SIGKILL, and not by us: the guest kernel's log says whether its OOM killer did it
        const ask = signo === 9 && !this.#killed && !this.plan.noVm ? this.#explainKill() : Promise.resolve();
        void ask.then(() => {
          this.#powerOff();
          // --boot: the image's init shuts its system down (units stopped, journal flushed, mounts
          // synced) before the run ends; the guest's exit then resolves with this exit code
          if (!this.plan.boot) resolve({ kind: 'exited', ...exit });
        });
        break;
      }
      default:
        log(this.plan, `unknown message type ${frame.type}`);
    }
  }

  /**
   * A command killed by SIGKILL that nobody here sent: if the guest kernel's
   * OOM killer did it, one line says so (the exit stays 137, as docker's).
   */
  #explainKill(): Promise<void> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const done = (): void => {
        this.#kernelLog = undefined;
        clearTimeout(timer);
        const log = Buffer.concat(chunks).toString('utf8');
        if (/Out of memory: Killed process|oom-kill:/.test(log)) {
          process.stderr.write(
            `testin: the command was killed by the guest kernel's OOM killer: the VM (${this.plan.vm.memoryMiB} MiB) ran out of memory\n  fix: give the VM more, e.g. --memory ${Math.max(2, Math.ceil((this.plan.vm.memoryMiB * 2) / 1024))}g\n`,
          );
        }
        resolve();
      };
      const timer = setTimeout(done, KERNEL_LOG_WAIT_MS);
      this.#kernelLog = (frame) => {
        if (frame.type === MessageType.stdout) chunks.push(frame.payload);
        else if (frame.type === MessageType.exit || frame.type === MessageType.error) done();
      };
      this.#socket?.write(encodeFrame(MessageType.dmesg, KERNEL_LOG_ID));
    });
  }

  /**
   * --boot: waits, within the boot's deadline, until the image's init has
   * started the system (running or degraded: then the failed units are named),
   * then starts the command or the session. (Without either, nothing waits:
   * the system runs until it powers off.)
   */
  async #waitForSystem(resolve: (o: VmOutcome) => void): Promise<void> {
    this.#bootStage = 'waiting';
    const wait = new SystemWait((frame) => this.#socket?.write(frame));
    this.#systemWait = wait;
    const ms = this.plan.vm.bootTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<SystemState>((res) => {
      timer = setTimeout(() => {
        const asked = wait.failedSoFar();
        const bounded = Promise.race([asked, new Promise<string[]>((r) => setTimeout(() => r([]), 3000).unref())]);
        void bounded.then((units) => res({ kind: 'failed', reason: `the system did not finish starting within ${ms / 1000} s${units.length ? `; failed units: ${units.join(', ')}` : ''}` }));
      }, ms);
    });
    const state = await Promise.race([wait.wait(), deadline]);
    clearTimeout(timer);
    if (state.kind === 'failed') return resolve(this.#abnormal(state.reason));
    if (state.state === 'degraded') process.stderr.write(`testin: the system started degraded: failed units: ${state.failedUnits.join(', ') || '(none listed)'}\n`);
    log(this.plan, `the image's init started the system (${state.state}) ${Date.now() - this.#t0} ms since start`);
    this.#mark('systemUp');
    this.#bootStage = 'up';
    if (this.plan.session) return void this.#serveSession();
    this.#sendExec();
  }

  /** --boot with no command and no session: the run lasts until the booted system powers off */
  get #bootsUntilPoweroff(): boolean {
    return this.plan.boot !== undefined && !this.plan.session && this.plan.argv.length === 0;
  }

  /** The guest waits for its command (booted and said hello, or restored). */
  #guestReady(): void {
    if (process.env.TESTIN_TEST_HOOK === 'boot' && !this.plan.session) {
      // the tests' `boot` moment: the guest is up, the command not yet (see launcher/test-hook.ts)
      process.stderr.write('testin-hook boot\n');
      setTimeout(() => this.#sendExec(), 10_000).unref();
      return;
    }
    this.#sendExec();
  }

  /** The snapshot this VM may restore or save, when this run uses snapshots at all. */
  #snapshotFor(spec: GuestSpec): { files: SnapshotFiles; meta?: SnapshotMeta | undefined } | undefined {
    const choice = this.paths.snapshots;
    // a user's kernel lives in a volume of its own, outside what the key covers; --console is
    // asked for to see the kernel boot, which a restored VM does not do
    if (!choice || this.plan.noVm || this.plan.vm.kernel || this.plan.vm.console || !snapshotsSupported(this.manifest)) return undefined;
    const key = snapshotKey({ toolboxHash: this.manifest.hash, qemuArgv: this.vmm.argv(spec), hostCpu: hostCpuSignature(this.accel, () => readFileSync('/proc/cpuinfo', 'utf8')) });
    const files = snapshotFiles(choice.dir, key);
    return { files, meta: choice.mode === 'auto' ? readSnapshot(files) : undefined };
  }

  /** Saves the guest that just said hello; a failure costs this run nothing but the time, and is said once. */
  async #save(files: SnapshotFiles, meta: Omit<SnapshotMeta, 'key' | 'createdAt'>): Promise<void> {
    const t = Date.now();
    try {
      await saveSnapshot(await (this.#qmpReady as Promise<Qmp>), files, meta, this.plan.runId);
      log(this.plan, `snapshot ${files.key} saved in ${Date.now() - t} ms`);
      const pruned = pruneSnapshots(dirname(files.state), files.key);
      if (pruned.length) log(this.plan, `removed ${pruned.length} snapshot(s) unused for long: ${pruned.join(', ')}`);
    } catch (error) {
      process.stderr.write(`testin: the VM snapshot could not be saved (${(error as Error).message}); runs boot cold until one is\n`);
      // a guest QEMU would not let go on again cannot run the command: end the run as a failed boot, not a hang
      const status = (await this.#qmp?.execute('query-status').catch(() => undefined)) as { running?: boolean } | undefined;
      if (status?.running !== true) this.#guest?.child.kill('SIGKILL');
    } finally {
      this.#stoppedMs = Date.now() - t;
      this.timeline.snapshotSaveMs = this.#stoppedMs;
    }
  }

  /**
   * Restores the snapshot, then gives the guest its command. It must answer:
   * a restore that fails, or a guest that stays silent, ends the run as
   * 'restoreFailed' before anything of the command ran.
   */
  async #restore(meta: SnapshotMeta, connected: Promise<Socket>, onReady: () => void, resolve: (o: VmOutcome) => void): Promise<void> {
    const t = Date.now();
    try {
      await restoreSnapshot(await (this.#qmpReady as Promise<Qmp>), (this.#snapshot as { files: SnapshotFiles }).files);
      await connected;
    } catch (error) {
      if (this.#stoppedBeforeCommand || this.#killed) return;
      resolve({ kind: 'restoreFailed', reason: (error as Error).message });
      return;
    }
    this.timeline.restored = 1;
    markUsed((this.#snapshot as { files: SnapshotFiles }).files);
    this.#mark('initUp');
    this.#helloUptime = meta.helloUptimeMs;
    log(this.plan, `restored from snapshot ${meta.key} in ${Date.now() - t} ms (${Date.now() - this.#t0} ms since start)`);
    onReady();
    const silent = setTimeout(() => {
      if (this.#awaitingRestoredGuest) resolve({ kind: 'restoreFailed', reason: `the restored VM did not answer within ${RESTORE_ANSWER_MS / 1000} s` });
    }, RESTORE_ANSWER_MS);
    silent.unref();
    this.#guestReady();
  }

  /** The command's EXEC, then what was waiting for it: held signals, the terminal, stdin. */
  #sendExec(): void {
    if (this.#execSent || this.#stoppedBeforeCommand) return;
    if (this.plan.boot && this.#bootStage === 'none') {
      // --boot: the set-up alone first (mounts, network, hostname); the image's init then becomes PID 1
      this.#bootStage = 'setup';
      this.#socket?.write(encodeExec(0, { ...this.exec, argv: [], boot: this.plan.boot, tunnel: this.#tunnel }));
      return;
    }
    this.#socket?.write(encodeExec(0, { ...this.exec, tunnel: this.#tunnel }));
    this.#execSent = true;
    for (const signo of this.#pendingSignals.splice(0)) this.signal(signo);
    if (this.plan.tty) wireTerminal(join(this.paths.toolbox, TOOLBOX_LAYOUT.busybox), () => this.#socket);
    if (this.plan.stdin) pipeStdin(() => this.#socket);
  }

  /**
   * Output goes out as fast as our reader (docker) takes it: when its pipe is
   * full, the guest's frames wait in the socket (and the guest in its port)
   * instead of piling up in memory here.
   */
  #write(stream: NodeJS.WriteStream, data: Buffer): void {
    if (stream.write(data)) return;
    this.#socket?.pause();
    stream.once('drain', () => this.#socket?.resume());
  }

  /**
   * --timeout, from the command's start (as `timeout` in the VM would count):
   * a line says so, the command gets SIGTERM and the stop timeout, then the VM
   * is stopped hard; the run ends with 124.
   */
  #startTimeout(): void {
    const ms = this.plan.timeoutMs;
    if (ms === undefined) return;
    this.#timeout = setTimeout(() => {
      this.#timedOut = true;
      this.timeline.timedOut = 1;
      process.stderr.write(`testin: timed out after ${Number((ms / 1000).toFixed(3))} s: stopping the command (SIGTERM, then the VM after ${this.plan.stopTimeoutMs / 1000} s)\n`);
      this.#socket?.write(encodeSignal(0, 15));
      this.#timeout = setTimeout(() => this.kill(), this.plan.stopTimeoutMs);
    }, ms);
  }

  /** Asks the guest to power off; the teardown kills QEMU if it has not after the grace time. */
  #powerOff(): void {
    this.#socket?.write(encodeFrame(MessageType.poweroff, 0));
    if (this.#guest) {
      const qemu = this.#guest;
      const timer = setTimeout(() => qemu.child.kill('SIGKILL'), this.plan.boot ? BOOT_POWEROFF_GRACE_MS : POWEROFF_GRACE_MS);
      void qemu.exited.then(() => clearTimeout(timer));
    }
  }

  #abnormal(reason: string): VmOutcome {
    // the reason may sit above the last lines (a panic's stack trace is long): look further back for it
    const lines = readConsoleTail(this.consoleLog, DIAGNOSE_LINES);
    return { kind: 'abnormal', reason: diagnoseConsole(lines) ?? reason, consoleTail: abnormalTail(lines) };
  }
}
