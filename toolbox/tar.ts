import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';

/** One entry of a tar made for the engine's putArchive: a folder, bytes, or a file of the client's, streamed. */
export type TarEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'data'; name: string; data: Buffer | string; mode?: number }
  | { kind: 'file'; name: string; path: string; mode?: number };

/** A tar stream of the entries, in order; files are read as the stream is consumed. */
export function tarOf(entries: readonly TarEntry[]): Readable {
  const pack = tarStream.pack();
  void (async () => {
    try {
      for (const entry of entries) {
        if (entry.kind === 'dir') pack.entry({ name: entry.name, type: 'directory', mode: entry.mode ?? 0o755 });
        else if (entry.kind === 'data') pack.entry({ name: entry.name, mode: entry.mode ?? 0o644 }, typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data);
        else {
          const size = statSync(entry.path).size;
          const sink = pack.entry({ name: entry.name, size, mode: entry.mode ?? 0o644 });
          await pipeline(createReadStream(entry.path), sink);
        }
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** The content of the first file in a tar stream whose name ends with `name` (getArchive names it by its base name). */
export async function readFileFromTar(stream: NodeJS.ReadableStream, name: string): Promise<Buffer | undefined> {
  const extract = tarStream.extract();
  let found: Buffer | undefined;
  extract.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => {
      if (!Buffer.isBuffer(c)) return;
      if (found === undefined && header.type === 'file' && (header.name === name || header.name.endsWith(`/${name}`))) chunks.push(c);
    });
    body.on('end', () => {
      if (found === undefined && chunks.length) found = Buffer.concat(chunks);
      else if (found === undefined && header.type === 'file' && (header.name === name || header.name.endsWith(`/${name}`))) found = Buffer.alloc(0);
      next();
    });
    body.resume();
  });
  await pipeline(stream as Readable, extract);
  return found;
}
