import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { REMOTE } from '../helpers/engines-setup.js';
import { leftovers, testin } from '../helpers/testin.js';

const remote = inject('remoteDocker');

/**
 * Debian 13's dockerd 26, in a container, reached over TCP: an engine that shares
 * no file, no /proc and no /tmp with the client, as a CI job's DOCKER_HOST=tcp://...
 */
describe.skipIf(remote === '')('a remote engine: Debian 13\'s dockerd over TCP', () => {
  const env = { DOCKER_HOST: remote };
  const on = (args: readonly string[], input?: string): ReturnType<typeof testin> => testin(args, { env, ...(input === undefined ? {} : { input }) });
  const engine = (...args: string[]): ReturnType<typeof execa> => execa('docker', ['-H', remote, ...args], { reject: false });

  afterEach(async () => {
    expect(await leftovers(remote)).toEqual([]);
  });

  it('exit codes, stdout and stderr byte for byte, stdin to EOF', async () => {
    for (const [script, code] of [['exit 0', 0], ['exit 42', 42], ['kill -TERM $$', 143]] as const) {
      expect((await on(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', script])).exitCode).toBe(code);
    }
    expect((await on(['run', '--image', BUSYBOX_IMAGE, '--', 'no-such-command'])).exitCode).toBe(127);
    const streams = await on(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'printf "out\\0bytes"; echo err >&2']);
    expect([streams.exitCode, streams.stdout.toString('latin1')]).toEqual([0, 'out\0bytes']);
    expect(streams.stderr).toMatch(/^err$/m);
    const stdin = await on(['run', '-i', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'wc -c; echo eof'], 'x'.repeat(100_000));
    expect(stdin.stdout.toString().replace(/ +/g, '')).toBe('100000\neof\n');
  });

  it('a restore from the snapshot the first run saved, as --report says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-remote-'));
    try {
      const first = await on(['run', '--report', join(dir, 'a.json'), '--image', BUSYBOX_IMAGE, '--', 'true']);
      const second = await on(['run', '--report', join(dir, 'b.json'), '--image', BUSYBOX_IMAGE, '--', 'true']);
      expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
      const startedFrom = (f: string): string => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { vm: { startedFrom: string } }).vm.startedFrom;
      expect(['cold', 'snapshot']).toContain(startedFrom('a.json'));
      expect(startedFrom('b.json')).toBe('snapshot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-v of a path on the engine's host (not the client's), both ways", async () => {
    const path = `/srv/testin-e2e-${process.pid}`;
    const write = await on(['run', '-v', `${path}:/data`, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo from-vm > /data/f']);
    expect(write.exitCode).toBe(0);
    // read back by a plain container of that engine
    expect((await engine('run', '--rm', '-v', `${path}:/d`, BUSYBOX_IMAGE, 'cat', '/d/f')).stdout).toBe('from-vm');
    await engine('run', '--rm', '-v', '/srv:/srv', BUSYBOX_IMAGE, 'rm', '-rf', path);
  });

  it('--network: a sibling container reached by its name', async () => {
    const net = `testin-e2e-net-${process.pid}`;
    await engine('network', 'create', net);
    await engine('run', '-d', '--name', `${net}-web`, '--network', net, BUSYBOX_IMAGE, 'sh', '-c', 'echo hello-sibling > /i.html; httpd -f -p 8080 -h /');
    try {
      const r = await on(['run', '--network', net, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do nc ${net}-web 8080 </dev/null >/dev/null 2>&1 && break; sleep 0.3; done; printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc ${net}-web 8080 | tail -1`]);
      expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'hello-sibling\n']);
    } finally {
      await engine('rm', '-f', `${net}-web`);
      await engine('network', 'rm', net);
    }
  });

  it('up, exec, ls, down', async () => {
    const name = `testin-e2e-remote-${process.pid}`;
    expect((await on(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      const exec = await on(['exec', name, '--', 'sh', '-c', 'echo in-session; exit 9']);
      expect([exec.exitCode, exec.stdout.toString()]).toEqual([9, 'in-session\n']);
      expect((await on(['ls'])).stdout.toString()).toMatch(new RegExp(`^${name}\\s.*running$`, 'm'));
    } finally {
      expect((await on(['down', name])).exitCode).toBe(0);
    }
  });

  it('doctor names the engine, remote, and says a run would work', async () => {
    const r = await on(['doctor']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(new RegExp(`^ok +engine +Docker 26\\.\\S+ remote at ${remote.replace(/[.]/g, '\\.')}`, 'm'));
    expect(r.stdout.toString()).toMatch(/^a run would work here$/m);
  });

  it('a run whose client is killed with -9 stops by itself: its container is gone within 10 s', async () => {
    const child = execa('node', [TESTIN_BIN, 'run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], { env, reject: false });
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    expect((await engine('ps', '-q', '--filter', 'label=testin.run')).stdout).not.toBe('');
    child.kill('SIGKILL');
    await child;
    const killedAt = Date.now();
    let gone = false;
    while (!gone && Date.now() - killedAt < 10_000) {
      gone = (await engine('ps', '-aq', '--filter', 'label=testin.run')).stdout === '';
      if (!gone) await new Promise((r) => setTimeout(r, 200));
    }
    expect(gone).toBe(true);
  });

  // last: it takes the engine away for a while
  it("the engine restarted under a run and a session: the run ends at once (143 as docker stop gives it, or 125 when the connection went first); the session is gone, as docker's containers are", async () => {
    const name = `testin-e2e-restart-${process.pid}`;
    expect((await on(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    const child = execa('node', [TESTIN_BIN, 'run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], { env, reject: false });
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const restartedAt = Date.now();
    const restarted = execa('docker', ['restart', REMOTE.name]);
    const r = await child;
    const endedAfter = Date.now() - restartedAt;
    await restarted;
    // the engine's shutdown stops its containers (SIGTERM, passed to the command in the VM): 143, as `docker run` gives;
    // when the engine's connection goes first, testin says it lost the engine
    expect([143, 125]).toContain(r.exitCode);
    if (r.exitCode === 125) expect(r.stderr).toMatch(/^testin: lost the docker engine during the run/m);
    // as soon as the engine went down, not after a timeout of testin's
    expect(endedAfter).toBeLessThan(30_000);
    // the engine stopped its containers, and removes them as it comes back (they are --rm)
    for (let i = 0; i < 120 && (await engine('info')).exitCode !== 0; i++) await new Promise((res) => setTimeout(res, 500));
    expect((await on(['ls'])).stdout.toString()).not.toContain(name);
    const exec = await on(['exec', name, '--', 'true']);
    expect(exec.exitCode).toBe(125);
    expect(exec.stderr).toMatch(new RegExp(`^testin: no session named ${name}`, 'm'));
    // and the engine works as before
    expect((await on(['run', '--image', BUSYBOX_IMAGE, '--', 'echo', 'back'])).stdout.toString()).toBe('back\n');
  });
});
