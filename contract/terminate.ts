import { FORCE_KILL_AFTER_MS } from './exit-codes.js';

/** anything that takes a signal: a child process, a container, a command in a session */
export interface Killable {
  kill(signal: NodeJS.Signals): unknown;
}

/**
 * The one way testin stops something (execa's lib/terminate is the model):
 * `signal` (SIGTERM), then SIGKILL when it has not ended after `graceMs`.
 * Resolves once `exited` has. Calling it again while it runs is harmless.
 */
export async function terminate(target: Killable, exited: Promise<unknown>, options: { graceMs?: number; signal?: NodeJS.Signals } = {}): Promise<void> {
  const graceMs = options.graceMs ?? FORCE_KILL_AFTER_MS;
  let done = false;
  const ended = exited.then(
    () => (done = true),
    () => (done = true),
  );
  await target.kill(options.signal ?? 'SIGTERM');
  const timer = setTimeout(() => {
    if (!done) void target.kill('SIGKILL');
  }, graceMs);
  timer.unref?.();
  await ended;
  clearTimeout(timer);
}
