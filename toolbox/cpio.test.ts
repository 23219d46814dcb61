import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpio } from './cpio.js';

describe('writeCpio', () => {
  const archive = writeCpio([
    { kind: 'dir', name: 'dev' },
    { kind: 'char', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', name: 'init', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
    { kind: 'file', name: 'odd', data: Buffer.from('abc') },
  ]);

  it('aligns every header and payload to 4 bytes and ends with the trailer', () => {
    expect(archive.length % 4).toBe(0);
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.toString('latin1')).toContain('TRAILER!!!');
  });

  it('is read back by the cpio tool with names, modes and contents', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    try {
      const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
      expect(listing).toMatch(/^crw-------.*5,\s+1.*dev\/console$/m);
      expect(listing).toMatch(/^-rwxr-xr-x.*init$/m);
      execFileSync('cpio', ['-id', '--quiet', '--no-absolute-filenames', 'init', 'odd'], { input: archive, cwd: dir });
      expect(readFileSync(join(dir, 'init'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect(readFileSync(join(dir, 'odd'), 'utf8')).toBe('abc');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same bytes for the same entries', () => {
    expect(writeCpio([{ kind: 'file', name: 'a', data: Buffer.from('x') }])).toEqual(writeCpio([{ kind: 'file', name: 'a', data: Buffer.from('x') }]));
  });
});
