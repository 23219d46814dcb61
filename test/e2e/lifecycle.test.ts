import { execa } from 'execa';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, testin, testinSignalledWhenReady, testinWhen, testinWhenReady, within } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('signals, timeouts, crashes and the VM itself', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('delivers Ctrl-C (SIGINT) to the command in the VM', async () => {
    const r = await testinSignalledWhenReady(
      ['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.1; done'],
      'SIGINT',
    );
    expect(r.stdout.toString()).toBe('ready\ngot-int\n');
    expect(r.exitCode).toBe(7);
  });

  it("Ctrl-C reaches the command's children too, as a terminal's would: sh -c 'echo ready; sleep 600' ends with 130", async () => {
    const r = await testinSignalledWhenReady(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600; echo not-reached'], 'SIGINT');
    expect(r.stdout.toString()).toBe('ready\n');
    expect(r.exitCode).toBe(130);
  });

  it('gives 143 when SIGTERM kills the command', async () => {
    const r = await testinSignalledWhenReady(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; exec sleep 100'], 'SIGTERM');
    expect(r.exitCode).toBe(143);
  });

  it("a reader of the output that goes away (testin run IMG yes | head -1, and testin exec's the same) stops the command as SIGTERM does: 143, no error, nothing left", async () => {
    const pipeline = async (testinArgs: string): Promise<{ stdout: string; stderr: string; code: string }> => {
      // bash: PIPESTATUS has testin's own exit code, head's is 0
      const r = await execa('bash', ['-c', `node ${TESTIN_BIN} ${testinArgs} 2>"$ERR" | head -1; echo "code=\${PIPESTATUS[0]}" >&2; cat "$ERR" >&2`], {
        env: { ERR: join(os.tmpdir(), `testin-e2e-epipe-${process.pid}`) },
        reject: false,
        timeout: 60_000,
      });
      rmSync(join(os.tmpdir(), `testin-e2e-epipe-${process.pid}`), { force: true });
      // all but the TCG notice, which this machine's runs print
      const stderr = r.stderr.split('\n').slice(1).filter((line) => !/under TCG/.test(line)).join('\n');
      return { stdout: r.stdout, stderr, code: /^code=(\d+)/.exec(r.stderr)?.[1] ?? '' };
    };
    // before, node threw EPIPE ("Unhandled 'error' event") and the command was left to the lease
    expect(await pipeline(`run ${BUSYBOX_IMAGE} yes`)).toEqual({ stdout: 'y', stderr: '', code: '143' });
    const name = `testin-e2e-epipe-${process.pid}`;
    expect((await testin(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      expect(await pipeline(`exec ${name} yes`)).toEqual({ stdout: 'y', stderr: '', code: '143' });
      // the session's yes was stopped, not left running
      expect((await testin(['exec', name, 'sh', '-c', 'ps -o comm | grep -c "^yes$"'])).stdout.toString()).toBe('0\n');
    } finally {
      expect((await testin(['down', name])).exitCode).toBe(0);
    }
  });

  it('stops the VM hard when the command ignores SIGTERM past --stop-timeout', async () => {
    const r = await testinSignalledWhenReady(
      ['run', '--stop-timeout', '2', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'],
      'SIGTERM',
    );
    expect(r.stderr).toMatch(/did not end within 2 s of SIGTERM: stopping the VM/);
    expect(r.exitCode).toBe(137);
  });

  it.each([
    ["the container's stdin, no exec beside it", [], false],
    ['a docker exec beside it, for -i', ['-i'], true],
  ] as const)('a run whose launcher is killed with SIGKILL stops by itself once its lease (%s) ends: nothing is left within 10 s', async (_how, flags, exec) => {
    let leaseProcess: boolean | undefined;
    const killed = await testinWhenReady(['run', ...flags, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], (child) => {
      // what runs in the container beside container-init once the command is up: the exec's `testin-agent --lease`, or not
      void (async () => {
        const id = (await execa('docker', ['ps', '-q', '--filter', 'label=testin.run'])).stdout.trim();
        leaseProcess = (await execa('docker', ['top', id, '-o', 'pid,args'], { reject: false })).stdout.includes('--lease');
        child.kill('SIGKILL');
      })();
    });
    expect(killed.exitCode).toBe(-1);
    expect(leaseProcess).toBe(exec);
    expect(await within(10_000, async () => (await execa('docker', ['ps', '-aq', '--filter', 'label=testin.run'])).stdout.trim() === '')).toBe(true);
  });

  it('a later run removes the container of a launcher killed with SIGKILL before it started it (no lease yet)', async () => {
    const killed = await testinWhen(['run', '--image', BUSYBOX_IMAGE, '--', 'true'], 'testin-hook start', (child) => child.kill('SIGKILL'), { TESTIN_TEST_HOOK: 'start' });
    expect(killed.exitCode).toBe(-1);
    const orphans = (await execa('docker', ['ps', '-aq', '--filter', 'label=testin.run', '--filter', 'status=created'])).stdout.trim();
    expect(orphans).not.toBe('');
    const next = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(next.exitCode).toBe(0);
    const remaining = (await execa('docker', ['ps', '-aq', '--filter', 'label=testin.run'])).stdout.trim().split('\n');
    for (const id of orphans.split('\n')) expect(remaining).not.toContain(id);
  });

  it('--timeout stops the run, says so, and exits 124', async () => {
    const started = Date.now();
    const r = await testin(['run', '--timeout', '3s', '--image', BUSYBOX_IMAGE, '--', 'sleep', '600']);
    expect(r.exitCode).toBe(124);
    expect(r.stderr).toMatch(/^testin: timed out after 3 s/m);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('ends promptly on a guest kernel panic, with the reason and the console tail', async () => {
    const r = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo before; echo c > /proc/sysrq-trigger; sleep 600']);
    expect(r.exitCode).toBe(125);
    expect(r.stdout.toString()).toBe('before\n');
    expect(r.stderr).toMatch(/^testin: the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash$/m);
    expect(r.stderr).toMatch(/last \d+ lines of the guest console/);
  });

  it('--console streams the kernel log to stderr, never to stdout', async () => {
    const r = await testin(['run', '--console', '--image', BUSYBOX_IMAGE, '--', 'echo', 'only-this']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('only-this\n');
    expect(r.stderr).toMatch(/Linux version \S+/);
  });

  it('passes --kernel-cmdline to the guest kernel and --entrypoint/--name to the container', async () => {
    const r = await testin(['run', '--kernel-cmdline', 'testin.probe=42 quiet', '--entrypoint', '/bin/cat', '--image', BUSYBOX_IMAGE, '--', '/proc/cmdline']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/\btestin\.probe=42 quiet$/m);
    // the container carries the name while the run lasts
    let named: Promise<string> = Promise.resolve('');
    const n = await testinWhen(['run', '--name', 'testin-e2e-named', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 3'], 'ready', () => {
      named = execa('docker', ['ps', '--filter', 'name=^testin-e2e-named$', '--format', '{{.Names}} {{.Label "testin.run"}}']).then((p) => p.stdout.trim());
    });
    expect(n.exitCode).toBe(0);
    expect(await named).toMatch(/^testin-e2e-named [0-9a-f]{16}$/);
  });

  it('sizes the VM with --cpus and --memory, and starts the guest clock at the host time', async () => {
    const r = await testin(['run', '--cpus', '1', '--memory', '600m', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c',
      'grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo; date +%s']);
    expect(r.exitCode).toBe(0);
    const [cpus, mem, date] = r.stdout.toString().trim().split('\n');
    expect(cpus).toBe('1');
    const kib = Number(/(\d+) kB/.exec(mem ?? '')?.[1]);
    expect(kib).toBeGreaterThan(500 * 1024);
    expect(kib).toBeLessThanOrEqual(600 * 1024);
    expect(Math.abs(Number(date) - Date.now() / 1000)).toBeLessThan(2);
    // more vCPUs than this 2-core host has: the count is the VM's, not the host's
    const three = await testin(['run', '--cpus', '3', '--image', BUSYBOX_IMAGE, '--', 'nproc']);
    expect(three.stdout.toString()).toBe('3\n');
    // docker's fraction (CPU time) is rounded up to whole vCPUs; as CPU time it is the engine's host's, which refuses more than it has
    const fraction = await testin(['run', '--cpus', '1.5', '--image', BUSYBOX_IMAGE, '--', 'nproc']);
    expect(fraction.stdout.toString()).toBe('2\n');
    const tooMuch = await testin(['run', '--cpus', `${os.availableParallelism()}.5`, '--image', BUSYBOX_IMAGE, '--', 'nproc']);
    expect([tooMuch.exitCode, tooMuch.stderr.toString()]).toEqual([125, expect.stringMatching(/Range of CPUs is from 0\.01 to .*\n {2}fix: a fraction of --cpus is CPU time of the engine's host/)]);
  });
});
