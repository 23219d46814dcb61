import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, testin, testinWhen, within } from '../helpers/testin.js';

const skip = inject('e2eSkip');

const containersOf = async (label: string): Promise<string> => (await execa('docker', ['ps', '-aq', '--filter', `label=${label}`])).stdout.trim();

/** a fault at each place a run or a session can meet one: each ends with the right code, promptly, and leaves nothing */
describe.skipIf(skip !== '')('faults: killed helpers, killed clients, closed terminals, compose stops', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("passt killed while the command runs: 125, one line saying the VM's network is gone, nothing left", async () => {
    const r = await testinWhen(['run', '--net-backend', 'passt', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], 'ready', () => {
      void execa('pkill', ['-KILL', '-f', 'testin/toolbox/bin/passt']);
    });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^testin: passt, which carries the VM's network, ended \(SIGKILL\)/m);
    expect(r.endedAt - r.markedAt).toBeLessThan(10_000);
  });

  it.each([
    ['run', 'SIGHUP', 129],
    ['exec', 'SIGHUP', 129],
    ['exec', 'SIGINT', 130],
  ] as const)('%s, then %s (the terminal closed, Ctrl-C): the command gets it, %i', async (verb, signal, code) => {
    const name = `testin-e2e-stop-${process.pid}`;
    if (verb === 'exec') expect((await testin(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      const args = verb === 'run' ? ['run', '--image', BUSYBOX_IMAGE, '--'] : ['exec', name, '--'];
      const trap = signal.slice(3);
      const r = await testinWhen([...args, 'sh', '-c', `trap "echo got-${trap}; exit ${code}" ${trap}; echo ready; sleep 600 & wait`], 'ready', (child) => child.kill(signal));
      expect([r.exitCode, r.stdout.toString()]).toEqual([code, `ready\ngot-${trap}\n`]);
      expect(r.endedAt - r.markedAt).toBeLessThan(10_000);
      // the session itself is untouched
      if (verb === 'exec') expect((await testin(['exec', name, '--', 'echo', 'still'])).stdout.toString()).toBe('still\n');
    } finally {
      if (verb === 'exec') await testin(['down', name]);
    }
  });

  it('SIGHUP to `testin up` while the VM starts: 129, nothing of the session left', async () => {
    const name = `testin-e2e-hupup-${process.pid}`;
    const up = execa('node', [TESTIN_BIN, 'up', '--name', name, '--image', BUSYBOX_IMAGE], { reject: false });
    // the moment: the session's container runs, the session is not up yet
    expect(await within(60_000, async () => (await containersOf(`testin.session=${name}`)) !== '')).toBe(true);
    up.kill('SIGHUP');
    const r = await up;
    expect([r.exitCode, r.stdout]).toEqual([129, '']);
    expect(await within(10_000, async () => (await containersOf(`testin.session=${name}`)) === '')).toBe(true);
  });

  it('`testin up` killed with -9 once its session is leased: the half-started session goes by itself within 10 s', async () => {
    const name = `testin-e2e-killup-${process.pid}`;
    const up = execa('node', [TESTIN_BIN, 'up', '--name', name, '--image', BUSYBOX_IMAGE], { reject: false });
    // the moment: the lease is held (its process runs in the container), the session is not up yet
    const leased = await within(60_000, async () => {
      const id = await containersOf(`testin.session=${name}`);
      return id !== '' && (await execa('docker', ['top', id, '-o', 'pid,args'], { reject: false })).stdout.includes('--lease');
    });
    expect(leased).toBe(true);
    up.kill('SIGKILL');
    await up;
    expect(await within(10_000, async () => (await containersOf(`testin.session=${name}`)) === '')).toBe(true);
  });

  it("a session's container killed from outside: exec and ls say it is gone (125), nothing is left", async () => {
    const name = `testin-e2e-killed-${process.pid}`;
    expect((await testin(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    await execa('docker', ['kill', name]);
    expect(await within(10_000, async () => (await containersOf(`testin.session=${name}`)) === '')).toBe(true);
    const exec = await testin(['exec', name, '--', 'true']);
    expect(exec.exitCode).toBe(125);
    expect(exec.stderr).toMatch(new RegExp(`^testin: no session named ${name}`, 'm'));
    expect((await testin(['ls'])).stdout.toString()).not.toContain(name);
  });

  it('a session whose VM crashes stays until down: ls says ended and why, exec is told (125), logs show the panic', async () => {
    const name = `testin-e2e-crash-${process.pid}`;
    expect((await testin(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      await testin(['exec', name, '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger']);
      const ended = await within(10_000, async () => /ended: the guest kernel panicked/.test((await testin(['ls'])).stdout.toString()));
      expect(ended).toBe(true);
      const exec = await testin(['exec', name, '--', 'echo', 'hi']);
      expect([exec.exitCode, exec.stdout.toString()]).toEqual([125, '']);
      expect(exec.stderr).toMatch(/^testin: the VM of this session ended: the guest kernel panicked: .*sysrq triggered crash; `testin logs` shows its console/m);
      expect((await testin(['logs', name])).stdout.toString()).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    } finally {
      expect((await testin(['down', name])).exitCode).toBe(0);
    }
    expect(await containersOf(`testin.session=${name}`)).toBe('');
  });

  /** a cold run whose QEMU gets SIGNAL (SIGABRT: as an assertion of its TCG does now and then; SIGSTOP: it stands still) at its first ABORTS starts, before the guest answers */
  const abortedStarts = async (aborts: number, signal = 'ABRT'): Promise<{ exitCode: number; stderr: string; phases: Record<string, number>; starts: number }> => {
    const report = join(tmpdir(), `testin-e2e-abort-${process.pid}-${aborts}-${signal}.json`);
    try {
      const child = execa('node', [TESTIN_BIN, 'run', '--no-snapshot', '--log-level', 'debug', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'exit 7'], { reject: false, env: { TESTIN_REPORT: report }, timeout: 120_000 });
      let starts = 0;
      let seen = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const now = seen.split('booting cold (no snapshot for this run)').length - 1;
        for (; starts < now; starts++) if (starts < aborts) void execa('pkill', [`-${signal}`, '-f', 'testin/toolbox/bin/qemu-system']);
      });
      const r = await child;
      const phases = (JSON.parse(readFileSync(report, 'utf8')) as { phases: Record<string, number> }).phases;
      return { exitCode: r.exitCode ?? -1, stderr: String(r.stderr), phases, starts };
    } finally {
      rmSync(report, { force: true });
    }
  };

  it("QEMU aborting before the guest answers: the VM is started again once, the command's code stands, one line says why, the report counts the cost", async () => {
    const r = await abortedStarts(1);
    expect([r.exitCode, r.starts]).toEqual([7, 2]);
    expect(r.stderr).toMatch(/^testin: the VM did not come up \(QEMU exited with SIGABRT\b.*\): starting it again$/m);
    expect(r.phases['vm.startCrashed']).toBeGreaterThan(0);
  });

  it('QEMU aborting at the second start too: 125 with the reason, no third start, nothing left', async () => {
    const r = await abortedStarts(2);
    expect([r.exitCode, r.starts]).toEqual([125, 2]);
    expect(r.stderr).toMatch(/^testin: QEMU exited with SIGABRT/m);
  });

  it('QEMU standing still before the guest answers (no CPU used for 10 s): stopped and started again, long before the boot deadline', async () => {
    const r = await abortedStarts(1, 'STOP');
    expect([r.exitCode, r.starts]).toEqual([7, 2]);
    expect(r.stderr).toMatch(/^testin: the VM did not come up \(QEMU stood still, using no CPU for 1\d s before the guest's init answered\): starting it again$/m);
    expect(r.phases['vm.startCrashed']).toBeLessThan(30_000);
  });

  it("a cold boot whose kernel says it lost a CPU's timer (RCU's stall line on the console): stopped and started again at once, not left to its deadline", async () => {
    // the hook writes the line a kernel printed here when one of 5 cold boots at once stood still until its deadline
    const report = join(tmpdir(), `testin-e2e-losttimer-${process.pid}.json`);
    try {
      const started = Date.now();
      const r = await testin(['run', '--no-snapshot', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo up; exit 7'], { env: { TESTIN_TEST_HOOK: 'lost-timer', TESTIN_REPORT: report } });
      expect([r.exitCode, r.stdout.toString()], r.stderr).toEqual([7, 'up\n']);
      expect(r.stderr).toMatch(/^testin: the VM did not come up \(the guest's kernel lost a CPU's timer while it booted: rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies! .*\): starting it again$/m);
      expect((JSON.parse(readFileSync(report, 'utf8')) as { phases: Record<string, number> }).phases['vm.startCrashed']).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      rmSync(report, { force: true });
    }
  });
  it.each([
    ['on its stdin', []],
    ['by docker exec (-i)', ['-i']],
  ] as const)("container-init's own exit hangs once it said its code (lease %s): its PID 1 ends the container at once with that code", async (_lease, flags) => {
    const started = Date.now();
    const r = await testin(['run', ...flags, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo out; exit 7'], { env: { TESTIN_TEST_HOOK: 'exit-hang' }, input: '' });
    expect([r.exitCode, r.stdout.toString()], r.stderr).toEqual([7, 'out\n']);
    expect(r.stderr).not.toMatch(/internal error|testin-hook/);
    // the hook holds node's exit for 60 s
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe.skipIf(skip !== '')('faults: docker-compose stopping a service that runs in a VM', () => {
  let dir: string;
  const project = `testin-e2e-composefault-${process.pid}`;
  let compose: (...args: string[]) => ResultPromise;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-composefault-'));
    const file = join(dir, 'docker-compose.yml');
    writeFileSync(file, `services:\n  job:\n    image: ${BUSYBOX_IMAGE}\n    command: ["sh", "-c", "trap 'echo job-got-term; exit 0' TERM; echo job-ready; sleep 600 & wait"]\n`);
    const override = join(dir, 'compose.testin.yml');
    await execa('node', [TESTIN_BIN, 'compose', '-f', file, '--service', 'job', '-o', override]);
    compose = (...args) => execa('docker-compose', ['-p', project, '-f', file, '-f', override, ...args], { reject: false, all: true, timeout: 120_000 });
  });

  afterAll(async () => {
    await compose('down', '--remove-orphans');
    rmSync(dir, { recursive: true, force: true });
  });

  const vmProcesses = async (): Promise<string> => (await execa('pgrep', ['-af', 'testin/toolbox/bin/(qemu-system|virtiofsd|passt)'], { reject: false })).stdout.trim();
  const jobReady = async (): Promise<boolean> => ((await compose('logs', 'job')).all ?? '').includes('job-ready');

  it('Ctrl-C of `docker-compose up`: the command gets SIGTERM in the VM, the VM is gone', async () => {
    const up = compose('up');
    expect(await within(60_000, jobReady)).toBe(true);
    up.kill('SIGINT');
    await up;
    // compose stopped the container (docker stop): container-init passed SIGTERM to the command in the VM
    expect((await compose('logs', 'job')).all).toMatch(/job-got-term/);
    expect(await vmProcesses()).toBe('');
    await compose('down', '--remove-orphans');
    expect(await leftovers()).toEqual([]);
  });

  it('`docker-compose kill`: the container and every process of its VM are gone at once', async () => {
    await compose('up', '-d');
    expect(await within(60_000, jobReady)).toBe(true);
    expect(await vmProcesses()).not.toBe('');
    const killed = await compose('kill');
    expect(killed.exitCode).toBe(0);
    expect(await within(5_000, async () => (await vmProcesses()) === '')).toBe(true);
    await compose('down', '--remove-orphans');
    expect(await leftovers()).toEqual([]);
  });
});
