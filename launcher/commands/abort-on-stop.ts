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
