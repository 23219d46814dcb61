import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, ENTRY_IMAGE, SCRATCH_IMAGE } from './paths.js';
import { KERNEL_LINE, leftovers, testin, withoutNotices } from './testin.js';

/**
 * The core cases of `testin run`: kernel and init, streams, exit codes, the
 * image's files, ENTRYPOINT/CMD, FROM scratch, 16 MiB byte-exact. Run with the
 * default toolbox (core-run.test.ts) and with each other base (e2e-toolbox/).
 */
export function defineCoreCases(options: {
  env?: Record<string, string>;
  /** flags of every run, after `run` */
  flags?: readonly string[];
  kernelRelease: () => string;
  startedFrom?: 'cold' | 'snapshot';
  /** 'busybox': the static image alone (the glibc image's cases ran with the default toolbox and a restore; each costs a boot) */
  images?: 'both' | 'busybox';
}): void {
  let runs = 0;
  /** a run of the case; with `startedFrom`, its report must say the VM started so */
  const run = async (given: readonly string[]): ReturnType<typeof testin> => {
    const args = given[0] === 'run' ? ['run', ...(options.flags ?? []), ...given.slice(1)] : given;
    if (!options.startedFrom) return testin(args, { env: options.env });
    const report = join(tmpdir(), `testin-e2e-core-${process.pid}-${runs++}.json`);
    try {
      const r = await testin(args, { env: { ...options.env, TESTIN_REPORT: report } });
      expect((JSON.parse(readFileSync(report, 'utf8')) as { vm?: { startedFrom?: string } }).vm?.startedFrom).toBe(options.startedFrom);
      return r;
    } finally {
      rmSync(report, { force: true });
    }
  };

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  const images: [string, string][] = [
    ['static busybox, no libc', BUSYBOX_IMAGE],
    ['Debian 12, glibc', DEBIAN_IMAGE],
  ];
  describe.each(options.images === 'busybox' ? images.slice(0, 1) : images)('%s', (_name, image) => {
    it("runs the toolbox kernel, with testin's init as PID 1, and sees the image's files", async () => {
      const r = await run(['run', '--image', image, '--', 'sh', '-c', 'uname -r; cat /proc/1/comm; test -e /etc/passwd && echo has-passwd']);
      expect(r.stderr).not.toMatch(KERNEL_LINE);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe(`${options.kernelRelease()}\ntestin-init\nhas-passwd\n`);
    });

    it('keeps stdout and stderr apart, byte for byte, with no console lines', async () => {
      const r = await run(['run', '--image', image, '--', 'sh', '-c', 'echo out; echo err >&2']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe('out\n');
      // the command's stderr whole, and nothing else but testin's own notices (the run's result on the lease is taken off it)
      expect(withoutNotices(r.stderr)).toBe('err\n');
      expect(r.stderr).not.toMatch(KERNEL_LINE);
    });

    it('exits with the command\'s code: exit 0, 1, 42, 255 and kill -TERM $$ (143), each its own run, side by side', async () => {
      const cases = [['exit 0', 0], ['exit 1', 1], ['exit 42', 42], ['exit 255', 255], ['kill -TERM $$', 143]] as const;
      const runs = await Promise.all(cases.map(async ([script]) => await run(['run', '--image', image, '--', 'sh', '-c', script])));
      // a failed run says why in its stderr
      const stderrs = runs.map((r, i) => `${cases[i]?.[0]}: ${r.stderr}`).join('\n');
      expect(Object.fromEntries(cases.map(([script], i) => [script, runs[i]?.exitCode])), stderrs).toEqual(Object.fromEntries(cases));
    });

    it('exits 127 for a missing command, a missing path or a script whose interpreter is missing, and 126 for a file that cannot be executed', async () => {
      const missing = await run(['run', '--image', image, '--', 'no-such-command', 'arg']);
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toMatch(/no-such-command: executable file not found in \$PATH/);
      // a path is not looked up in PATH: it is there or not (docker: "no such file or directory")
      const missingPath = await run(['run', '--image', image, '--', '/no/such/program']);
      expect([missingPath.exitCode, missingPath.stderr]).toEqual([127, expect.stringMatching(/^testin: exec \/no\/such\/program: no such file or directory\n/m)]);
      const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-interp-'));
      try {
        writeFileSync(join(dir, 'script'), '#!/no/such/interpreter\n', { mode: 0o755 });
        const noInterpreter = await run(['run', '-v', `${dir}:/scripts:ro`, '--image', image, '--', '/scripts/script']);
        expect([noInterpreter.exitCode, noInterpreter.stderr]).toEqual([127, expect.stringMatching(/exec \/scripts\/script: no such file or directory \(the file is there, its interpreter is not/)]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const notExecutable = await run(['run', '--image', image, '--', '/etc/passwd']);
      expect(notExecutable.exitCode).toBe(126);
      expect(notExecutable.stderr).toMatch(/\/etc\/passwd: Permission denied/);
    });
  });

  it('exits 126 with "exec format error" for a binary of another architecture (an arm64 ELF), by path and through PATH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-arch-'));
    try {
      // an ELF header for aarch64 (e_machine 183): the x86-64 kernel refuses it with ENOEXEC
      const elf = Buffer.alloc(64);
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(elf);
      elf.writeUInt16LE(2, 16);
      elf.writeUInt16LE(183, 18);
      elf.writeUInt32LE(1, 20);
      writeFileSync(join(dir, 'arm64-prog'), elf, { mode: 0o755 });
      for (const command of [['/x/arm64-prog'], ['arm64-prog']]) {
        const r = await run(['run', '-v', `${dir}:/x:ro`, '-e', 'PATH=/x:/bin', '--image', BUSYBOX_IMAGE, '--', ...command]);
        expect(r.exitCode).toBe(126);
        expect(r.stderr).toMatch(new RegExp(`exec ${command[0]}: exec format error \\(not a program this VM \\(linux/amd64\\) can run`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a file baked into the image, and a write on / does not reach the next run', async () => {
    const first = await run(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat /etc/testin-fixture; echo scribble > /written-by-run; cat /written-by-run']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout.toString()).toBe('baked into the image\nscribble\n');
    const second = await run(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'test ! -e /written-by-run && echo clean']);
    expect(second.stdout.toString()).toBe('clean\n');
    expect(second.exitCode).toBe(0);
  });

  it('delivers 16 MiB of binary output byte-exact', async () => {
    const r = await run([
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
    const r = await run(['run', '--image', ENTRY_IMAGE]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('hello-from-env in /srv/app\n');
  });

  it('runs an image FROM scratch (one static binary, no /etc/passwd, no /tmp) as uid 0, as docker does', async () => {
    const r = await run(['run', '--image', SCRATCH_IMAGE, '--', 'sh', '-c', 'id; echo in-vm > /tmp/x && cat /tmp/x']);
    expect(r.stdout.toString()).toBe('uid=0 gid=0 groups=0\nin-vm\n');
    expect(r.exitCode).toBe(0);
  });
}
