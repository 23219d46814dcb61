import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../helpers/paths.js';
import { leftovers, testin, testinWhen } from '../helpers/testin.js';

const skip = inject('e2eSkip');
/** busybox with its own /testin, and a timeline.json where container-init writes its own: a folder */
const ODD_IMAGE = 'testin-test/odd-paths:1';

describe.skipIf(skip !== '')('reliability: no signal lost, no false failure, no limit docker does not have', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-reliability-'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nRUN mkdir -p /testin /run/testin/timeline.json && echo the-image-own > /testin/mine\n`);
    await execa('docker', ['build', '-q', '-t', ODD_IMAGE, dir]);
  });

  afterAll(async () => {
    await execa('docker', ['rmi', ODD_IMAGE], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  // a stop at each moment of a run's life, stepped to by the run's own test hooks (launcher/test-hook.ts)
  it.each([
    ['create', 'before the container exists', 'SIGINT', 130],
    ['start', 'after create, before start', 'SIGTERM', 143],
    ['init', 'container-init runs, before it has its signal handlers', 'SIGINT', 130],
    ['boot', 'while the VM boots', 'SIGTERM', 143],
  ] as const)('a stop at %s (%s) ends the run promptly with 128+N and leaves nothing', async (moment, _when, signal, code) => {
    const r = await testinWhen(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ran; sleep 30'], `testin-hook ${moment}`, (child) => child.kill(signal), { TESTIN_TEST_HOOK: moment });
    expect(r.markedAt).toBeGreaterThan(0);
    expect(r.exitCode).toBe(code);
    expect(r.stdout.toString()).toBe('');
    expect(r.endedAt - r.markedAt).toBeLessThan(8000);
  });

  it('a stop while the command runs reaches it: its own code when it traps', async () => {
    const r = await testinWhen(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'trap "echo trapped; exit 7" TERM; echo ready; sleep 30 & wait'], 'ready', (child) => child.kill('SIGTERM'));
    expect(r.stdout.toString()).toBe('ready\ntrapped\n');
    expect(r.exitCode).toBe(7);
  });

  it("a stop in the teardown changes nothing: the command's code stands, and all is removed", async () => {
    const r = await testinWhen(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'exit 3'], 'testin-hook teardown', (child) => child.kill('SIGINT'), { TESTIN_TEST_HOOK: 'teardown' });
    expect(r.exitCode).toBe(3);
    expect(r.endedAt - r.markedAt).toBeLessThan(5000);
  });

  it('20,000 arguments and a 1 MiB environment reach the command intact', async () => {
    const args = Array.from({ length: 20_000 }, (_, i) => `a${i}`);
    const values = Array.from({ length: 16 }, (_, i) => `BIG${i}=${String(i % 10).repeat(64 * 1024)}`);
    writeFileSync(join(dir, 'big.env'), `${values.join('\n')}\n`);
    const r = await testin(['run', '--env-file', join(dir, 'big.env'), '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo $#; echo "$1 $' + '{20000}"; env | grep ^BIG | sort | md5sum', 'sh', ...args]);
    expect(r.exitCode).toBe(0);
    const expected = (await execa('sh', ['-c', `sort '${join(dir, 'big.env')}' | md5sum`])).stdout;
    expect(r.stdout.toString()).toBe(`20000\na0 a19999\n${expected}\n`);
  });

  it("an image's own /testin shows in the VM as it is, modules still load on demand, and a timing file that cannot be written changes no exit code", async () => {
    const r = await testin(['run', '--image', ODD_IMAGE, '--', 'sh', '-c', 'cat /testin/mine; ip link add d0 type dummy && echo dummy-ok; exit 5']);
    expect(r.stdout.toString()).toBe('the-image-own\ndummy-ok\n');
    expect(r.exitCode).toBe(5);
  });

  it('--timeout counts from the command: 1 s is enough for `echo ran` under TCG, after a kernel boot of more than 1 s', async () => {
    // booted cold (a restore may take less than the second the timeout gives): the start alone outlasts the timeout
    const r = await testin(['run', '--no-snapshot', '--timeout', '1s', '--report', join(dir, 'timeout.json'), '--image', BUSYBOX_IMAGE, '--', 'echo', 'ran']);
    expect(r.stdout.toString()).toBe('ran\n');
    expect(r.exitCode).toBe(0);
    const phases = (JSON.parse(readFileSync(join(dir, 'timeout.json'), 'utf8')) as { phases: Record<string, number> }).phases;
    expect(phases['vm.kernelToInit']).toBeGreaterThan(1000);
  });

  it('the boot has its own deadline, and its own error', async () => {
    // a kernel boot (a restore from the VM's snapshot can be done in less than 0.3 s)
    const r = await testin(['run', '--no-snapshot', '--boot-timeout', '300ms', '--image', BUSYBOX_IMAGE, '--', 'echo', 'ran']);
    expect(r.exitCode).toBe(125);
    expect(r.stdout.toString()).toBe('');
    // with what the host saw of the guest meanwhile: QEMU's CPU time, and nothing from the guest on its control port
    expect(r.stderr).toMatch(/^testin: the VM did not start its init within 0\.3 s \(QEMU used \d+\.\d s of CPU; (nothing on its control port|its control port not connected)\)$/m);
  });

  it.each([
    ['--memory 1t', ['--memory', '1t'], /^testin: memory size "1t" is above 512 GiB, more than the VM can address\n {2}fix: give the VM at most 512g\n$/],
    ['--timeout -5s', ['--timeout', '-5s'], /^testin: --timeout -5s: a duration cannot be negative\n {2}fix: write it as 30s, 5m, 1h, 1m30s or a number of seconds\n$/],
  ])('%s: one line and a fix, exit 125', async (_what, flags, message) => {
    const r = await testin(['run', ...flags, '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(message);
  });

  it("a command the guest's OOM killer ends exits 137, with one line that says so", async () => {
    const r = await testin(['run', '--memory', '256m', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'x=a; while :; do x=$x$x; done']);
    expect(r.exitCode).toBe(137);
    expect(r.stderr).toMatch(/^testin: the command was killed by the guest kernel's OOM killer: the VM \(256 MiB\) ran out of memory\n {2}fix: give the VM more, e\.g\. --memory 2g$/m);
  });
});
