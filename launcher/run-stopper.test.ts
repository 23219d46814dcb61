import { describe, expect, it } from 'vitest';
import { RunStopper } from './run-stopper.js';

describe('RunStopper: a stop is never lost, whenever it comes', () => {
  it('before the container starts: aborts the set-up and remembers the first signal', () => {
    const stopper = new RunStopper({ processSignals: false });
    const seen: string[] = [];
    stopper.onStop((sig) => seen.push(sig));
    process.emit('SIGINT');
    expect(stopper.stopped).toBeUndefined();
    stopper.close();

    const withSignals = new RunStopper({ processSignals: true });
    withSignals.onStop((sig) => seen.push(sig));
    process.emit('SIGTERM');
    expect(withSignals.stopped).toBe('SIGTERM');
    expect(withSignals.signal.aborted).toBe(true);
    // held until the container runs
    expect(seen).toEqual([]);
    withSignals.started();
    expect(seen).toEqual(['SIGTERM']);
    withSignals.close();
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('while the container starts, held; after, straight through, counted (a second stop forces)', () => {
    const stopper = new RunStopper({ processSignals: true });
    const seen: [string, number][] = [];
    stopper.onStop((sig, n) => seen.push([sig, n]));
    process.emit('SIGINT');
    stopper.started();
    process.emit('SIGINT');
    expect(seen).toEqual([['SIGINT', 1], ['SIGINT', 2]]);
    stopper.close();
  });

  it('an AbortSignal is a SIGTERM, also one aborted before the run began', () => {
    const controller = new AbortController();
    controller.abort();
    expect(new RunStopper({ signal: controller.signal, processSignals: false }).stopped).toBe('SIGTERM');
    const later = new AbortController();
    const stopper = new RunStopper({ signal: later.signal, processSignals: false });
    later.abort();
    expect(stopper.stopped).toBe('SIGTERM');
    stopper.close();
  });
});
