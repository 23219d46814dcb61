import { describe, expect, it } from 'vitest';
import { decideAccel } from './accel.js';
import { KvmUnusableError } from './errors.js';

describe('decideAccel', () => {
  const realKvm = { hardwareVirt: true, devKvm: true as const };
  const pvm = { hardwareVirt: false, devKvm: true as const };

  it('uses KVM only with hardware virtualization and an openable /dev/kvm', () => {
    expect(decideAccel('auto', realKvm)).toEqual({ accel: 'kvm' });
    expect(decideAccel('auto', { hardwareVirt: true, devKvm: 'no access' })).toEqual({ accel: 'tcg', reason: 'no access' });
  });

  it('does not trust a paravirtual /dev/kvm without vmx/svm', () => {
    const decision = decideAccel('auto', pvm);
    expect(decision.accel).toBe('tcg');
    expect(decision.reason).toMatch(/no vmx\/svm/);
  });

  it('fails when KVM is demanded but unusable, and obeys tcg', () => {
    expect(() => decideAccel('kvm', pvm)).toThrow(KvmUnusableError);
    expect(decideAccel('tcg', realKvm).accel).toBe('tcg');
  });
});
