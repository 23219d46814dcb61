/**
 * What container-init and its PID 1 (`testin-agent --init`, initfs/pid1.c) say to each other: PID 1
 * says it started container-init, and when it started itself (variables taken out of the
 * environment); container-init's last word to it is the exit code,
 * said on a pipe once the output and the run's result are out. PID 1 then kills node and exits
 * with that code at once: node's own exit joins its thread pool's threads, one of which never
 * returned once and held a CI run for ever. Without the pipe nothing is said, and node exits
 * by itself.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';

/** the pipe's fd as PID 1 gives it (initfs/pid1.c LAST_WORD_ENV) */
export const LAST_WORD_ENV = 'TESTIN_LAST_WORD_FD';
/** "1" when PID 1 started this process (initfs/pid1.c UNDER_AGENT_ENV), whatever else failed there */
export const UNDER_AGENT_ENV = 'TESTIN_UNDER_AGENT';

/** PID 1's start, wall-clock ms (initfs/pid1.c STARTED_AT_ENV) */
export const PID1_STARTED_AT_ENV = 'TESTIN_PID1_STARTED_AT';

/** When PID 1 started (ms since the epoch), as it said; taken out of `env`. undefined when it did not say. */
export function takePid1StartedAt(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const given = env[PID1_STARTED_AT_ENV];
  delete env[PID1_STARTED_AT_ENV];
  return given && /^\d{1,15}$/.test(given) ? Number(given) : undefined;
}

/**
 * Whether testin's PID 1 (`testin-agent --init`) started this process: only then is it in a VM's
 * container, whose root it may bind and mount over. The variable is taken out of `env` (no child
 * of ours inherits it).
 */
export function takeUnderAgent(env: NodeJS.ProcessEnv = process.env): boolean {
  const given = env[UNDER_AGENT_ENV];
  delete env[UNDER_AGENT_ENV];
  return given === '1';
}

/**
 * Takes the pipe: opened again under a new fd of this process only (node opens every file
 * close-on-exec), the inherited one closed, so that no child (QEMU, virtiofsd...) holds it.
 */
export function takeLastWord(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const given = env[LAST_WORD_ENV];
  delete env[LAST_WORD_ENV];
  if (!given || !/^\d+$/.test(given)) return undefined;
  try {
    return reopenOwn(Number(given), constants.O_WRONLY);
  } catch {
    return undefined;
  }
}

/**
 * An fd PID 1 left to this process, opened again under a new fd of this process only (node opens
 * every file close-on-exec) and the inherited one closed: no child of ours inherits it. Pipes and
 * files only (a socket cannot be opened through /proc). Throws where it cannot.
 */
export function reopenOwn(fd: number, flags: number): number {
  const own = openSync(`/proc/self/fd/${fd}`, flags);
  closeSync(fd);
  return own;
}

/** Says the exit code (its low byte, as the exit status has it); PID 1 ends this process on it. */
export function sayLastWord(fd: number | undefined, code: number): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, Buffer.from([code & 0xff]));
  } catch {
    // PID 1 gone or not listening: the exit goes on as it would have
  }
}
