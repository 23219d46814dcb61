import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN, TRIXIE_BASE } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';
import { ctrRun } from '../helpers/containerd.js';

const skip = inject('e2eSkip');
/** where the base image waits while the test makes the engine lack it */
const KEPT = 'testin-test/trixie-kept:1';

/**
 * An air-gapped engine: the toolbox arrives as a file, the base image cannot
 * be had. Runs alone, last: it takes the shared toolbox away for a while.
 */
describe.skipIf(skip !== '')('testin toolbox save / load: a toolbox for an engine without network', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-save-'));
  });

  afterAll(async () => {
    // the base image comes back whatever happened
    if ((await execa('docker', ['image', 'inspect', KEPT], { reject: false })).exitCode === 0) {
      await execa('docker', ['tag', KEPT, TRIXIE_BASE]);
      await execa('docker', ['rmi', KEPT]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves, and after the volumes and the base image are gone, loads and runs', async () => {
    const built = await execa('node', [TESTIN_BIN, 'toolbox', 'build']);
    const volume = /^\s+volume\s+(\S+)$/m.exec(built.stdout)?.[1] as string;
    const modules = /^\s+modules (\S+) /m.exec(built.stdout)?.[1] as string;
    // gzip (.tar.gz) and plain (.tar): the gzip one is loaded by the e2e-engines set-up into the remote engine, the plain one here
    const gz = join(dir, 'toolbox.tar.gz');
    const file = join(dir, 'toolbox.tar');
    for (const f of [gz, file]) {
      const saved = await execa('node', [TESTIN_BIN, 'toolbox', 'save', f]);
      expect(saved.stdout).toMatch(new RegExp(`^saved ${volume} `));
      expect(statSync(f).size).toBeGreaterThan(50 * 1024 * 1024);
    }
    const head = (f: string): Buffer => readFileSync(f).subarray(0, 512);
    expect(head(gz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(head(file).subarray(257, 262).toString()).toBe('ustar');
    expect(statSync(file).size).toBeGreaterThan(statSync(gz).size);

    // the engine forgets the toolbox (its recipe volume too) and the base image
    const recipes = (await execa('docker', ['volume', 'ls', '-q', '--filter', `label=testin.toolbox.volume=${volume}`])).stdout.split('\n').filter(Boolean);
    expect(recipes.length).toBeGreaterThan(0);
    await execa('docker', ['volume', 'rm', ...recipes, volume, modules]);
    await execa('docker', ['tag', TRIXIE_BASE, KEPT]);
    await execa('docker', ['rmi', TRIXIE_BASE]);
    expect((await execa('docker', ['image', 'inspect', TRIXIE_BASE], { reject: false })).exitCode).not.toBe(0);

    // a host with containerd and no docker: the runtime installed from the file, with no engine asked
    // (DOCKER_HOST names none), and containerd's runc shim runs an image in a VM with it
    const runtimeDir = join(dir, 'runtime');
    const installed = await execa('node', [TESTIN_BIN, 'runtime', 'install', '--from', file, '--dir', runtimeDir], { env: { DOCKER_HOST: 'unix:///nonexistent.sock' }, reject: false });
    expect([installed.exitCode, installed.stderr]).toEqual([0, '']);
    expect(installed.stdout).toMatch(new RegExp(`^installed ${runtimeDir}/testin-runtime \\(toolbox \\w{16}, kernel (\\S+), runc /\\S+\\)$`));
    const release = /kernel (\S+),/.exec(installed.stdout)?.[1];
    const ran = await ctrRun(join(runtimeDir, 'testin-runtime'), BUSYBOX_IMAGE, ['sh', '-c', 'uname -r; exit 4']);
    expect([ran.exitCode, ran.stdout.trim()]).toEqual([4, release]);
    // installed again from the same file: the unpacked toolbox is kept, not unpacked twice
    const unpacked = join(runtimeDir, 'toolboxes', readdirSync(join(runtimeDir, 'toolboxes'))[0] as string);
    const mark = statSync(join(unpacked, 'toolbox')).mtimeMs;
    expect((await execa('node', [TESTIN_BIN, 'runtime', 'install', '--from', file, '--dir', runtimeDir])).exitCode).toBe(0);
    expect([readdirSync(join(runtimeDir, 'toolboxes')).length, statSync(join(unpacked, 'toolbox')).mtimeMs]).toEqual([1, mark]);

    const loaded = await execa('node', [TESTIN_BIN, 'toolbox', 'load', file]);
    expect(loaded.stdout).toMatch(new RegExp(`^loaded ${volume} \\(kernel \\S+, built from ${TRIXIE_BASE}\\)$`));
    // no pull, no build: the loaded toolbox is found (a build would need the missing base image)
    const r = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo loaded-and-ran']);
    expect(r.stdout.toString()).toBe('loaded-and-ran\n');
    expect(r.stderr).not.toMatch(/building the toolbox/);
    expect(r.exitCode).toBe(0);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a missing file, and a real tar (plain or gzip) that is not a saved toolbox, with a fix and nothing made', async () => {
    const missing = await execa('node', [TESTIN_BIN, 'toolbox', 'load', join(dir, 'nothing-here.tar')], { reject: false });
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toMatch(/^testin: cannot read .*nothing-here\.tar: ENOENT\n {2}fix: give the file that `testin toolbox save FILE` wrote$/);
    const content = join(dir, 'content');
    mkdirSync(content);
    writeFileSync(join(content, 'notes.txt'), 'not a toolbox\n');
    const volumesBefore = (await execa('docker', ['volume', 'ls', '-q'])).stdout;
    for (const [name, flags] of [['other.tar', '-cf'], ['other.tgz', '-czf']] as const) {
      await execa('tar', [flags, join(dir, name), '-C', content, '.']);
      const r = await execa('node', [TESTIN_BIN, 'toolbox', 'load', join(dir, name)], { reject: false });
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toBe(`testin: ${join(dir, name)} is not a toolbox saved by \`testin toolbox save\`\n  fix: give the file that \`testin toolbox save FILE\` wrote`);
    }
    expect((await execa('docker', ['volume', 'ls', '-q'])).stdout).toBe(volumesBefore);
  });
});
