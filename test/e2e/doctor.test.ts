import { afterEach, describe, expect, inject, it } from 'vitest';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('testin doctor', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('checks this machine: the paravirtual /dev/kvm is why runs use TCG, and a run would work (exit 0)', async () => {
    const r = await testin(['doctor']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    for (const name of ['engine', 'container', 'kvm', 'toolbox', 'passt', 'space', 'accelerator', 'network']) expect(out).toMatch(new RegExp(`^(ok|warn) +${name} `, 'm'));
    // this project's machine: kvm_pvm, no vmx/svm (DESIGN.md)
    expect(out).toMatch(/^warn +kvm +.*kvm_pvm \(paravirtual\)/m);
    expect(out).toMatch(/a run would use TCG/);
    expect(out).toMatch(/^a run would work here$/m);
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
});
