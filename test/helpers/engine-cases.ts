import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './paths.js';
import { docker, leftovers, testin, withoutNotices } from './testin.js';

/**
 * The core cases on an engine other than the local dockerd (exit codes 0/42/127/143, streams
 * byte for byte, stdin, -v of the engine host's path, --network with a sibling by name,
 * up/exec/ls/down, a snapshot restore, doctor, nothing left), for a describe() of its own.
 */
export function defineEngineCases(engine: {
  host: () => string;
  doctorSays: RegExp;
  /** a folder of the engine's host its containers may write in (a rootless engine's user may not write /srv) */
  hostDir?: string;
}): void {
  const hostDir = engine.hostDir ?? '/srv';
  const on = (args: readonly string[], input?: string): ReturnType<typeof testin> =>
    testin(args, { env: { DOCKER_HOST: engine.host() }, ...(input === undefined ? {} : { input }) });
  const onEngine = (...args: string[]): ReturnType<typeof docker> => docker(args, engine.host());

  afterEach(async () => {
    expect(await leftovers(engine.host())).toEqual([]);
  });

  // first: the snapshot its first run saves is what the runs after it restore
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

  it('exit codes, stdout and stderr byte for byte, stdin to EOF (side by side)', async () => {
    const codes = [['exit 0', 0], ['exit 42', 42], ['kill -TERM $$', 143]] as const;
    const [runs, missing, streams, stdin] = await Promise.all([
      Promise.all(codes.map(([script]) => on(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', script]))),
      on(['run', '--image', BUSYBOX_IMAGE, '--', 'no-such-command']),
      on(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'printf "out\\0bytes"; echo err >&2']),
      on(['run', '-i', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'wc -c; echo eof'], 'x'.repeat(100_000)),
    ]);
    expect(runs.map((r) => r.exitCode), runs.map((r) => r.stderr.toString()).join('\n')).toEqual(codes.map(([, code]) => code));
    expect(missing.exitCode).toBe(127);
    expect([streams.exitCode, streams.stdout.toString('latin1')]).toEqual([0, 'out\0bytes']);
    expect(withoutNotices(streams.stderr)).toBe('err\n');
    expect(stdin.stdout.toString().replace(/ +/g, '')).toBe('100000\neof\n');
  });

  it("-v of a path on the engine's host (not the client's), both ways", async () => {
    const path = `${hostDir}/testin-e2e-${process.pid}`;
    const write = await on(['run', '-v', `${path}:/data`, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo from-vm > /data/f']);
    expect(write.exitCode).toBe(0);
    // read back by a plain container of that engine
    expect((await onEngine('run', '--rm', '-v', `${path}:/d`, BUSYBOX_IMAGE, 'cat', '/d/f')).stdout).toBe('from-vm');
    await onEngine('run', '--rm', '-v', `${hostDir}:${hostDir}`, BUSYBOX_IMAGE, 'rm', '-rf', path);
  });

  it('--network: a sibling container reached by its name', async () => {
    const net = `testin-e2e-net-${process.pid}`;
    await onEngine('network', 'create', net);
    await onEngine('run', '-d', '--name', `${net}-web`, '--network', net, BUSYBOX_IMAGE, 'sh', '-c', 'echo hello-sibling > /i.html; httpd -f -p 8080 -h /');
    try {
      const r = await on(['run', '--network', net, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do nc ${net}-web 8080 </dev/null >/dev/null 2>&1 && break; sleep 0.3; done; printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc ${net}-web 8080 | tail -1`]);
      expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'hello-sibling\n']);
    } finally {
      await onEngine('rm', '-f', `${net}-web`);
      await onEngine('network', 'rm', net);
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

  it('doctor names the engine and says a run would work', async () => {
    const r = await on(['doctor']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(new RegExp(`^ok +engine +${engine.doctorSays.source}`, 'm'));
    expect(r.stdout.toString()).toMatch(/^a run would work here$/m);
  });
}
