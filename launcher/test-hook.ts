/**
 * For the tests that stop a run at each moment of its life: with
 * TESTIN_TEST_HOOK=<moment>, the run says `testin-hook <moment>` on stderr
 * when it gets there and waits (at most 10 s) for a stop before it goes on.
 * Moments: create (before the container exists), start (created, not
 * started), started, teardown (the command ended, the container is not yet
 * removed); container-init has `init` (it runs, its signal handlers are not
 * set yet), `boot` (the guest is up, the command not yet), `lost-timer`
 * (vm-run.ts) and `exit-hang` (node's own exit hangs once the code is said: main.ts).
 */
import type { Writable } from 'node:stream';

export const TEST_HOOK_ENV = 'TESTIN_TEST_HOOK';
const HOLD_MS = 10_000;

export async function testHook(moment: string, stopped: () => boolean, stderr: Writable, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (env[TEST_HOOK_ENV] !== moment) return;
  stderr.write(`testin-hook ${moment}\n`);
  const until = Date.now() + HOLD_MS;
  while (!stopped() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}
