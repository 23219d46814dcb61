import { constants as osConstants } from 'node:os';
import { exitCodeForSignal } from '../../contract/exit-codes.js';

/** the signals that stop what a verb waits for (up, exec, toolbox build): Ctrl-C, SIGTERM, and SIGHUP (the terminal closed) */
const STOPS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A stop signal aborts what a verb waits for; `by()` names the signal once one came, `onStop` hears each one. */
export function abortOnStop(onStop: (sig: NodeJS.Signals, count: number) => void = () => undefined): { signal: AbortSignal; by(): NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  let by: NodeJS.Signals | undefined;
  let count = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    by ??= sig;
    onStop(sig, ++count);
    controller.abort();
  };
  for (const sig of STOPS) process.on(sig, onSignal);
  return {
    signal: controller.signal,
    by: () => by,
    dispose: () => {
      for (const sig of STOPS) process.off(sig, onSignal);
    },
  };
}

/** Runs `work` with the stop signals: a stop ends it as 128+N (`code`); anything else is its `value`, or thrown. */
export async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>): Promise<{ value: T } | { code: number }> {
  const stop = abortOnStop();
  try {
    return { value: await work(stop.signal) };
  } catch (error) {
    const by = stop.by();
    if (by) return { code: exitCodeForSignal(osConstants.signals[by]) };
    throw error;
  } finally {
    stop.dispose();
  }
}
