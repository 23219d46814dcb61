import { describe, expect, it } from 'vitest';
import { decideAccel } from '../contract/accel.js';
import { kvmFacts, parseHostProbe, type HostProbe } from './host-probe.js';

const seen = (lines: string, deviceGiven = true): HostProbe => {
  const probe = parseHostProbe(`noise\n${lines}`, deviceGiven);
  if (!probe) throw new Error('no probe');
  return probe;
};
const PVM = 'cpu_virt=\nkvm_modules=kvm,kvm_pvm,\ndevice=present\ndevice_rw=1\ndevice_mode=crw-rw-rw-\ndevice_gid=0\nnested=\nmount=1\nfree_kib=52428800\ntoolbox_kib=400000\nqemu=QEMU emulator version 10.0.13\nvirtiofsd=1.13.1\n';

describe("the look at the engine's host, from a helper container", () => {
  it("reads the helper's key=value lines", () => {
    expect(seen(PVM)).toMatchObject({ cpuVirt: '', kvmModules: ['kvm', 'kvm_pvm'], device: 'present', deviceRw: true, deviceMode: 'crw-rw-rw-', mount: true, freeKiB: 52428800, qemu: 'QEMU emulator version 10.0.13', deviceGiven: true });
  });

  it('sees nothing when the probe printed none of its lines', () => {
    expect(parseHostProbe('sh: not found', false)).toBeUndefined();
  });

  it('real KVM: vmx/svm (or its module) and a /dev/kvm that opens', () => {
    const facts = kvmFacts(seen(PVM.replace('cpu_virt=', 'cpu_virt=vmx')));
    expect(facts).toEqual({ hardwareVirt: true, devKvm: true });
    expect(decideAccel('auto', facts)).toEqual({ accel: 'kvm' });
    expect(kvmFacts(seen(PVM.replace('kvm_pvm', 'kvm_amd'))).hardwareVirt).toBe(true);
  });

  it('a paravirtual /dev/kvm (kvm_pvm, no vmx/svm) is not trusted', () => {
    expect(decideAccel('auto', kvmFacts(seen(PVM)))).toMatchObject({ accel: 'tcg', reason: expect.stringMatching(/no vmx\/svm/) });
  });

  it('no device, or one containers may not open: TCG, and why', () => {
    expect(kvmFacts(seen('cpu_virt=svm\nkvm_modules=kvm,kvm_amd,\ndevice=none\n', false)).devKvm).toMatch(/has no \/dev\/kvm/);
    const denied = kvmFacts(seen(PVM.replace('cpu_virt=', 'cpu_virt=svm').replace('device_rw=1', 'device_rw=0').replace('crw-rw-rw-', 'crw-rw----')));
    expect(denied.devKvm).toMatch(/\(crw-rw----, gid 0\) cannot be opened read-write/);
    expect(decideAccel('auto', denied)).toMatchObject({ accel: 'tcg', reason: denied.devKvm });
  });
});
