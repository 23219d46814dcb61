import { describe, expect, it } from 'vitest';
import { reportErrors } from '../test/helpers/report-schema.js';
import { buildReport } from './run-report.js';
const at = { startedAt: new Date('2026-12-03T10:00:00Z'), endedAt: new Date('2026-12-03T10:00:03.5Z') };
const vm = { cpus: 2, memoryMiB: 1024, accel: 'tcg' as const, accelReason: 'no vmx', kernelRelease: '6.12.0', toolbox: 'abc', startedFrom: 'snapshot' as const };

describe('buildReport', () => {
  it('reports a run that ended, and validates against the schema', () => {
    const report = buildReport({ testin: '0.1.0', command: 'run', image: { name: 'img', id: 'sha256:1' }, result: { exitCode: 42, timedOut: false, canceled: false, durationMs: 1200.4, phases: { create: 80, 'vm.restore': 150 }, vm }, ...at });
    expect(reportErrors(report)).toEqual([]);
    expect(report).toMatchObject({ exitCode: 42, signal: null, vm, abnormal: null, error: null, durationMs: 1200, image: { name: 'img', id: 'sha256:1' } });
  });

  it('reports an error before the VM with its code, message and fix, exit 125', () => {
    const report = buildReport({ testin: '0.1.0', command: 'run', image: { name: 'nope' }, error: { code: 'TESTIN_IMAGE_NOT_FOUND', message: 'no image', fix: 'build it', exitCode: 125 }, ...at });
    expect(reportErrors(report)).toEqual([]);
    expect(report).toMatchObject({ exitCode: 125, vm: null, durationMs: 3500, image: { name: 'nope', id: null }, error: { code: 'TESTIN_IMAGE_NOT_FOUND', fix: 'build it' } });
  });

  it('reports an abnormal end with its reason and console tail', () => {
    const report = buildReport({ testin: '0.1.0', command: 'exec', session: 's1', result: { exitCode: 125, timedOut: false, canceled: false, durationMs: 10, phases: {}, abnormal: { reason: 'the guest kernel panicked', consoleTail: ['a', 'b'] } }, ...at });
    expect(reportErrors(report)).toEqual([]);
    expect(report.abnormal?.consoleTail).toEqual(['a', 'b']);
  });

  it("carries a booted system's console, and none for other runs", () => {
    const booted = buildReport({ testin: '0.1.0', command: 'run', result: { exitCode: 0, timedOut: false, canceled: false, durationMs: 1, phases: {}, vm, console: ['[  OK  ] Started dbus.service.'] }, ...at });
    expect(reportErrors(booted)).toEqual([]);
    expect(booted.console).toEqual(['[  OK  ] Started dbus.service.']);
    const plain = buildReport({ testin: '0.1.0', command: 'run', result: { exitCode: 0, timedOut: false, canceled: false, durationMs: 1, phases: {}, vm }, ...at });
    expect('console' in plain).toBe(false);
  });

  it.each([
    ['an exit code out of range', { exitCode: 300 }],
    ['a signal that is not one', { signal: 'TERM' }],
    ['an unknown field', { extra: 1 }],
    ['a VM without its accelerator', { vm: { ...vm, accel: 'hvf' } }],
    ['a missing field', { canceled: undefined }],
    ['a console that is not lines', { console: 'text' }],
  ])('the schema refuses %s', (_what, change) => {
    const good = buildReport({ testin: '0.1.0', command: 'run', result: { exitCode: 0, timedOut: false, canceled: false, durationMs: 1, phases: {}, vm }, ...at });
    const bad = JSON.parse(JSON.stringify({ ...good, ...change }));
    expect(reportErrors(bad).length).toBeGreaterThan(0);
  });
});
