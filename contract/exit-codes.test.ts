import { describe, expect, it } from 'vitest';
import { BOOT_POWEROFF_GRACE_MS, FORCE_KILL_AFTER_MS, POWEROFF_GRACE_MS, stopGraceMs } from './exit-codes.js';

describe('stopGraceMs', () => {
  it("covers the command's stop timeout, the guest's power-off and container-init's teardown", () => {
    expect(stopGraceMs({ stopTimeoutMs: 10_000 })).toBe(10_000 + POWEROFF_GRACE_MS + FORCE_KILL_AFTER_MS);
    expect(stopGraceMs({ stopTimeoutMs: 0, boot: undefined })).toBe(POWEROFF_GRACE_MS + FORCE_KILL_AFTER_MS);
  });

  it("gives a booted system its init's shutdown", () => {
    expect(stopGraceMs({ stopTimeoutMs: 10_000, boot: '/sbin/init' })).toBe(10_000 + BOOT_POWEROFF_GRACE_MS + FORCE_KILL_AFTER_MS);
  });
});
