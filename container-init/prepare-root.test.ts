import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MountBatch, resolveIn } from './prepare-root.js';

describe('resolveIn', () => {
  const root = mkdtempSync(join(tmpdir(), 'resolve-in-'));
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('/usr/lib', join(root, 'abslib'));
  symlinkSync('../../etc', join(root, 'usr/lib/up'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('follows relative and absolute links inside the root, and keeps parts that do not exist yet', () => {
    expect(resolveIn(root, '/lib/modules/6.1')).toBe(join(root, 'usr/lib/modules/6.1'));
    expect(resolveIn(root, '/abslib/modules')).toBe(join(root, 'usr/lib/modules'));
    expect(resolveIn(root, '/lib/up/x')).toBe(join(root, 'etc/x'));
    expect(resolveIn(root, '/data')).toBe(join(root, 'data'));
  });

  it('never leaves the root through .. or an absolute link', () => {
    expect(resolveIn(root, '/../../../etc')).toBe(join(root, 'etc'));
    symlinkSync('/', join(root, 'slash'));
    expect(resolveIn(root, '/slash/usr')).toBe(join(root, 'usr'));
  });
});

describe('MountBatch', () => {
  it("gives the agent its mounts in order, each operation's words after its name", () => {
    const batch = new MountBatch('/tb').bind('/', '/new root').makePrivate('/new root').mkdir("/new root/it's").readOnly('/new root').move('/s', '/t').tmpfs('/r', 'size=1040m,mode=0700').bindIfThere('/etc/hosts', '/new root/etc/hosts');
    expect(batch.argv).toEqual(['--mount', 'bind', '/', '/new root', 'private', '/new root', 'mkdir', "/new root/it's", 'ro', '/new root', 'move', '/s', '/t', 'tmpfs', '/r', 'size=1040m,mode=0700', 'bind-there', '/etc/hosts', '/new root/etc/hosts']);
  });
});
