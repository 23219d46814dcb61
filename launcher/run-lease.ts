/**
 * The client's side of the lease on a run (RunPlan.lease, container-init/client-lease.ts),
 * held for as long as the run lasts. Should this process die, the run stops by itself:
 * nothing is left, even on a remote engine this host cannot clean up. The run's result
 * (its timeline) comes back with it. Two ways:
 * - `testin-agent --lease` docker exec'd in the run's container with stdin open: the
 *   engine ends the exec when this process goes; the result comes back on its stdout;
 * - the container's own stdin, attached with its output (Docker's StdinOnce: the engine
 *   closes it when this process goes): no exec; the result comes last on stderr, after
 *   the plan's mark, and is taken off it here.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import type { ContainerHandle } from '../contract/docker-client.js';
import { LEASE_SOCKET, TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import { collectInto } from './output-sinks.js';

/** how long a persistent session may take to acknowledge that it outlives its client */
const PERSIST_WAIT_MS = 10_000;

export interface RunLease {
  /** what container-init sent at the run's end (its timeline); undefined when nothing came within `boundMs` */
  result(boundMs: number): Promise<string | undefined>;
  /** lets go of the lease (the run is over, or stopped on purpose) */
  release(): void;
}

export interface ExecLease extends RunLease {
  /** lets go of the lease, and the run outlives this client (a persistent session, once it is up); resolves once the run has taken it */
  persist(): Promise<void>;
}

/** Takes the lease on a started container by a docker exec; a lease the engine refuses is said in `onError` and the run goes on. */
export async function takeLease(container: ContainerHandle, onError: (error: Error) => void): Promise<ExecLease> {
  const stdin = new PassThrough();
  const out: Buffer[] = [];
  /** resolves when the whole result (one line) came, or the lease ended */
  let resultIn: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (resultIn = resolve));
  const sink = collectInto(out);
  sink.on('data', (chunk: Buffer) => chunk.includes(0x0a) && resultIn());
  let done: Promise<unknown>;
  try {
    const exec = await container.exec({ cmd: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.agent}`, '--lease', LEASE_SOCKET], env: [], stdin: true, tty: false });
    done = exec.run({ stdout: sink, stderr: collectInto([]), stdin, background: true }).catch((error: Error) => onError(error));
  } catch (error) {
    onError(error as Error);
    done = Promise.resolve();
  }
  void done.then(resultIn);
  return {
    async result(boundMs) {
      // a timer of its own keeps this process up while it waits (the lease's connection does not: it is in the background)
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([arrived, new Promise((resolve) => (timer = setTimeout(resolve, boundMs)))]);
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8').trim();
      return text || undefined;
    },
    release() {
      stdin.end();
    },
    async persist() {
      stdin.end('persist\n');
      // the run closes the lease when it has read this: only then may this process exit
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, PERSIST_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}

/** a new run's mark for its result on stderr (RunPlan.lease): a byte no text has, and 96 random bits no command can guess */
export function newResultMark(): string {
  return `\x1etestin-result-${randomBytes(12).toString('hex')}:`;
}

/**
 * The lease on the container's stdin (RunPlan.lease's `stdinMark`): `stdin` goes to the attach and is
 * never written, so it stays open as long as this process; `stderr` goes in the attach's place of
 * stderr, and passes all to `out` but the result after `mark`. The result is whole once the attach's
 * output ended (container-init writes it last).
 */
export function stdinLease(mark: string, out: Writable): RunLease & { stdin: PassThrough; stderr: Writable } {
  const stdin = new PassThrough();
  const split = new ResultSplitter(Buffer.from(mark), (chunk) => out.write(chunk));
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      split.push(chunk);
      done();
    },
  });
  return {
    stdin,
    stderr,
    async result() {
      return split.end();
    },
    release() {
      stdin.end();
    },
  };
}

/**
 * A stream's bytes passed on at once, up to `mark`; what follows it held back as the result. Bytes
 * that might begin the mark at a chunk's end wait for the next chunk (or the end).
 */
export class ResultSplitter {
  #held: Buffer = Buffer.alloc(0);
  #result: Buffer[] | undefined;
  /** the result, once its line came whole */
  #line: string | undefined;

  constructor(
    private readonly mark: Buffer,
    private readonly pass: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#result) return void this.#takeResult(chunk);
    const data = this.#held.length ? Buffer.concat([this.#held, chunk]) : chunk;
    const at = data.indexOf(this.mark);
    if (at >= 0) {
      this.#held = Buffer.alloc(0);
      this.#result = [];
      if (at > 0) this.pass(data.subarray(0, at));
      return void this.#takeResult(data.subarray(at + this.mark.length));
    }
    const keep = this.#markStartAtEnd(data);
    if (data.length > keep) this.pass(data.subarray(0, data.length - keep));
    this.#held = Buffer.from(data.subarray(data.length - keep));
  }

  /** The stream ended: what was held back goes on; the result, when one came whole (a line) */
  end(): string | undefined {
    if (this.#held.length) this.pass(this.#held);
    this.#held = Buffer.alloc(0);
    return this.#line;
  }

  /** the result is one line; what comes after it (container-init's PID 1 on a late exit) goes on */
  #takeResult(chunk: Buffer): void {
    if (this.#line !== undefined) return void (chunk.length && this.pass(chunk));
    const eol = chunk.indexOf(0x0a);
    if (eol < 0) return void this.#result?.push(chunk);
    this.#result?.push(chunk.subarray(0, eol));
    this.#line = Buffer.concat(this.#result ?? []).toString('utf8').trim();
    if (eol + 1 < chunk.length) this.pass(chunk.subarray(eol + 1));
  }

  /** how many bytes at the end of `data` are the mark's first ones */
  #markStartAtEnd(data: Buffer): number {
    const first = this.mark[0] as number;
    for (let at = data.indexOf(first, Math.max(0, data.length - this.mark.length + 1)); at >= 0; at = data.indexOf(first, at + 1)) {
      if (data.subarray(at).equals(this.mark.subarray(0, data.length - at))) return data.length - at;
    }
    return 0;
  }
}
