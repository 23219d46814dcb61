import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, ROOT, TESTIN_BIN } from '../helpers/paths.js';
import { RUN_REPORT_SCHEMA } from '../../contract/run-report.js';
import { reportErrors } from '../helpers/report-schema.js';
import { hostHasKvm, leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('--report: a JSON report of every run, valid against its schema', () => {
  let dir = '';
  let n = 0;
  const reportOf = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number; report: Record<string, unknown> }> => {
    const file = join(dir, `report-${n++}.json`);
    const viaEnv = 'TESTIN_REPORT' in env;
    const r = await testin(viaEnv ? args : [args[0] as string, '--report', file, ...args.slice(1)], { env: viaEnv ? { TESTIN_REPORT: file } : {} });
    const report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(reportErrors(report)).toEqual([]);
    expect(report.exitCode).toBe(r.exitCode);
    return { code: r.exitCode, report };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-report-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('a run that exits 0: the VM, its accelerator and why, the kernel, the toolbox, the image, the phases', async () => {
    const { report } = await reportOf(['run', '--image', BUSYBOX_IMAGE, '--', 'true']);
    const image = (await execa('docker', ['image', 'inspect', '-f', '{{.Id}}', BUSYBOX_IMAGE])).stdout;
    expect(report).toMatchObject({ command: 'run', exitCode: 0, signal: null, timedOut: false, canceled: false, abnormal: null, error: null, image: { name: BUSYBOX_IMAGE, id: image } });
    const vm = report.vm as Record<string, unknown>;
    expect(vm).toMatchObject({ cpus: 2, memoryMiB: 1024 });
    expect(vm.kernelRelease).toMatch(/^\d+\.\d+\.\d+/);
    expect(vm.toolbox).toMatch(/^[0-9a-f]{16,}$/);
    expect(['snapshot', 'cold']).toContain(vm.startedFrom);
    // the accelerator the engine's host (this machine) allows: KVM with no reason to give, or TCG and why
    // (on this project's machine the /dev/kvm is paravirtual: TCG)
    const kvm = hostHasKvm();
    expect(vm.accel).toBe(kvm ? 'kvm' : 'tcg');
    if (kvm) expect(vm.accelReason).toBeNull();
    else expect(vm.accelReason).toMatch(/vmx\/svm|kvm/);
    expect(Object.keys(report.phases as object)).toEqual(expect.arrayContaining(['create', 'run', 'vm.vmmStart', 'vm.command']));
    // the container's start, split where its PID 1 began (this engine's clock is this machine's)
    const p = report.phases as Record<string, number>;
    expect(p['vm.engineStart']).toBeGreaterThan(0);
    expect(p['vm.initExec']).toBeGreaterThan(0);
    expect((p['vm.engineStart'] as number) + (p['vm.initExec'] as number)).toBe(p['vm.containerStart']);
  });

  it('the schema the package ships (dist/report.schema.json) is the one the reports are checked against', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'dist', 'report.schema.json'), 'utf8'))).toEqual(RUN_REPORT_SCHEMA);
  });

  it('a run that exits 42, reported through TESTIN_REPORT', async () => {
    const { report } = await reportOf(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'exit 42'], { TESTIN_REPORT: '' });
    expect(report).toMatchObject({ exitCode: 42, timedOut: false, abnormal: null });
  });

  it('a run that timed out: 124, timedOut', async () => {
    const { report } = await reportOf(['run', '--timeout', '2s', '--image', BUSYBOX_IMAGE, '--', 'sleep', '60']);
    expect(report).toMatchObject({ exitCode: 124, timedOut: true });
  });

  it('a guest that panicked: 125, the reason and the console tail', async () => {
    const { report } = await reportOf(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger; sleep 60']);
    expect(report.exitCode).toBe(125);
    const abnormal = report.abnormal as { reason: string; consoleTail: string[] };
    expect(abnormal.reason).toMatch(/the guest kernel panicked: Kernel panic/);
    expect(abnormal.consoleTail.join('\n')).toMatch(/sysrq triggered crash/);
  });

  it('a run that failed before the VM (a missing image): 125, the error and its fix, no VM', async () => {
    const { report } = await reportOf(['run', '--image', 'testin-test/no-such-image:1', '--', 'true']);
    expect(report).toMatchObject({ exitCode: 125, vm: null, image: { name: 'testin-test/no-such-image:1', id: null } });
    const error = report.error as { code: string; message: string; fix: string };
    expect(error.message).toMatch(/no-such-image/);
    expect(error.fix).toBeTruthy();
  });

  it('testin exec in a session gives the same fields', async () => {
    const name = `report-${process.pid}`;
    expect((await testin(['up', '--name', name, '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      const { report } = await reportOf(['exec', name, '--', 'sh', '-c', 'exit 3']);
      expect(report).toMatchObject({ command: 'exec', session: name, exitCode: 3, timedOut: false, error: null });
    } finally {
      await execa('node', [TESTIN_BIN, 'down', name], { reject: false });
    }
  });
});
