import { appendFileSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { FrameReader, MessageType, Tag, decodeFields, decodePorts, encodeExec, encodeFrame, encodeSignal, fieldNumber, fieldString, type ExecRequest, type Frame } from '../contract/control-protocol.js';
import { BOOT_POWEROFF_GRACE_MS, POWEROFF_GRACE_MS, exitCodeForSignal } from '../contract/exit-codes.js';
import { CONSOLE_LOG, SESSION_SOCKET, TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { Accel, RunPlan } from '../contract/run-plan.js';
import { SESSION_READY, type SessionExecRequest } from '../contract/session-protocol.js';
import { terminate } from '../contract/terminate.js';
import { signalName } from '../contract/process-settings.js';
import { parseGuestSteps, type VmStep, type VmTimeline } from '../contract/timeline.js';
import type { ToolboxManifest } from '../contract/toolbox-manifest.js';
import { startHelper, stopHelper, type Helper } from './child-process.js';
import { abnormalTail, diagnoseConsole, lostTimerLine, readConsoleTail } from './console-tail.js';
import { guestCommand } from './guest-command.js';
import { SystemWait, type SystemState } from './image-init.js';
import { KernelLogQuestion, oomNotice } from './kernel-log.js';
import { PortForwarder } from './port-forwarder.js';
import { qemuVmm } from './qemu-vmm.js';
import { judgeRunEnd, type EndFacts, type EndTrigger, type RunEnd } from './run-end.js';
import { SessionServer } from './session-server.js';
import { SnapshotController, judgeRestore, type RestoreEvidence, type SnapshotMode } from './snapshot-controller.js';
import { hostCpuSignature, snapshotKey } from './snapshot.js';
import { pipeStdin, streamConsole, wireTerminal } from './stdio-relay.js';
import { helperShape, prepareRamFile, startVmHelpers } from './vm-helpers.js';
import { ramDir } from './prepare-root.js';
import type { GuestSpec, RestoreTimes, Vmm, VmmInstance } from './vmm.js';
import { cpuMs, watchConsole, watchStall } from './stall-watch.js';
import type { HeldVmm } from './held-vmm.js';

/** passt ends with QEMU too: only a passt that ended while QEMU ran this much longer is a failure */
const PASST_GRACE_MS = 1500;
/** how far back in the console the reason of an abnormal end is looked for */
const DIAGNOSE_LINES = 400;
/** a restored guest answers in a few hundred ms; one silent this long is asked after (a dead one is given up, a slow one waited for) */
const RESTORE_ANSWER_MS = 10_000;

export interface VmRunPaths {
  /** the toolbox tree: /testin in a container */
  toolbox: string;
  /** sockets and the console log */
  work: string;
  /** the folder shared with the VM as its root */
  newRoot: string;
  /**
   * the snapshots volume's folder: 'auto' restores the snapshot of this VM's shape when there
   * is one, and saves one when not; 'replace' boots cold and saves one in the place of a damaged
   * one; absent: cold, no snapshot. A save is made by one run of a shape at a time.
   */
  snapshots?: { dir: string; mode: SnapshotMode } | undefined;
  /** the QEMU PID 1 started with the container, loaded and waiting for its argv (held-vmm.ts): the run's first VMM */
  held?: HeldVmm | undefined;
}

/** How a VM run ended: the command's status, or an abnormal end with a reason and the console's tail. */
export type VmOutcome = Exclude<RunEnd, { kind: 'abnormal' | 'startCrashed' }> | { kind: 'abnormal' | 'startCrashed'; reason: string; consoleTail: string[] };

const log = (plan: RunPlan, msg: string): void => {
  if (plan.logLevel === 'debug' || plan.logLevel === 'trace') process.stderr.write(`testin[container-init] ${msg}\n`);
};

/**
 * Boots the VM for one command (or a session's commands), relays its output,
 * and returns how it ended. What ended it and what was true then are facts
 * gathered here; judgeRunEnd (run-end.ts) decides the outcome from them.
 */
export class VmRun {
  #virtiofsd: Helper[] = [];
  #passt?: Helper;
  /** our end of the socket pair to passt, until the VMM has it */
  #passtEnd?: Socket | undefined;
  /** the VMM's process, or --no-vm's agent */
  #guest?: Helper;
  #vmm?: VmmInstance;
  #server?: Server;
  #socket?: Socket;
  #execSent = false;
  #pendingSignals: number[] = [];
  #facts: EndFacts = { timedOut: false, killed: false, shuttingDown: false, untilPoweroff: false, guestSpoke: false };
  #finish: (trigger: EndTrigger) => void = () => undefined;
  #over = false;
  #timeout?: NodeJS.Timeout;
  #stopConsole?: () => void;
  #session?: SessionServer;
  /** the guest's listening ports, reachable in the container's network */
  #forwarder?: PortForwarder;
  #tunnel?: { port: number; token: Buffer };
  #kernelLog = new KernelLogQuestion();
  readonly #t0 = Date.now();
  /** ms since container-init started at which each step of the VM's life happened (guest steps placed by the guest's own uptime clock) */
  readonly timeline: VmTimeline = {};
  #helloUptime = 0;
  /** the wall time the guest's hello came */
  #helloAt = 0;
  /** ms the guest was stopped while its snapshot was saved: its uptime clock stood still meanwhile */
  #stoppedMs = 0;
  /** a restored guest: when it was resumed (ms since start), where its clock runs on from */
  #resumedAt: number | undefined;
  #snapshot?: SnapshotController;
  /** the guest's memory as a file, when a snapshot is saved or restored this run */
  #ramFile?: string;
  /** the snapshot's RAM written into it (a restore), begun before the VMM starts */
  #ramReady: Promise<void> = Promise.resolve();
  /** restored, and the guest has not said anything yet */
  #awaitingRestoredGuest = false;
  /** the guest has said something: the boot's deadline is met */
  #answered?: () => void;
  /** bytes the guest wrote on its control port */
  #guestBytes = 0;
  /** --boot: the set-up EXEC went ('setup'), the system is being waited for ('waiting'), it is up ('up') */
  #bootStage: 'none' | 'setup' | 'waiting' | 'up' = 'none';
  #systemWait?: SystemWait;
  #commandEnded!: () => void;
  /**
   * Resolves once the command's EXIT came. A stop's grace is the command's (docker's
   * --stop-timeout): what follows (the guest powering off; a booted system's shutdown, which
   * takes longer) has its own grace (#powerOff), and is not cut short by the stop's.
   */
  readonly commandEnded = new Promise<void>((resolve) => (this.#commandEnded = resolve));

  #mark(step: VmStep, at = Date.now() - this.#t0): void {
    this.timeline[step] ??= at;
  }

  constructor(
    private readonly plan: RunPlan,
    /** decided by container-init from the engine's host */
    private readonly accel: Accel,
    private readonly manifest: ToolboxManifest,
    private readonly exec: ExecRequest,
    private readonly paths: VmRunPaths,
    /** a session's commands, or docker exec's beside the command (plan.execs): what a client asked for, as a guest EXEC; given, the session socket is served */
    private readonly toSessionExec?: (req: SessionExecRequest) => ExecRequest,
    private readonly vmm: Vmm = qemuVmm(paths.toolbox),
  ) {
    this.#facts.untilPoweroff = plan.boot !== undefined && !plan.session && plan.argv.length === 0;
  }

  get consoleLog(): string {
    return CONSOLE_LOG;
  }

  async run(): Promise<VmOutcome> {
    try {
      const end = await this.#boot();
      if (end.kind === 'restoreFailed' && end.damaged && this.#snapshot?.discardDamaged()) log(this.plan, `removed the damaged snapshot ${this.#snapshot.files.key}`);
      return end.kind === 'abnormal' || end.kind === 'startCrashed' ? this.#withConsole(end.kind, end.reason) : end;
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
    if (this.#facts.commandExit) return;
    if (this.#execSent && this.#socket) this.#socket.write(encodeSignal(0, signo));
    else if ([1, 2, 3, 15].includes(signo) && !this.plan.session) {
      this.#facts.stoppedBeforeCommand = signo;
      this.#guest?.child.kill('SIGKILL');
    } else this.#pendingSignals.push(signo);
  }

  /** A session ends: the guest powers off (the VM is stopped if it does not); before the session is up, the start just stops. */
  shutdown(): void {
    this.#facts.shuttingDown = true;
    if (!this.#session) {
      this.#facts.stoppedBeforeCommand ??= 15;
      this.#guest?.child.kill('SIGKILL');
      return;
    }
    this.#powerOff();
  }

  /** a session whose VM ran (it was ready): after its end the container stays, answering every client with why */
  get servedSession(): boolean {
    return this.#session !== undefined;
  }

  /** the session was taken down on purpose (docker stop, testin down) */
  get shutDown(): boolean {
    return this.#facts.shuttingDown;
  }

  /** Every client of the session, now and later, learns that its VM ended, and why. */
  endSession(reason: string): void {
    this.#session?.closeAll(reason);
  }

  /** Stops the VM hard; the run then ends as if the command was killed by SIGKILL (137). */
  kill(): void {
    this.#facts.killed = true;
    this.#guest?.child.kill('SIGKILL');
  }

  /** Stops everything at once: the VMM first, then virtiofsd. Idempotent. */
  async close(): Promise<void> {
    this.#stopConsole?.();
    clearTimeout(this.#timeout);
    const results = await Promise.allSettled([this.#guest ? stopHelper(this.#guest) : undefined]);
    await Promise.allSettled([...this.#virtiofsd.map((h) => stopHelper(h)), this.#passt ? stopHelper(this.#passt) : undefined]);
    this.#forwarder?.close();
    this.#passtEnd?.destroy();
    this.#vmm?.close();
    this.#socket?.destroy();
    this.#server?.close();
    for (const r of results) if (r.status === 'rejected') process.stderr.write(`testin: teardown: ${String(r.reason)}\n`);
  }

  async #boot(): Promise<RunEnd> {
    const started = this.plan.noVm ? this.#startAgent() : await this.#startVm();
    if ('failed' in started) return judgeRunEnd({ kind: 'failed', reason: started.failed }, this.#facts);
    const guest = this.#guest as Helper;
    return new Promise<RunEnd>((resolve) => {
      const bootTimer = setTimeout(
        () => this.#finish({ kind: 'bootDeadline', ms: this.plan.vm.bootTimeoutMs, restored: this.#awaitingRestoredGuest, detail: this.#silentGuestDetail(guest) }),
        this.plan.vm.bootTimeoutMs,
      );
      // a cold boot whose QEMU stands still is stopped (and started again: main.ts); a restore has its own watch (#restore)
      const coldBoot = this.#vmm !== undefined && !this.#awaitingRestoredGuest && guest.child.pid !== undefined;
      const stopStallWatch = coldBoot
        ? watchStall(guest.child.pid as number, (ms) => {
            this.#facts.stoodStillMs = ms;
            guest.child.kill('SIGKILL');
          })
        : () => undefined;
      // a kernel whose CPU's timer stopped firing while it booted waits for its boot deadline: started again at once
      const stopConsoleWatch = coldBoot
        ? watchConsole(this.consoleLog, lostTimerLine, (line) => {
            this.#facts.lostTimer = line;
            guest.child.kill('SIGKILL');
          })
        : () => undefined;
      if (coldBoot) fakeLostTimerForTests(this.consoleLog, guest.child.pid as number);
      const stopWatch = (): void => {
        stopStallWatch();
        stopConsoleWatch();
      };
      this.#answered = () => {
        clearTimeout(bootTimer);
        stopWatch();
      };
      // the one place a run's end is decided: the first event to end it, and the facts of that moment
      this.#finish = (trigger) => {
        if (this.#over) return;
        this.#over = true;
        clearTimeout(bootTimer);
        stopWatch();
        resolve(judgeRunEnd(trigger, this.#facts));
      };
      void started.connected.then((socket) => this.#serve(socket));
      if (this.#snapshot?.restoring) void this.#restore(started.connected);
      // the VM's network is gone with passt: the run cannot go on as if it were there. passt also
      // ends when QEMU does (its client went away): then the VM's own end decides
      void this.#passt?.exited.then(async (r) => {
        const guestEnded = await Promise.race([guest.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), PASST_GRACE_MS).unref())]);
        if (guestEnded || this.#facts.commandExit || this.#facts.shuttingDown) return;
        const said = this.#passt?.output().split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Failed to send')).at(-1);
        this.#finish({ kind: 'helperEnded', reason: `passt, which carries the VM's network, ended (${r.signal ?? `code ${r.code}`})${said ? `: ${said}` : ''}` });
      });
      void guest.exited.then(async (exit) => {
        // the socket may still hold the last frames: read them before judging
        await this.#socketDrained();
        const description = this.#vmm ? this.#vmm.describeExit(exit) : `the agent exited with ${exit.signal ?? `code ${exit.code}`}`;
        if (this.#awaitingRestoredGuest && this.#facts.stoppedBeforeCommand === undefined && !this.#facts.killed) {
          return this.#restoreTrouble({ kind: 'vmmExited', exit, description });
        }
        this.#session?.closeAll('the VM stopped');
        this.#finish({ kind: 'vmmExited', exit, description });
      });
    });
  }

  /** --no-vm: the VM's init runs as an agent in this container, on a socket pair */
  #startAgent(): { connected: Promise<Socket> } {
    this.#guest = startHelper('agent', [join(this.paths.toolbox, TOOLBOX_LAYOUT.agent), '--agent'], process.env, { controlFd: true });
    if (this.#facts.stoppedBeforeCommand !== undefined) this.#guest.child.kill('SIGKILL');
    return { connected: Promise.resolve(this.#guest.control as Socket) };
  }

  async #startVm(): Promise<{ connected: Promise<Socket> } | { failed: string }> {
    const tb = (p: string): string => join(this.paths.toolbox, p);
    const held = this.paths.held?.claim();
    const hasVolumes = (this.exec.volumes?.length ?? 0) > 0;
    const shape = helperShape(this.plan, this.paths.work, hasVolumes);
    const ctlSocket = join(this.paths.work, 'ctl.sock');
    const choice = this.paths.snapshots;
    const ramBytes = this.plan.vm.memoryMiB * 2 ** 20;
    // the RAM file is on the tmpfs the root's mounts made (prepareRoot): its copy (the toolbox's agent, ~21 ms
    // here) goes first, and the helpers start while it goes in
    const ram = choice ? await prepareRamFile(this.paths.toolbox, ramDir(this.paths.work), ramBytes) : undefined;
    const spec: GuestSpec = {
      vm: { ...this.plan.vm, accel: this.accel },
      arch: this.manifest.arch.guest,
      kernel: this.plan.vm.kernel?.kernel ?? tb(TOOLBOX_LAYOUT.kernel),
      initrd: this.plan.vm.kernel?.initrd ?? tb(TOOLBOX_LAYOUT.initrd),
      fsSocket: shape.fsSocket,
      volSocket: shape.volSocket,
      ctlSocket,
      consoleLog: this.consoleLog,
      network: this.plan.network,
      netdev: shape.netdev,
    };
    if (ram && 'failed' in ram) log(this.plan, `no snapshot this run: no tmpfs for the guest's memory (${ram.failed})`);
    if (choice && ram && 'file' in ram) {
      this.#ramFile = spec.ramFile = ram.file;
      const key = snapshotKey({ toolboxHash: this.manifest.hash, qemuArgv: this.vmm.argv(spec), hostCpu: hostCpuSignature(this.accel, () => readFileSync('/proc/cpuinfo', 'utf8')), rootCache: shape.caches.root });
      this.#snapshot = new SnapshotController(choice.dir, key, choice.mode, this.plan.runId);
      // the snapshot's name needs nothing of the helpers' but their shape, known before they start; the restore
      // waits for the RAM before QEMU loads its state
      if (this.#snapshot.restoring) {
        this.#ramReady = this.#snapshot.loadRam(ram.file, ramBytes, tb(TOOLBOX_LAYOUT.agent));
        this.#ramReady.catch(() => undefined);
      }
    }

    // the helpers start; while virtiofsd comes up, the port forwarder and the control socket are made ready
    // the first VM of the run is the QEMU PID 1 started with the container, loaded meanwhile (held-vmm.ts)
    const helpersUp = startVmHelpers(this.plan, { ...this.paths, flavor: this.manifest.virtiofsdFlavor, hasVolumes, held });
    let tunnel: Promise<{ port: number; token: Buffer }> | undefined;
    if (this.plan.network.nic) {
      const declared = new Set(this.plan.network.forwards.filter((f) => f.proto === 'tcp').map((f) => f.port));
      this.#forwarder = new PortForwarder((frame) => this.#socket?.write(frame), declared, (msg) => log(this.plan, msg));
      tunnel = this.#forwarder.start();
      tunnel.catch(() => undefined);
    }
    // a cold boot after a snapshot that did not restore reuses the path
    rmSync(ctlSocket, { force: true });
    const connected = this.#listen(ctlSocket);
    connected.catch(() => undefined);

    const helpers = await helpersUp;
    this.#virtiofsd = helpers.virtiofsd;
    this.#passt = helpers.passt;
    this.#passtEnd = helpers.passtEnd;
    if (helpers.failed) return { failed: helpers.failed };
    const c = helpers.caches;
    log(this.plan, `${[...helpers.virtiofsd, ...(helpers.passt ? [helpers.passt] : [])].map((h) => h.name).join(', ')} up after ${Date.now() - this.#t0} ms (root cache ${c.root}${c.volumes ? `, volumes cache ${c.volumes}` : ''})${helpers.note ? `; ${helpers.note}` : ''}`);
    this.#mark('virtiofsdUp');
    if (tunnel) this.#tunnel = await tunnel;
    this.#awaitingRestoredGuest = this.#snapshot?.restoring === true;
    this.#mark('vmmStarted');
    // the wall clock too: the launcher measures from its start of the container to here
    this.timeline.vmmStartedAt = Date.now();
    this.#vmm = this.vmm.start(spec, { control: this.#snapshot !== undefined, incoming: this.#awaitingRestoredGuest, work: this.paths.work, fd3: this.#passtEnd, held });
    this.#guest = this.#vmm.helper;
    // the VMM has its own copy: passt sees the pair's end when the VMM goes
    this.#passtEnd?.destroy();
    // a stop that came while the helpers started: the VM goes at once
    if (this.#facts.stoppedBeforeCommand !== undefined) this.#guest.child.kill('SIGKILL');
    log(this.plan, `${this.vmm.name}${held ? " (started with the container, held until now)" : ''} ${this.#vmm.argv.join(' ')}`);
    const snap = this.#snapshot;
    log(this.plan, !snap ? 'booting cold (no snapshot for this run)' : snap.restoring ? `restoring the VM from snapshot ${snap.files.key}` : `booting cold; a snapshot of this VM (${snap.files.key}) is saved when its init is up`);
    if (this.plan.vm.console) this.#stopConsole = streamConsole(this.consoleLog);
    return { connected };
  }

  async #serveSession(): Promise<void> {
    if (!this.toSessionExec) return;
    this.#session = new SessionServer((frame) => this.#socket?.write(frame), this.toSessionExec);
    await this.#session.listen(SESSION_SOCKET);
    if (this.plan.session) process.stderr.write(`${SESSION_READY} (${this.accel})\n`);
  }

  /** resolves once the VMM's end of the control socket has closed and all was read (bounded wait) */
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

  #serve(socket: Socket): void {
    this.#socket = socket;
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      this.#guestBytes += chunk.length;
      for (const frame of reader.push(chunk)) this.#onFrame(frame);
    });
    socket.on('error', () => undefined);
  }

  /** what the host saw of a guest silent past its boot deadline: QEMU's CPU time, and its control port */
  #silentGuestDetail(guest: Helper): string {
    const cpu = guest.child.pid === undefined ? undefined : cpuMs(guest.child.pid);
    const port = !this.#socket ? 'its control port not connected' : this.#guestBytes ? `${this.#guestBytes} bytes on its control port, no whole message` : 'nothing on its control port';
    return `${cpu === undefined ? '' : `QEMU used ${(cpu / 1000).toFixed(1)} s of CPU; `}${port}`;
  }

  #onFrame(frame: Frame): void {
    // the guest speaks: booted (hello) or restored (its first answer), the boot's deadline is met
    this.#answered?.();
    this.#awaitingRestoredGuest = false;
    this.#facts.guestSpoke = true;
    if (this.#systemWait?.take(frame) || this.#kernelLog.take(frame)) return;
    if (this.toSessionExec && frame.id !== 0) return void this.#session?.fromGuest(frame);
    switch (frame.type) {
      case MessageType.hello:
        this.#onHello(decodeFields(frame.payload));
        break;
      case MessageType.started:
        this.#onStarted(decodeFields(frame.payload));
        break;
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
      case MessageType.exit:
        this.#onExit(decodeFields(frame.payload));
        break;
      default:
        log(this.plan, `unknown message type ${frame.type}`);
    }
  }

  #onHello(fields: ReturnType<typeof decodeFields>): void {
    log(this.plan, `guest init up: kernel ${fieldString(fields, Tag.release)}, uptime ${fieldNumber(fields, Tag.uptimeMs)} ms, ${Date.now() - this.#t0} ms since start`);
    this.#mark('initUp');
    this.#helloUptime = fieldNumber(fields, Tag.uptimeMs) ?? 0;
    this.#helloAt = Date.now();
    if (this.#snapshot && !this.#snapshot.restoring) {
      void this.#save(fieldString(fields, Tag.release) ?? '').then(() => this.#guestReady());
      return;
    }
    this.#guestReady();
  }

  #onStarted(fields: ReturnType<typeof decodeFields>): void {
    // the guest's uptime at a step, placed on container-init's clock (the guest's stood still while a snapshot was saved)
    const since = (tag: number): number => this.#onHostClock(fieldNumber(fields, tag) ?? this.#helloUptime);
    this.#markGuestSteps(fields);
    this.#mark('rootMounted', since(Tag.rootMs));
    if (this.#bootStage === 'setup') {
      // the set-up is done and the image's init is PID 1: wait for its system, then the command;
      // without a command there is nothing to wait for: the system runs until it powers off
      if (this.#facts.untilPoweroff) this.#bootStage = 'up';
      else void this.#waitForSystem();
      return;
    }
    log(this.plan, `command started: root mounted at ${fieldNumber(fields, Tag.rootMs)} ms, started at ${fieldNumber(fields, Tag.uptimeMs)} ms guest uptime`);
    this.#mark('commandStarted', since(Tag.uptimeMs));
    if (!this.plan.session) this.#startTimeout();
    // a session's commands, or docker exec beside the command (plan.execs)
    void this.#serveSession();
  }

  /**
   * the guest's uptime (ms) on container-init's clock: the guest's clock stood still while a snapshot was saved;
   * a restored guest's runs on from the moment it was resumed (its answer, initUp, comes a QMP reply later)
   */
  #onHostClock(guestMs: number): number {
    return (this.#resumedAt ?? this.timeline.initUp ?? 0) + this.#stoppedMs + guestMs - this.#helloUptime;
  }

  /** the guest's own steps (TAG_STEPS) into the timeline: the first command's alone */
  #markGuestSteps(fields: ReturnType<typeof decodeFields>): void {
    const text = fieldString(fields, Tag.steps);
    if (!text) return;
    const steps = (this.timeline.guestSteps ??= {});
    for (const [name, ms] of parseGuestSteps(text)) steps[name] ??= Math.round(this.#onHostClock(ms) * 10) / 10;
  }

  #onExit(fields: ReturnType<typeof decodeFields>): void {
    const signo = fieldNumber(fields, Tag.signo);
    const exit = signo !== undefined ? { code: exitCodeForSignal(signo), signal: signo } : { code: fieldNumber(fields, Tag.code) ?? 0 };
    this.#facts.commandExit = exit;
    this.#commandEnded();
    this.#markGuestSteps(fields);
    log(this.plan, `command ended (${JSON.stringify(exit)}) ${Date.now() - this.#t0} ms since start`);
    this.#mark('commandEnded');
    // killed by SIGKILL, and not by us: the guest kernel's log says whether its OOM killer did it
    const ask = signo === 9 && !this.#facts.killed && !this.plan.noVm ? this.#kernelLog.ask((f) => this.#socket?.write(f)) : Promise.resolve('');
    void ask.then((kernelLog) => {
      const oom = oomNotice(kernelLog, this.plan.vm.memoryMiB);
      if (oom) process.stderr.write(oom);
      this.#powerOff();
      // --boot: the image's init shuts its system down (units stopped, journal flushed, mounts
      // synced) before the run ends; the VMM's exit then ends it with this exit code
      if (!this.plan.boot) this.#finish({ kind: 'commandExited', ...exit });
    });
  }

  /**
   * --boot: waits, within the boot's deadline, until the image's init has
   * started the system (running or degraded: then the failed units are named),
   * then starts the command or the session.
   */
  async #waitForSystem(): Promise<void> {
    this.#bootStage = 'waiting';
    const wait = new SystemWait((frame) => this.#socket?.write(frame));
    this.#systemWait = wait;
    const ms = this.plan.vm.bootTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<SystemState>((res) => {
      timer = setTimeout(() => {
        const bounded = Promise.race([wait.failedSoFar(), new Promise<string[]>((r) => setTimeout(() => r([]), 3000).unref())]);
        void bounded.then((units) => res({ kind: 'failed', reason: `the system did not finish starting within ${ms / 1000} s${units.length ? `; failed units: ${units.join(', ')}` : ''}` }));
      }, ms);
    });
    const state = await Promise.race([wait.wait(), deadline]);
    clearTimeout(timer);
    if (state.kind === 'failed') return this.#finish({ kind: 'failed', reason: state.reason });
    if (state.state === 'degraded') process.stderr.write(`testin: the system started degraded: failed units: ${state.failedUnits.join(', ') || '(none listed)'}\n`);
    log(this.plan, `the image's init started the system (${state.state}) ${Date.now() - this.#t0} ms since start`);
    this.#mark('systemUp');
    this.#bootStage = 'up';
    if (this.plan.session) return void this.#serveSession();
    this.#sendExec();
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

  /** Saves the guest that just said hello, when this run is the one to; a failure costs this run nothing but the time, and is said once. */
  async #save(release: string): Promise<void> {
    const snapshot = this.#snapshot as SnapshotController;
    const vmm = this.#vmm as VmmInstance;
    const t = Date.now();
    try {
      const saved = await snapshot.save(vmm, { helloUptimeMs: this.#helloUptime, helloAt: this.#helloAt, release }, this.#ramFile as string);
      if (!saved.saved) return log(this.plan, `snapshot ${snapshot.files.key} not saved by this run: ${saved.why}`);
      log(this.plan, `snapshot ${snapshot.files.key} saved in ${Date.now() - t} ms`);
      if (saved.pruned.length) log(this.plan, `removed ${saved.pruned.length} snapshot(s) unused for long: ${saved.pruned.join(', ')}`);
      // from the stop on: the guest's clock ran on until then
      this.#stoppedMs = Date.now() - saved.stoppedAt;
      this.timeline.snapshotSaveMs = this.#stoppedMs;
    } catch (error) {
      const full = /no space left/i.test((error as Error).message);
      process.stderr.write(`testin: the VM snapshot could not be saved (${(error as Error).message}); runs boot cold until one is${full ? "\n  fix: free space where the engine keeps its volumes (docker system df; testin toolbox prune)" : ''}\n`);
      this.#stoppedMs = Date.now() - t;
      // a guest the VMM would not let go on again cannot run the command: end the run as a failed boot, not a hang
      if ((await vmm.runState()) !== 'running') vmm.kill();
    }
  }

  /**
   * Restores the snapshot, then gives the guest its command. It must come
   * back to life: a snapshot that does not load, or whose guest dies, ends
   * this try as 'restoreFailed' before anything of the command ran; a guest
   * that is merely slow (a busy machine) is waited for, within the boot's deadline.
   */
  async #restore(connected: Promise<Socket>): Promise<void> {
    const snapshot = this.#snapshot as SnapshotController;
    const t = Date.now();
    let times: RestoreTimes;
    let answerMs: number;
    try {
      times = await snapshot.restore(this.#vmm as VmmInstance, this.#ramReady);
      const loaded = Date.now();
      await connected;
      answerMs = Date.now() - loaded;
    } catch (evidence) {
      const known = typeof evidence === 'object' && evidence !== null && 'kind' in evidence;
      return this.#restoreTrouble(known ? (evidence as RestoreEvidence) : { kind: 'controlLost', message: String(evidence) });
    }
    this.timeline.restored = true;
    this.timeline.restoreParts = { monitor: times.monitorMs, ram: times.ramMs, load: times.loadMs, resume: times.resumeMs, control: answerMs };
    this.#mark('initUp');
    this.#helloUptime = snapshot.meta?.helloUptimeMs ?? 0;
    this.#resumedAt = times.resumedAt - this.#t0;
    log(this.plan, `restored from snapshot ${snapshot.files.key} in ${Date.now() - t} ms (${Date.now() - this.#t0} ms since start): QEMU's monitor ${times.monitorMs} ms, then the RAM ${times.ramMs} ms, load ${times.loadMs} ms, resume ${times.resumeMs} ms, control port ${answerMs} ms`);
    setTimeout(() => {
      if (!this.#awaitingRestoredGuest || this.#over) return;
      void (this.#vmm as VmmInstance).runState().then((runState) => {
        if (this.#awaitingRestoredGuest) this.#restoreTrouble({ kind: 'silent', runState, silentMs: RESTORE_ANSWER_MS });
      });
    }, RESTORE_ANSWER_MS).unref();
    this.#guestReady();
  }

  /** a restore went wrong: give up on the snapshot for this run, or wait for a slow guest */
  #restoreTrouble(evidence: RestoreEvidence): void {
    // a stop that came meanwhile ends the run as a stop, not as a restore's failure
    if (this.#facts.stoppedBeforeCommand !== undefined || this.#facts.killed) return;
    const verdict = judgeRestore(evidence);
    if (verdict.action === 'bootCold') this.#finish({ kind: 'restoreFailed', reason: verdict.reason, damaged: verdict.damaged });
    else process.stderr.write(`testin: the VM restored from its snapshot has not answered for ${RESTORE_ANSWER_MS / 1000} s but runs (a busy machine?): waiting for it\n`);
  }

  /** The command's EXEC, then what was waiting for it: held signals, the terminal, stdin. */
  #sendExec(): void {
    if (this.#execSent || this.#facts.stoppedBeforeCommand !== undefined) return;
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
      this.#facts.timedOut = true;
      this.timeline.timedOut = true;
      const signal = signalName(this.plan.process?.stopSignal ?? 15);
      process.stderr.write(`testin: timed out after ${Number((ms / 1000).toFixed(3))} s: stopping the command (${signal}, then the VM after ${this.plan.stopTimeoutMs / 1000} s)\n`);
      void terminate(guestCommand(this, this.plan.process?.stopSignal), Promise.race([(this.#guest as Helper).exited, this.commandEnded]), { signal: 'SIGTERM', graceMs: this.plan.stopTimeoutMs });
    }, ms);
  }

  /** Asks the guest to power off; the teardown kills the VMM if it has not after the grace time. */
  #powerOff(): void {
    this.#socket?.write(encodeFrame(MessageType.poweroff, 0));
    if (this.#guest) {
      const guest = this.#guest;
      const timer = setTimeout(() => guest.child.kill('SIGKILL'), this.plan.boot ? BOOT_POWEROFF_GRACE_MS : POWEROFF_GRACE_MS);
      void guest.exited.then(() => clearTimeout(timer));
    }
  }

  #withConsole(kind: 'abnormal' | 'startCrashed', reason: string): VmOutcome {
    // the reason may sit above the last lines (a panic's stack trace is long): look further back for it
    const lines = readConsoleTail(this.consoleLog, DIAGNOSE_LINES);
    return { kind, reason: diagnoseConsole(lines) ?? reason, consoleTail: abnormalTail(lines) };
  }
}

/** the tests' hook (TESTIN_TEST_HOOK=lost-timer): the first cold boot's console says what a kernel that lost a CPU's timer says */
let lostTimerFaked = false;
function fakeLostTimerForTests(consoleLog: string, vmmPid: number): void {
  if (process.env.TESTIN_TEST_HOOK !== 'lost-timer' || lostTimerFaked) return;
  lostTimerFaked = true;
  // once QEMU has opened (and emptied) the file
  const opened = (): boolean => {
    try {
      return readdirSync(`/proc/${vmmPid}/fd`).some((fd) => readlinkSync(`/proc/${vmmPid}/fd/${fd}`) === consoleLog);
    } catch {
      return false;
    }
  };
  const timer = setInterval(() => {
    if (!opened()) return;
    clearInterval(timer);
    appendFileSync(consoleLog, "[   23.757487] rcu: rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies! g-1147 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402\n");
  }, 10);
  timer.unref();
}
