/**
 * container-init's last word to its PID 1 (`testin-agent --init`, initfs/pid1.c): the exit code,
 * said on a pipe just before node's own exit. Node's exit joins its thread pool's threads, and
 * one that never returns holds it for ever (a CI run once hung so, after the run's result was
 * out); PID 1 waits 5 s after the word, then says what each thread waits on, kills node and
 * exits with the code said. Without the pipe (an older toolbox's init) nothing is said.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';

/** the pipe's fd as PID 1 gives it (initfs/pid1.c LAST_WORD_ENV) */
const LAST_WORD_ENV = 'TESTIN_LAST_WORD_FD';

/**
 * Takes the pipe: opened again under a new fd of this process only (node opens every file
 * close-on-exec), the inherited one closed, so that no child (QEMU, virtiofsd...) holds it.
 */
export function takeLastWord(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const given = env[LAST_WORD_ENV];
  delete env[LAST_WORD_ENV];
  if (!given || !/^\d+$/.test(given)) return undefined;
  try {
    const own = openSync(`/proc/self/fd/${given}`, constants.O_WRONLY);
    closeSync(Number(given));
    return own;
  } catch {
    return undefined;
  }
}

/** Says the exit code (its low byte, as the exit status has it); from here PID 1 waits 5 s for the exit. */
export function sayLastWord(fd: number | undefined, code: number): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, Buffer.from([code & 0xff]));
  } catch {
    // PID 1 gone or not listening: the exit goes on as it would have
  }
}
