import { closeSync, openSync, readSync, statSync } from 'node:fs';

export const CONSOLE_TAIL_LINES = 40;
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

export function lastLines(text: string, lines: number): string[] {
  return text
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l !== '')
    .slice(-lines);
}

/** A one-line reason for an abnormal end, read off the console. */
export function diagnoseConsole(tail: readonly string[]): string | undefined {
  const panic = tail.find((l) => l.includes('Kernel panic'));
  if (panic) return `the guest kernel panicked: ${panic.replace(/^\[[^\]]*\]\s*/, '')}`;
  const fatal = tail.find((l) => l.includes('testin-init: fatal:'));
  if (fatal) return `the VM init failed: ${fatal.slice(fatal.indexOf('testin-init: fatal:') + 'testin-init: fatal: '.length)}`;
  return undefined;
}
