import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFreshEntry } from '../contract/control-protocol.js';
import { FRESH_BUDGET, freshDirs, under } from './fresh-dirs.js';

describe('freshDirs', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'testin-fresh-'));
    mkdirSync(join(root, 'run/lock'), { recursive: true, mode: 0o1777 });
    mkdirSync(join(root, 'run/testin/new_root'), { recursive: true });
    mkdirSync(join(root, 'run/secrets'), { recursive: true });
    writeFileSync(join(root, 'run/secrets/token'), 'a volume: not read');
    mkdirSync(join(root, 'tmp/data'), { recursive: true });
    writeFileSync(join(root, 'tmp/data/file'), 'from the image\n', { mode: 0o640 });
    symlinkSync('/tmp/data', join(root, 'run/lnk'));
    writeFileSync(join(root, 'run/.containerenv'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("lists the image's /run and /tmp, parents first, with links and files; testin's own /run/testin, Podman's /run/.containerenv and the mounts' content are left out", () => {
    const fresh = freshDirs(root, ['/run/secrets', '/data', '/tmp/data/sub']);
    expect(fresh.entries.map((e) => [e.type, e.path, e.data?.toString()])).toEqual([
      ['dir', '/run', undefined],
      ['link', '/run/lnk', '/tmp/data'],
      ['dir', '/run/lock', undefined],
      ['dir', '/tmp', undefined],
      ['dir', '/tmp/data', undefined],
      ['file', '/tmp/data/file', 'from the image\n'],
    ]);
    expect(fresh.entries.find((e) => e.path === '/tmp/data/file')?.mode).toBe(0o640);
    // the mounts under them, parents first; /data is not under either
    expect(fresh.carry).toEqual(['/run/secrets', '/tmp/data/sub']);
    expect(fresh.own).toEqual([]);
  });

  it('keeps a folder with more than the budget as the image\'s own, and an image without the folders has nothing', () => {
    writeFileSync(join(root, 'tmp/big'), Buffer.alloc(FRESH_BUDGET.bytes + 1));
    const fresh = freshDirs(root, []);
    expect(fresh.own).toEqual(['/tmp']);
    expect(fresh.entries.every((e) => under(e.path, '/run'))).toBe(true);
    const empty = mkdtempSync(join(tmpdir(), 'testin-fresh-empty-'));
    try {
      expect(freshDirs(empty, [])).toEqual({ entries: [], own: [], carry: [] });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('encodes an entry as the guest reads it: TYPE MODE (octal) UID GID PATH, NUL, then the data', () => {
    expect(encodeFreshEntry({ type: 'file', path: '/tmp/a b', mode: 0o640, uid: 1000, gid: 100, data: Buffer.from('x\0y') })).toEqual(Buffer.from('f 640 1000 100 /tmp/a b\0x\0y'));
    expect(encodeFreshEntry({ type: 'dir', path: '/run/lock', mode: 0o1777, uid: 0, gid: 0 })).toEqual(Buffer.from('d 1777 0 0 /run/lock\0'));
  });
});
