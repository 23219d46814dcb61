import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunPlan } from '../../dist/contract/run-plan.js';
import { ROOT, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const FILE = join(ROOT, 'test/fixtures/compose-parity/docker-compose.yml');
const VOLUME = 'testin-e2e-parity';
const SCRIPT = "id -u; nproc; grep MemTotal /proc/meminfo | awk '{print int($2/1024)}'; cat /data/seed; echo from-compose > /data/compose; touch /scratch/probe 2>/dev/null && echo root-writable || echo root-read-only; grep ^CapBnd /proc/self/status; cat /proc/sys/kernel/msgmax; ulimit -n; ulimit -Hn";
/** busybox with EXPOSE 9090 and /scratch, a folder uid 1000 may write (unless the root is read-only) */
const IMAGE = 'testin-test/parity:1';

/** the plan container-init decoded, as it says at debug level */
function planIn(stderr: string): RunPlan {
  const line = stderr.split('\n').find((l) => l.startsWith('testin[container-init] plan '));
  expect(line).toBeDefined();
  return JSON.parse((line as string).slice('testin[container-init] plan '.length)) as RunPlan;
}

/** what both must agree on; the rest (run id, hostname, staging paths) differs by nature */
function comparable(plan: RunPlan): unknown {
  return {
    argv: plan.argv,
    env: plan.env.filter((e) => !e.startsWith('HOSTNAME=')),
    cwd: plan.cwd,
    user: plan.user,
    stdin: plan.stdin,
    tty: plan.tty,
    readonlyRoot: plan.readonlyRoot,
    tmpfs: plan.tmpfs,
    fsCache: plan.fsCache,
    network: plan.network,
    stopTimeoutMs: plan.stopTimeoutMs,
    modules: plan.kernelModules?.release,
    vm: plan.vm,
    logLevel: plan.logLevel,
    process: plan.process,
    machine: plan.machine,
  };
}

describe.skipIf(skip !== '')('a compose service runs with the plan testin run makes from the same flags', () => {
  let dir: string;
  const project = `testin-e2e-parity-${process.pid}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-parity-'));
    await execa(join(ROOT, 'test/fixtures/build-busybox-image.sh'), ['testin-example/busybox:1', 'testin-example/busybox-entry:1']);
    await execa('docker', ['build', '-q', '-t', IMAGE, '-'], { input: 'FROM testin-example/busybox:1\nRUN mkdir /scratch && chown 1000:1000 /scratch\nEXPOSE 9090\n' });
    await execa('docker', ['volume', 'create', VOLUME]);
    await execa('docker', ['run', '--rm', '-v', `${VOLUME}:/data`, 'testin-example/busybox:1', 'sh', '-c', 'echo seeded > /data/seed && chown 1000:1000 /data']);
  });

  afterAll(async () => {
    await execa('docker-compose', ['-p', project, '-f', FILE, '-f', join(dir, 'compose.testin.yml'), 'down'], { reject: false });
    await execa('docker', ['volume', 'rm', VOLUME], { reject: false });
    await execa('docker', ['rmi', IMAGE], { reject: false });
    rmSync(dir, { recursive: true, force: true });
    expect(await leftovers()).toEqual([]);
  });

  it("user:, TESTIN_CPUS and TESTIN_MEMORY, read_only:, a volume, expose:, ports:, cap_drop:, sysctls:, ulimits:, stop_signal: and the image's EXPOSE: the same plan and the same behaviour as the flags", async () => {
    const override = join(dir, 'compose.testin.yml');
    await execa('node', [TESTIN_BIN, 'compose', '-f', FILE, '--service', 'probe', '-o', override]);
    const composed = await execa('docker-compose', ['-p', project, '-f', FILE, '-f', override, 'run', '--rm', '-T', 'probe'], { reject: false, timeout: 120_000 });
    expect(composed.exitCode).toBe(0);
    const ran = await testin(['run', '--log-level', 'debug', '--image', IMAGE, '-u', '1000:1000', '--cpus', '1', '--memory', '512m', '--read-only', '-v', `${VOLUME}:/data`, '--expose', '8080', '-p', '8081', '--cap-drop', 'NET_ADMIN', '--sysctl', 'kernel.msgmax=65536', '--ulimit', 'nofile=1024:2048', '--stop-signal', 'SIGUSR1', '--', 'sh', '-c', SCRIPT]);
    expect(ran.exitCode).toBe(0);

    expect(comparable(planIn(composed.stderr))).toEqual(comparable(planIn(ran.stderr)));
    expect(planIn(ran.stderr)).toMatchObject({ user: '1000:1000', readonlyRoot: true, vm: { cpus: 1, memoryMiB: 512 } });
    expect(planIn(composed.stderr).network.forwards.map((f) => f.port).sort()).toEqual([8080, 8081, 9090]);
    // uid 1000, one CPU, a bit under 512 MiB for the guest, the volume's file, and a write to it
    expect(composed.stdout.split('\n')).toEqual(ran.stdout.toString().trim().split('\n'));
    const [uid, cpus, mib, seed, root, ...processLines] = composed.stdout.split('\n');
    expect([uid, cpus, seed, root]).toEqual(['1000', '1', 'seeded', 'root-read-only']);
    // NET_ADMIN (bit 12) gone from the bounding set; the sysctl; the rlimits
    expect(processLines).toEqual(['CapBnd:\t000001ffffffefff', '65536', '1024', '2048']);
    expect(planIn(composed.stderr).process).toMatchObject({ capabilities: '1ffffffefff', stopSignal: 10 });
    expect(Number(mib)).toBeGreaterThan(400);
    expect(Number(mib)).toBeLessThanOrEqual(512);
    const written = await execa('docker', ['run', '--rm', '-v', `${VOLUME}:/data`, 'testin-example/busybox:1', 'cat', '/data/compose']);
    expect(written.stdout).toBe('from-compose');
  });
});
