import { constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import type { HostKvmFacts } from '../contract/accel.js';

/** KVM as this container sees it: the engine host's CPU flags and modules, and the /dev/kvm it was given. */
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
    if (code === 'ENOENT') return "/dev/kvm is not in the container (the engine's host has none: no kvm module, or no nested virtualization)";
    if (code === 'EACCES') return '/dev/kvm is not accessible to this user (add it to the kvm group)';
    return `/dev/kvm cannot be opened (${code ?? String(error)})`;
  }
}
