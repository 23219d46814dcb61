import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// the built package, as the CLI runs it
import { buildToolbox, cacheDir, quickRecordPath } from '../../dist/toolbox/build-toolbox.js';

const skip = inject('e2eSkip');

/**
 * The toolbox is found again without ldd or dpkg when nothing it was made from
 * changed (by stat), and checked the slow way when something did. Played on a
 * copy of the cache's records, with the real tree linked in.
 */
describe.skipIf(skip !== '')('toolbox cache: the quick way and when it is left', () => {
  let real: ReturnType<typeof buildToolbox>;
  let cache: string;
  let env: NodeJS.ProcessEnv;
  let record: string;

  beforeAll(() => {
    real = buildToolbox();
    cache = mkdtempSync(join(tmpdir(), 'testin-cache-test-'));
    env = { ...process.env, TESTIN_CACHE_DIR: cache };
    const from = join(cacheDir(), 'toolbox');
    mkdirSync(join(cache, 'toolbox'));
    cpSync(join(from, 'by-stat'), join(cache, 'toolbox', 'by-stat'), { recursive: true });
    cpSync(join(from, 'by-input'), join(cache, 'toolbox', 'by-input'), { recursive: true });
    symlinkSync(real.dir, join(cache, 'toolbox', real.hash));
    // the record of this checkout as it is now (the cache is shared by every checkout on the machine)
    record = quickRecordPath(env);
    expect((JSON.parse(readFileSync(record, 'utf8')) as { hash: string }).hash).toBe(real.hash);
  });

  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('trusts the record while every input file has the same stat', () => {
    const seen = JSON.parse(readFileSync(record, 'utf8')) as { hash: string; files: [string, string][] };
    expect(seen.files.map(([f]) => f)).toEqual(expect.arrayContaining([expect.stringMatching(/qemu-system-x86_64$/), expect.stringMatching(/libc\.so\.6$/), expect.stringMatching(/modules\.dep$/)]));
    // a record naming another tree is believed: proof that nothing was recomputed
    const decoy = 'f'.repeat(64);
    mkdirSync(join(cache, 'toolbox', decoy));
    writeFileSync(join(cache, 'toolbox', decoy, 'manifest.json'), JSON.stringify(real.manifest));
    writeFileSync(record, JSON.stringify({ ...seen, hash: decoy }));
    expect(buildToolbox({ env }).hash).toBe(decoy);
    writeFileSync(record, JSON.stringify(seen));
  });

  it('checks again the slow way when one input changed, and writes the record anew', () => {
    const seen = JSON.parse(readFileSync(record, 'utf8')) as { hash: string; files: [string, string][] };
    const stale = { hash: 'f'.repeat(64), files: seen.files.map(([f, k], i) => [f, i === 0 ? 'changed' : k]) };
    writeFileSync(record, JSON.stringify(stale));
    expect(buildToolbox({ env }).hash).toBe(real.hash);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual(seen);
  });
});
