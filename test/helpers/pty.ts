import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export type PtyStep = { expect: string; timeout?: number } | { send: string } | { resize: [number, number] } | { wait: number };

/** Runs a command on a real pty (test/fixtures/pty-driver.py), typing and reading as a person would. */
export async function onPty(rows: number, cols: number, steps: PtyStep[], command: string[]): Promise<{ exit: number; output: string; failed: PtyStep | null }> {
  const driver = join(ROOT, 'test/fixtures/pty-driver.py');
  const r = await execa('python3', [driver, String(rows), String(cols), JSON.stringify(steps), '--', ...command]);
  return JSON.parse(r.stdout) as { exit: number; output: string; failed: PtyStep | null };
}
