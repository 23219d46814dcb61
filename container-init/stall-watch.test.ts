import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, STALL_RULE, stoodStill, watchConsole } from './stall-watch.js';

describe('cpuMs', () => {
  it("adds user and system time (fields 14 and 15), counting from after the name's parenthesis, which may hold spaces and parentheses", () => {
    const stat = '4242 (qemu (x) sys) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 5 0 100 0 0';
    expect(cpuMs(4242, () => stat)).toBe((1234 + 56) * 10);
  });

  it('is undefined once the process is gone', () => {
    expect(
      cpuMs(1, () => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  it('reads a real process: this one has used some CPU', () => {
    expect(cpuMs(process.pid)).toBeGreaterThanOrEqual(0);
  });
});

describe('stoodStill', () => {
  const at = (...points: [number, number][]) => points.map(([t, c]) => ({ at: t, cpuMs: c }));
  it.each<[string, { at: number; cpuMs: number }[], number | undefined]>([
    ['no samples', [], undefined],
    ['samples spanning less than the window', at([0, 100], [5000, 100]), undefined],
    ['no CPU over the window', at([0, 100], [5000, 100], [10_000, 120]), 10_000],
    ['a booting guest computes', at([0, 100], [5000, 2000], [10_000, 4000]), undefined],
    ['it stopped computing: the stand-still counts from the window before the last sample', at([0, 100], [5000, 2000], [10_000, 2010], [15_000, 2020]), 10_000],
    ['a slow machine: a little CPU, but more than the minimum', at([0, 0], [5000, 40], [10_000, 80]), undefined],
  ])('%s', (_what, samples, expected) => {
    expect(stoodStill(samples, STALL_RULE)).toBe(expected);
  });
});

describe('watchConsole', () => {
  const find = (text: string): string | undefined => /^.*LOST.*$/m.exec(text)?.[0];
  const within = async (ms: number, done: () => boolean): Promise<void> => {
    for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
  };

  it('calls back once with the first line found in what the file gained, a line split across reads too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-console-'));
    try {
      const file = join(dir, 'console.log');
      writeFileSync(file, 'boot\n');
      const seen: string[] = [];
      const stop = watchConsole(file, find, (line) => seen.push(line), 5);
      appendFileSync(file, 'a line that is LO');
      await new Promise((r) => setTimeout(r, 30));
      expect(seen).toEqual([]);
      appendFileSync(file, 'ST here\nLOST again\n');
      await within(1000, () => seen.length > 0);
      await new Promise((r) => setTimeout(r, 30));
      stop();
      expect(seen).toEqual(['a line that is LOST here']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a file emptied and written afresh from its start, and waits for a file not there yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-console-'));
    try {
      const file = join(dir, 'console.log');
      const seen: string[] = [];
      const stop = watchConsole(file, find, (line) => seen.push(line), 5);
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(file, `${'x'.repeat(100)}\n`);
      await new Promise((r) => setTimeout(r, 30));
      writeFileSync(file, 'LOST\n');
      await within(1000, () => seen.length > 0);
      stop();
      expect(seen).toEqual(['LOST']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
