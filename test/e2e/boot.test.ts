import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ROOT, SYSTEMD_IMAGE, TESTIN_BIN, TRIXIE_BASE } from '../helpers/paths.js';
import { reportErrors } from '../helpers/report-schema.js';
// the library as users import it: the built package
import { attachSession } from '../../dist/launcher/index.js';
import { leftovers, readyStream, testin, testinSignalledWhenReady, within } from '../helpers/testin.js';
import { SESSION_READY } from '../../contract/session-protocol.js';

const skip = inject('e2eSkip');
const IMAGE = SYSTEMD_IMAGE;

describe.skipIf(skip !== '')("--boot: the image's own systemd as PID 1, testin's agent beside it", () => {
  let dir = '';
  beforeAll(async () => {
    await execa(join(ROOT, 'test/fixtures/build-systemd-image.sh'), [IMAGE, TRIXIE_BASE], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-boot-'));
    writeFileSync(join(dir, 'on'), 'on\n');
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'data', 'f'), 'from the host\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("a unit of the image starts at boot; the command runs once the system is up, with the run's env, user and mounts; then systemd shuts down", async () => {
    const r = await testin([
      'run', '--boot', '--report', join(dir, 'report.json'), '-e', 'GREETING=hi', '-u', 'nobody', '-v', `${join(dir, 'data')}:/data:ro`, '-v', `${join(dir, 'out')}:/out`, '--image', IMAGE, '--',
      'sh', '-c', 'systemctl is-active testin-hello; cat /run/testin-hello; cat /proc/1/comm; systemctl is-system-running; echo "$GREETING $(id -un)"; cat /data/f',
    ]);
    expect(r.stdout.toString()).toBe('active\nhello from a unit\nsystemd\nrunning\nhi nobody\nfrom the host\n');
    expect(r.exitCode).toBe(0);
    // the guest console (systemd's unit lines) does not reach the user's streams
    expect(r.stderr).not.toMatch(/Started|Reached target/);
    // after the command the system was shut down by systemd: a unit's ExecStop ran
    expect(readFileSync(join(dir, 'out', 'stop-mark'), 'utf8')).toBe('stopped by systemd\n');
    // ...and the report carries the system's console: units starting, and stopping at the shutdown
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { console?: string[] };
    expect(reportErrors(report)).toEqual([]);
    expect(report.console?.join('\n')).toMatch(/\[ {2}OK {2}\] Reached target multi-user\.target[\s\S]*Stopped testin-stopmark\.service/);
  });

  it('a unit made to fail: the system starts degraded, the run names the unit, the command runs; Ctrl-C ends it, and the shutdown after it is not cut by --stop-timeout', async () => {
    const out = mkdtempSync(join(tmpdir(), 'testin-e2e-slowstop-'));
    try {
      // the stop mark's unit takes 3 s to stop: the system's shutdown outlasts the command's stop timeout (1 s)
      mkdirSync(join(out, 'dropin'));
      mkdirSync(join(out, 'out'));
      writeFileSync(join(out, 'dropin', 'slow.conf'), "[Service]\nExecStop=\nExecStop=/bin/sh -c 'sleep 3; echo stopped slowly > /out/stop-mark'\n");
      const r = await testinSignalledWhenReady(
        [
          'run', '--boot', '--stop-timeout', '1', '-v', `${join(dir, 'on')}:/etc/testin-broken:ro`, '-v', `${join(out, 'dropin')}:/etc/systemd/system/testin-stopmark.service.d:ro`, '-v', `${join(out, 'out')}:/out`,
          '--image', IMAGE, '--', 'sh', '-c', 'systemctl is-system-running; echo ready; sleep 600',
        ],
        'SIGINT',
      );
      expect(r.stderr).toMatch(/^testin: the system started degraded: failed units: .*testin-broken\.service/m);
      expect(r.stdout.toString()).toBe('degraded\nready\n');
      expect(r.exitCode).toBe(130);
      // the command ended at once: the VM was not stopped hard, and the system shut down in full
      expect(r.stderr).not.toMatch(/did not end within/);
      expect(readFileSync(join(out, 'out', 'stop-mark'), 'utf8')).toBe('stopped slowly\n');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('--timeout counts from the command, not the boot: 124', async () => {
    const r = await testin(['run', '--boot', '--timeout', '2s', '--image', IMAGE, '--', 'sh', '-c', 'echo started; sleep 60']);
    expect(r.stdout.toString()).toBe('started\n');
    expect(r.stderr).toMatch(/timed out after 2 s/);
    expect(r.exitCode).toBe(124);
  });

  it('without a command the system runs until it powers off: `systemctl poweroff` in a unit ends the run with 0', async () => {
    const out = mkdtempSync(join(tmpdir(), 'testin-e2e-poweroff-'));
    try {
      const r = await testin(['run', '--boot', '--report', join(out, 'report.json'), '-v', `${join(dir, 'on')}:/etc/testin-poweroff:ro`, '-v', `${out}:/out`, '--image', IMAGE]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe('');
      // the unit powered the system off through systemd: the shutdown stopped the units (one left its mark)
      expect(readFileSync(join(out, 'stop-mark'), 'utf8')).toBe('stopped by systemd\n');
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { console?: string[]; abnormal?: unknown };
      expect(report.abnormal).toBeNull();
      expect(report.console?.join('\n')).toMatch(/testin-poweroff[\s\S]*System Power Off/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('Ctrl-C while `testin up --boot` waits for the system: 130, and nothing of the session is left', async () => {
    const name = `testin-e2e-boot-int-${process.pid}`;
    const up = execa('node', [TESTIN_BIN, 'up', '--boot', '--name', name, '--image', IMAGE], { reject: false });
    // once its container exists (the system then takes seconds even under KVM)
    let container = '';
    await within(30_000, async () => (container = (await execa('docker', ['ps', '-q', '--filter', `label=testin.session=${name}`])).stdout.trim()) !== '');
    // the moment this test is about: the session exists and is not ready yet (its system is starting)
    expect(container).not.toBe('');
    expect((await execa('docker', ['logs', container], { all: true })).all).not.toContain(SESSION_READY);
    up.kill('SIGINT');
    const r = await up;
    expect(r.exitCode).toBe(130);
    expect(r.stdout).toBe('');
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=testin.session=${name}`])).stdout).toBe('');
  });
});

describe.skipIf(skip !== '')('a booted session: testin up --boot, exec, logs, down', () => {
  const name = `testin-e2e-boot-${process.pid}`;
  const net = `testin-e2e-bootnet-${process.pid}`;
  const port = 20_000 + (process.pid % 10_000);
  let out = '';
  const exec = (...argv: string[]) => testin(['exec', name, '--', ...argv]);

  beforeAll(async () => {
    await execa(join(ROOT, 'test/fixtures/build-systemd-image.sh'), [IMAGE, TRIXIE_BASE], { stdio: 'inherit' });
    out = mkdtempSync(join(tmpdir(), 'testin-e2e-boot-out-'));
    await execa('docker', ['network', 'create', net]);
    const up = await testin(['up', '--boot', '--name', name, '--network', net, '-p', `127.0.0.1:${port}:8080`, '-v', `${out}:/out`, '--image', IMAGE]);
    expect(up.stderr).not.toMatch(/Started|Reached target/);
    expect(up.exitCode).toBe(0);
  });
  afterAll(async () => {
    await execa('node', [TESTIN_BIN, 'down', name], { reject: false });
    await execa('docker', ['network', 'rm', net], { reject: false });
    rmSync(out, { recursive: true, force: true });
  });

  it('a service started with systemctl is reached by the session name from a sibling and on the published port', async () => {
    expect((await exec('systemctl', 'start', 'testin-web')).exitCode).toBe(0);
    expect((await exec('systemctl', 'is-active', 'testin-web')).stdout.toString()).toBe('active\n');
    // started is not yet listening (Type=simple): a few tries
    const wget = `for i in $(seq 20); do wget -qO- http://${name}:8080/ && exit 0; sleep 0.5; done; exit 1`;
    const sibling = await execa('docker', ['run', '--rm', '--network', net, BUSYBOX_IMAGE, 'sh', '-c', wget]);
    expect(sibling.stdout).toBe('served-by-a-unit');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('served-by-a-unit\n');
  });

  it('journalctl shows the boot; timedatectl and hostnamectl answer', async () => {
    const journal = await exec('journalctl', '-b', '--no-pager');
    expect(journal.exitCode).toBe(0);
    expect(journal.stdout.toString()).toMatch(/kernel: Linux version/);
    expect(journal.stdout.toString()).toMatch(/Finished testin-hello\.service/);
    const time = await exec('timedatectl');
    expect([time.exitCode, time.stdout.toString()]).toEqual([0, expect.stringMatching(/Universal time: /)]);
    const host = await exec('hostnamectl');
    expect([host.exitCode, host.stdout.toString()]).toEqual([0, expect.stringMatching(/Virtualization: qemu/)]);
  });

  it("files, dmesg and a signal to one command go through testin's agent, which systemd's units neither own nor stop", async () => {
    const vm = await attachSession(name);
    await vm.writeFile('/tmp/from-the-host', Buffer.from('written beside systemd'));
    expect((await vm.readFile('/tmp/from-the-host')).toString()).toBe('written beside systemd');
    expect(await vm.dmesg()).toMatch(/Linux version/);
    const out = readyStream();
    const target = vm.spawn(['sh', '-c', 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.1; done'], { stdout: out.stream });
    await out.ready;
    target.kill('SIGUSR1');
    const t = await target.result;
    expect([out.text(), t.exitCode]).toEqual(['ready\ngot-usr1\n', 9]);
    // the agent: a child of systemd, named with '@' (spared by its shutdown's kill), in PID 1's own
    // init.scope (where systemd moves what it finds in the root cgroup), which no unit stop takes down
    const agent = await exec('sh', '-c', 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = testin-agent ] && { cut -d" " -f4 $p/stat; head -c1 $p/cmdline; echo; cat $p/cgroup; }; done; true');
    expect(agent.stdout.toString()).toBe('1\n@\n0::/init.scope\n');
  });

  it("testin logs shows the guest console: systemd's unit lines", async () => {
    const logs = await testin(['logs', name]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout.toString()).toMatch(/Reached target .*multi-user\.target/);
  });

  it('testin down powers the system off through systemd (a unit stops and leaves its mark) and leaves nothing', async () => {
    const started = Date.now();
    expect((await testin(['down', name])).exitCode).toBe(0);
    const ms = Date.now() - started;
    expect(readFileSync(join(out, 'stop-mark'), 'utf8')).toBe('stopped by systemd\n');
    expect(await leftovers()).toEqual([]);
    // well inside the power-off grace (30 s): it was systemd's shutdown that ended the VM, not the kill after the grace
    expect(ms).toBeLessThan(25_000);
  });
});
