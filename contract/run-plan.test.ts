import { describe, expect, it } from 'vitest';
import { PlanError } from './errors.js';
import { PLAN_VERSION, checkMemorySwap, decodePlan, encodePlan, parseMemoryMiB, type RunPlan } from './run-plan.js';

const plan: RunPlan = {
  version: PLAN_VERSION,
  runId: 'r',
  argv: ['true'],
  env: ['PATH=/bin'],
  cwd: '/',
  user: '',
  stdin: false,
  tty: false,
  noVm: false,
  readonlyRoot: false,
  mounts: [],
  tmpfs: [],
  fsCache: 'auto',
  network: { nic: true, forwards: [], backend: 'slirp' },
  stopTimeoutMs: 10_000,
  vm: { cpus: 2, memoryMiB: 1024, accel: 'tcg', kernelCmdline: [], console: false, bootTimeoutMs: 120_000 },
  logLevel: 'warn',
};

describe('the plan codec', () => {
  it('round-trips a plan, 20,000 arguments too', () => {
    expect(decodePlan(encodePlan(plan))).toEqual(plan);
    const big = { ...plan, argv: ['sh', '-c', 'echo $#', 'x', ...Array.from({ length: 20_000 }, (_, i) => String(i))] };
    expect(decodePlan(encodePlan(big)).argv).toHaveLength(20_004);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['another version', JSON.stringify({ ...plan, version: 1 }), /version 1 is not 2/],
    ['no command', JSON.stringify({ ...plan, argv: [] }), /no command/],
    ['a bad env', JSON.stringify({ ...plan, env: [1] }), /env is not a list/],
    ['a VM without a size', JSON.stringify({ ...plan, vm: { accel: 'tcg' } }), /vm needs cpus/],
  ])('refuses %s with a PlanError that says what and how', (_what, text, message) => {
    expect(() => decodePlan(text)).toThrow(PlanError);
    expect(() => decodePlan(text)).toThrow(message);
  });

  it('takes a plan without a command from compose (the container gives it) and for a session', () => {
    expect(decodePlan(JSON.stringify({ ...plan, argv: [], fromContainer: true })).fromContainer).toBe(true);
    expect(decodePlan(JSON.stringify({ ...plan, argv: [], session: true })).session).toBe(true);
  });
});

describe('parseMemoryMiB', () => {
  it('refuses what QEMU cannot give, with a fix, before anything starts', () => {
    expect(parseMemoryMiB('512g')).toBe(512 * 1024);
    expect(() => parseMemoryMiB('1t')).toThrow(/above 512 GiB/);
    expect(() => parseMemoryMiB('64m')).toThrow(/below 128 MiB/);
  });
});

describe('checkMemorySwap', () => {
  it("takes docker's --memory-swap: -1 or at least --memory, and only with --memory", () => {
    for (const [swap, memory] of [['-1', '512m'], ['512m', '512m'], ['4g', '1g'], ['2t', '1g']] as const) expect(() => checkMemorySwap(swap, memory)).not.toThrow();
    expect(() => checkMemorySwap('1g', undefined)).toThrow(/--memory-swap without --memory/);
    expect(() => checkMemorySwap('256m', '512m')).toThrow(/--memory-swap 256m is below --memory 512m/);
    expect(() => checkMemorySwap('lots', '512m')).toThrow(/invalid --memory-swap "lots"/);
  });
});
