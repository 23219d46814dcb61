import { KvmUnusableError } from './errors.js';
import type { Accel, AccelChoice } from './run-plan.js';

/** What decides the accelerator, as seen where the VM runs (the engine's host, from a container). */
export interface HostKvmFacts {
  /** /proc/cpuinfo shows vmx or svm, or kvm_intel / kvm_amd is loaded */
  hardwareVirt: boolean;
  /** /dev/kvm opened read-write; else why not */
  devKvm: true | string;
}

export interface AccelDecision {
  accel: Accel;
  /** why KVM is not used; absent when it is */
  reason?: string;
}

/**
 * KVM only where the CPU really has it: a paravirtual /dev/kvm (kvm_pvm) opens
 * but cannot boot a stock kernel, so /dev/kvm alone is not trusted.
 */
export function decideAccel(choice: AccelChoice, facts: HostKvmFacts): AccelDecision {
  if (choice === 'tcg') return { accel: 'tcg', reason: '--accel tcg was asked for' };
  const reason = !facts.hardwareVirt
    ? 'the CPU shows no vmx/svm (no hardware virtualization, or a paravirtual /dev/kvm)'
    : facts.devKvm !== true
      ? facts.devKvm
      : undefined;
  if (reason === undefined) return { accel: 'kvm' };
  if (choice === 'kvm') throw new KvmUnusableError(reason);
  return { accel: 'tcg', reason };
}

/** A guest of another architecture than the host's (`why`: describeForeignGuest) runs under TCG only, whatever the host's KVM: no facts to look at. */
export function foreignAccel(choice: AccelChoice, why: string): AccelDecision {
  if (choice === 'kvm') throw new KvmUnusableError(why);
  return { accel: 'tcg', reason: choice === 'tcg' ? '--accel tcg was asked for' : why };
}

export function describeTcgNotice(reason: string): string {
  return `testin: running the VM under TCG (software emulation, several times slower than KVM): ${reason}`;
}
