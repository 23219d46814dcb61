import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const EXAMPLE = join(ROOT, 'examples', 'compose');

describe.skipIf(skip !== '')('compose: examples/compose with the server and its test each in a VM', () => {
  const project = `testin-e2e-${process.pid}`;
  let dir: string;
  let compose: (...args: string[]) => ReturnType<typeof execa>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-compose-'));
    await execa(join(ROOT, 'test/fixtures/build-busybox-image.sh'), ['testin-example/busybox:1', 'testin-example/busybox-entry:1']);
    const override = join(dir, 'compose.testin.yml');
    const made = await execa('node', [TESTIN_BIN, 'compose', '-f', join(EXAMPLE, 'docker-compose.yml'), '--service', 'web', '--service', 'test', '-o', override]);
    expect(made.stdout.trim()).toBe(override);
    // passt carries the VM's packets; compose reads the seccomp profile it needs from a file beside the override
    expect(JSON.parse(readFileSync(join(dir, 'compose.testin.seccomp.json'), 'utf8')).syscalls[0].names).toContain('kexec_load');
    compose = (...args) =>
      execa('docker-compose', ['-p', project, '-f', join(EXAMPLE, 'docker-compose.yml'), '-f', override, ...args], { reject: false, all: true, timeout: 120_000 });
  });

  afterAll(async () => {
    await compose('down', '--remove-orphans');
    rmSync(dir, { recursive: true, force: true });
    expect(await leftovers()).toEqual([]);
    expect((await execa('docker', ['ps', '-aq', '--filter', 'label=testin.compose'])).stdout).toBe('');
  });

  // web's port 80 is declared nowhere (no expose:, no ports:): reachable all the same, as in docker
  it('up --exit-code-from test: the VM fetches the page by service name from the server in the other VM', async () => {
    const r = await compose('up', '--exit-code-from', 'test');
    expect(r.all).toMatch(/test runs on kernel \S+, PID 1 is testin-init/);
    expect(r.all).toMatch(/web said: hello-from-web/);
    expect(r.exitCode).toBe(0);
    const web = (await compose('ps', '-q', 'web')).stdout.trim();
    expect((await execa('docker', ['inspect', '--format', '{{json .Config.Entrypoint}}', web])).stdout).toMatch(/container-init/);
  });

  it("run test: the test's output and exit code are what compose returns (its QEMU started with the container)", async () => {
    const failing = await compose('run', '--rm', '-T', '-e', 'EXPECT=something-else', 'test');
    expect(failing.all).toMatch(/web said: hello-from-web/);
    expect(failing.exitCode).toBe(1);
    const own = await compose('run', '--rm', '-T', '-e', 'TESTIN_LOG_LEVEL=debug', 'test', 'sh', '-c', 'cat /proc/1/comm; exit 7');
    expect(own.stdout).toBe('testin-init');
    expect(own.exitCode).toBe(7);
    // the plan in the service's environment: PID 1 started QEMU held, as for testin run (initfs/pid1.c)
    expect(own.stderr).toMatch(/QEMU \(started with the container, held until now\) -nodefaults /);
  });

  it('down leaves nothing of testin behind', async () => {
    await compose('down', '--remove-orphans');
    expect(await leftovers()).toEqual([]);
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).stdout).toBe('');
  });
});
