import { describe, expect, it } from 'vitest';
import { parseGuestSteps, parseTimeline } from './timeline.js';

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
