import { constants as osConstants } from 'node:os';
import { exitCodeForSignal } from '../contract/exit-codes.js';
import type { AbnormalEnd, VmFacts } from '../contract/run-report.js';

/** One result shape for success and failure, for run() and a session's exec() (execa's is the model). */
export interface RunResult {
  /** the command's exit code (128+N when killed by signal N); 125 when testin itself failed */
  exitCode: number;
  /** the signal that killed the command in the VM, if one did */
  signal?: string | undefined;
  timedOut: boolean;
  /** stopped through the AbortSignal or a forwarded Ctrl-C */
  canceled: boolean;
  durationMs: number;
  /** milliseconds spent in each phase, in order (vm.* are the VM's own steps) */
  phases: Record<string, number>;
  /** the VM it ran in (absent when the run ended before its container was made) */
  vm?: VmFacts | undefined;
  /** the image, by name and ID */
  image?: { name: string; id: string } | undefined;
  /** the VM ended without the command ending (a panic, a boot past its deadline): why, and the console's last lines */
  abnormal?: AbnormalEnd | undefined;
  /** --boot: the last lines of the booted system's console (its units starting and stopping), colours taken out */
  console?: string[] | undefined;
  /** the command's output, when no writable was given for it */
  stdout?: Buffer | undefined;
  stderr?: Buffer | undefined;
}

export function signalName(exitCode: number): string | undefined {
  if (exitCode <= 128 || exitCode >= 128 + 65) return undefined;
  const n = exitCode - 128;
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
}

/** a run stopped before its command could start: 128 + the signal, as a shell reports it */
export function resultOfSignal(sig: NodeJS.Signals, started: number, phases: Record<string, number>): RunResult {
  const code = exitCodeForSignal(osConstants.signals[sig]);
  return { exitCode: code, signal: sig, timedOut: false, canceled: true, durationMs: Date.now() - started, phases };
}
