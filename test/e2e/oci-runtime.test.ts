import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ARM64_IMAGE, BUSYBOX_IMAGE, ROOT, SYSTEMD_IMAGE, TRIXIE_BASE } from '../helpers/paths.js';
import { onPty } from '../helpers/pty.js';
import { ctrRun } from '../helpers/containerd.js';
import { leftovers, testin, within } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const DAEMON_JSON = '/etc/docker/daemon.json';
const DOCKERD_PID = '/var/run/docker.pid';

/** dockerd reads its runtimes again on SIGHUP; done when `docker info` lists them */
async function reloadDockerd(wanted: string[]): Promise<void> {
  process.kill(Number(readFileSync(DOCKERD_PID, 'utf8').trim()), 'SIGHUP');
  await within(20_000, async () => {
    const runtimes = Object.keys(JSON.parse((await execa('docker', ['info', '--format', '{{json .Runtimes}}'])).stdout) as object);
    return wanted.every((w) => runtimes.includes(w));
  });
}

const docker = (args: string[], input?: string) => execa('docker', args, { reject: false, ...(input !== undefined ? { input } : { stdin: 'ignore' }) });

/**
 * testin-runtime, the OCI runtime: `testin runtime configure`, then the docker CLI, compose
 * and containerd run containers' commands in VMs, with no testin CLI in the loop.
 */
describe.skipIf(skip !== '')('testin-runtime: docker, compose and containerd get VMs', () => {
  const savedDaemonJson = existsSync(DAEMON_JSON) ? readFileSync(DAEMON_JSON, 'utf8') : undefined;
  let brokenDir = '';
  let release = '';

  beforeAll(async () => {
    // made here, not when the file is collected: a filtered or skipped run leaves no folder behind
    brokenDir = mkdtempSync(join(tmpdir(), 'testin-e2e-runtime-'));
    // with the toolbox of arm64 VMs too (the global set-up built it): containers of arm64 images run in them
    const configured = await testin(['runtime', 'configure', '--runtime', 'docker', '--platform', 'linux/arm64']);
    expect(configured.exitCode, configured.stderr.toString()).toBe(0);
    expect(configured.stdout.toString()).toMatch(
      /^installed \/var\/lib\/testin\/runtime\/testin-runtime \(toolbox \w{16}, kernel (\S+); arm64 VMs: toolbox \w{16}, kernel \S+-arm64, runc \/\S+\)\n(added|already has) runtime "testin" in \/etc\/docker\/daemon.json\nreload dockerd: /,
    );
    release = /kernel ([^\s;,]+)/.exec(configured.stdout.toString())?.[1] ?? '';
    // a second runtime whose toolbox is gone: its create must fail with testin's line
    expect((await testin(['runtime', 'configure', '--name', 'testin-broken', '--dir', brokenDir])).exitCode).toBe(0);
    const config = JSON.parse(readFileSync(join(brokenDir, 'config.json'), 'utf8')) as { toolbox: string };
    writeFileSync(join(brokenDir, 'config.json'), JSON.stringify({ ...config, toolbox: join(brokenDir, 'no-toolbox') }));
    await reloadDockerd(['testin', 'testin-broken', 'runc']);
  }, 600_000);

  afterAll(async () => {
    if (savedDaemonJson === undefined) rmSync(DAEMON_JSON, { force: true });
    else writeFileSync(DAEMON_JSON, savedDaemonJson);
    await reloadDockerd(['runc']);
    if (brokenDir) rmSync(brokenDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("docker run --runtime testin: the VM's kernel (its QEMU started with the container), and the command's exit codes exact (0, 42, 127, 143)", async () => {
    const uname = await docker(['run', '--rm', '--runtime', 'testin', '-e', 'TESTIN_LOG_LEVEL=debug', BUSYBOX_IMAGE, 'uname', '-r']);
    expect([uname.exitCode, uname.stdout]).toEqual([0, release]);
    // the plan in the container's environment: PID 1 started QEMU held, as for testin run (initfs/pid1.c)
    expect(uname.stderr).toMatch(/QEMU \(started with the container, held until now\) -nodefaults /);
    expect(release).not.toBe((await execa('uname', ['-r'])).stdout);
    const cases = [['exit 42', 42], ['no-such-command', 127], ['kill -TERM $$', 143]] as const;
    const codes = await Promise.all(cases.map(async ([script]) => (await docker(['run', '--rm', '--runtime', 'testin', BUSYBOX_IMAGE, 'sh', '-c', script])).exitCode));
    expect(codes).toEqual(cases.map(([, code]) => code));
  });

  it("docker run --runtime testin of an arm64 image: its binaries' architecture picks the arm64 VM (docker alone gives exec format error)", async () => {
    const r = await docker(['run', '--rm', '--runtime', 'testin', ARM64_IMAGE, 'sh', '-c', 'uname -m; uname -r; exit 42']);
    expect([r.exitCode, r.stdout], r.stderr).toEqual([42, expect.stringMatching(/^aarch64\n\S+-arm64$/)]);
  });

  it('testin doctor names the runtime the engine has, and says when its toolbox is gone', async () => {
    const doctor = await testin(['doctor']);
    expect(doctor.stdout.toString()).toMatch(/^ok\s+runtime\s+testin-runtime \(\/var\/lib\/testin\/runtime\) is the engine's runtime "testin": docker run --runtime testin runs the command in a VM$/m);
    const broken = await testin(['doctor'], { env: { TESTIN_RUNTIME_DIR: brokenDir } });
    expect(broken.stdout.toString()).toMatch(/^fail\s+runtime\s+testin-runtime in \S+: its toolbox is gone from \S+no-toolbox: every docker run --runtime fails\n\s+fix: testin runtime install/m);
  });

  it('-v, -e, -w, -u and -i (stdin to its end) keep their meaning in the VM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-runtime-vol-'));
    try {
      writeFileSync(join(dir, 'in'), 'from-host\n');
      chmodSync(dir, 0o777);
      const r = await docker(
        ['run', '--rm', '-i', '--runtime', 'testin', '-v', `${dir}:/data`, '-e', 'FOO=bar', '-w', '/data', '-u', '1000:1000', BUSYBOX_IMAGE, 'sh', '-c', 'echo $FOO; pwd; id -u; cat in; cat > out; uname -r'],
        'to-the-vm\n',
      );
      // on this machine the VM runs under TCG, which container-init says on stderr (as testin run does); nothing else comes there
      expect([r.exitCode, r.stdout, r.stderr.split('\n').filter((l) => l && !l.startsWith('testin: running the VM under TCG'))]).toEqual([0, `bar\n/data\n1000\nfrom-host\n${release}`, []]);
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('to-the-vm\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docker run -d, then docker exec runs in the VM; docker logs has the output; docker stop ends it through the guest; docker rm leaves nothing', async () => {
    const name = `testin-e2e-runtime-${process.pid}`;
    try {
      const started = await docker(['run', '-d', '--name', name, '--runtime', 'testin', '--stop-timeout', '20', BUSYBOX_IMAGE, 'sh', '-c', "trap 'echo got TERM; exit 7' TERM; echo started; while :; do sleep 1; done"]);
      expect(started.exitCode, started.stderr).toBe(0);
      // at once: an exec that comes while the VM still starts waits for it
      const exec = await docker(['exec', name, 'uname', '-r']);
      expect([exec.exitCode, exec.stdout]).toEqual([0, release]);
      expect((await docker(['exec', name, 'sh', '-c', 'echo to-stderr >&2; exit 5'])).exitCode).toBe(5);
      expect((await docker(['exec', '-u', '1000', name, 'id', '-u'])).stdout).toBe('1000');
      await within(30_000, async () => (await docker(['logs', name])).stdout.includes('started'));
      const t0 = Date.now();
      expect((await docker(['stop', name])).exitCode).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect((await docker(['inspect', '-f', '{{.State.ExitCode}}', name])).stdout).toBe('7');
      expect((await docker(['logs', name])).stdout).toBe('started\ngot TERM');
    } finally {
      await docker(['rm', '-f', name]);
    }
  });

  it('-t: docker run -it and docker exec -it get a pty in the VM, of the terminal\'s size, and their exit codes', async () => {
    const name = `testin-e2e-runtime-tty-${process.pid}`;
    try {
      const run = await onPty(30, 100, [{ expect: '# ' }, { send: 'tty; stty size; uname -r\n' }, { expect: release }, { send: 'exit 3\n' }], ['docker', 'run', '--rm', '-it', '--runtime', 'testin', BUSYBOX_IMAGE, 'sh']);
      expect(run.failed).toBeNull();
      expect(run.output).toMatch(new RegExp(`/dev/pts/\\d+\r\n30 100\r\n${release.replace(/[.+]/g, '\\$&')}\r\n`));
      expect(run.exit).toBe(3);
      expect((await docker(['run', '-d', '--name', name, '--runtime', 'testin', BUSYBOX_IMAGE, 'sleep', '600'])).exitCode).toBe(0);
      const exec = await onPty(25, 90, [{ expect: '# ' }, { send: 'tty; stty size; cat /proc/1/comm\n' }, { expect: '90' }, { send: 'exit 6\n' }], ['docker', 'exec', '-it', name, 'sh']);
      expect(exec.failed).toBeNull();
      expect(exec.output).toMatch(/\/dev\/pts\/\d+\r\n25 90\r\n/);
      expect(exec.exit).toBe(6);
    } finally {
      await docker(['rm', '-f', name]);
    }
  });

  it("TESTIN_BOOT: the image's systemd boots as PID 1 in the VM, and the container's command runs once the system is up", async () => {
    await execa(join(ROOT, 'test/fixtures/build-systemd-image.sh'), [SYSTEMD_IMAGE, TRIXIE_BASE], { stdio: 'inherit' });
    const r = await docker(['run', '--rm', '--runtime', 'testin', '-e', 'TESTIN_BOOT=/sbin/init', SYSTEMD_IMAGE, 'sh', '-c', 'cat /proc/1/comm; systemctl is-system-running; cat /run/testin-hello; exit 5']);
    expect([r.exitCode, r.stdout]).toEqual([5, 'systemd\nrunning\nhello from a unit']);
  });

  it("a create testin-runtime cannot do (its toolbox gone, a bad VM setting) is one line of docker's error, and leaves no container", async () => {
    const name = `testin-e2e-runtime-broken-${process.pid}`;
    const r = await docker(['run', '--rm', '--name', name, '--runtime', 'testin-broken', BUSYBOX_IMAGE, 'true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/testin: the toolbox testin-runtime was installed with is gone from \S+ \(fix: run testin runtime install again/);
    expect((await docker(['ps', '-aq', '--filter', `name=${name}`])).stdout).toBe('');
    // an arm64 image, and this runtime was installed without arm64's toolbox
    const arm = await docker(['run', '--rm', '--name', name, '--runtime', 'testin-broken', ARM64_IMAGE, 'true']);
    expect(arm.exitCode).not.toBe(0);
    expect(arm.stderr).toMatch(/testin: the container's binaries are linux\/arm64: testin-runtime has no toolbox for arm64 VMs \(fix: run testin runtime install --platform linux\/arm64/);
    expect((await docker(['ps', '-aq', '--filter', `name=${name}`])).stdout).toBe('');
    // a VM setting testin cannot use: the variable named, the fix, no container
    const bad = await docker(['run', '--rm', '--name', name, '--runtime', 'testin', '-e', 'TESTIN_CPUS=many', BUSYBOX_IMAGE, 'true']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/testin: the container's VM settings: TESTIN_CPUS=many is not a number \(fix: fix the container's TESTIN_\* variable or testin\.\* annotation/);
    expect((await docker(['ps', '-aq', '--filter', `name=${name}`])).stdout).toBe('');
  });

  it('compose: a service with runtime: testin runs in a VM (docker-compose run --rm)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-runtime-compose-'));
    const project = `testin-e2e-runtime-${process.pid}`;
    try {
      writeFileSync(join(dir, 'compose.yml'), `version: "2.4"\nservices:\n  job:\n    image: ${BUSYBOX_IMAGE}\n    runtime: testin\n    command: ["sh", "-c", "uname -r; exit 3"]\n`);
      const r = await execa('docker-compose', ['-p', project, '-f', join(dir, 'compose.yml'), 'run', '--rm', '-T', 'job'], { reject: false });
      expect([r.exitCode, r.stdout]).toEqual([3, release]);
    } finally {
      await execa('docker-compose', ['-p', project, '-f', join(dir, 'compose.yml'), 'down', '--remove-orphans'], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compose up --exit-code-from: a sibling container reaches the service in a VM by name, on a port nobody declared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-runtime-compose-'));
    const project = `testin-e2e-runtime-up-${process.pid}`;
    const file = join(dir, 'compose.yml');
    try {
      writeFileSync(
        file,
        `version: "2.4"
services:
  server:
    image: ${BUSYBOX_IMAGE}
    runtime: testin
    command: ["sh", "-c", "mkdir -p /tmp/www && uname -r > /tmp/www/k && exec httpd -f -p 7777 -h /tmp/www"]
  client:
    image: ${BUSYBOX_IMAGE}
    depends_on: [server]
    command: ["sh", "-c", "for i in $$(seq 1 300); do wget -qO- http://server:7777/k && exit 0; sleep 0.2; done; exit 9"]
`,
      );
      const r = await execa('docker-compose', ['-p', project, '-f', file, 'up', '--no-color', '--exit-code-from', 'client'], { reject: false });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      // compose prefixes each line with the service's name, padded
      expect(r.stdout.split('\n').filter((l) => /^client_1\s+\| /.test(l) && l.trimEnd().endsWith(`| ${release}`))).toHaveLength(1);
    } finally {
      await execa('docker-compose', ['-p', project, '-f', file, 'down', '--remove-orphans'], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("containerd: ctr run with testin-runtime as the runc shim's binary (a RuntimeClass's path) runs the image in a VM", async () => {
    const r = await ctrRun('/var/lib/testin/runtime/testin-runtime', BUSYBOX_IMAGE, ['sh', '-c', 'uname -r; exit 4']);
    expect([r.exitCode, r.stdout.trim()]).toEqual([4, release]);
  });
});
