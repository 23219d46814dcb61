import { constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { KvmUnusableError } from './errors.js';
import type { AccelChoice } from './run-options.js';
import type { Accel } from './run-plan.js';

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

export function readHostKvmFacts(): HostKvmFacts {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // no /proc: not Linux, no KVM
  }
  const hardwareVirt =
    /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo) || existsSync('/sys/module/kvm_intel') || existsSync('/sys/module/kvm_amd');
  return { hardwareVirt, devKvm: probeDevKvm() };
}

function probeDevKvm(): true | string {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return '/dev/kvm does not exist (kvm module not loaded, or no nested virtualization)';
    if (code === 'EACCES') return '/dev/kvm is not accessible to this user (add it to the kvm group)';
    return `/dev/kvm cannot be opened (${code ?? String(error)})`;
  }
}

export function describeTcgNotice(reason: string): string {
  return `testin: running the VM under TCG (software emulation, several times slower than KVM): ${reason}`;
}
