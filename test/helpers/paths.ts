import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TESTIN_BIN = join(ROOT, 'dist', 'launcher', 'bin.js');
/** static busybox, no libc */
export const BUSYBOX_IMAGE = 'testin-test/busybox:1';
/** the busybox image with ENTRYPOINT, CMD, ENV and WORKDIR */
export const ENTRY_IMAGE = 'testin-test/busybox-entry:1';
/** only /busybox, as ENTRYPOINT: no /etc/passwd, no /tmp (an image FROM scratch) */
export const SCRATCH_IMAGE = 'testin-test/scratch:1';
/** debootstrap'd Debian 12 minbase (glibc) with iproute2, kmod, e2fsprogs, nftables */
export const DEBIAN_IMAGE = 'testin-test/debian:12';
