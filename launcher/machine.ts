import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { constants as osConstants } from 'node:os';
import { Readable, type Writable } from 'node:stream';
import type { ContainerHandle, DockerClient } from '../contract/docker-client.js';
import { CanceledError, NoSessionError, SessionError, UsageError, VmFileError } from '../contract/errors.js';
import { EXIT_TIMED_OUT, SESSION_READY_TIMEOUT_MS } from '../contract/exit-codes.js';
import { LABELS } from '../contract/labels.js';
import { CONSOLE_LOG, CONTAINER_INIT_PATH, SESSION_SOCKET, TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, parseMemoryMiB } from '../contract/run-plan.js';
import { SESSION_ENDED, SESSION_READY, sessionExec, type SessionExecRequest } from '../contract/session-protocol.js';
import { terminate } from '../contract/terminate.js';
import { dockerRefusal } from './docker-refusal.js';
import { createDockerClient } from './dockerode-client.js';
import { createLogger } from './logger.js';
import { collectInto } from './output-sinks.js';
import { reapStaleRuns } from './reap-stale-runs.js';
import { takeLease, type ExecLease } from './run-lease.js';
import { createRunContainer } from './run-container.js';
import type { RunOptions } from '../contract/run-options.js';
import { signalName, type RunResult } from './run-result.js';

/** label of a session's container: its name */
export const SESSION_LABEL = LABELS.session;

export interface StartOptions extends Omit<RunOptions, 'command' | 'interactive' | 'tty' | 'timeout'> {
  /** unique per docker engine; @default testin-<random> */
  name?: string | undefined;
  /** keep the session when this process ends (CLI `testin up`); @default false: a later start() or run() reaps it once we are gone */
  persistent?: boolean | undefined;
}

export interface ExecOptions {
  env?: readonly string[];
  cwd?: string;
  user?: string;
  tty?: { rows: number; cols: number };
  /** bytes for stdin, or a stream; absent: no stdin (EOF at once) */
  stdin?: string | Buffer | Readable;
  /** stream output here instead of capturing it */
  stdout?: Writable;
  stderr?: Writable;
  signal?: AbortSignal;
  /** ms; then SIGTERM, and SIGKILL 3 s later (FORCE_KILL_AFTER_MS); the result says timedOut and has code 124 */
  timeout?: number;
  /** docker exec -d: resolve once the command started (exit code 0; a command that cannot start: its code), and leave it running in the VM, its output dropped */
  detach?: boolean;
}

/** a command that runs, as far as signals go */
interface Signalable {
  kill(signal: NodeJS.Signals): void;
}

/** A command started with spawn(). */
export interface RunningExec {
  result: Promise<ExecResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** run()'s result shape; the output is always there (empty when it went to writables) */
export interface ExecResult extends RunResult {
  stdout: Buffer;
  stderr: Buffer;
}

/** A VM that stays up: many commands, files in and out, cleaned up by stop() or `await using`. */
export class Machine implements AsyncDisposable {
  #stopped = false;
  #direct?: Promise<string | undefined>;

  constructor(
    readonly name: string,
    private readonly container: ContainerHandle,
    /** a session of this process (not persistent): its lease, let go at stop() */
    private readonly lease?: ExecLease,
  ) {}

  /** Runs one command in the VM and waits for it; several may run at once. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.spawn(argv, options).result;
  }

  /** Starts one command in the VM; `kill(signal)` signals that command alone (SIGTERM by default). */
  spawn(argv: readonly string[], options: ExecOptions = {}): RunningExec {
    let onStarted!: (command: Signalable) => void;
    const started = new Promise<Signalable>((resolve) => (onStarted = resolve));
    const result = this.#run(argv, options, onStarted);
    return { result, kill: (signal: NodeJS.Signals = 'SIGTERM') => void started.then((c) => c.kill(signal)) };
  }

  async #run(argv: readonly string[], options: ExecOptions, onStarted: (command: Signalable) => void): Promise<ExecResult> {
    if (argv.length === 0) throw new UsageError('exec needs a command', 'give the program to run, e.g. machine.exec(["uname", "-r"])');
    if (options.detach && (options.stdin !== undefined || options.tty)) throw new UsageError('a detached command takes no stdin and no terminal', 'drop -i and -t, or -d');
    return this.#request({ argv, env: options.env, cwd: options.cwd, user: options.user, stdin: options.stdin !== undefined, tty: options.tty, detach: options.detach }, options, onStarted);
  }

  /**
   * One request to the session's agent (the init in the VM, through the
   * session socket of container-init). Straight to the socket when this host
   * can reach it (the engine is local and we may enter its /proc): no docker
   * exec, no node start in the container. Otherwise, and for a tty, through
   * `docker exec container-init --exec`.
   */
  async #request(request: SessionExecRequest, options: ExecOptions, onStarted: (command: Signalable) => void = () => undefined): Promise<ExecResult> {
    if (this.#stopped) throw new SessionError('TESTIN_SESSION_STOPPED', `session ${this.name} is stopped`, 'start a new one');
    const started = Date.now();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = options.stdout ?? collectInto(out);
    const stderr = options.stderr ?? collectInto(err);
    const stdin = options.stdin === undefined ? undefined : options.stdin instanceof Readable ? options.stdin : Readable.from([Buffer.from(options.stdin)]);
    const direct = options.tty ? undefined : await this.#directSocket();
    const command = direct ? this.#viaSocket(direct, request, { stdout, stderr, stdin }) : await this.#viaDockerExec(request, { stdout, stderr, stdin });
    onStarted(command);

    let timedOut = false;
    let canceled = false;
    const stop = (): void => void terminate(command, command.code);
    const timer =
      options.timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeout);
    const onAbort = (): void => {
      canceled = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort);
    try {
      const code = await command.code;
      const durationMs = Date.now() - started;
      const exitCode = timedOut ? EXIT_TIMED_OUT : code;
      return { exitCode, signal: signalName(exitCode), stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut, canceled, durationMs, phases: { exec: durationMs } };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #viaSocket(path: string, request: SessionExecRequest, io: { stdout: Writable; stderr: Writable; stdin: Readable | undefined }): Signalable & { code: Promise<number> } {
    const exec = sessionExec(connect(path), request, io);
    return { code: exec.code, kill: (signal) => exec.signal(osConstants.signals[signal]) };
  }

  async #viaDockerExec(request: SessionExecRequest, io: { stdout: Writable; stderr: Writable; stdin: Readable | undefined }): Promise<Signalable & { code: Promise<number> }> {
    const exec = await this.container.exec({
      cmd: [CONTAINER_INIT_PATH, '--exec'],
      env: [`TESTIN_EXEC=${JSON.stringify(request)}`],
      stdin: request.stdin === true,
      tty: request.tty !== undefined,
    });
    // the client in the container passes a signal on to the command in the VM
    return { code: exec.run(io), kill: (signal) => void exec.pid().then((pid) => signalPid(pid, signal)) };
  }

  /** the session socket as this host sees it, when it can: /proc/<pid>/root of the container */
  #directSocket(): Promise<string | undefined> {
    this.#direct ??= (async () => {
      if (process.env.TESTIN_SESSION_VIA === 'docker-exec') return undefined;
      try {
        const info = await this.container.inspect();
        const root = `/proc/${info.pid}/root`;
        // the same container, not a process of that pid in another pid namespace
        if (!info.pid || readFileSync(`${root}/etc/hostname`, 'utf8').trim() !== info.hostname) return undefined;
        const path = `${root}${SESSION_SOCKET}`;
        accessSync(path, fsConstants.W_OK);
        return path;
      } catch {
        return undefined;
      }
    })();
    return this.#direct;
  }

  /** Writes a file in the VM (through `sh -c 'cat > path'`, so the image needs a shell). */
  async writeFile(path: string, data: string | Buffer): Promise<void> {
    const r = await this.exec(['sh', '-c', 'cat > "$1"', 'sh', path], { stdin: data });
    if (r.exitCode !== 0) throw new VmFileError('TESTIN_FILE', `cannot write ${path} in the VM: ${r.stderr.toString().trim()}`, 'check that the folder exists and is writable');
  }

  async readFile(path: string): Promise<Buffer> {
    const r = await this.exec(['cat', path]);
    if (r.exitCode !== 0) throw new VmFileError('TESTIN_FILE', `cannot read ${path} in the VM: ${r.stderr.toString().trim()}`, 'check the path');
    return r.stdout;
  }

  /** The guest kernel's whole log buffer, as `dmesg` prints it (served by the VM's init: needs no dmesg in the image). */
  async dmesg(): Promise<string> {
    const r = await this.#request({ argv: [], dmesg: true }, {});
    if (r.exitCode !== 0) throw new VmFileError('TESTIN_DMESG', `cannot read the kernel log of ${this.name}: ${r.stderr.toString().trim()}`, 'a --no-vm session has no kernel of its own');
    return r.stdout.toString();
  }

  /** What the guest kernel printed on its console (`quiet`: warnings and worse, unless started with `console: true`); readable after a crash too. */
  async consoleLog(): Promise<string> {
    const exec = await this.container.exec({ cmd: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.busybox}`, 'cat', CONSOLE_LOG], env: [], stdin: false, tty: false });
    const out: Buffer[] = [];
    await exec.run({ stdout: collectInto(out), stderr: collectInto([]) });
    return Buffer.concat(out).toString();
  }

  /** Powers the VM off and removes its container. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // the guest powers off (a booted system through its own shutdown) before the container goes
    try {
      await this.container.stop();
      await this.container.remove();
    } finally {
      this.lease?.release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    if (pid > 0) process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Boots a VM from an image and keeps it up for exec() calls: resolves once its VM takes commands (for --boot: once its system is up).
 * An abort of `io.signal` before then removes what was made and rejects with a CanceledError.
 */
export async function start(options: StartOptions, io: { docker?: DockerClient; stderr?: Writable; signal?: AbortSignal | undefined } = {}): Promise<Machine> {
  const docker = io.docker ?? createDockerClient();
  const name = options.name ?? `testin-${Math.random().toString(36).slice(2, 10)}`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new UsageError(`invalid session name "${name}"`, 'use letters, digits, _ . -');
  // one mechanism for runs and sessions: both carry the run label and, unless persistent, their owner
  await reapStaleRuns(docker).catch(() => []);
  const memory = `${options.memory ? parseMemoryMiB(options.memory) : DEFAULT_MEMORY_MIB}MiB`;
  const { container } = await createRunContainer(
    { ...options, name },
    { docker, stderr: io.stderr ?? process.stderr, logger: createLogger(options.logLevel), session: { name, cpus: String(options.cpus ?? DEFAULT_CPUS), memory, persistent: options.persistent === true }, signal: io.signal },
  );
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CanceledError(`the start of session ${name}`));
    if (io.signal?.aborted) onAbort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let lease: ExecLease | undefined;
  try {
    await Promise.race([container.start(), aborted]);
    // the session is leased while it starts (a persistent one) or as long as this process lives: should the
    // process die, the session goes too, on any engine
    lease = await takeLease(container, (error) => (io.stderr ?? process.stderr).write(`testin: the lease on session ${name} was refused (${error.message}): if this process dies, the session stays\n`));
    // the log is read from its beginning: a marker printed before we look is still seen
    await Promise.race([container.waitForOutput(SESSION_READY, SESSION_READY_TIMEOUT_MS), aborted]);
  } catch (error) {
    lease?.release();
    // the first error is the one to tell: a failed removal must not hide it
    await container.remove().catch(() => undefined);
    if (error instanceof CanceledError) throw error;
    throw dockerRefusal(error, options) ?? new SessionError('TESTIN_SESSION_START', `session ${name} did not start: ${(error as Error).message}`, 'run the same image with `testin run` to see why', error);
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
  }
  if (options.persistent) {
    // up: from here on the session outlives this process, until testin down
    await lease.persist();
    return new Machine(name, container);
  }
  return new Machine(name, container, lease);
}

/** A running session by name (CLI exec/down). */
export async function attachSession(name: string, docker: DockerClient = createDockerClient()): Promise<Machine> {
  const container = docker.getContainer(name);
  try {
    const info = await container.inspect();
    if (info.labels[SESSION_LABEL] !== name) throw new Error('not a testin session');
  } catch (error) {
    throw new NoSessionError(name, error);
  }
  return new Machine(name, container);
}

export interface SessionInfo {
  name: string;
  /** a session (testin up, start()) or a detached run (testin run -d) */
  kind: 'session' | 'detached';
  image: string;
  accel: string;
  cpus: string;
  memory: string;
  running: boolean;
  /** its VM ended by itself (the container stays until testin down): why */
  ended?: string | undefined;
  createdAt: Date;
}

/** Every session and detached run on this docker engine. */
export async function listSessions(docker: DockerClient = createDockerClient()): Promise<SessionInfo[]> {
  const found = (await Promise.all([docker.listContainersWithLabels(SESSION_LABEL), docker.listContainersWithLabels(LABELS.detached)])).flat();
  const infos = await Promise.all(
    found.map(async (c) => {
      const handle = docker.getContainer(c.id);
      // the session's ready line says which accelerator its VM runs on
      const logs = await handle.logs({ tail: 200 }).catch(() => '');
      const ended = logs.split('\n').find((l) => l.startsWith(SESSION_ENDED))?.slice(SESSION_ENDED.length).trim();
      return { c, info: await handle.inspect().catch(() => undefined), accel: new RegExp(`${SESSION_READY} \\((\\w+)\\)`).exec(logs)?.[1], ended };
    }),
  );
  return infos.flatMap(({ c, info, accel, ended }) =>
    info
      ? [
          {
            name: c.labels[SESSION_LABEL] ?? info.name.replace(/^\//, ''),
            kind: c.labels[SESSION_LABEL] ? ('session' as const) : ('detached' as const),
            image: info.image,
            accel: accel ?? c.labels[LABELS.accel] ?? '?',
            cpus: c.labels[LABELS.sessionCpus] ?? '?',
            memory: c.labels[LABELS.sessionMemory] ?? '?',
            running: info.running,
            ended,
            createdAt: new Date(info.created),
          },
        ]
      : [],
  );
}
