import type { FsCache } from '../contract/run-plan.js';

/** virtiofsd's flags: Debian 12's C virtiofsd takes -o options, the Rust one takes long flags. */
export function buildVirtiofsdArgs(flavor: 'c' | 'rust', socket: string, source: string, cache: FsCache): string[] {
  if (flavor === 'rust') {
    return [`--socket-path=${socket}`, `--shared-dir=${source}`, `--cache=${cache}`, '--sandbox=chroot', '--announce-submounts'];
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
