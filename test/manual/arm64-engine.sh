#!/usr/bin/env bash
# The arm64-engine path under emulation (issue 26), a manual run: no arm64 engine exists here,
# so this machine's engine is made to run arm64 containers (Debian's qemu-user-static registers
# binfmt handlers for aarch64) and testin is told the engine is arm64 (TESTIN_ENGINE_ARCH, a
# test-only setting). The toolbox is then built from an arm64 Debian base (debootstrap
# --arch=arm64) with the arm64 pinned node, arm64 QEMU and virtiofsd, and a run of an arm64
# image boots its VM with that QEMU: every one of testin's parts is arm64 code, emulated by
# qemu-user, and QEMU's TCG inside it (double emulation). Too slow for CI: run by hand, as root,
# after `bash .ci/setup` and `npm run build`; it prints each step's time. It unregisters the
# handler when it ends (other tests expect docker's "exec format error" for arm64 images).
# Measured 2026-12-04 (2 cores): the base 2 min 44 s, the toolbox 4 min 31 s; the run reached
# QEMU, whose TCG under qemu-user had not booted the kernel to its init after 20 min.
#   bash test/manual/arm64-engine.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
step() { printf '%s  %s\n' "$(date +%T)" "$*"; }
step "installing qemu-user-static and binfmt-support"
apt-get install -y -qq --no-install-recommends qemu-user-static binfmt-support >/dev/null
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "no binfmt handler for aarch64 was registered" >&2; exit 1; }
trap 'echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || true' EXIT
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || echo "warning: the handler has no F flag: containers will not find qemu-aarch64-static" >&2

base=testin-test/trixie-arm64:1
image=testin-test/busybox-arm64:1
step "the arm64 Debian base ($base: debootstrap --arch=arm64, its second stage emulated)"
time test/fixtures/build-debian-base.sh trixie "$base" arm64
test/fixtures/build-arm64-image.sh "$image" debian:trixie-slim
docker run --rm "$image" uname -m | grep -qx aarch64 && step "the engine runs arm64 containers (through qemu-user)"

export TESTIN_ENGINE_ARCH=aarch64 TESTIN_TOOLBOX_BASE=$base
step "building the toolbox as on an arm64 engine (its builder, apt and node all arm64)"
time node dist/launcher/bin.js toolbox build
# slirp: passt installs a seccomp filter of its own that a user-mode emulator cannot take (virtiofsd runs without its filter there)
step "an arm64 image on the arm64 engine: testin's parts arm64 (emulated), the VM native to them (TCG)"
time node dist/launcher/bin.js run --net-backend slirp --boot-timeout 20m "$image" sh -c 'uname -m; exit 42' || echo "exit $?"
step "again, from its snapshot"
time node dist/launcher/bin.js run --net-backend slirp --boot-timeout 20m "$image" uname -m
