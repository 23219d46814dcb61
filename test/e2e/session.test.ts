import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ROOT } from '../helpers/paths.js';
import { leftovers, readyStream } from '../helpers/testin.js';
// the library as users import it: the built package
import { attachSession, run, start, type Machine } from '../../dist/launcher/index.js';
import { PassThrough } from 'node:stream';

const skip = inject('e2eSkip');


describe.skipIf(skip !== '')('sessions through the library: one VM, many commands', () => {
  let vm: Machine;

  beforeAll(async () => {
    vm = await start({ image: BUSYBOX_IMAGE, name: `testin-e2e-session-${process.pid}` }, { stderr: process.stderr });
  });

  afterAll(async () => {
    await vm.stop();
    expect(await leftovers()).toEqual([]);
  });

  it('runs 50 commands one after another with the right outputs and exit codes', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await vm.exec(['sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i % 7}`]);
      expect([r.stdout.toString(), r.stderr.toString(), r.exitCode]).toEqual([`out-${i}\n`, `err-${i}\n`, i % 7]);
    }
  });

  it('runs 10 commands at once, outputs unmixed', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => vm.exec(['sh', '-c', `for n in 1 2 3 4 5; do echo cmd${i}-line$n; sleep 0.0${i}; done; exit ${i}`])),
    );
    results.forEach((r, i) => {
      expect(r.stdout.toString()).toBe([1, 2, 3, 4, 5].map((n) => `cmd${i}-line${n}\n`).join(''));
      expect(r.exitCode).toBe(i);
    });
  });

  it('gives each command its own stdin, env, cwd and user', async () => {
    const [a, b] = await Promise.all([
      vm.exec(['sh', '-c', 'cat; echo " $V $(pwd) $(id -un)"'], { stdin: 'first', env: ['V=one'], cwd: '/tmp', user: 'app' }),
      vm.exec(['sh', '-c', 'cat; echo " $V $(pwd) $(id -un)"'], { stdin: 'second', env: ['V=two'], cwd: '/', user: 'root' }),
    ]);
    expect(a.stdout.toString()).toBe('first one /tmp app\n');
    expect(b.stdout.toString()).toBe('second two / root\n');
  });

  it('stops one command (abort, timeout) and leaves the others running', async () => {
    const controller = new AbortController();
    const survivor = vm.exec(['sh', '-c', 'sleep 3; echo survived']);
    const started = readyStream('started');
    const aborted = vm.exec(['sh', '-c', 'echo started; sleep 100'], { signal: controller.signal, stdout: started.stream });
    const timed = vm.exec(['sleep', '100'], { timeout: 1500 });
    void started.ready.then(() => controller.abort());
    const [s, a, t] = await Promise.all([survivor, aborted, timed]);
    expect([a.canceled, a.exitCode]).toEqual([true, 143]);
    expect([t.timedOut, t.exitCode]).toEqual([true, 124]);
    expect([s.stdout.toString(), s.exitCode]).toEqual(['survived\n', 0]);
  });

  it('sends a signal to one command (spawn + kill) and leaves the others running', async () => {
    const other = vm.exec(['sh', '-c', 'sleep 2; echo other-done']);
    const out = readyStream();
    const target = vm.spawn(['sh', '-c', 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.1; done'], { stdout: out.stream });
    await out.ready;
    // from this host the library talks to the session socket itself: no docker exec in the container
    expect((await execa('docker', ['top', vm.name, '-o', 'pid,args'])).stdout).not.toMatch(/--exec/);
    target.kill('SIGUSR1');
    const [o, t] = await Promise.all([other, target.result]);
    expect([out.text(), t.exitCode]).toEqual(['ready\ngot-usr1\n', 9]);
    expect([o.stdout.toString(), o.exitCode]).toEqual(['other-done\n', 0]);
  });

  it('moves files in and out byte for byte', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    await vm.writeFile('/tmp/blob', data);
    expect((await vm.readFile('/tmp/blob')).equals(data)).toBe(true);
    await expect(vm.readFile('/no/such/file')).rejects.toThrow(/cannot read \/no\/such\/file/);
  });

  it('runs commands the same way through docker exec, where the session socket cannot be reached from here', async () => {
    process.env.TESTIN_SESSION_VIA = 'docker-exec';
    try {
      const other = await attachSession(vm.name);
      const r = await other.exec(['sh', '-c', 'cat; echo err >&2; exit 3'], { stdin: 'in' });
      expect([r.stdout.toString(), r.stderr.toString(), r.exitCode]).toEqual(['in', 'err\n', 3]);
      const out = readyStream();
      const target = other.spawn(['sh', '-c', 'trap "echo got-usr2; exit 7" USR2; echo ready; while :; do sleep 0.1; done'], { stdout: out.stream });
      await out.ready;
      // the command's client is a process in the container
      expect((await execa('docker', ['top', vm.name, '-o', 'pid,args'])).stdout).toMatch(/container-init\.js --exec/);
      target.kill('SIGUSR2');
      const t = await target.result;
      expect([out.text(), t.exitCode]).toEqual(['ready\ngot-usr2\n', 7]);
    } finally {
      delete process.env.TESTIN_SESSION_VIA;
    }
  });

  it('reads the whole kernel log from the init (dmesg), not only what the quiet console shows', async () => {
    const marker = `testin-kmsg-${process.pid}`;
    const w = await vm.exec(['sh', '-c', `echo "<6>${marker}" > /dev/kmsg`]);
    expect(w.exitCode).toBe(0);
    const release = (await vm.exec(['uname', '-r'])).stdout.toString().trim();
    const log = await vm.dmesg();
    expect(log).toContain(`Linux version ${release}`);
    expect(log).toContain(marker);
    expect(log).not.toMatch(/^<\d+>/m);
    // an info line stays out of the console (quiet, loglevel=4: errors and worse)
    expect(await vm.consoleLog()).not.toContain(marker);
  });
});

describe.skipIf(skip !== '')('run() through the library', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('captures stdout and stderr as Buffers and reports the phases of the run and of the VM', async () => {
    const r = await run({ image: BUSYBOX_IMAGE, command: ['sh', '-c', 'echo out; echo err >&2; exit 5'] });
    // the result comes once the run's container is gone, not while the engine still removes it
    // (asked in-process: a docker CLI's own start would give the engine the time to finish)
    expect(await new Docker().listContainers({ all: true, filters: { label: ['testin.run'] } })).toEqual([]);
    expect(r.exitCode).toBe(5);
    expect(r.stdout?.toString()).toBe('out\n');
    expect(r.stderr?.toString()).toBe('err\n');
    expect(Object.keys(r.phases)).toEqual(expect.arrayContaining(['create', 'run', 'vm.vmmStart', 'vm.rootMounted', 'vm.commandStarted', 'vm.command', 'vm.vmDown', 'remove']));
    // booted (the kernel's boot) or restored from the VM's snapshot (the restore): one of the two, never both
    const started = ['vm.kernelToInit', 'vm.restore'].filter((k) => k in r.phases);
    expect(started).toHaveLength(1);
    expect(r.phases[started[0] as string]).toBeGreaterThan(10);
    expect(r.durationMs).toBeGreaterThanOrEqual(r.phases.run as number);
    // the guest's own steps split its way from its answer to the command, on its clock put on the run's
    const guest = Object.entries(r.phases).filter(([k]) => k.startsWith('vm.guest.'));
    const steps = ['exec', 'root', 'tmpfs', 'devices', 'network', 'settings', 'command'];
    expect(guest.map(([k]) => k)).toEqual([...steps, 'exited', 'exitToHost'].map((s) => `vm.guest.${s}`));
    const toCommand = guest.slice(0, steps.length).reduce((sum, [, ms]) => sum + ms, 0);
    expect(Math.abs(toCommand - ((r.phases['vm.rootMounted'] as number) + (r.phases['vm.commandStarted'] as number)))).toBeLessThanOrEqual(2);
    // the command's run in the guest is within the run's own view of it (the exit's way out on top)
    expect(r.phases['vm.guest.exited']).toBeLessThanOrEqual((r.phases['vm.command'] as number) + 15);
  });

  it('stops on an AbortSignal: canceled, 143', async () => {
    const controller = new AbortController();
    const stdout = new PassThrough();
    stdout.on('data', (d: Buffer) => d.toString().includes('ready') && controller.abort());
    const r = await run({ image: BUSYBOX_IMAGE, command: ['sh', '-c', 'echo ready; sleep 600'] }, { stdout, signal: controller.signal });
    expect([r.canceled, r.exitCode, r.signal]).toEqual([true, 143, 'SIGTERM']);
  });
});

describe.skipIf(skip !== '')('session clean-up', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('await using stops the VM even when the block throws', async () => {
    const name = `testin-e2e-using-${process.pid}`;
    await expect(
      (async () => {
        await using vm = await start({ image: BUSYBOX_IMAGE, name }, { stderr: process.stderr });
        expect((await vm.exec(['true'])).exitCode).toBe(0);
        throw new Error('boom');
      })(),
    ).rejects.toThrow('boom');
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=testin.session=${name}`])).stdout).toBe('');
  });

  it('after kill -9 of the process that started a session, the next start removes it', async () => {
    const name = `testin-e2e-orphan-${process.pid}`;
    const script = `import { start } from '${ROOT}/dist/launcher/index.js'; await start({ image: '${BUSYBOX_IMAGE}', name: '${name}' }); console.log('up'); setInterval(() => {}, 1000);`;
    const child = execa('node', ['--input-type=module', '-e', script], { reject: false });
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => d.toString().includes('up') && resolve()));
    child.kill('SIGKILL');
    await child;
    expect((await execa('docker', ['ps', '-q', '--filter', `label=testin.session=${name}`])).stdout).not.toBe('');
    const next = await start({ image: BUSYBOX_IMAGE }, { stderr: process.stderr });
    await next.stop();
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=testin.session=${name}`])).stdout).toBe('');
  });
});
