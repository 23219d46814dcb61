import { describe, expect, it } from 'vitest';
import { isStaticLddOutput, parseLddOutput, parseLoader } from './ldd-closure.js';

const LDD = `	linux-vdso.so.1 (0x00007ffd5c1f2000)
	libseccomp.so.2 => /lib/x86_64-linux-gnu/libseccomp.so.2 (0x00007f5ee2508000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5ee20f1000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f5ee2603000)
`;

describe('ldd output', () => {
  it('lists libraries by the name the binary asks for, without vdso or loader', () => {
    expect(parseLddOutput(LDD, 'virtiofsd')).toEqual([
      { name: 'libseccomp.so.2', path: '/lib/x86_64-linux-gnu/libseccomp.so.2' },
      { name: 'libc.so.6', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    ]);
    expect(parseLoader(LDD)).toBe('/lib64/ld-linux-x86-64.so.2');
  });

  it('fails on a library that is not found', () => {
    expect(() => parseLddOutput('\tlibfoo.so.1 => not found\n', 'qemu')).toThrow('qemu needs libfoo.so.1, which is not installed');
  });

  it('recognises a static binary', () => {
    expect(isStaticLddOutput('\tnot a dynamic executable\n')).toBe(true);
    expect(isStaticLddOutput(LDD)).toBe(false);
  });
});
