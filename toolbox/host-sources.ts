import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostPackageMissingError } from '../launcher/errors.js';
import { isStaticLddOutput, runLdd } from './ldd-closure.js';

/** Where each part of the toolbox comes from on this host (Debian's packages). */
export interface HostSources {
  node: string;
  qemu: string;
  qemuModuleDir: string;
  /** folders that hold QEMU's firmware (SeaBIOS lives apart from QEMU's own roms in Debian) */
  firmwareDirs: string[];
  virtiofsd: string;
  /** 'c' is Debian 12's /usr/lib/qemu/virtiofsd; 'rust' takes --shared-dir style flags */
  virtiofsdFlavor: 'c' | 'rust';
  busybox: string;
  /** passt (Debian's passt), the user-mode network backend faster than QEMU's slirp; optional */
  passt?: string | undefined;
  kernel: string;
  kernelRelease: string;
  modulesDir: string;
}

/** QEMU modules the toolbox carries: TCG itself is a loadable module in Debian's build. */
export const QEMU_MODULES = ['accel-tcg-x86_64.so'];
/** firmware for -M q35 with -kernel: SeaBIOS, the option roms for direct kernel and PVH boot */
export const FIRMWARE = ['bios-256k.bin', 'linuxboot_dma.bin', 'linuxboot.bin', 'pvh.bin', 'kvmvapic.bin'];

const APT = {
  qemu: ['qemu-system-x86'],
  virtiofsd: ['qemu-system-common'],
  busybox: ['busybox-static'],
  kernel: ['linux-image-amd64'],
};

/** Where each part is looked for, first found wins. */
const CANDIDATES = {
  qemu: ['/usr/bin/qemu-system-x86_64'],
  qemuModuleDir: ['/usr/lib/x86_64-linux-gnu/qemu', '/usr/lib64/qemu', '/usr/lib/qemu'],
  firmwareDirs: ['/usr/share/qemu', '/usr/share/seabios'],
  rustVirtiofsd: ['/usr/libexec/virtiofsd'],
  cVirtiofsd: ['/usr/lib/qemu/virtiofsd'],
  busybox: ['/bin/busybox', '/usr/bin/busybox'],
  passt: ['/usr/bin/passt'],
} as const;

/**
 * What findHostSources' choices depend on, cheaply (no process started): which
 * candidates exist, which kernels /boot has, TESTIN_KERNEL. When this is the
 * same as last time, so are the choices.
 */
export function probeHostSources(env: NodeJS.ProcessEnv = process.env): string {
  const exists = Object.values(CANDIDATES).flatMap((paths) => paths.map((p) => (existsSync(p) ? '1' : '0'))).join('');
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')).sort() : [];
  return JSON.stringify({ exists, kernels, override: env.TESTIN_KERNEL ?? '' });
}

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

export function findHostSources(env: NodeJS.ProcessEnv = process.env): HostSources {
  const qemu = firstExisting(CANDIDATES.qemu);
  if (!qemu) throw new HostPackageMissingError('qemu-system-x86_64', APT.qemu);
  const qemuModuleDir = firstExisting(CANDIDATES.qemuModuleDir) ?? '';
  const firmwareDirs = CANDIDATES.firmwareDirs.filter((d) => existsSync(d));
  if (!firmwareDirs.some((d) => existsSync(join(d, 'bios-256k.bin')))) throw new HostPackageMissingError('SeaBIOS (bios-256k.bin)', ['seabios', ...APT.qemu]);
  const rustVirtiofsd = firstExisting(CANDIDATES.rustVirtiofsd);
  const virtiofsd = rustVirtiofsd ?? firstExisting(CANDIDATES.cVirtiofsd);
  if (!virtiofsd) throw new HostPackageMissingError('virtiofsd', APT.virtiofsd);
  const busybox = firstExisting(CANDIDATES.busybox);
  if (!busybox || !isStaticLddOutput(runLdd(busybox))) throw new HostPackageMissingError('a static busybox', APT.busybox);
  const { kernel, release } = findKernel(env.TESTIN_KERNEL);
  const modulesDir = `/lib/modules/${release}`;
  if (!existsSync(join(modulesDir, 'modules.dep'))) throw new HostPackageMissingError(`kernel modules for ${release} (${modulesDir})`, APT.kernel);
  return {
    node: process.execPath,
    qemu,
    qemuModuleDir,
    firmwareDirs,
    virtiofsd,
    virtiofsdFlavor: rustVirtiofsd ? 'rust' : 'c',
    busybox,
    passt: firstExisting(CANDIDATES.passt),
    kernel,
    kernelRelease: release,
    modulesDir,
  };
}

/** The newest /boot/vmlinuz-* (or the one TESTIN_KERNEL names) and its release. */
function findKernel(override: string | undefined): { kernel: string; release: string } {
  if (override) {
    const release = /vmlinuz-(.+)$/.exec(override)?.[1];
    if (!existsSync(override) || !release) throw new HostPackageMissingError(`kernel ${override}`, APT.kernel);
    return { kernel: override, release };
  }
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')) : [];
  const newest = kernels.sort(compareVersions).at(-1);
  if (!newest) throw new HostPackageMissingError('a Linux kernel for the VM (/boot/vmlinuz-*)', APT.kernel);
  return { kernel: join('/boot', newest), release: newest.slice('vmlinuz-'.length) };
}

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
