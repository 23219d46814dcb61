import { describe, expect, it } from 'vitest';
import { kernelRandomBytes, sameSecret } from './kernel-random.js';

describe('kernel random bytes and secrets compared', () => {
  it('gives as many bytes as asked, different each time', () => {
    const a = kernelRandomBytes(32);
    const b = kernelRandomBytes(32);
    expect([a.length, b.length, kernelRandomBytes(0).length]).toEqual([32, 32, 0]);
    expect(a.equals(b)).toBe(false);
    // 4096 bytes: every byte value shows up (a buffer left zero, or a short read, would not)
    expect(new Set(kernelRandomBytes(4096)).size).toBeGreaterThan(200);
  });

  it('tells equal secrets from ones that differ anywhere or in length', () => {
    const s = Buffer.from('0123456789abcdef');
    expect(sameSecret(s, Buffer.from(s))).toBe(true);
    expect(sameSecret(s, Buffer.from('0123456789abcdeF'))).toBe(false);
    expect(sameSecret(s, Buffer.from('x123456789abcdef'))).toBe(false);
    expect(sameSecret(s, s.subarray(0, 15))).toBe(false);
  });
});
