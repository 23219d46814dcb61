/**
 * A file another process appends to (the guest's console, which QEMU writes), read as it grows:
 * every `everyMs`, what was added since the last read. A file that is not there yet is waited
 * for; one that got shorter (emptied by a new QEMU) is read again from its start.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK = 64 << 10;

/**
 * Calls `onData` with each new piece (a view of a buffer used again: copy what is kept), and
 * whether it is the file's start; `onData` returns true to stop following. Returns the stop.
 */
export function followFile(path: string, everyMs: number, onData: (chunk: Buffer, fromStart: boolean) => boolean | undefined): () => void {
  let offset = 0;
  const buf = Buffer.alloc(CHUNK);
  const read = (): boolean => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return false;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < offset) offset = 0;
      while (offset < size) {
        const fromStart = offset === 0;
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - offset), offset);
        if (n <= 0) break;
        offset += n;
        if (onData(buf.subarray(0, n), fromStart)) return true;
      }
    } catch {
      // a read that failed is tried again at the next tick
    } finally {
      closeSync(fd);
    }
    return false;
  };
  const timer = setInterval(() => read() && clearInterval(timer), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
