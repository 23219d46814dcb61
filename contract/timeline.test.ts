import { describe, expect, it } from 'vitest';
import { parseGuestSteps, parseTimeline, startPhases } from './timeline.js';

describe('parseTimeline', () => {
  it("keeps a restore's parts when each is a number, and drops them whole when one is not", () => {
    const parts = { monitor: 40, ram: 20, load: 300, resume: 2, control: 150 };
    expect(parseTimeline(JSON.stringify({ initUp: 700, restored: true, restoreParts: parts }))).toEqual({ initUp: 700, restored: true, restoreParts: parts });
    expect(parseTimeline(JSON.stringify({ restoreParts: { ...parts, load: 'slow' } }))).toEqual({});
    expect(parseTimeline('not json')).toEqual({});
  });

  it("keeps the guest's steps that are named in lower case and timed, in their order", () => {
    const steps = { exec: 710.5, root: 720, command: 790 };
    expect(parseTimeline(JSON.stringify({ guestSteps: { ...steps, 'x y': 1, late: 'soon' } }))).toEqual({ guestSteps: steps });
    expect(Object.keys(parseTimeline(JSON.stringify({ guestSteps: steps })).guestSteps ?? {})).toEqual(['exec', 'root', 'command']);
    expect(parseTimeline(JSON.stringify({ guestSteps: { bad: null } }))).toEqual({});
  });
});

describe('parseGuestSteps', () => {
  it("reads the guest's NAME=MICROSECONDS words as ms, in order, and skips any other word", () => {
    expect(parseGuestSteps('exec=2400123 root=2415000 command=2502999')).toEqual([['exec', 2400.123], ['root', 2415], ['command', 2502.999]]);
    expect(parseGuestSteps('exec=12 Root=5 net= x=1.5  exited=7000')).toEqual([['exec', 0.012], ['exited', 7]]);
    expect(parseGuestSteps('')).toEqual([]);
  });
});

describe('startPhases', () => {
  const t = { pid1StartedAt: 1400, processStartedAt: 1450, mainAt: 1550, vmmStartedAt: 1600 };

  it("splits the container's start where its PID 1 began: the engine's part and PID 1's", () => {
    expect(startPhases(t, 1000)).toEqual({ 'vm.startToVmm': 600, 'vm.containerStart': 450, 'vm.engineStart': 400, 'vm.initExec': 50, 'vm.initLoad': 100 });
  });

  it("leaves the split out where PID 1 did not say, or its clock is not the launcher's (a remote engine)", () => {
    const { pid1StartedAt: _, ...unsaid } = t;
    expect(startPhases(unsaid, 1000)).toEqual({ 'vm.startToVmm': 600, 'vm.containerStart': 450, 'vm.initLoad': 100 });
    expect(startPhases({ ...t, pid1StartedAt: 900 }, 1000)).not.toHaveProperty('vm.engineStart');
    expect(startPhases({ ...t, pid1StartedAt: 1500 }, 1000)).not.toHaveProperty('vm.initExec');
    expect(startPhases(t, 1700)).toEqual({});
  });

  it('reads PID 1 back from the file', () => {
    expect(parseTimeline(JSON.stringify({ pid1StartedAt: 1400, processStartedAt: 'x' }))).toEqual({ pid1StartedAt: 1400 });
  });
});
