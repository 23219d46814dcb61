import { Writable } from 'node:stream';

/** A writable that calls `onLine` for each complete line written to it (and the last one at its end). */
export function lineSink(onLine: (line: string) => void): Writable & { flushLine(): void } {
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
      done();
    },
    final(done) {
      flush();
      done();
    },
  });
  const flush = (): void => {
    if (pending) onLine(pending);
    pending = '';
  };
  return Object.assign(sink, { flushLine: flush });
}
