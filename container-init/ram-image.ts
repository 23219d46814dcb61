/**
 * A snapshot's guest RAM. The guest's memory is a file on a tmpfs of the
 * container (shared with virtiofsd, which maps it too), so QEMU's migration
 * leaves it out (x-ignore-shared) and a snapshot keeps it as an image of its own:
 * the runs of non-zero pages, packed one after another, and where each goes.
 * A restore writes them back into a new RAM file while QEMU starts beside it,
 * and QEMU maps that file as the guest's memory: no page of it is copied by QEMU,
 * and no page the guest never touched is read at all.
 */
import { execFile } from 'node:child_process';
import { open, stat, type FileHandle } from 'node:fs/promises';

const PAGE = 4096;
const CHUNK = 4 << 20;
/** zero runs shorter than this stay inside their neighbours' run: fewer, longer writes */
const GAP = 64 << 10;
const ZEROS = Buffer.alloc(CHUNK);

/** where each packed run goes in the RAM file: [offset, length] in bytes, in order */
export type RamExtents = [number, number][];

/**
 * Pure: adds the non-zero pages of `chunk` (at `base` in the RAM) to `extents`, a
 * run being extended over a zero gap shorter than GAP. Returns the spans of `chunk`
 * (relative to it) to append to the packed image, zero gaps within runs included.
 */
export function addNonZeroRuns(chunk: Buffer, base: number, extents: RamExtents): [number, number][] {
  const spans: [number, number][] = [];
  if (chunk.compare(ZEROS, 0, chunk.length, 0, chunk.length) === 0) return spans;
  for (let at = 0; at < chunk.length; at += PAGE) {
    const end = Math.min(at + PAGE, chunk.length);
    if (chunk.compare(ZEROS, 0, end - at, at, end) === 0) continue;
    const last = extents.at(-1);
    const lastEnd = last ? last[0] + last[1] : -Infinity;
    const offset = base + at;
    if (last && offset - lastEnd < GAP) {
      // the gap (within this chunk or reaching back into the previous one) and this page
      const from = Math.max(lastEnd - base, 0);
      if (lastEnd < base) spans.push([-1, base - lastEnd]);
      spans.push([from, end]);
      last[1] = base + end - last[0];
    } else {
      extents.push([offset, end - at]);
      spans.push([at, end]);
    }
  }
  return mergeSpans(spans);
}

/** adjacent spans as one ([-1, n] is n zero bytes from before the chunk) */
function mergeSpans(spans: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const s of spans) {
    const last = out.at(-1);
    if (last && last[0] >= 0 && s[0] === last[1]) last[1] = s[1];
    else out.push([...s]);
  }
  return out;
}

/** node's "ENOSPC: no space left on device, write" as the system says it: "No space left on device" */
export function systemWords(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const said = /^E[A-Z]+: (.+?)(?:, \w+(?: '.*')?)?$/.exec(message)?.[1];
  return said ? `${said[0]?.toUpperCase()}${said.slice(1)}` : message;
}

/** Writes the RAM file's non-zero runs, packed, to `image`; returns where they go. The guest must stand still meanwhile. */
export async function saveRamImage(ramFile: string, image: string): Promise<{ extents: RamExtents; bytes: number }> {
  try {
    return await writeRamImage(ramFile, image);
  } catch (error) {
    throw new Error(`writing the guest's RAM: ${systemWords(error)}`);
  }
}

async function writeRamImage(ramFile: string, image: string): Promise<{ extents: RamExtents; bytes: number }> {
  const extents: RamExtents = [];
  const input = await open(ramFile, 'r');
  const output = await open(image, 'w', 0o600);
  let bytes = 0;
  try {
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (let base = 0; ; base += CHUNK) {
      const { bytesRead } = await input.read(chunk, 0, CHUNK, base);
      if (bytesRead === 0) break;
      for (const [from, to] of addNonZeroRuns(chunk.subarray(0, bytesRead), base, extents)) {
        const data = from < 0 ? ZEROS.subarray(0, to) : chunk.subarray(from, to);
        await writeAll(output, data);
        bytes += data.length;
      }
      if (bytesRead < CHUNK) break;
    }
  } finally {
    await Promise.allSettled([input.close(), output.close()]);
  }
  return { extents, bytes };
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await file.write(data, done, data.length - done, null);
    done += bytesWritten;
  }
}

/**
 * Pure: why the image's runs cannot go into a RAM of `sizeBytes` (a damaged snapshot): a run
 * reaching past the memory, or an image (of `imageBytes`) shorter than its runs; undefined when they can.
 */
export function ramImageFault(extents: RamExtents, imageBytes: number, sizeBytes: number): string | undefined {
  let packed = 0;
  for (const [offset, length] of extents) {
    if (offset + length > sizeBytes) return `the RAM image reaches past the guest's memory (${offset + length} > ${sizeBytes})`;
    packed += length;
  }
  return packed > imageBytes ? 'the RAM image is shorter than its description' : undefined;
}

/**
 * Writes the image's runs, each at its place, into `ramFile`: the guest's RAM, made empty and
 * of its size (sizeBytes) before the VMM maps it. The toolbox's agent does the writing
 * (`--ram-load`, initfs/ram-load.c: sendfile(2), no copy through a process: ~21 ms for 82 MB
 * here, against 46-64 through node's buffers). Rejects when the runs do not fit (ramImageFault),
 * or with the agent's words.
 */
export async function loadRamImage(image: string, extents: RamExtents, ramFile: string, sizeBytes: number, agent: string): Promise<void> {
  const fault = ramImageFault(extents, (await stat(image)).size, sizeBytes);
  if (fault) throw new Error(fault);
  await new Promise<void>((resolve, reject) => {
    execFile(agent, ['--ram-load', image, ramFile, ...extents.flat().map(String)], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(stderr.trim().split('\n').at(-1) || error.message));
    });
  });
}
