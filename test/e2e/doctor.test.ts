import { execa } from 'execa';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUSYBOX_IMAGE } from '../helpers/paths.js';
import { hostHasKvm, leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('testin doctor', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('checks this machine, says which accelerator a run would use and why, and a run then uses that one', async () => {
    const r = await testin(['doctor']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    for (const name of ['engine', 'architecture', 'container', 'kvm', 'toolbox', 'passt', 'space', 'accelerator', 'network']) expect(out).toMatch(new RegExp(`^(ok|warn) +${name} `, 'm'));
    expect(out).toMatch(/^a run would work here$/m);
    // what this machine has (the local engine's host): KVM, or TCG and why (on this project's machine a paravirtual kvm_pvm)
    const kvm = hostHasKvm();
    expect(out).toMatch(kvm ? /^ok +kvm +CPU has (vmx|svm)/m : /^warn +kvm +.*runs use TCG/m);
    if (existsSync('/sys/module/kvm_pvm') && !kvm) expect(out).toMatch(/^warn +kvm +.*kvm_pvm \(paravirtual\)/m);
    const predicted = /^(?:ok|warn) +accelerator +a run would use (KVM|TCG)/m.exec(out)?.[1];
    expect(predicted).toBe(kvm ? 'KVM' : 'TCG');
    // ...and a run picks what doctor said
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-doctor-'));
    try {
      expect((await testin(['run', '--report', join(dir, 'r.json'), '--image', BUSYBOX_IMAGE, '--', 'true'])).exitCode).toBe(0);
      const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { vm: { accel: string } };
      expect(report.vm.accel.toUpperCase()).toBe(predicted);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an image of testin's own removed under it (the helper image) is made again, not an error", async () => {
    await execa('docker', ['rmi', '-f', 'localhost/testin-helper:1']);
    const r = await testin(['doctor']);
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.toString()).toMatch(/^ok +container +/m);
    expect((await execa('docker', ['image', 'inspect', 'localhost/testin-helper:1'], { reject: false })).exitCode).toBe(0);
  });

  it('--json: one document with every check', async () => {
    const r = await testin(['doctor', '--json']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout.toString()) as { ok: boolean; checks: { name: string; verdict: string; seen: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['engine', 'container', 'kvm', 'toolbox', 'passt', 'space', 'snapshots', 'accelerator', 'network']));
    for (const c of doc.checks) expect(['ok', 'warn', 'fail']).toContain(c.verdict);
  });

  it('with the engine unreachable: exit 1 and the fix', async () => {
    const r = await testin(['doctor'], { env: { DOCKER_HOST: 'unix:///tmp/testin-nobody-serves-this.sock' } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout.toString()).toMatch(/^fail +engine +no Docker engine answers at DOCKER_HOST=unix:\/\/\/tmp\/testin-nobody-serves-this\.sock/m);
    expect(r.stdout.toString()).toMatch(/fix: start dockerd/);
  });

  it('`testin run` with the engine unreachable: 125, one line that says so once, and the fix', async () => {
    const r = await testin(['run', BUSYBOX_IMAGE, 'true'], { env: { DOCKER_HOST: 'unix:///tmp/testin-nobody-serves-this.sock' } });
    expect(r.exitCode).toBe(125);
    expect(r.stderr.toString()).toBe('testin: cannot reach the engine (connect ENOENT /tmp/testin-nobody-serves-this.sock)\n  fix: start dockerd (e.g. `systemctl start docker` or `dockerd &`), or set DOCKER_HOST\n');
  });
});
