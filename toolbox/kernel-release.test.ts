import { describe, expect, it } from 'vitest';
import { readKernelRelease } from './kernel-release.js';

describe('readKernelRelease', () => {
  it('reads the setup header of a bzImage', () => {
    const image = Buffer.alloc(0x400);
    image.write('HdrS', 0x202, 'latin1');
    image.writeUInt16LE(0x100, 0x20e);
    image.write('6.9.1-custom (me@host) #3 SMP\0', 0x300, 'latin1');
    expect(readKernelRelease(image)).toBe('6.9.1-custom');
  });

  it('reads the banner of an ELF vmlinux', () => {
    const image = Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from('Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) ')]);
    expect(readKernelRelease(image)).toBe('6.1.0-56-amd64');
  });

  it('gives undefined for anything else', () => {
    expect(readKernelRelease(Buffer.from('not a kernel'))).toBeUndefined();
  });
});
