/** A newc ("070701") cpio archive, the format the kernel unpacks as an initramfs. */
export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Buffer; mode?: number }
  | { kind: 'char'; name: string; major: number; minor: number; mode?: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;
const DEFAULT_MODE = { dir: 0o755, file: 0o644, char: 0o600 } as const;

export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of [...entries, { kind: 'file' as const, name: 'TRAILER!!!', data: Buffer.alloc(0), mode: 0 }]) {
    const data = entry.kind === 'file' ? entry.data : Buffer.alloc(0);
    const mode = TYPE_BITS[entry.kind] | (entry.mode ?? DEFAULT_MODE[entry.kind]);
    const isTrailer = entry.name === 'TRAILER!!!';
    const fields = [
      isTrailer ? 0 : ino++,
      isTrailer ? 0 : mode,
      0, // uid
      0, // gid
      entry.kind === 'dir' ? 2 : 1,
      0, // mtime: fixed, so the same inputs give the same bytes
      data.length,
      0,
      0,
      entry.kind === 'char' ? entry.major : 0,
      entry.kind === 'char' ? entry.minor : 0,
      Buffer.byteLength(entry.name) + 1,
      0,
    ];
    const header = `070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`;
    parts.push(padded(Buffer.concat([Buffer.from(header, 'ascii'), Buffer.from(`${entry.name}\0`)])));
    if (data.length) parts.push(padded(data));
  }
  return Buffer.concat(parts);
}

function padded(buf: Buffer): Buffer {
  const pad = (4 - (buf.length % 4)) % 4;
  return pad ? Buffer.concat([buf, Buffer.alloc(pad)]) : buf;
}
