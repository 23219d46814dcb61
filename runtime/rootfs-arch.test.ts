import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveInRoot, rootfsArch } from './rootfs-arch.js';

/** an ELF header of this machine (little-endian, 64-bit): what the reader looks at */
function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b.writeUInt16LE(machine, 18);
  return b;
}

describe('rootfsArch', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });
  function rootfs(files: Record<string, Buffer | string | { link: string }>): string {
    const root = mkdtempSync(join(tmpdir(), 'testin-rootfs-'));
    roots.push(root);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      if (typeof content === 'object' && 'link' in content) symlinkSync(content.link, join(root, path));
      else writeFileSync(join(root, path), content);
    }
    return root;
  }

  it("reads the command's machine, found on the spec's PATH through relative and absolute links kept inside the rootfs", () => {
    const root = rootfs({ 'bin/busybox': elf(183), 'bin/sh': { link: 'busybox' }, 'usr/bin/app': { link: '/bin/busybox' }, 'opt/x86': elf(62) });
    expect(rootfsArch(root, ['sh', '-c', 'x'], ['PATH=/usr/bin:/bin'])).toBe('arm64');
    expect(rootfsArch(root, ['app'], ['PATH=/usr/bin'])).toBe('arm64');
    expect(rootfsArch(root, ['/opt/x86'], [])).toBe('amd64');
    expect(resolveInRoot(root, '/usr/bin/app')).toBe(join(root, 'bin/busybox'));
  });

  it("takes a script's interpreter for the script, and the rootfs's shell when the command is not there", () => {
    const root = rootfs({ 'bin/dash': elf(62), 'bin/sh': { link: 'dash' }, 'entry.sh': '#!/bin/sh -e\necho hi\n' });
    expect(rootfsArch(root, ['/entry.sh'], [])).toBe('amd64');
    expect(rootfsArch(root, ['not-installed'], ['PATH=/bin'])).toBe('amd64');
  });

  it("says 'other' for a machine testin does not run, and nothing when no file tells", () => {
    expect(rootfsArch(rootfs({ 'bin/sh': elf(8) }), ['sh'], [])).toBe('other');
    expect(rootfsArch(rootfs({ 'data.txt': 'x' }), ['/data.txt'], [])).toBeUndefined();
  });

  it('does not leave the rootfs through a link that climbs out of it', () => {
    const root = rootfs({ 'bin/sh': { link: '../../../../../../../../usr/bin/node' } });
    expect(resolveInRoot(root, '/bin/sh')).toBeUndefined();
  });
});
