import type { FsCache } from '../contract/run-plan.js';

/**
 * virtiofsd's flags: Debian 12's C virtiofsd takes -o options, the Rust one takes long flags.
 * Under a user-mode emulator (an engine whose containers run another architecture's binaries
 * through qemu-user), a seccomp filter of the emulated architecture's syscalls cannot be
 * installed: the Rust virtiofsd runs without one there.
 */
export function buildVirtiofsdArgs(flavor: 'c' | 'rust', socket: string, source: string, cache: FsCache, emulated = false): string[] {
  if (flavor === 'rust') {
    return [`--socket-path=${socket}`, `--shared-dir=${source}`, `--cache=${cache}`, '--sandbox=chroot', '--announce-submounts', ...(emulated ? ['--seccomp=none'] : [])];
  }
  return [
    `--socket-path=${socket}`,
    '-o', `source=${source}`,
    '-o', `cache=${cache === 'never' ? 'none' : cache}`,
    '-o', 'sandbox=chroot',
    '-o', 'announce_submounts',
    '-o', 'log_level=warn',
  ];
}

/**
 * The cache policy of each virtiofs share. The image's root changes only
 * through the VM during a run, so the guest may cache it hard ("always": an
 * exec-heavy loop ran 4x faster than with "auto" here); the user's volumes and
 * binds, which the host or other containers may change under the VM, get
 * --fs-cache (default auto) from a second virtiofsd. "always" and "never" apply
 * to both, and need no second daemon; neither does a run without volumes.
 */
export function shareCaches(fsCache: FsCache, hasVolumes: boolean): { root: FsCache; volumes?: FsCache } {
  const root: FsCache = fsCache === 'never' ? 'never' : 'always';
  return hasVolumes && fsCache !== root ? { root, volumes: fsCache } : { root };
}

/** mount targets, parents before what is mounted inside them */
export function parentsFirst<T extends { target: string }>(mounts: readonly T[]): T[] {
  const depth = (p: string): number => p.split('/').filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a.target) - depth(b.target) || a.target.localeCompare(b.target));
}

/**
 * This process's binaries are another architecture's than the kernel's: a user-mode emulator
 * (qemu-user through binfmt) runs them. The kernel's own architecture is in /proc/sys/kernel/arch,
 * which qemu-user does not rewrite (uname it does).
 */
export function userModeEmulated(kernelArch: string, processMachine: string): boolean {
  return kernelArch.trim() !== '' && kernelArch.trim() !== processMachine;
}
