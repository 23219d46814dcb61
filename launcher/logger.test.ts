import { describe, expect, it } from 'vitest';
import { formatTextLine } from './logger.js';

describe('formatTextLine', () => {
  it('prints level, message and fields on one line', () => {
    expect(formatTextLine('{"level":30,"msg":"toolbox volume reused","volume":"v1","n":2}')).toBe('testin[info]: toolbox volume reused volume=v1 n=2\n');
  });
});
