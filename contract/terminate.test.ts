import { describe, expect, it } from 'vitest';
import { terminate } from './terminate.js';

describe('terminate: TERM, then KILL after the grace time', () => {
  it('sends only TERM to what ends by itself', async () => {
    const sent: string[] = [];
    let end!: () => void;
    const exited = new Promise<void>((r) => (end = r));
    const target = {
      kill: (s: string): void => {
        sent.push(s);
        setTimeout(end, 5);
      },
    };
    await terminate(target, exited, { graceMs: 200 });
    expect(sent).toEqual(['SIGTERM']);
  });

  it('sends KILL to what does not end within the grace time, and waits for its end', async () => {
    const sent: string[] = [];
    let end!: () => void;
    const exited = new Promise<void>((r) => (end = r));
    const target = {
      kill: (s: string): void => {
        sent.push(s);
        if (s === 'SIGKILL') end();
      },
    };
    const t0 = Date.now();
    await terminate(target, exited, { graceMs: 50 });
    expect(sent).toEqual(['SIGTERM', 'SIGKILL']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it('sends the signal asked for first (SIGINT from a Ctrl-C)', async () => {
    const sent: string[] = [];
    await terminate({ kill: (s) => sent.push(s) }, Promise.resolve(), { signal: 'SIGINT' });
    expect(sent).toEqual(['SIGINT']);
  });
});
