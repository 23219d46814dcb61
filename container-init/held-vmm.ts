/**
 * The VMM held since the container's start (initfs/pid1.c, initfs/vmm-hold.c): PID 1 starts
 * QEMU with the container, and QEMU, loaded and linked while node loads, waits for its command
 * line. The first VMM of the run is this one: its argv goes on a pipe, and QEMU runs with it.
 * QEMU is PID 1's child, not node's: it is watched through what PID 1 gives (its output's pipe,
 * a pipe on which PID 1 says how it ended) and signalled by its pid.
 */
import { closeSync, constants, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Socket } from 'node:net';
import { outputTail, type Helper, type HelperProcess } from './child-process.js';
import { reopenOwn } from './last-word.js';

/** PID 1's "PID ARGV OUT PAIR STATUS" (initfs/pid1.c HELD_ENV) */
export const HELD_VMM_ENV = 'TESTIN_HELD_VMM';

export interface HeldFds {
  pid: number;
  /** the argv's pipe (we write) */
  argv: number;
  /** QEMU's stdout and stderr (we read) */
  out: number;
  /** our end of the socket pair whose other end is QEMU's fd 3 */
  pair: number;
  /** PID 1 says how QEMU ended (we read) */
  status: number;
}

export function parseHeldFds(value: string | undefined): HeldFds | undefined {
  const parts = value?.trim().split(/\s+/).map(Number);
  if (parts?.length !== 5 || !parts.every((n) => Number.isInteger(n) && n >= 0)) return undefined;
  const [pid, argv, out, pair, status] = parts as [number, number, number, number, number];
  return pid > 0 ? { pid, argv, out, pair, status } : undefined;
}

/** PID 1's line, "exit N" or "signal N"; anything else (PID 1 said nothing) is an end without a code */
export function parseHeldEnd(line: string): { code: number | null; signal: NodeJS.Signals | null } {
  const match = /^(exit|signal) (\d+)/.exec(line.trim());
  if (!match) return { code: null, signal: null };
  const n = Number(match[2]);
  if (match[1] === 'exit') return { code: n, signal: null };
  const name = Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined;
  return name ? { code: null, signal: name } : { code: 128 + n, signal: null };
}

/** the argv as the hold library reads it: NUL-terminated strings, to the pipe's end */
export function encodeHeldArgv(argv: readonly string[]): Buffer {
  return Buffer.concat(argv.map((a) => Buffer.from(`${a}\0`)));
}

export class HeldVmm {
  /** our end of the pair, QEMU's fd 3's peer: passt's fd 3 */
  readonly pair: Socket;
  #argvFd: number | undefined;
  #out: Socket;
  #status: Socket;
  #claimed = false;

  private constructor(
    readonly pid: number,
    fds: { argv: number; out: Socket; pair: Socket; status: Socket },
  ) {
    this.#argvFd = fds.argv;
    this.#out = fds.out;
    this.pair = fds.pair;
    this.#status = fds.status;
  }

  /**
   * Takes what PID 1 gave (the env's word, then the fds), or nothing. The pipes are made ours
   * (reopenOwn): a child of ours that kept the argv's pipe open would hold QEMU before its start for ever.
   */
  static take(env: NodeJS.ProcessEnv = process.env): HeldVmm | undefined {
    const fds = parseHeldFds(env[HELD_VMM_ENV]);
    delete env[HELD_VMM_ENV];
    if (!fds) return undefined;
    try {
      const argv = reopenOwn(fds.argv, constants.O_WRONLY | constants.O_NONBLOCK);
      const out = new Socket({ fd: reopenOwn(fds.out, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
      const status = new Socket({ fd: reopenOwn(fds.status, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
      // only handed on to passt: never read here, where it would take the VM's packets. A socket cannot be
      // opened again: the children started before passt (the root's mounts, virtiofsd) inherit it, which
      // only keeps passt's end open; QEMU's end is QEMU's alone, so passt still sees the VM go
      const pair = new Socket({ fd: fds.pair, readable: false, writable: false });
      return new HeldVmm(fds.pid, { argv, out, pair, status });
    } catch {
      for (const fd of [fds.argv, fds.out, fds.pair, fds.status]) closeQuietly(fd);
      return undefined;
    }
  }

  /** Lets the held QEMU go unused (a run without a VM): its argv's pipe closed, it exits. */
  dismiss(): void {
    this.#claimed = true;
    const fd = this.#argvFd;
    this.#argvFd = undefined;
    if (fd !== undefined) closeQuietly(fd);
    this.#out.destroy();
    this.#status.destroy();
    this.pair.destroy();
  }

  /** The held QEMU for one VM (the run's first), once: later VMs of the run start their own. */
  claim(): HeldVmm | undefined {
    if (this.#claimed) return undefined;
    this.#claimed = true;
    return this;
  }

  /**
   * QEMU runs with `argv` (without the binary, which is PID 1's): a helper as startHelper's. A held
   * QEMU that is gone already (it could not start) is a helper that has ended: its exit and output
   * say why, as a QEMU of ours that failed would.
   */
  release(name: string, argv: readonly string[]): Helper {
    const fd = this.#argvFd;
    this.#argvFd = undefined;
    if (fd !== undefined) {
      try {
        const data = encodeHeldArgv(argv);
        // a pipe takes 64 KiB before it blocks; QEMU's argv is ~1.5 KB
        if (writeSync(fd, data) !== data.length) throw new Error('short write');
      } catch {
        // gone (EPIPE), or it did not take it all: it must not run on a part
        killQuietly(this.pid);
      } finally {
        closeQuietly(fd);
      }
    }
    return heldHelper(name, this.pid, this.#out, this.#status);
  }
}

/** how long QEMU's output may trail PID 1's word of its end */
const OUTPUT_DRAIN_MS = 500;

function heldHelper(name: string, pid: number, out: Socket, status: Socket): Helper {
  const { keep, output } = outputTail();
  out.on('data', keep);
  out.on('error', () => undefined);
  status.on('error', () => undefined);
  const outClosed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  const child: HelperProcess & { exitCode: number | null; signalCode: NodeJS.Signals | null } = {
    pid,
    exitCode: null,
    signalCode: null,
    kill(signal: NodeJS.Signals | number = 'SIGTERM') {
      // once PID 1 has said it ended, its pid may be another's
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        process.kill(pid, signal);
        return true;
      } catch {
        return false;
      }
    },
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let said = '';
    status.on('data', (chunk: Buffer) => void (said += chunk.toString('utf8')));
    status.once('close', () => {
      const end = parseHeldEnd(said);
      child.exitCode = end.code;
      child.signalCode = end.signal;
      // its last words (a refusal of its arguments) come before its end's
      void Promise.race([outClosed, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]).then(() => resolve(end));
    });
  });
  return { name, child, exited, output };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}
