import { describe, expect, it } from 'vitest';
import { dockerRefusal } from './docker-refusal.js';

const apiError = (statusCode: number, message: string): Error & { statusCode: number; json: { message: string } } =>
  Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), { statusCode, json: { message } });

describe('dockerRefusal', () => {
  it('names a container name in use, with the way to free it', () => {
    const e = dockerRefusal(apiError(409, 'Conflict. The container name "/x" is already in use by container "abc".'), { name: 'x' });
    expect([e?.code, e?.message, e?.exitCode]).toEqual(['TESTIN_DOCKER_REFUSED', 'the container name "x" is already in use', 125]);
    expect(e?.fix).toMatch(/docker rm -f x/);
  });

  it('names a missing network, with how to make it', () => {
    const e = dockerRefusal(apiError(404, 'network nope not found'), { network: 'nope' });
    expect(e?.message).toBe('docker has no network "nope"');
    expect(e?.fix).toMatch(/docker network create nope/);
  });

  it("passes docker's own words for another 4xx, and leaves 5xx and other errors alone", () => {
    expect(dockerRefusal(apiError(400, 'invalid mount config'), {})?.message).toBe('docker refused the run: invalid mount config');
    expect(dockerRefusal(apiError(500, 'daemon broke'), {})).toBeUndefined();
    expect(dockerRefusal(new Error('socket hang up'), {})).toBeUndefined();
  });
});
