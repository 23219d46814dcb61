import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { FORCE_KILL_AFTER_MS } from '../contract/exit-codes.js';
import { terminate } from '../contract/terminate.js';

/** what is asked of a helper's process: a child of ours, or the QEMU PID 1 started for us (held-vmm.ts) */
export type HelperProcess = Pick<ChildProcess, 'pid' | 'kill' | 'exitCode' | 'signalCode'>;

export interface Helper {
  name: string;
  child: HelperProcess;
  /** with controlFd: our end of the socket pair whose other end is the child's fd 3 */
  control?: Socket | undefined;
  /** resolves when the process has ended, with its code or signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the last few KB it wrote to stdout/stderr, for error messages */
  output(): string;
}

const OUTPUT_KEEP = 8192;

/** The last few KB of what a helper wrote, for error messages: keep() each chunk, output() the tail. */
export function outputTail(): { keep(chunk: Buffer): void; output(): string } {
  let kept = '';
  return {
    keep: (chunk) => void (kept = (kept + chunk.toString('utf8')).slice(-OUTPUT_KEEP)),
    output: () => kept,
  };
}

/** Starts a toolbox binary; its output is kept for diagnostics, never shown to the user unasked. */
export function startHelper(name: string, argv: readonly string[], env: NodeJS.ProcessEnv, options: { controlFd?: boolean; fd3?: Socket | undefined } = {}): Helper {
  const [file, ...args] = argv as [string, ...string[]];
  // controlFd: fd 3 of the child is one end of a socket pair, child.stdio[3] the other; fd3: a socket of ours the child gets as its fd 3
  const third = options.controlFd ? (['pipe'] as const) : options.fd3 ? [options.fd3] : [];
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe', ...third] });
  const { keep, output } = outputTail();
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (error) => {
      keep(Buffer.from(`${error.message}\n`));
      resolve({ code: 127, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { name, child, control: options.controlFd ? (child.stdio[3] as Socket) : undefined, exited, output };
}

/** TERM, then KILL after FORCE_KILL_AFTER_MS; resolves when the process is gone. Safe to call twice. */
export async function stopHelper(helper: Helper, graceMs = FORCE_KILL_AFTER_MS): Promise<void> {
  if (helper.child.exitCode !== null || helper.child.signalCode !== null) return;
  await terminate(helper.child, helper.exited, { graceMs });
}
