import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ARM64_IMAGE, BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, testin, testinWhenReady } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const NOTICE = /^testin: running the VM under TCG \(software emulation, several times slower than KVM\): the image is linux\/arm64 and the engine's host x86_64: QEMU emulates an aarch64 machine/m;

/**
 * An arm64 image on this x86-64 engine (issue 26): docker gives "exec format error" for it; testin
 * runs it in an arm64 VM (QEMU's virt machine, Debian's arm64 kernel, testin's init cross-compiled),
 * while the container around the VM runs testin's own x86-64 parts. The global set-up built the
 * image (Debian's static busybox for aarch64) and the toolbox for arm64 guests.
 */
describe.skipIf(skip !== '')('arm64 images in arm64 VMs on an x86-64 engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-arm64-'));
  const NET = `testin-e2e-arm64-${process.pid}`;

  beforeAll(async () => {
    chmodSync(dir, 0o777);
    await execa('docker', ['network', 'create', NET]);
  });

  afterAll(async () => {
    await execa('docker', ['network', 'rm', NET], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("runs in an aarch64 VM: uname -m, its kernel, stdin, a -v write to the host; then from the arm64 snapshot the exit codes 0, 42, 127, 143 exact", async () => {
    expect((await execa('docker', ['run', '--rm', ARM64_IMAGE, 'true'], { reject: false })).stderr).toMatch(/exec format error/);
    // the first run of this shape (no volumes) saves the arm64 VM's snapshot, when there is none yet
    const first = await testin(['run', ARM64_IMAGE, 'sh', '-c', 'uname -m; uname -r; id -u']);
    expect([first.exitCode, first.stdout.toString()]).toEqual([0, expect.stringMatching(/^aarch64\n\S+-arm64\n0\n$/)]);
    expect(first.stderr).toMatch(NOTICE);
    const io = await testin(['run', '-i', '-v', `${dir}:/out`, ARM64_IMAGE, 'sh', '-c', 'cat > /out/from-arm64; uname -m'], { input: 'typed-in\n' });
    expect([io.exitCode, io.stdout.toString()]).toEqual([0, 'aarch64\n']);
    expect(readFileSync(join(dir, 'from-arm64'), 'utf8')).toBe('typed-in\n');
    // the first run left a booted arm64 VM's snapshot: these restore it, side by side
    const cases = [['true', 0], ['exit 42', 42], ['no-such-command', 127], ['kill -TERM $$', 143]] as const;
    const runs = await Promise.all(cases.map(([script]) => testin(['run', '--log-level', 'debug', ARM64_IMAGE, 'sh', '-c', `${script}`])));
    expect(runs.map((r) => r.exitCode)).toEqual(cases.map(([, code]) => code));
    for (const r of runs) expect(r.stderr).toMatch(/restored from snapshot [0-9a-f]+/);
  });

  it('a sibling container (x86-64) reaches a server in the arm64 VM by name, and the host on its published port', async () => {
    const name = `testin-e2e-arm64-web-${process.pid}`;
    const port = 21_000 + (process.pid % 10_000);
    let fromSibling = '';
    let fromHost = '';
    const r = await testinWhenReady(
      ['run', '--network', NET, '--name', name, '-p', `127.0.0.1:${port}:8080`, ARM64_IMAGE, 'sh', '-c', 'mkdir -p /www && uname -m > /www/index.html && httpd -p 8080 -h /www && echo ready && sleep 600'],
      (child) => {
        void (async () => {
          try {
            fromSibling = (await execa('docker', ['run', '--rm', '--network', NET, BUSYBOX_IMAGE, 'sh', '-c', `for i in $(seq 1 50); do wget -qO- http://${name}:8080/ && exit 0; sleep 0.2; done; exit 1`])).stdout;
            fromHost = await (await fetch(`http://127.0.0.1:${port}/`)).text();
          } finally {
            child.kill('SIGTERM');
          }
        })();
      },
    );
    expect([fromSibling, fromHost]).toEqual(['aarch64', 'aarch64\n']);
    expect(r.exitCode).toBe(143);
  });

  it("--boot: busybox's init (arm64) is PID 1 of the arm64 VM, the command runs beside it, its code comes back and the VM powers off", async () => {
    const r = await testin(['run', '--boot', '/bin/init', ARM64_IMAGE, 'sh', '-c', 'cat /proc/1/comm; uname -m; exit 7']);
    expect([r.exitCode, r.stdout.toString()], r.stderr).toEqual([7, 'init\naarch64\n']);
  });

  it('testin compose: an arm64 service and an amd64 service, each in a VM of its own architecture, one reaching the other by name', async () => {
    const project = `testin-e2e-arm64-${process.pid}`;
    const file = join(dir, 'docker-compose.yml');
    writeFileSync(
      file,
      [
        'services:',
        '  arm:',
        `    image: ${ARM64_IMAGE}`,
        `    command: ["sh", "-c", "mkdir -p /www && uname -m > /www/index.html && httpd -f -p 8080 -h /www"]`,
        '  amd:',
        `    image: ${BUSYBOX_IMAGE}`,
        '    depends_on: [arm]',
        `    command: ["sh", "-c", "for i in $$(seq 1 100); do wget -qO- http://arm:8080/ && break; sleep 0.2; done; uname -m"]`,
        '',
      ].join('\n'),
    );
    const override = join(dir, 'compose.testin.yml');
    const made = await execa('node', [TESTIN_BIN, 'compose', '-f', file, '--service', 'arm', '--service', 'amd', '-o', override], { reject: false });
    expect(made.exitCode, made.stderr).toBe(0);
    const compose = (...args: string[]) => execa('docker-compose', ['-p', project, '-f', file, '-f', override, ...args], { reject: false, timeout: 180_000 });
    try {
      const r = await compose('run', '--rm', '-T', 'amd');
      expect([r.exitCode, r.stdout], r.stderr).toEqual([0, 'aarch64\nx86_64']);
    } finally {
      await compose('down', '--remove-orphans');
    }
  });

  it('testin up, exec, down: a session of the arm64 image', async () => {
    const name = `testin-e2e-arm64-session-${process.pid}`;
    const up = await execa('node', [TESTIN_BIN, 'up', '--name', name, '--image', ARM64_IMAGE], { reject: false });
    expect(up.exitCode, up.stderr).toBe(0);
    try {
      const exec = await execa('node', [TESTIN_BIN, 'exec', name, '--', 'sh', '-c', 'uname -m; exit 3'], { reject: false });
      expect([exec.exitCode, exec.stdout]).toEqual([3, 'aarch64']);
    } finally {
      expect((await execa('node', [TESTIN_BIN, 'down', name], { reject: false })).exitCode).toBe(0);
    }
  });

  it('--platform that is not the image\'s, and --no-vm (its binaries cannot run on this host), are refused in one line, 125, nothing made; doctor --image says the same', async () => {
    const wrong = await testin(['run', '--platform', 'linux/amd64', ARM64_IMAGE, 'true']);
    expect([wrong.exitCode, wrong.stderr]).toEqual([
      125,
      `testin: the image ${ARM64_IMAGE} does not match the specified platform: wanted linux/amd64, actual: linux/arm64\n  fix: drop --platform, or pull the image's linux/amd64 variant (docker pull --platform linux/amd64 ${ARM64_IMAGE})\n`,
    ]);
    const bad = await testin(['run', '--platform', 'linux/s390x', ARM64_IMAGE, 'true']);
    expect([bad.exitCode, bad.stderr.split('\n')[0]]).toEqual([125, 'testin: --platform linux/s390x: testin runs linux/amd64 and linux/arm64 images']);
    const noVm = await testin(['run', '--no-vm', ARM64_IMAGE, 'true']);
    expect([noVm.exitCode, noVm.stderr.split('\n')[0]]).toEqual([125, "testin: --no-vm runs the image's binaries in a container on the engine's host, which is amd64: the image is arm64"]);
    // doctor says what a run of the image gets, and refuses what the run refuses
    const doctor = await testin(['doctor', '--image', ARM64_IMAGE]);
    expect(doctor.stdout.toString()).toMatch(/^ok\s+architecture\s+the engine's host is x86_64 \(linux\/amd64 images\); the image \S+ is linux\/arm64: its VM is aarch64 \(under TCG: QEMU emulates it/m);
    const doctorWrong = await testin(['doctor', '--image', ARM64_IMAGE, '--platform', 'linux/amd64']);
    expect([doctorWrong.exitCode, doctorWrong.stdout.toString()]).toEqual([1, expect.stringMatching(/^fail\s+architecture\s+the image \S+ does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64$/m)]);
    // the same image named with its own platform runs
    const right = await testin(['run', '--platform', 'linux/arm64', ARM64_IMAGE, 'uname', '-m']);
    expect([right.exitCode, right.stdout.toString()]).toEqual([0, 'aarch64\n']);
  });
});
