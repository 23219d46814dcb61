import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TESTIN_BIN = join(ROOT, 'dist', 'launcher', 'bin.js');
/** static busybox, no libc */
export const BUSYBOX_IMAGE = 'testin-test/busybox:1';
/** Debian's static busybox for aarch64 (test/fixtures/build-arm64-image.sh): an arm64 image on this x86-64 engine */
export const ARM64_IMAGE = 'testin-test/busybox-arm64:1';
/** Debian 13 with systemd as /sbin/init and units of its own (test/fixtures/build-systemd-image.sh): the --boot tests' image */
export const SYSTEMD_IMAGE = 'testin-test/systemd:13-3';
/** the busybox image with ENTRYPOINT, CMD, ENV and WORKDIR */
export const ENTRY_IMAGE = 'testin-test/busybox-entry:1';
/** only /busybox, as ENTRYPOINT: no /etc/passwd, no /tmp (an image FROM scratch) */
export const SCRATCH_IMAGE = 'testin-test/scratch:1';
/** Debian 12 (glibc) with iproute2, kmod, e2fsprogs, nftables, built FROM debian:bookworm-slim */
export const DEBIAN_IMAGE = 'testin-test/debian:12';
/** the toolbox's default base (Debian 13) and the other one it supports (Debian 12), made locally */
export const TRIXIE_BASE = 'debian:trixie-slim';
export const BOOKWORM_BASE = 'debian:bookworm-slim';
/** kernels the tests fetch from Debian's packages, kept between runs */
export const KERNEL_CACHE = join(process.env.TESTIN_TEST_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'testin-test'), 'kernels');
