import { describe, expect, it } from 'vitest';
import { decideAccel } from '../contract/accel.js';
import { parseKvmProbe } from './engine-kvm.js';

describe("the engine's KVM, as a helper container saw it", () => {
  it('real KVM: vmx/svm and a /dev/kvm that opens', () => {
    const seen = parseKvmProbe('testin-kvm hw=1 dev=ok\n', true);
    expect(seen).toEqual({ device: true, facts: { hardwareVirt: true, devKvm: true } });
    expect(decideAccel('auto', (seen as NonNullable<typeof seen>).facts)).toEqual({ accel: 'kvm' });
  });

  it('a paravirtual /dev/kvm (no vmx/svm) is not trusted', () => {
    const seen = parseKvmProbe('testin-kvm hw=0 dev=ok', true);
    expect(decideAccel('auto', (seen as NonNullable<typeof seen>).facts)).toMatchObject({ accel: 'tcg', reason: expect.stringMatching(/no vmx\/svm/) });
  });

  it('no device, or one containers may not open: TCG, and why', () => {
    expect(parseKvmProbe('testin-kvm hw=1 dev=none', false)?.facts.devKvm).toMatch(/has no \/dev\/kvm/);
    expect(parseKvmProbe('testin-kvm hw=1 dev=denied', true)?.facts.devKvm).toMatch(/cannot be opened read-write/);
    expect(parseKvmProbe('sh: not found', false)).toBeUndefined();
  });
});
