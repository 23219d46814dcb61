import { closeSync, openSync, readSync, statSync } from 'node:fs';

const CONSOLE_TAIL_LINES = 40;
/** A panic's tail runs from a little before its first line to the end, up to this many lines. */
const PANIC_TAIL_LINES = 120;
const PANIC_CONTEXT_LINES = 3;
const TAIL_BYTES = 64 * 1024;

/** The last lines of the guest console log (kernel messages), for abnormal ends. */
export function readConsoleTail(path: string, lines = CONSOLE_TAIL_LINES): string[] {
  let text = '';
  try {
    const size = statSync(path).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    text = buf.toString('utf8');
  } catch {
    return [];
  }
  return lastLines(text, lines);
}

/** a booted system's console (systemd's unit lines): this many of its last lines go into the run's report */
export const BOOT_CONSOLE_LINES = 200;

export function lastLines(text: string, lines: number): string[] {
  return text
    .replace(/\r/g, '')
    // terminal colours and resets (systemd's status lines): noise in a report or an error
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape is what is matched
    .replace(/\x1b(\[[0-9;?!]*[A-Za-z]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[78=>c])/g, '')
    .split('\n')
    .filter((l) => l !== '')
    .slice(-lines);
}

/**
 * The lines to show for an abnormal end: the last ones, or, when the kernel panicked, from just
 * before the panic to the end (its stack trace can be longer than the usual tail), so that the
 * line saying why is always among them.
 */
export function abnormalTail(lines: readonly string[]): string[] {
  const panic = lines.findIndex((l) => l.includes('Kernel panic'));
  if (panic < 0) return lines.slice(-CONSOLE_TAIL_LINES);
  const from = Math.max(0, panic - PANIC_CONTEXT_LINES);
  return lines.slice(from, from + PANIC_TAIL_LINES);
}

/** A one-line reason for an abnormal end, read off the console. */
/**
 * The guest kernel's word that a CPU's timer stopped firing while it booted: RCU's grace-period
 * kthread waits on a timer of an idle vCPU that never comes (seen under TCG with 5 cold boots at
 * once on 2 cores, about 1 in 300; the boot then stands still until its deadline). The line, or undefined.
 */
export function lostTimerLine(text: string): string | undefined {
  const line = /^.*rcu_\w+ kthread timer wakeup didn't happen.*$/m.exec(text)?.[0];
  return line?.replace(/^\[[^\]]*\]\s*(rcu:\s*)?/, '');
}

export function diagnoseConsole(tail: readonly string[]): string | undefined {
  const panic = tail.find((l) => l.includes('Kernel panic'));
  if (panic) return `the guest kernel panicked: ${panic.replace(/^\[[^\]]*\]\s*/, '')}`;
  const fatal = tail.find((l) => l.includes('testin-init: fatal:'));
  if (fatal) return `the VM init failed: ${fatal.slice(fatal.indexOf('testin-init: fatal:') + 'testin-init: fatal: '.length)}`;
  return undefined;
}
