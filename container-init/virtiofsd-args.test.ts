import { describe, expect, it } from 'vitest';
import { buildVirtiofsdArgs, userModeEmulated } from './virtiofsd-args.js';

describe('virtiofsd under a user-mode emulator', () => {
  it('knows it is emulated when the kernel is of another architecture than its own binaries', () => {
    expect(userModeEmulated('x86_64\n', 'aarch64')).toBe(true);
    expect(userModeEmulated('x86_64\n', 'x86_64')).toBe(false);
    expect(userModeEmulated('', 'aarch64')).toBe(false);
  });

  it('runs the Rust virtiofsd without its seccomp filter there (one of the emulated syscalls cannot be installed), with it elsewhere', () => {
    expect(buildVirtiofsdArgs('rust', '/s', '/r', 'auto', true)).toContain('--seccomp=none');
    expect(buildVirtiofsdArgs('rust', '/s', '/r', 'auto')).not.toContain('--seccomp=none');
    expect(buildVirtiofsdArgs('rust', '/s', '/r', 'auto')).toEqual(['--socket-path=/s', '--shared-dir=/r', '--cache=auto', '--sandbox=chroot', '--announce-submounts']);
  });
});
