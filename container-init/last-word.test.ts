import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAST_WORD_ENV, PID1_STARTED_AT_ENV, UNDER_AGENT_ENV, sayLastWord, takeLastWord, takePid1StartedAt, takeUnderAgent } from './last-word.js';

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

describe('container-init started by testin-agent --init, or by nothing of testin', () => {
  it('is under the agent only when the variable says 1, and takes it out of the environment', () => {
    for (const [value, under] of [['1', true], [undefined, false], ['', false], ['0', false], ['yes', false]] as const) {
      const env: NodeJS.ProcessEnv = value === undefined ? {} : { [UNDER_AGENT_ENV]: value };
      expect(takeUnderAgent(env)).toBe(under);
      expect(env).not.toHaveProperty(UNDER_AGENT_ENV);
    }
  });

  it("initfs/pid1.c names the same variables, and sets the agent's for every child it starts", () => {
    const source = readFileSync(join(import.meta.dirname, '..', 'initfs', 'pid1.c'), 'utf8');
    const define = (name: string): string | undefined => new RegExp(`#define ${name} (.+?)(?:\\s*/\\*.*)?$`, 'm').exec(source)?.[1]?.trim();
    expect(define('UNDER_AGENT_ENV')).toBe(JSON.stringify(UNDER_AGENT_ENV));
    expect(define('LAST_WORD_ENV')).toBe(JSON.stringify(LAST_WORD_ENV));
    expect(define('STARTED_AT_ENV')).toBe(JSON.stringify(PID1_STARTED_AT_ENV));
    // set unconditionally, right before container-init's exec
    expect(source).toMatch(/setenv\(STARTED_AT_ENV, started_at, 1\);\n\s*setenv\(UNDER_AGENT_ENV, "1", 1\);\n\s*execv\(argv\[0\], argv\);/);
  });

  it("takes PID 1's start time when it is a whole number of ms, out of the environment", () => {
    for (const [value, at] of [['1796598979909', 1796598979909], [undefined, undefined], ['', undefined], ['12x', undefined], ['-5', undefined], ['1e12', undefined]] as const) {
      const env: NodeJS.ProcessEnv = value === undefined ? {} : { [PID1_STARTED_AT_ENV]: value };
      expect(takePid1StartedAt(env)).toBe(at);
      expect(env).not.toHaveProperty(PID1_STARTED_AT_ENV);
    }
  });
});
