import { describe, expect, it } from 'vitest';
import { failInCI, isCI } from './ci-detect.js';

describe('isCI', () => {
  it.each([
    [{ CI: 'true' }, true],
    [{ CI: '1' }, true],
    [{ CI: 'TRUE' }, true],
    [{ CI: 'yes' }, true],
    [{ CI: 'false' }, false],
    [{ CI: '0' }, false],
    [{ CI: '' }, false],
    [{}, false],
    [{ JENKINS_URL: 'http://ci.example/' }, true],
    [{ TF_BUILD: 'True' }, true],
    [{ GITHUB_ACTIONS: 'true', CI: 'false' }, false],
  ])('%j: %s', (env, want) => {
    expect(isCI(env)).toBe(want);
  });
});

describe('failInCI', () => {
  it('throws in CI when a part is missing, and only then', () => {
    expect(() => failInCI('no Docker engine answers', { CI: '1' })).toThrow('testin: no Docker engine answers (in CI this is an error, not a skip)');
    expect(() => failInCI('no Docker engine answers', {})).not.toThrow();
    expect(() => failInCI('', { CI: 'true' })).not.toThrow();
  });
});
