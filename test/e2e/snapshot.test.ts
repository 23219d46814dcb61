import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { defineCoreCases } from '../helpers/core-cases.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE } from '../helpers/paths.js';
import { leftovers, snapshotVolume, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

/** runs a shell line in a container with the snapshots volume at /s */
async function inSnapshots(script: string): Promise<string> {
  return (await execa('docker', ['run', '--rm', '-v', `${await snapshotVolume()}:/s`, BUSYBOX_IMAGE, 'sh', '-c', script])).stdout;
}

/** how the run's VM started, as container-init's debug lines say */
function startedFrom(stderr: string): 'snapshot' | 'cold' | 'unknown' {
  if (/restored from snapshot [0-9a-f]+/.test(stderr)) return 'snapshot';
  if (/booting cold/.test(stderr)) return 'cold';
  return 'unknown';
}

describe.skipIf(skip !== '')('snapshot restore: a booted VM restored instead of booted, as fresh as a cold one', () => {
  // a VM shape of this file's own (an extra kernel word is part of the snapshot's key): no other test shares its snapshot
  const shape = ['--kernel-cmdline', `testin.test=${randomBytes(4).toString('hex')}`];
  let key = '';
  const probe = 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; cat /proc/sys/kernel/random/uuid; date +%s';

  beforeAll(async () => {
    // the first run of the shape boots cold and saves its snapshot
    const first = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(first.exitCode).toBe(0);
    expect(startedFrom(first.stderr)).toBe('cold');
    // its QEMU is the one the container's PID 1 started with it, loaded while container-init's node loaded
    expect(first.stderr).toMatch(/QEMU \(started with the container, held until now\) -nodefaults /);
    key = /snapshot ([0-9a-f]{32}) saved in \d+ ms/.exec(first.stderr)?.[1] ?? '';
    expect(key).not.toBe('');
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  afterAll(async () => {
    // this file's shape is used by nobody else: its snapshot goes with it
    if (key) await inSnapshots(`rm -f /s/${key}.state /s/${key}.ram /s/${key}.json`);
  });

  it('two runs from one snapshot get different random bytes and UUIDs, and the guest clock is the host\'s', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const r = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', probe]);
      const hostNow = Math.floor(Date.now() / 1000);
      expect(r.exitCode).toBe(0);
      expect(startedFrom(r.stderr)).toBe('snapshot');
      expect(r.stderr).toMatch(/QEMU \(started with the container, held until now\) .* -incoming defer/);
      const [bytes, uuid, clock] = r.stdout.toString().trim().split('\n');
      expect(bytes).toMatch(/^[0-9a-f]{32}$/);
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      // the guest's clock was read just before the run ended: within a second of the host's then (whole seconds: <= 2 apart)
      expect(Math.abs(hostNow - Number(clock))).toBeLessThanOrEqual(2);
      runs.push({ bytes, uuid });
    }
    expect(runs[0]?.bytes).not.toBe(runs[1]?.bytes);
    expect(runs[0]?.uuid).not.toBe(runs[1]?.uuid);
  });

  it("a run of another image restored from the snapshot sees its own root: the image's files, its listing, the root directory's own times", async () => {
    // the snapshot (its guest with the root's share mounted at boot) was saved by a run of the busybox image, seconds ago
    await sleep(2000);
    const before = Math.floor(Date.now() / 1000);
    const r = await testin(['run', '--debug', ...shape, '--image', DEBIAN_IMAGE, '--', 'sh', '-c', 'cat /etc/debian_version; ls / | tr "\\n" " "; echo; stat -c %Y /']);
    expect(r.exitCode).toBe(0);
    expect(startedFrom(r.stderr)).toBe('snapshot');
    const [version, listing, mtime] = r.stdout.toString().trim().split('\n');
    expect(version).toMatch(/^12\./);
    expect(listing?.split(' ')).toEqual(expect.arrayContaining(['bin', 'etc', 'usr', 'var']));
    // this run's container root, made after `before`: not the attributes of the root the snapshot's guest mounted
    expect(Number(mtime)).toBeGreaterThanOrEqual(before);
  });

  it('--no-snapshot and TESTIN_SNAPSHOT=0 boot cold, with the same result', async () => {
    const flag = await testin(['run', '--debug', '--no-snapshot', ...shape, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo out; echo err >&2; exit 42']);
    expect(startedFrom(flag.stderr), flag.stderr).toBe('cold');
    expect(flag.stderr).not.toMatch(/snapshot [0-9a-f]+ saved/);
    expect(flag.exitCode, flag.stderr).toBe(42);
    expect(flag.stdout.toString()).toBe('out\n');
    const env = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'true'], { env: { TESTIN_SNAPSHOT: '0' } });
    // a failure says why: the run's own words
    expect(startedFrom(env.stderr), env.stderr).toBe('cold');
    expect(env.exitCode, env.stderr).toBe(0);
  });

  it('a restored guest slow to answer (held 12 s by a test hook, past the 10 s check) is waited for: the run succeeds, the snapshot is kept as it was', async () => {
    const stat = `stat -c '%i %s %Y' /s/${key}.state; cat /s/${key}.json`;
    const before = await inSnapshots(stat);
    const r = await testin(['run', '--debug', ...shape, '-e', 'TESTIN_TEST_HOLD_GUEST_MS=12000', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo answered; exit 5']);
    expect([r.exitCode, r.stdout.toString()]).toEqual([5, 'answered\n']);
    expect(startedFrom(r.stderr)).toBe('snapshot');
    expect(r.stderr).toMatch(/has not answered for 10 s but runs \(a busy machine\?\): waiting for it/);
    expect(r.stderr).not.toMatch(/did not restore|booting cold|saved in/);
    expect(await inSnapshots(stat)).toBe(before);
  });

  it.each([
    ['removed', (f: string) => `rm -f /s/${f}.state`],
    ['damaged', (f: string) => `dd if=/dev/urandom bs=4096 count=1 conv=notrunc of=/s/${f}.state`],
    ['cut short in its RAM', (f: string) => `: > /s/${f}.ram`],
  ])('a %s snapshot: the run boots cold with its exit code unchanged, and the next run restores a good one', async (what, damage) => {
    const before = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(/restored from snapshot ([0-9a-f]+)/.exec(before.stderr)?.[1]).toBe(key);
    await inSnapshots(damage(key));

    const after = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ran; exit 7']);
    expect(after.exitCode).toBe(7);
    expect(after.stdout.toString()).toBe('ran\n');
    expect(after.stderr).toMatch(new RegExp(`snapshot ${key} saved`));
    if (what !== 'removed') expect(after.stderr.match(/the VM snapshot did not restore/g)).toHaveLength(1);
    if (what === 'cut short in its RAM') expect(after.stderr).toMatch(/did not restore \(its RAM did not load: the RAM image is shorter than its description\)/);

    const next = await testin(['run', '--debug', ...shape, '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(next.exitCode).toBe(0);
    expect(startedFrom(next.stderr)).toBe('snapshot');
    expect(next.stderr).not.toMatch(/did not restore/);
  });
});

// the core cases once more with cold boots: their results must be the same as core-run.test.ts's, which restore
describe.skipIf(skip !== '')('the core cases, booted cold (--no-snapshot)', () => {
  let kernelRelease = '';
  beforeAll(async () => {
    const built = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'build']);
    kernelRelease = /^\s+modules \S+ \(kernel (\S+)\)$/m.exec(built.stdout)?.[1] as string;
  });
  // each case's report must say its VM booted cold; a boot that hangs ends within the test's bound, saying what the host saw
  defineCoreCases({ env: { TESTIN_SNAPSHOT: '0' }, flags: ['--boot-timeout', '60s'], kernelRelease: () => kernelRelease, startedFrom: 'cold', images: 'busybox' });
});
