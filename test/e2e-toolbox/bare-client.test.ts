import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ROOT, TESTIN_BIN, TRIXIE_BASE } from '../helpers/paths.js';
import { leftovers } from '../helpers/testin.js';
import { archOf } from '../../contract/arch.js';
import { pinnedNodeBinary } from '../../toolbox/pinned-node.js';

const skip = inject('e2eSkip');

/**
 * testin as a CI job in a container next to the engine's socket would run it:
 * node, testin installed from its packed tarball, the socket, and nothing else
 * (no QEMU, no kernel, no /tmp or /proc shared with the engine's host).
 */
describe.skipIf(skip !== '')('a bare client: node, the packed testin and the docker socket in a container', () => {
  let work: string;
  let hostDir: string;
  let kernelRelease: string;
  const name = `testin-e2e-bare-${process.pid}`;

  const client = (script: string): Promise<{ exitCode: number; stdout: string; stderr: string }> =>
    execa('docker', ['run', '--rm', '-v', '/var/run/docker.sock:/var/run/docker.sock', '-v', `${work}/prefix:/opt/testin:ro`, '-v', `${work}/node:/usr/local/bin/node:ro`,
      '-e', 'PATH=/opt/testin/bin:/usr/local/bin:/usr/bin:/bin', TRIXIE_BASE, 'sh', '-c', script], { reject: false, timeout: 170_000 }) as never;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'testin-e2e-bare-'));
    // npm inside a container cannot reach the registry here: install on the host into a prefix the client mounts
    const packed = await execa('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT });
    const tarball = join(work, packed.stdout.trim().split('\n').at(-1) as string);
    await execa('npm', ['install', '-g', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', join(work, 'prefix'), tarball]);
    // the client's node: the toolbox's own build of node (self-contained), the one testin fetched for its builds
    writeFileSync(join(work, 'node'), readFileSync(await pinnedNodeBinary(archOf(process.arch) ?? 'amd64')), { mode: 0o755 });
    const built = await execa('node', [TESTIN_BIN, 'toolbox', 'build']);
    kernelRelease = /^\s+modules \S+ \(kernel (\S+)\)$/m.exec(built.stdout)?.[1] as string;
    hostDir = join(work, 'data');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'from-host'), 'written on the engine host\n');
  }, 300_000);

  afterAll(async () => {
    await execa('docker', ['rm', '-f', name], { reject: false });
    rmSync(work, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('has no QEMU and no shared /tmp, and runs the toolbox kernel with exact exit codes', async () => {
    const r = await client([
      '! command -v qemu-system-x86_64 && echo no-qemu',
      `test ! -e ${work} && echo no-host-tmp`,
      `testin run --image ${BUSYBOX_IMAGE} -- uname -r`,
      ...[0, 42].map((code) => `testin run --image ${BUSYBOX_IMAGE} -- sh -c "exit ${code}"; echo "code $?"`),
      `testin run --image ${BUSYBOX_IMAGE} -- no-such-command 2>/dev/null; echo "code $?"`,
      `testin run --image ${BUSYBOX_IMAGE} -- sh -c 'kill -TERM $$'; echo "code $?"`,
    ].join('; '));
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['no-qemu', 'no-host-tmp', kernelRelease, 'code 0', 'code 42', 'code 127', 'code 143']);
  });

  it('binds a folder of the engine host with -v, both ways', async () => {
    const r = await client(`testin run --image ${BUSYBOX_IMAGE} -v ${hostDir}:/data -- sh -c 'cat /data/from-host; echo from-vm > /data/from-vm'`);
    expect(r.stdout).toBe('written on the engine host');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(hostDir, 'from-vm'), 'utf8')).toBe('from-vm\n');
  });

  it('testin up, exec and down work through the socket alone', async () => {
    const r = await client([
      `testin up --name ${name} --image ${BUSYBOX_IMAGE} >/dev/null`,
      `testin exec ${name} -- sh -c 'echo in-session; exit 7'; echo "code $?"`,
      `testin down ${name}; echo "down $?"`,
    ].join('; '));
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['in-session', 'code 7', 'down 0']);
    expect((await execa('docker', ['ps', '-aq', '--filter', `name=^${name}$`])).stdout).toBe('');
  });
});
