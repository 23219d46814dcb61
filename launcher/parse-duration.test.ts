import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { parseDuration } from './parse-duration.js';

describe('parseDuration', () => {
  it.each([
    ['90', 90_000],
    ['1.5s', 1500],
    ['500ms', 500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
  ])('%s is %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'soon', '5x', '1m 30s', '-3s'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(UsageError));
});
