import { describe, expect, it } from 'vitest';
import { DENIED_SYSCALLS, seccompProfile } from './seccomp-profile.js';

describe('seccomp profile for runs with passt', () => {
  it('refuses the calls that reach into the host kernel, with EPERM', () => {
    const [rule] = seccompProfile().syscalls;
    expect(rule).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    for (const name of ['init_module', 'finit_module', 'kexec_load', 'open_by_handle_at', 'bpf', 'keyctl', 'ptrace', 'perf_event_open', 'clock_settime', 'reboot']) {
      expect(rule?.names).toContain(name);
    }
  });

  it('allows what passt, QEMU and virtiofsd need: pivot_root, mount, namespaces', () => {
    for (const name of ['pivot_root', 'mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3']) expect(DENIED_SYSCALLS as readonly string[]).not.toContain(name);
  });
});
