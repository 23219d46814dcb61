import type { FsCache } from '../launcher/run-plan.js';

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
