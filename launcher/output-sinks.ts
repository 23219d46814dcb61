import { PassThrough, type Writable } from 'node:stream';

/** A writable that keeps what is written to it in `chunks` (for output returned as a Buffer). */
export function collectInto(chunks: Buffer[]): Writable {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return sink;
}

/** Resolves once what was written before is out: pipe writes may be queued, and exiting would drop them. */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}
