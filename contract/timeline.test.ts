import { describe, expect, it } from 'vitest';
import { parseTimeline } from './timeline.js';

describe('parseTimeline', () => {
  it("keeps a restore's parts when each is a number, and drops them whole when one is not", () => {
    const parts = { monitor: 40, ram: 20, load: 300, resume: 2, control: 150 };
    expect(parseTimeline(JSON.stringify({ initUp: 700, restored: true, restoreParts: parts }))).toEqual({ initUp: 700, restored: true, restoreParts: parts });
    expect(parseTimeline(JSON.stringify({ restoreParts: { ...parts, load: 'slow' } }))).toEqual({});
    expect(parseTimeline('not json')).toEqual({});
  });
});
