import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ENTRY_IMAGE } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-parity-'));
mkdirSync(join(dir, 'rw'));
chmodSync(join(dir, 'rw'), 0o777);
mkdirSync(join(dir, 'ro'));
writeFileSync(join(dir, 'ro', 'f'), 'ro content\n');

interface Case {
  name: string;
  args: string[];
  input?: string;
  stdout: string;
  stderr?: RegExp;
  exitCode: number;
}

const sh = (script: string): string[] => ['--', 'sh', '-c', script];

/** Cases a container can do as well as a VM: both must give exactly these results. */
const CASES: Case[] = [
  { name: 'exit code', args: sh('exit 42'), stdout: '', exitCode: 42 },
  { name: 'killed by SIGTERM', args: sh('echo before; kill -TERM $$'), stdout: 'before\n', exitCode: 143 },
  { name: 'missing command', args: ['--', 'no-such-command'], stdout: '', stderr: /no-such-command: executable file not found/, exitCode: 127 },
  { name: 'not executable', args: ['--', '/etc/passwd'], stdout: '', stderr: /\/etc\/passwd: Permission denied/, exitCode: 126 },
  { name: 'stdout and stderr apart', args: sh('echo out; echo err >&2'), stdout: 'out\n', stderr: /^err$/m, exitCode: 0 },
  {
    name: 'env, workdir, user, hostname',
    args: ['-e', 'A=1', '-w', '/work/dir', '-u', 'app', '--hostname', 'parity', ...sh('echo "$A $HOME $(pwd) $(id -u):$(id -G) $(hostname)"')],
    stdout: '1 /home/app /work/dir 1000:1000 2000 parity\n',
    exitCode: 0,
  },
  {
    name: 'mounts, tmpfs and a read-only root',
    args: ['--read-only', '-v', `${dir}/rw:/rw`, '-v', `${dir}/ro:/ro:ro`, '--tmpfs', '/scratch:size=1m',
      ...sh('cat /ro/f; touch /ro/x 2>/dev/null || echo ro-refused; touch /etc/x 2>/dev/null || echo root-refused; touch /tmp/x 2>/dev/null || echo tmp-refused; touch /rw/ok /scratch/ok && echo writable')],
    stdout: 'ro content\nro-refused\nroot-refused\ntmp-refused\nwritable\n',
    exitCode: 0,
  },
  { name: 'stdin', args: ['-i', '--', 'wc', '-l'], input: 'a\nb\nc\n', stdout: '3\n', exitCode: 0 },
  // more than docker's pipes hold at once: nothing may be lost when the command ends
  { name: '16 MiB of output', args: sh("head -c 16777216 /dev/zero | tr '\\0' x"), stdout: 'x'.repeat(16 * 1024 * 1024), exitCode: 0 },
];

describe.skipIf(skip !== '')('--no-vm parity: the same plan gives the same results in a container', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  describe.each([
    ['in the VM', []],
    ['without a VM', ['--no-vm']],
  ])('%s', (_where, extra) => {
    it.each(CASES)('$name', async (c) => {
      const at = c.args.indexOf('--');
      const flags = at < 0 ? c.args : c.args.slice(0, at);
      const command = at < 0 ? [] : c.args.slice(at);
      const r = await testin(['run', ...extra, '--image', BUSYBOX_IMAGE, ...flags, ...command], c.input === undefined ? {} : { input: c.input });
      expect(r.stdout.toString()).toBe(c.stdout);
      if (c.stderr) expect(r.stderr).toMatch(c.stderr);
      expect(r.exitCode).toBe(c.exitCode);
    });

    it("runs the image's ENTRYPOINT + CMD", async () => {
      const r = await testin(['run', ...extra, '--image', ENTRY_IMAGE]);
      expect(r.stdout.toString()).toBe('hello-from-env in /srv/app\n');
    });
  });

  it('--no-vm runs on the host kernel, the VM on its own', async () => {
    const vm = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'uname', '-r']);
    const plain = await testin(['run', '--no-vm', '--image', BUSYBOX_IMAGE, '--', 'uname', '-r']);
    // the engine is local here: its host's kernel is this machine's
    expect(plain.stdout.toString()).toBe(`${release()}\n`);
    expect(vm.stdout.toString()).not.toBe(`${release()}\n`);
    expect(plain.stderr).not.toMatch(/TCG/);
  });
});
