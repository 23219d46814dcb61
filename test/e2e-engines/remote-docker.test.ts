import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { REMOTE } from '../helpers/engines-setup.js';
import { defineEngineCases } from '../helpers/engine-cases.js';
import { testin, within } from '../helpers/testin.js';

const remote = inject('remoteDocker');

/**
 * Debian 13's dockerd 26, in a container, reached over TCP: an engine that shares
 * no file, no /proc and no /tmp with the client, as a CI job's DOCKER_HOST=tcp://...
 */
describe.skipIf(remote === '')('a remote engine: Debian 13\'s dockerd over TCP', () => {
  const env = { DOCKER_HOST: remote };
  const on = (args: readonly string[], input?: string): ReturnType<typeof testin> => testin(args, { env, ...(input === undefined ? {} : { input }) });
  const engine = (...args: string[]): ReturnType<typeof execa> => execa('docker', ['-H', remote, ...args], { reject: false });

  defineEngineCases({ host: () => remote, doctorSays: new RegExp(`Docker 26\\.\\S+ \\(API \\S+\\) remote at ${remote.replace(/[.]/g, '\\.')}`) });

  it('a run whose client is killed with -9 stops by itself: its container is gone within 10 s', async () => {
    const child = execa('node', [TESTIN_BIN, 'run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], { env, reject: false });
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    expect((await engine('ps', '-q', '--filter', 'label=testin.run')).stdout).not.toBe('');
    child.kill('SIGKILL');
    await child;
    expect(await within(10_000, async () => (await engine('ps', '-aq', '--filter', 'label=testin.run')).stdout === '')).toBe(true);
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
    if (r.exitCode === 125) expect(r.stderr).toMatch(/^testin: lost the engine during the run/m);
    // as soon as the engine went down, not after a timeout of testin's
    expect(endedAfter).toBeLessThan(30_000);
    // the engine stopped its containers, and removes them as it comes back (they are --rm)
    expect(await within(60_000, async () => (await engine('info')).exitCode === 0)).toBe(true);
    expect((await on(['ls'])).stdout.toString()).not.toContain(name);
    const exec = await on(['exec', name, '--', 'true']);
    expect(exec.exitCode).toBe(125);
    expect(exec.stderr).toMatch(new RegExp(`^testin: no session named ${name}`, 'm'));
    // and the engine works as before
    expect((await on(['run', '--image', BUSYBOX_IMAGE, '--', 'echo', 'back'])).stdout.toString()).toBe('back\n');
  });
});
