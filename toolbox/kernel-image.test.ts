import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ELF_MAGIC, extractVmlinux, findPayload } from './kernel-image.js';

describe('kernel payload', () => {
  it('finds the earliest known compression magic', () => {
    const image = Buffer.concat([Buffer.alloc(100, 1), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(10), Buffer.from([0x1f, 0x8b, 0x08])]);
    expect(findPayload(image)).toEqual({ format: 'xz', offset: 100 });
  });

  it('takes an ELF out of a gzip payload followed by trailing data', () => {
    const elf = Buffer.concat([ELF_MAGIC, Buffer.from('rest of the kernel')]);
    const image = Buffer.concat([Buffer.from('setup code'), gzipSync(elf), Buffer.from('trailer')]);
    expect(extractVmlinux(image)).toEqual(elf);
  });

  it('gives undefined when the payload is not an ELF', () => {
    expect(extractVmlinux(Buffer.concat([Buffer.from('x'), gzipSync(Buffer.from('not elf'))]))).toBeUndefined();
    expect(extractVmlinux(Buffer.from('no payload here'))).toBeUndefined();
  });
});
