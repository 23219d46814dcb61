import { inflateRawSync } from 'node:zlib';
import { DEBIAN_TOOLS, decompress, type Decompressors } from './decompress.js';

/**
 * A bzImage carries the kernel compressed; booting the ELF inside through
 * QEMU's PVH entry skips firmware work and decompression on every boot (about
 * 2 s per boot under TCG). Returns the ELF vmlinux, or undefined when the
 * payload is in a format we cannot open (then the bzImage boots as it is).
 */
const FORMATS = [
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) },
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]) },
] as const;

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export interface PayloadLocation {
  format: (typeof FORMATS)[number]['name'];
  offset: number;
}

/** Finds the compressed payload: the earliest magic of a known format. */
export function findPayload(bzImage: Buffer): PayloadLocation | undefined {
  let best: PayloadLocation | undefined;
  for (const { name, magic } of FORMATS) {
    const offset = bzImage.indexOf(magic);
    if (offset >= 0 && (best === undefined || offset < best.offset)) best = { format: name, offset };
  }
  return best;
}

export function extractVmlinux(bzImage: Buffer, tools: Decompressors = DEBIAN_TOOLS): Buffer | undefined {
  const found = findPayload(bzImage);
  if (!found) return undefined;
  const payload = bzImage.subarray(found.offset);
  let elf: Buffer;
  try {
    if (found.format === 'gzip') elf = inflateRawSync(payload.subarray(gzipHeaderLength(payload)));
    else elf = decompress(found.format, payload, tools);
  } catch {
    return undefined;
  }
  return elf.subarray(0, 4).equals(ELF_MAGIC) ? elf : undefined;
}

/** gzip's header (RFC 1952) before the deflate stream; inflating raw stops at the stream's end, ignoring what follows. */
function gzipHeaderLength(gz: Buffer): number {
  const flags = gz[3] ?? 0;
  let off = 10;
  if (flags & 0x04) off += 2 + gz.readUInt16LE(off); // FEXTRA
  if (flags & 0x08) off = gz.indexOf(0, off) + 1; // FNAME
  if (flags & 0x10) off = gz.indexOf(0, off) + 1; // FCOMMENT
  if (flags & 0x02) off += 2; // FHCRC
  return off;
}
