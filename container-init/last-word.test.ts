import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sayLastWord, takeLastWord } from './last-word.js';

describe("container-init's last word to its PID 1", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** a pipe as PID 1 gives it: its read end, and the write end's fd as the variable names it */
  function pipe(): { reader: number; writer: number } {
    const dir = mkdtempSync(join(tmpdir(), 'testin-lastword-'));
    dirs.push(dir);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    return { reader, writer: openSync(fifo, constants.O_WRONLY) };
  }

  it('takes the pipe under a new fd, closes the given one and the variable, and says the code on it', () => {
    const { reader, writer } = pipe();
    const env: NodeJS.ProcessEnv = { TESTIN_LAST_WORD_FD: String(writer) };
    const own = takeLastWord(env);
    expect(own).toBeDefined();
    expect(own).not.toBe(writer);
    expect(env.TESTIN_LAST_WORD_FD).toBeUndefined();
    expect(() => fstatSync(writer)).toThrow(/EBADF/);
    sayLastWord(own, 263);
    const got = Buffer.alloc(4);
    expect(readSync(reader, got, 0, 4, null)).toBe(1);
    expect(got[0]).toBe(263 & 0xff);
    closeSync(own as number);
    closeSync(reader);
  });

  it('says nothing without the variable, or with one that names no open file', () => {
    expect(takeLastWord({})).toBeUndefined();
    expect(takeLastWord({ TESTIN_LAST_WORD_FD: '987' })).toBeUndefined();
    expect(takeLastWord({ TESTIN_LAST_WORD_FD: '../x' })).toBeUndefined();
    expect(() => sayLastWord(undefined, 3)).not.toThrow();
  });
});
