import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, ENTRY_IMAGE, SCRATCH_IMAGE } from '../helpers/paths.js';
import { KERNEL_LINE, leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('testin run: the core path, real Docker + real QEMU', () => {
  let kernelRelease = '';

  beforeAll(async () => {
    const built = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'build']);
    const treeDir = /tree\s+(\S+)/.exec(built.stdout)?.[1] as string;
    kernelRelease = (JSON.parse(readFileSync(`${treeDir}/manifest.json`, 'utf8')) as { kernelRelease: string }).kernelRelease;
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  describe.each([
    ['static busybox, no libc', BUSYBOX_IMAGE],
    ['Debian 12, glibc', DEBIAN_IMAGE],
  ])('%s', (_name, image) => {
    it("runs the toolbox kernel, with testin's init as PID 1, and sees the image's files", async () => {
      const r = await testin(['run', '--image', image, '--', 'sh', '-c', 'uname -r; cat /proc/1/comm; test -e /etc/passwd && echo has-passwd']);
      expect(r.stderr).not.toMatch(KERNEL_LINE);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe(`${kernelRelease}\ntestin-init\nhas-passwd\n`);
      expect(kernelRelease).not.toBe((await execa('uname', ['-r'])).stdout);
    });

    it('keeps stdout and stderr apart, byte for byte, with no console lines', async () => {
      const r = await testin(['run', '--image', image, '--', 'sh', '-c', 'echo out; echo err >&2']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe('out\n');
      expect(r.stderr).toMatch(/^err$/m);
      expect(r.stderr).not.toMatch(KERNEL_LINE);
    });

    it.each([
      ['exit 0', 0],
      ['exit 1', 1],
      ['exit 42', 42],
      ['exit 255', 255],
      ['kill -TERM $$', 143],
    ])('`%s` exits %i', async (script, code) => {
      const r = await testin(['run', '--image', image, '--', 'sh', '-c', script]);
      expect(r.exitCode).toBe(code);
    });

    it('exits 127 for a missing command and 126 for a file that cannot be executed', async () => {
      const missing = await testin(['run', '--image', image, '--', 'no-such-command', 'arg']);
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toMatch(/no-such-command: executable file not found/);
      const notExecutable = await testin(['run', '--image', image, '--', '/etc/passwd']);
      expect(notExecutable.exitCode).toBe(126);
      expect(notExecutable.stderr).toMatch(/\/etc\/passwd: Permission denied/);
    });
  });

  it('reads a file baked into the image, and a write on / does not reach the next run', async () => {
    const first = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat /etc/testin-fixture; echo scribble > /written-by-run; cat /written-by-run']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout.toString()).toBe('baked into the image\nscribble\n');
    const second = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'test ! -e /written-by-run && echo clean']);
    expect(second.stdout.toString()).toBe('clean\n');
    expect(second.exitCode).toBe(0);
  });

  it('delivers 16 MiB of binary output byte-exact', async () => {
    const r = await testin([
      'run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c',
      'head -c 16777216 /dev/urandom > /tmp/blob && sha256sum /tmp/blob >&2 && cat /tmp/blob',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(16 * 1024 * 1024);
    const inside = /^([0-9a-f]{64})\s+\/tmp\/blob$/m.exec(r.stderr)?.[1];
    expect(inside).toBeDefined();
    expect(createHash('sha256').update(r.stdout).digest('hex')).toBe(inside);
  });

  it("runs the image's ENTRYPOINT + CMD with its Env and WorkingDir when no command is given", async () => {
    const r = await testin(['run', '--image', ENTRY_IMAGE]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('hello-from-env in /srv/app\n');
  });

  it('runs an image FROM scratch (one static binary, no /etc/passwd, no /tmp) as uid 0, as docker does', async () => {
    const r = await testin(['run', '--image', SCRATCH_IMAGE, '--', 'sh', '-c', 'id; echo in-vm > /tmp/x && cat /tmp/x']);
    expect(r.stdout.toString()).toBe('uid=0 gid=0 groups=0\nin-vm\n');
    expect(r.exitCode).toBe(0);
  });

  it('reuses the toolbox volume on the next run without copying it again', async () => {
    const volume = (await execa('docker', ['volume', 'ls', '-q', '--filter', 'label=testin.toolbox'])).stdout.split('\n')[0] as string;
    const before = (await execa('docker', ['volume', 'inspect', '-f', '{{.CreatedAt}}', volume])).stdout;
    const r = await testin(['run', '--log-level', 'info', '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/toolbox volume reused volume=testin-toolbox-/);
    expect((await execa('docker', ['volume', 'inspect', '-f', '{{.CreatedAt}}', volume])).stdout).toBe(before);
  });

  it('toolbox install fills the stable-named volumes that compose files use', async () => {
    const r = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'install']);
    expect(r.stdout).toMatch(/^testin-toolbox-\d+\.\d+\.\d+\ntestin-modules-\S+$/);
    for (const name of r.stdout.split('\n')) expect((await execa('docker', ['volume', 'inspect', name])).exitCode).toBe(0);
  });

  it('toolbox prune removes the volumes of other builds and keeps the current ones', async () => {
    const stale = `testin-toolbox-e2e-stale-${process.pid}`;
    await execa('docker', ['volume', 'create', '--label', 'testin.toolbox=0000', stale]);
    const current = (await execa('docker', ['volume', 'ls', '-q', '--filter', 'label=testin.toolbox'])).stdout.split('\n').filter((v) => v !== stale);
    const r = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'prune']);
    expect(r.stdout).toMatch(new RegExp(`^removed ${stale}$`, 'm'));
    const after = (await execa('docker', ['volume', 'ls', '-q', '--filter', 'label=testin.toolbox'])).stdout.split('\n');
    expect(after).not.toContain(stale);
    const run = await testin(['run', '--log-level', 'info', '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/toolbox volume reused/);
    expect(current.length).toBeGreaterThan(0);
  });

  describe('bad input: one clear line and a fix, exit 125, nothing left behind', () => {
    const TAKEN = `testin-e2e-taken-${process.pid}`;
    beforeAll(async () => {
      await execa('docker', ['create', '--name', TAKEN, BUSYBOX_IMAGE, 'true']);
    });
    afterAll(async () => {
      await execa('docker', ['rm', '-f', TAKEN], { reject: false });
    });

    it.each([
      ['a container name in use', ['run', '--name', TAKEN, '--image', BUSYBOX_IMAGE, '--', 'true'], /the container name "testin-e2e-taken-\d+" is already in use/],
      ['a network that does not exist', ['run', '--network', 'testin-e2e-no-such-net', '--image', BUSYBOX_IMAGE, '--', 'true'], /docker has no network "testin-e2e-no-such-net"/],
      ['an image that does not exist', ['run', '--image', 'testin-test/no-such-image:1', '--', 'true'], /image "testin-test\/no-such-image:1" is not in the local docker engine/],
      ['an unknown flag', ['run', '--image', BUSYBOX_IMAGE, '--bogus-flag', '--', 'true'], /Unknown argument: bogus-flag$/],
      ['an empty command after --', ['run', '--image', BUSYBOX_IMAGE, '--'], /the command after -- is empty/],
      ['an empty string as command', ['run', '--image', BUSYBOX_IMAGE, '--', ''], /the command after -- is an empty string/],
      ['a bad memory size', ['run', '--image', BUSYBOX_IMAGE, '--memory', 'lots', '--', 'true'], /invalid memory size "lots"/],
    ])('%s', async (_what, args, message) => {
      const containersBefore = (await execa('docker', ['ps', '-aq'])).stdout;
      const r = await testin(args);
      expect(r.exitCode).toBe(125);
      expect(r.stdout.toString()).toBe('');
      // the TCG notice comes first on this machine when the error is found after the accelerator is chosen
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('testin: running the VM under TCG'));
      expect(lines[0]).toMatch(message);
      expect(lines[0]).toMatch(/^testin: /);
      expect(lines[1]).toMatch(/^\s+fix: \S/);
      expect(lines).toHaveLength(2);
      expect((await execa('docker', ['ps', '-aq'])).stdout).toBe(containersBefore);
    });
  });
});
