import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { PLAN_ENV, RUN_PLAN_ENV } from '../contract/run-plan.js';
import { PASST_PAIR_FD } from './guest-network.js';
import { HELD_VMM_ENV, encodeHeldArgv, parseHeldEnd, parseHeldFds } from './held-vmm.js';
import { VMM_GLIBC_TUNABLES } from './qemu-vmm.js';

describe('parseHeldFds', () => {
  it("reads PID 1's pid and four fds", () => {
    expect(parseHeldFds('42 4 5 6 7')).toEqual({ pid: 42, argv: 4, out: 5, pair: 6, status: 7 });
  });

  it('takes nothing that is not five whole numbers with a pid', () => {
    for (const value of [undefined, '', '42 4 5 6', '42 4 5 6 7 8', '0 4 5 6 7', '42 4 x 6 7', '42 4 -5 6 7', '4.5 4 5 6 7']) expect(parseHeldFds(value)).toBeUndefined();
  });
});

describe('parseHeldEnd', () => {
  it('reads an exit code and a signal as a child process says them', () => {
    expect(parseHeldEnd('exit 0\n')).toEqual({ code: 0, signal: null });
    expect(parseHeldEnd('exit 127\n')).toEqual({ code: 127, signal: null });
    expect(parseHeldEnd('signal 9\n')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(parseHeldEnd('signal 6\n')).toEqual({ code: null, signal: 'SIGABRT' });
  });

  it('an end PID 1 did not say has neither', () => {
    expect(parseHeldEnd('')).toEqual({ code: null, signal: null });
    expect(parseHeldEnd('gone')).toEqual({ code: null, signal: null });
  });
});

describe('encodeHeldArgv', () => {
  it('ends every argument with a NUL, empty ones too', () => {
    expect(encodeHeldArgv(['-m', '', 'a b']).toString('latin1')).toBe('-m\0\0a b\0');
  });
});

describe("initfs/pid1.c holds QEMU where the toolbox has it", () => {
  const source = readFileSync(join(import.meta.dirname, '..', 'initfs', 'pid1.c'), 'utf8');
  const define = (name: string): string | undefined => new RegExp(`#define ${name} (.+?)(?:\\s*/\\*.*)?$`, 'm').exec(source)?.[1]?.trim();

  it('the loader, libraries, hold library, QEMU and its modules of TOOLBOX_LAYOUT', () => {
    expect(define('HOLD_LOADER')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.loader}`)}`);
    expect(define('HOLD_LIBS')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.lib}`)}`);
    expect(define('HOLD_LIB')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.vmmHold}`)}`);
    expect(define('HOLD_QEMU')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.qemu}`)}`);
    expect(define('HOLD_QEMU_MODULES')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.qemuModules}`)}`);
  });

  it("the plan's variable, the held QEMU's for container-init, and the netdev's fd", () => {
    expect(define('RUN_PLAN_ENV')).toBe(JSON.stringify(RUN_PLAN_ENV));
    expect(define('PLAN_ENV')).toBe(JSON.stringify(PLAN_ENV));
    expect(define('HELD_ENV')).toBe(JSON.stringify(HELD_VMM_ENV));
    expect(Number(define('HOLD_PAIR_FD'))).toBe(PASST_PAIR_FD);
  });

  it("QEMU's glibc tunables, as container-init gives a QEMU it starts itself", () => {
    expect(define('HOLD_GLIBC_TUNABLES')).toBe(JSON.stringify(VMM_GLIBC_TUNABLES));
  });
});