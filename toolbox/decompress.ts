import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';

/**
 * The commands that decompress xz and zstd to stdout: Debian's tools in the
 * builder, the toolbox's static busybox in a helper container (which has only
 * the toolbox). gzip needs no tool (node's zlib).
 */
export interface Decompressors {
  xz: readonly string[];
  zstd: readonly string[];
}

export const DEBIAN_TOOLS: Decompressors = { xz: ['xz', '-dc', '--single-stream'], zstd: ['zstd', '-dc'] };

export function busyboxTools(busybox: string): Decompressors {
  return { xz: [busybox, 'xz', '-dc'], zstd: [busybox, 'zstd', '-dc'] };
}

/**
 * Decompresses a buffer. Data after the compressed stream (a kernel image's
 * trailer) makes a tool complain at its end: what it wrote is kept.
 */
export function decompress(format: 'xz' | 'zstd' | 'gzip', input: Buffer, tools: Decompressors): Buffer {
  if (format === 'gzip') return gunzipSync(input);
  const [file, ...args] = tools[format] as [string, ...string[]];
  try {
    return execFileSync(file, args, { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] });
  } catch (error) {
    const stdout = (error as { stdout?: Buffer }).stdout;
    if (stdout && stdout.length > 0) return stdout;
    throw error;
  }
}
