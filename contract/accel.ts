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
 * but cannot boot a stock kernel, so /dev/kvm alone is not trusted. A guest of
 * another architecture (foreignGuest says which and why) is always TCG's.
 */
export function decideAccel(choice: AccelChoice, facts: HostKvmFacts, foreignGuest?: string): AccelDecision {
  if (choice === 'tcg') return { accel: 'tcg', reason: '--accel tcg was asked for' };
  // a guest of another architecture than the host's: only TCG runs it, whatever the host's KVM
  if (foreignGuest !== undefined) {
    if (choice === 'kvm') throw new KvmUnusableError(foreignGuest);
    return { accel: 'tcg', reason: foreignGuest };
  }
  const reason = !facts.hardwareVirt
    ? 'the CPU shows no vmx/svm (no hardware virtualization, or a paravirtual /dev/kvm)'
    : facts.devKvm !== true
      ? facts.devKvm
      : undefined;
  if (reason === undefined) return { accel: 'kvm' };
  if (choice === 'kvm') throw new KvmUnusableError(reason);
  return { accel: 'tcg', reason };
}

export function describeTcgNotice(reason: string): string {
  return `testin: running the VM under TCG (software emulation, several times slower than KVM): ${reason}`;
}
