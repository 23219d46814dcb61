import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followFile } from './follow-file.js';

describe('followFile', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const until = async (done: () => boolean): Promise<void> => {
    for (const end = Date.now() + 2000; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
  };

  it('passes on every byte the file gains, larger than one read too, each once, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-follow-'));
    dirs.push(dir);
    const file = join(dir, 'console.log');
    const got: Buffer[] = [];
    const starts: boolean[] = [];
    const stop = followFile(file, 5, (chunk, fromStart) => {
      got.push(Buffer.from(chunk));
      starts.push(fromStart);
      return false;
    });
    const first = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    writeFileSync(file, first);
    await until(() => Buffer.concat(got).length >= first.length);
    appendFileSync(file, 'more\n');
    await until(() => Buffer.concat(got).length >= first.length + 5);
    stop();
    expect(Buffer.concat(got).equals(Buffer.concat([first, Buffer.from('more\n')]))).toBe(true);
    expect(starts[0]).toBe(true);
    expect(starts.slice(1).every((s) => !s)).toBe(true);
  });

  it('reads a file that got shorter from its start again, and stops when told by its callback', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-follow-'));
    dirs.push(dir);
    const file = join(dir, 'console.log');
    writeFileSync(file, 'the first QEMU said a lot\n');
    const got: [string, boolean][] = [];
    followFile(file, 5, (chunk, fromStart) => {
      got.push([chunk.toString(), fromStart]);
      return chunk.includes('stop');
    });
    await until(() => got.length === 1);
    writeFileSync(file, 'new\n');
    await until(() => got.length === 2);
    appendFileSync(file, 'stop\n');
    await until(() => got.length === 3);
    appendFileSync(file, 'never read\n');
    await new Promise((r) => setTimeout(r, 40));
    expect(got).toEqual([
      ['the first QEMU said a lot\n', true],
      ['new\n', true],
      ['stop\n', false],
    ]);
  });
});
