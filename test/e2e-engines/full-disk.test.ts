import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ROOT, TESTIN_BIN, TRIXIE_BASE } from '../helpers/paths.js';
import { currentToolboxHash, leftovers, testin } from '../helpers/testin.js';

const remote = inject('remoteDocker');
const SMALL = { name: 'testin-e2e-dockerd-small', port: '23751', size: '600m' };

/** An engine whose disk fills up: Debian 13's dockerd with its data on a 600 MiB tmpfs. */
describe.skipIf(remote === '')("an engine whose disk is full: a toolbox build and a snapshot's save", () => {
  let host = '';
  let dir = '';
  const on = (args: readonly string[]): ReturnType<typeof testin> => testin(args, { env: { DOCKER_HOST: host } });
  const engine = (...args: string[]): ReturnType<typeof execa> => execa('docker', ['-H', host, ...args], { reject: false });
  /** what the engine has left, in MiB */
  const freeMiB = async (): Promise<number> => Number((await execa('docker', ['exec', SMALL.name, 'df', '-m', '--output=avail', '/var/lib/docker'])).stdout.split('\n')[1]);
  /** fills the engine's disk until about `leave` MiB are free */
  const fillTo = async (leave: number, file: string): Promise<void> => {
    const count = Math.max(0, (await freeMiB()) - leave);
    await engine('run', '--rm', '-v', 'testin-e2e-fill:/f', BUSYBOX_IMAGE, 'dd', 'if=/dev/zero', `of=/f/${file}`, 'bs=1M', `count=${count}`);
  };

  beforeAll(async () => {
    host = (await execa(join(ROOT, 'test/fixtures/start-engine-trixie.sh'), ['dockerd', SMALL.name, SMALL.port, SMALL.size])).stdout.trim();
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-full-'));
    for (const image of [BUSYBOX_IMAGE, TRIXIE_BASE]) await execa('sh', ['-c', `docker save '${image}' | docker -H '${host}' load -q`]);
  });

  afterAll(async () => {
    await execa('docker', ['rm', '-f', SMALL.name], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it("a toolbox build that fills the disk: the stage, the disk named with a fix, exit 125, no volume or container left", async () => {
    // the base image and Debian's packages do not fit in what is left (a build needs about 1 GiB)
    const r = await on(['toolbox', 'build']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^testin: the toolbox build failed: .*: the engine's disk is full; its last lines:$/m);
    expect(r.stderr).toMatch(/No space left on device/);
    expect(r.stderr).toMatch(/^ {2}fix: free space where the engine keeps its data/m);
    expect(await leftovers(host)).toEqual([]);
    expect((await engine('volume', 'ls', '-q')).stdout).toBe('');
  });

  it("a snapshot's save that fills the disk: the run's code stands, one line says why, no half file; the next run tries again", async () => {
    const file = join(dir, 'toolbox.tgz');
    await execa('node', [TESTIN_BIN, 'toolbox', 'save', file]);
    expect((await on(['toolbox', 'load', file])).exitCode).toBe(0);
    // a saved VM takes ~75 MiB: leave less
    await fillTo(25, 'a');
    const r = await on(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ran; exit 4']);
    expect([r.exitCode, r.stdout.toString()]).toEqual([4, 'ran\n']);
    expect(r.stderr).toMatch(/^testin: the VM snapshot could not be saved \(.*No space left on device\); runs boot cold until one is\n {2}fix: free space/m);
    const snapshots = `testin-snapshots-${(await currentToolboxHash()).slice(0, 16)}`;
    expect((await engine('run', '--rm', '-v', `${snapshots}:/s`, BUSYBOX_IMAGE, 'ls', '-A', '/s')).stdout).toBe('');
    const again = await on(['run', '--image', BUSYBOX_IMAGE, '--', 'echo', 'again']);
    expect([again.exitCode, again.stdout.toString()]).toEqual([0, 'again\n']);
    expect(again.stderr).toMatch(/could not be saved/);
    expect(await leftovers(host)).toEqual([]);
  });
});
